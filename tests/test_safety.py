"""Nothing lost, nothing runs away: the write policy of generate, strict JSON, size guards, parameter ranges."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toptraj import guards
from toptraj.cli import main
from toptraj.guards import SizeError
from toptraj.io import InputError, check_file_size, dumps_strict, load_set, save_set
from toptraj.trajectory import Trajectory

pytestmark = pytest.mark.core

GEN = ["generate", "modesum", "--a", "1.5", "--b", "1.25", "--times", "1:100:5", "--noise", "0.1"]


def _traj(seed: int) -> Trajectory:
    return Trajectory(times=np.arange(1.0, 5.0), values=np.full((4, 1), float(seed)), channels=("loss",), source="t",
                      seed=seed)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- nothing lost: the write policy ------------------------------------------------------------
def test_save_set_refuses_a_folder_with_runs_and_writes_nothing(tmp_path):
    save_set([_traj(0), _traj(1)], tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match="already holds 2 stored run.*--append.*--overwrite"):
        save_set([_traj(7)], tmp_path)
    assert _snapshot(tmp_path) == before


def test_save_set_append_uses_new_names_and_keeps_old_files(tmp_path):
    save_set([_traj(0), _traj(1)], tmp_path)
    before = _snapshot(tmp_path)
    paths = save_set([_traj(2), _traj(3)], tmp_path, mode="append")
    assert [p.name for p in paths] == ["run_00002.npz", "run_00003.npz"]
    after = _snapshot(tmp_path)
    assert all(after[name] == data for name, data in before.items() if name != "index.json")
    assert [t.seed for t in load_set(tmp_path)] == [0, 1, 2, 3]
    assert json.loads((tmp_path / "index.json").read_text())["files"] == [f"run_{i:05d}.npz" for i in range(4)]


def test_save_set_overwrite_leaves_exactly_the_new_set(tmp_path):
    save_set([_traj(i) for i in range(5)], tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    save_set([_traj(9)], tmp_path, mode="overwrite")
    assert [t.seed for t in load_set(tmp_path)] == [9]  # no mixed set
    assert (tmp_path / "notes.txt").read_text() == "mine"  # other files untouched
    with pytest.raises(ValueError, match="mode must be one of"):
        save_set([_traj(0)], tmp_path, mode="replace")


def test_generate_into_a_folder_with_runs_refuses_with_exit_2(tmp_path, capsys):
    assert main([*GEN, "--seeds", "0:3", "--out", str(tmp_path)]) == 0
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert main([*GEN, "--seeds", "5:7", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path) in err[0] and "--append" in err[0] and "--overwrite" in err[0]
    assert _snapshot(tmp_path) == before  # nothing overwritten, nothing added

    assert main([*GEN, "--seeds", "5:7", "--out", str(tmp_path), "--append"]) == 0
    assert [t.seed for t in load_set(tmp_path)] == [0, 1, 2, 5, 6]
    assert main([*GEN, "--seeds", "8:9", "--out", str(tmp_path), "--overwrite"]) == 0
    assert [t.seed for t in load_set(tmp_path)] == [8]
    try:  # argparse: the two flags exclude each other
        code = main([*GEN, "--seeds", "8:9", "--out", str(tmp_path), "--overwrite", "--append"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2


# -- strict JSON -------------------------------------------------------------------------------
def test_dumps_strict_writes_null_for_non_finite_numbers():
    text = dumps_strict({"r": float("nan"), "x": [np.float64(np.inf), 1.5], "a": np.array([1.0, -np.inf])})
    assert json.loads(text) == {"r": None, "x": [None, 1.5], "a": [1.0, None]}
    assert "NaN" not in text and "Infinity" not in text


def test_demo_report_and_set_index_are_strict_json(tmp_path):
    save_set([_traj(0)], tmp_path)
    json.loads((tmp_path / "index.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))


# -- size guards -------------------------------------------------------------------------------
def test_check_file_size(tmp_path):
    f = tmp_path / "big.csv"
    f.write_bytes(b"x" * 2000)
    assert check_file_size(f, limit=4000) == 2000
    with pytest.raises(SizeError, match="big.csv.*--force-size"):
        check_file_size(f, limit=1000)
    assert check_file_size(f, limit=1000, force=True) == 2000
    assert isinstance(SizeError("x"), InputError)


def test_memory_guard_refuses_estimates_above_the_available_memory():
    guards.check_memory(1e9, "job", available=4 * 10**9)
    with pytest.raises(SizeError, match="job needs about .* available.*--force-size"):
        guards.check_memory(4e9, "job", available=4 * 10**9)
    guards.check_memory(4e9, "job", available=4 * 10**9, force=True)
    assert guards.available_memory_bytes() is None or guards.available_memory_bytes() > 0


def test_check_count_multiplies_lengths_without_expanding():
    lengths = {"a": 10**4, "b": 10**3, "seeds": 10**9}
    with pytest.raises(SizeError, match=r"10,000,000,000,000,000 runs \(a 10,000 x b 1,000 x seeds 1,000,000,000\)"):
        guards.check_count("grid.toml", lengths, limit=guards.MAX_RUNS)
    assert guards.check_count("g", {"a": 3, "seeds": 4}, limit=12) == 12
    assert guards.spec_length("seeds", {"start": 0, "stop": 10**9}) == 10**9
    assert guards.spec_length("a", {"start": 1, "stop": 2, "num": 1e7}) == 10**7
    assert guards.spec_length("a", [1, 2, 3]) == 3


# -- parameters that would give NaN or overflow ------------------------------------------------
@pytest.mark.parametrize("a,b", [(400.0, 1.0), (1.5, 1e-3), (101.0, 1.0), (2.0, 0.006)])
def test_modesum_extreme_but_valid_exponents_give_finite_losses(a, b):
    from generators.modesum import ModesumParams, loss_curve

    t = np.array([1e-6, 1e-3, 0.1, 1.0, 10.0, 1e4])
    loss = loss_curve(ModesumParams(a=a, b=b), t)
    assert np.all(np.isfinite(loss)) and np.all(loss >= 0) and loss[0] > 0.5
    # the infinite sum is at least the explicit sum of the first 20000 modes
    assert np.all(loss >= loss_curve(ModesumParams(a=a, b=b, M=20_000), t) * (1 - 1e-12))


def test_modesum_tail_matches_the_direct_formula_where_that_is_finite():
    from scipy import special

    from generators.modesum import _integral_tail

    a, b, k = 2.5, 1.2, 20_000.5
    t = np.geomspace(0.01, 1e6, 30)
    s = (a - 1) / b
    direct = (2 * t) ** (-s) / b * special.gamma(s) * special.gammainc(s, 2 * t * k**-b)
    np.testing.assert_allclose(_integral_tail(a, b, t, k), direct, rtol=1e-10)


@pytest.mark.parametrize(
    "factory,name",
    [
        (lambda: __import__("generators.modesum", fromlist=["x"]).ModesumParams(a=2, b=1, amplitude=1e305), "amplitude"),
        (lambda: __import__("generators.modesum", fromlist=["x"]).ModesumParams(a=2, b=1, noise=50), "noise"),
        (lambda: __import__("generators.maloney", fromlist=["x"]).MaloneyParams(alpha=400, M=200, N=1, T=1), "alpha"),
        (lambda: __import__("generators.maloney", fromlist=["x"]).MaloneyParams(alpha=1, M=20, N=1, T=1,
                                                                               sigma_w=1e200), "sigma_w"),
        (lambda: __import__("generators.dmft", fromlist=["x"]).DMFTParams(a=2, b=1, M=10, N=1, P=1, sigma=1e200),
         "sigma"),
    ],
)
def test_parameters_that_would_overflow_are_refused_by_name(factory, name):
    with pytest.raises(ValueError, match=name):
        factory()


def test_plrf_params_with_a_billion_features_construct_and_are_refused_by_the_memory_guard():
    from generators.plrf import PLRFParams, estimate_memory_bytes

    p = PLRFParams(alpha=0.7, beta=0.4, d=10**9)  # used to die with MemoryError (arange of v = 4e9)
    assert p.v == 4 * 10**9 and math.isfinite(p.lr) and p.lr > 0
    est = estimate_memory_bytes(p, np.arange(0, 100, 10))
    assert est >= 8 * 3 * 10**18  # the d x d matrices
    with pytest.raises(SizeError, match="--force-size"):
        guards.check_memory(est, "plrf d=1e9", available=64 * 2**30)


def test_plrf_trace_of_d_is_exact_for_huge_v():
    from generators.plrf import _trace_d

    for alpha in (0.3, 0.5, 1.0):
        v = 2_500_000
        exact = float(np.sum(np.arange(1, v + 1, dtype=np.float64) ** (-2 * alpha)))
        assert _trace_d(alpha, v) == pytest.approx(exact, rel=1e-13)


def test_every_generator_has_a_memory_estimate_that_grows_with_size():
    from generators import dmft, maloney, modesum, plrf
    from generators.networks import TrainConfig
    from generators.networks import estimate_memory_bytes as net_estimate

    pairs = [
        (modesum.estimate_memory_bytes, modesum.ModesumParams(a=2, b=1, M=100), modesum.ModesumParams(a=2, b=1, M=10**6)),
        (dmft.estimate_memory_bytes, dmft.DMFTParams(a=2, b=1, M=100, N=10, P=10),
         dmft.DMFTParams(a=2, b=1, M=10**6, N=10**4, P=10**4)),
        (plrf.estimate_memory_bytes, plrf.PLRFParams(alpha=1, beta=0.5, d=10), plrf.PLRFParams(alpha=1, beta=0.5, d=10**5)),
        (maloney.estimate_memory_bytes, maloney.MaloneyParams(alpha=1, M=100, N=10, T=10),
         maloney.MaloneyParams(alpha=1, M=10**6, N=10**4, T=10**4)),
        (net_estimate, TrainConfig(width=16), TrainConfig(width=10**5)),
    ]
    for estimate, small, large in pairs:
        # the mode sum is chunked over modes: its memory grows with the number of times instead
        lo, hi = estimate(small, 64), estimate(large, 10**6 if estimate is modesum.estimate_memory_bytes else 64)
        assert 0 < lo < 2 * 10**9, estimate.__module__
        assert hi > 50 * 10**9, estimate.__module__  # big enough to be refused on any workstation


# -- sweep size guards (before anything is expanded) -------------------------------------------
def _config(**extra):
    cfg = {"generator": "modesum", "params": {"a": 1.5, "b": 1.25},
           "axis": {"times": {"start": 1, "stop": 100, "num": 5, "log": True}}}
    cfg.update(extra)
    return cfg


@pytest.fixture
def no_expansion(monkeypatch):
    """Make any expansion of a range or a seed list fail the test."""
    from toptraj.sweeps import config

    def boom(*args, **kwargs):
        raise AssertionError("the guard let the config be expanded")

    monkeypatch.setattr(config, "expand_range", boom)
    monkeypatch.setattr(config, "expand_seeds", boom)
    return config


def test_a_billion_seeds_are_refused_from_the_count_alone(no_expansion):
    with pytest.raises(SizeError, match=r"1,000,000,000 runs \(seeds 1,000,000,000\) exceeds the limit of 100,000.*--force-size"):
        no_expansion.load_config(_config(seeds={"start": 0, "stop": 10**9}))


def test_a_ten_million_point_grid_is_refused_from_the_count_alone(no_expansion):
    grid = {"a": {"start": 1.5, "stop": 3.0, "num": 4000}, "b": {"start": 0.5, "stop": 2.0, "num": 2500}}
    cfg = _config(grid=grid, params={})
    with pytest.raises(SizeError, match=r"10,000,000 runs \(grid.a 4,000 x grid.b 2,500\)"):
        no_expansion.load_config(cfg)
    with pytest.raises(SizeError, match=r"grid.a has 10,000,000 values"):
        no_expansion.load_config(_config(grid={"a": {"start": 1.5, "stop": 3.0, "num": 10**7}}, params={"b": 1.0}))
    with pytest.raises(SizeError, match=r"axis.times has 1,000,000,000,000 values"):
        no_expansion.load_config(_config(axis={"times": {"start": 1, "stop": 100, "num": 10**12}}))


def test_sweep_command_refuses_a_billion_seeds_with_exit_2(tmp_path, capsys, no_expansion):
    cfg = tmp_path / "grid.toml"
    cfg.write_text('generator = "modesum"\nseeds = {start = 0, stop = 1000000000}\n[params]\na = 1.5\nb = 1.25\n'
                   "noise = 0.1\n[axis]\ntimes = {start = 1, stop = 100, num = 5, log = true}\n")
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1,000,000,000 runs" in err[0] and "--force-size" in err[0]
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.npz"))


def test_sweep_memory_guard_uses_the_generator_estimate():
    from toptraj.sweeps import config as sweeps

    cfg = {"generator": "plrf", "params": {"alpha": 1.0, "beta": 0.5, "d": 10**6}, "seeds": [0],
           "axis": {"steps": [0, 10, 100]}}
    with pytest.raises(SizeError, match=r"plrf.volterra run with .*'d': 1000000.*--force-size"):
        sweeps.load_config(cfg)
    assert len(sweeps.load_config(cfg, force_size=True)) == 1  # the override: validated, nothing run


def test_path_options_must_stay_inside_the_store(tmp_path):
    import dataclasses

    from toptraj.io import StoreError
    from toptraj.sweeps.config import load_config
    from toptraj.sweeps.runner import _confine_paths

    with pytest.raises(StoreError, match=r"options.run_dir: '../../x' leaves the store"):
        load_config(_config(options={"run_dir": "../../x"}))
    with pytest.raises(StoreError, match="options.out_dir"):
        load_config(_config(options={"out_dir": "/tmp/elsewhere"}))
    # at run time a path option is resolved inside the store folder (symlinks followed)
    (run,) = load_config(_config()).runs
    run = dataclasses.replace(run, call_options={"run_dir": "runs/net"})
    assert _confine_paths(run, str(tmp_path)).call_options["run_dir"] == str((tmp_path / "runs/net").resolve())
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(StoreError, match="outside the store"):
        _confine_paths(dataclasses.replace(run, call_options={"run_dir": "link/x"}), str(tmp_path))


def test_generate_refuses_a_run_that_would_not_fit_in_memory(tmp_path, capsys):
    argv = ["generate", "plrf", "--alpha", "0.7", "--beta", "0.4", "--d", str(10**9), "--steps", "1:100:5",
            "--seeds", "0", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "plrf volterra" in err[0] and "d=1000000000" in err[0] and "--force-size" in err[0]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
