"""Sweep runner: config validation, keys, failure isolation, corrupt files, SIGKILL + resume, Dask."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import toptraj
from generators.modesum import ModesumParams, solve
from toptraj import cli
from toptraj.io import StoreError
from toptraj.store import Store
from toptraj.sweeps import expand_range, load_config, load_sweep, run_sweep

TIMES = {"start": 1.0, "stop": 1e4, "num": 16, "log": True}


def _config(**changes) -> dict:
    cfg = {
        "generator": "modesum",
        "seeds": [0, 1],
        "params": {"b": 1.5, "noise": 0.1},
        "grid": {"a": [1.5, 2.0, 3.0]},
        "axis": {"times": dict(TIMES)},
    }
    cfg.update(changes)
    return cfg


def _write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _same(a, b) -> bool:
    """Bit-for-bit equal data and metadata (provenance holds the creation time, so it is excluded)."""
    meta_a, meta_b = a.to_dict(), b.to_dict()  # JSON form: NaN labels compare equal as "nan"
    del meta_a["provenance"], meta_b["provenance"]
    return a.times.tobytes() == b.times.tobytes() and a.values.tobytes() == b.values.tobytes() and meta_a == meta_b


def _all_same(xs, ys) -> bool:
    return len(xs) == len(ys) and all(_same(x, y) for x, y in zip(xs, ys, strict=True))


# -- config ---------------------------------------------------------------------------------------
def test_expand_range_hand_values():
    assert expand_range("r", {"start": 1, "stop": 100, "num": 3, "log": True}) == pytest.approx([1, 10, 100], rel=1e-15)
    assert expand_range("r", {"start": 0, "stop": 1, "num": 5}) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert expand_range("r", {"start": 1, "stop": 8, "num": 4, "log": True, "integer": True}) == [1, 2, 4, 8]
    assert expand_range("r", {"start": 3, "stop": 9, "num": 1}) == [3.0]
    assert expand_range("r", [0.5, "x"]) == [0.5, "x"]


@settings(max_examples=60, deadline=None)
@given(
    start=hst.floats(1e-6, 1e6),
    ratio=hst.floats(1.001, 1e6),
    num=hst.integers(1, 40),
    log=hst.booleans(),
)
def test_expand_range_properties(start, ratio, num, log):
    stop = start * ratio
    values = expand_range("r", {"start": start, "stop": stop, "num": num, "log": log})
    assert len(values) == num and values[0] == pytest.approx(start, rel=1e-12)
    if num > 1:
        assert values[-1] == pytest.approx(stop, rel=1e-12) and all(np.diff(values) > 0)
    with pytest.raises(ValueError, match="bad range, need start < stop"):
        expand_range("r", {"start": stop, "stop": start, "num": max(num, 2), "log": log})


def test_importing_the_runner_loads_no_optional_dependency():
    code = "import sys, toptraj.sweeps, toptraj.store; print(sorted({'dask', 'distributed', 'pandas', 'torch', 'tqdm'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_runs_are_the_grid_product_with_seeds_innermost():
    cfg = load_config(_config(grid={"a": [1.5, 2.0], "time_scale": [1.0, 2.0]}, seeds={"start": 3, "stop": 5}))
    got = [(r.params["a"], r.params["time_scale"], r.seed) for r in cfg.runs]
    want = [(a, c, s) for a in (1.5, 2.0) for c in (1.0, 2.0) for s in (3, 4)]
    assert got == want


def test_key_is_sha256_of_the_canonical_run_config():
    cfg = load_config(_config(grid={"a": [2.0]}, seeds=[7]))
    # built by hand: every Params field with its default, the expanded axis, version = toptraj's
    payload = {
        "generator": "modesum", "function": "solve", "version": toptraj.__version__,
        "params": {"a": 2.0, "b": 1.5, "M": None, "amplitude": 1.0, "time_scale": 1.0, "noise": 0.1},
        "seed": 7, "axis": {"times": list(np.geomspace(1.0, 1e4, 16))}, "options": {},
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert cfg.runs[0].key == hashlib.sha256(blob.encode()).hexdigest()


def test_key_ignores_spelling_but_not_content():
    base = load_config(_config(grid={"a": [2.0]})).keys
    # int for a float field and an explicit default are the same run
    assert load_config(_config(grid={"a": [2]}, params={"b": 1.5, "noise": 0.1, "amplitude": 1.0})).keys == base
    # the same axis as a list or a range is the same run
    times = [float(x) for x in np.geomspace(1.0, 1e4, 16)]
    assert load_config(_config(grid={"a": [2.0]}, axis={"times": times})).keys == base
    # any change of content changes every key
    assert not set(base) & set(load_config(_config(grid={"a": [2.0]}, params={"b": 1.5, "noise": 0.2})).keys)
    assert not set(base) & set(load_config(_config(grid={"a": [2.0]}, seeds=[5, 6])).keys)
    assert not set(base) & set(load_config(_config(grid={"a": [2.0]}, options={"modes": [1]})).keys)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"generator": "nope"}, r"generator must be one of \['modesum'"),
        ({"params": {"b": 1.5, "bee": 2}}, r"params: unknown parameter\(s\) \['bee'\] for generator 'modesum'"),
        ({"grid": {"alpha": [1, 2]}}, r"grid: unknown parameter\(s\) \['alpha'\]"),
        ({"grid": {"a": []}}, r"grid.a is an empty list"),
        ({"grid": {"a": {"start": 3, "stop": 2, "num": 4}}}, r"grid.a: bad range, need start < stop"),
        ({"grid": {"a": {"start": 1.5, "stop": 2, "num": 0}}}, r"grid.a.num must be >= 1, got 0"),
        ({"grid": {"a": {"start": 1.5, "stop": 2, "n": 3}}}, r"grid.a: unknown range key\(s\) \['n'\]"),
        ({"grid": {"a": 2.0}}, r"grid.a must be a list or a range table"),
        ({"axis": {"times": {"start": 0, "stop": 1, "num": 3, "log": True}}}, r"axis.times: bad range, log = true needs start > 0"),
        ({"axis": {"steps": [1, 2]}}, r"axis: unknown key\(s\) \['steps'\]"),
        ({"axis": {}}, r"axis: generator 'modesum' needs exactly one of \['times'\]"),
        ({"axis": {"times": [1.0, 3.0, 2.0]}}, r"axis.times must be strictly increasing"),
        ({"seeds": []}, r"seeds is an empty list"),
        ({"seeds": [0, -1]}, r"seeds\[1\] must be a non-negative integer"),
        ({"params": {"b": 1.5, "a": 2.0}}, r"\['a'\] are both fixed \(params\) and swept \(grid\)"),
        ({"grid": {"a": [1.5, 0.5]}}, r"grid point \{'a': 0.5\}: a must be > 1.0, got 0.5"),
        ({"grid": {"a": [2.0, 2]}}, r"grid: duplicate runs"),
        ({"options": {"modez": [1]}}, r"options: 'modez' is not an option of generators.modesum.solve"),
        ({"function": "simulate"}, r"function must be one of \['solve'\]"),
        ({"colour": "red"}, r"config: unknown key\(s\) \['colour'\]"),
    ],
)
def test_config_errors_before_any_run(tmp_path, changes, message):
    store = tmp_path / "store"
    with pytest.raises(ValueError, match=message):
        run_sweep(_config(**changes), store)
    assert not store.exists()  # nothing was run or even created


def test_bad_threads_and_config_type(tmp_path):
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        run_sweep(_config(), tmp_path / "s", threads=0)
    with pytest.raises(ValueError, match="config must be a path to a TOML file or a dict, got int"):
        run_sweep(3, tmp_path / "s")
    with pytest.raises(ValueError, match="is not a file"):
        run_sweep(tmp_path / "missing.toml", tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_cli_config_error_is_one_line_with_status_2(tmp_path, capsys):
    cfg = _write_toml(
        tmp_path / "bad.toml",
        'generator = "modesum"\n[params]\nb = 1.5\nbogus = 1\n[axis]\ntimes = [1.0, 2.0]\n[grid]\na = [2.0]\n',
    )
    status = cli.main(["sweep", str(cfg), "--out", str(tmp_path / "store")])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert "\n" not in err and "unknown parameter(s) ['bogus']" in err
    assert not (tmp_path / "store").exists()
    bad = _write_toml(tmp_path / "broken.toml", "generator = \n")
    assert cli.main(["sweep", str(bad), "--out", str(tmp_path / "store")]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


# -- running ---------------------------------------------------------------------------------------
def test_in_process_sweep_equals_direct_generator_calls(tmp_path):
    result = run_sweep(_config(), tmp_path / "s", progress=False)
    assert (result.n_runs, result.n_done, result.n_failed, result.n_skipped) == (6, 6, 0, 0)
    got = load_sweep(_config(), tmp_path / "s")
    times = np.geomspace(1.0, 1e4, 16)
    want = [solve(ModesumParams(a=a, b=1.5, noise=0.1), times, seed=s) for a in (1.5, 2.0, 3.0) for s in (0, 1)]
    assert _all_same(got, want)
    assert got.targets("time_exponent").tolist() == [(a - 1) / 1.5 for a in (1.5, 2.0, 3.0) for _ in (0, 1)]
    # a second call finds everything done and runs nothing
    again = run_sweep(_config(), tmp_path / "s", progress=False)
    assert (again.n_skipped, again.n_done) == (6, 0)


def test_progress_bar_shows_counts_and_throughput(tmp_path, capsys):
    cfg = _config(params={"b": 1.5}, seeds=None, grid={"a": [1.5, 2.0], "noise": [0.0, 0.1]})
    run_sweep(cfg, tmp_path / "s", progress=True)
    err = capsys.readouterr().err
    assert "4/4" in err and "done=2, failed=2, remaining=0" in err and "run/s" in err


def test_failed_runs_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    # noise > 0 without a seed is refused by modesum.solve at run time
    cfg = _write_toml(
        tmp_path / "f.toml",
        'generator = "modesum"\n[params]\nb = 1.5\n[grid]\na = [1.5, 2.0]\nnoise = [0.0, 0.1]\n'
        "[axis]\ntimes = {start = 1, stop = 100, num = 8, log = true}\n",
    )
    store = tmp_path / "store"
    assert cli.main(["sweep", str(cfg), "--out", str(store)]) == 1
    captured = capsys.readouterr()
    assert "2 of 4 run(s) failed" in captured.err and len(captured.err.strip().splitlines()) == 1
    with Store(store) as st:
        rows = list(st.rows().values())
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(rows) == 4 and len(failed) == 2
    assert {r["params"]["a"] for r in failed} == {1.5, 2.0} and {r["params"]["noise"] for r in failed} == {0.1}
    assert all(r["error"].startswith("ValueError: seed must be given when noise > 0") for r in failed)
    assert all("Traceback" in r["traceback"] and r["files"] == [] for r in failed)
    with pytest.raises(StoreError, match="2 of 4 runs are not done"):
        load_sweep(cfg, store)
    assert [t.params["noise"] for t in load_sweep(cfg, store, missing="skip")] == [0.0, 0.0]
    # without --resume the command refuses to touch a store holding this sweep
    assert cli.main(["sweep", str(cfg), "--out", str(store)]) == 2
    assert "pass --resume" in capsys.readouterr().err
    # with --resume the failed runs are tried again (and fail again)
    assert cli.main(["sweep", str(cfg), "--out", str(store), "--resume"]) == 1
    assert "2 already done, 0 done now, 2 failed" in capsys.readouterr().out


def test_corrupt_truncated_and_missing_files_are_rerun_not_loaded(tmp_path):
    store = tmp_path / "s"
    run_sweep(_config(), store, progress=False)
    reference = load_sweep(_config(), store)
    with Store(store) as st:
        rows = st.rows()
    keys = load_config(_config()).keys
    paths = [store / rows[k]["files"][0] for k in keys[:3]]
    paths[0].write_bytes(paths[0].read_bytes()[:100])  # truncated
    data = bytearray(paths[1].read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped
    paths[1].write_bytes(bytes(data))
    paths[2].unlink()  # missing
    with pytest.raises(StoreError, match="corrupt or truncated"):
        load_sweep(_config(), store)
    result = run_sweep(_config(), store, progress=False)
    assert (result.n_corrupt, result.n_done, result.n_skipped) == (3, 3, 3)
    assert _all_same(load_sweep(_config(), store), reference)


def test_run_written_but_not_catalogued_is_rerun(tmp_path):
    """The state a kill between writing a file and committing its row leaves behind."""
    store = tmp_path / "s"
    run_sweep(_config(), store, progress=False)
    reference = load_sweep(_config(), store)
    key = load_config(_config()).keys[2]
    with sqlite3.connect(store / "catalog.sqlite") as con:
        con.execute("DELETE FROM runs WHERE key = ?", (key,))
    (store / "runs" / key[:2] / f".{key}.npz.abc.tmp").write_bytes(b"half a file")  # a killed writer's temp file
    with pytest.raises(StoreError, match="1 of 6 runs are not done"):
        load_sweep(_config(), store)
    result = run_sweep(_config(), store, progress=False)
    assert (result.n_done, result.n_skipped, result.n_corrupt) == (1, 5, 0)
    assert _all_same(load_sweep(_config(), store), reference)


def _kill_config(tmp_path: Path) -> Path:
    # ~20-40 ms per run (infinite mode sum on 256 times): slow enough to be killed mid-sweep
    return _write_toml(
        tmp_path / "kill.toml",
        'generator = "modesum"\nseeds = {start = 0, stop = 6}\n[params]\nb = 1.5\nnoise = 0.05\n'
        "[grid]\na = [1.5, 2.0, 2.5, 3.0, 4.0]\n[axis]\ntimes = {start = 1, stop = 1e5, num = 256, log = true}\n",
    )


def _start_and_kill(cfg: Path, store: Path, n_files: int, extra: tuple = ()) -> int:
    """Start the CLI in a subprocess; SIGKILL it once ``n_files`` run files exist; return files then."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "toptraj.cli", "sweep", str(cfg), "--out", str(store), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(store.glob("runs/*/*.npz"))) >= n_files:
                break
            time.sleep(0.002)
        assert proc.poll() is None, "the sweep finished before it could be killed; make it slower"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return len(list(store.glob("runs/*/*.npz")))


def test_sigkill_then_resume_equals_uninterrupted_sweep(tmp_path):
    cfg = _kill_config(tmp_path)
    n = len(load_config(cfg))
    store = tmp_path / "killed"
    first = _start_and_kill(cfg, store, 4)
    second = _start_and_kill(cfg, store, first + 8, ("--resume",))
    assert 4 <= first < second < n
    with Store(store) as st:
        done_before = sum(r["status"] == "done" for r in st.rows().values())
    result = run_sweep(cfg, store, progress=False)
    # only the missing runs ran; runs written but not catalogued before the kill are among them
    assert result.n_skipped == done_before and result.n_done == n - done_before and result.n_failed == 0
    reference = tmp_path / "reference"
    run_sweep(cfg, reference, progress=False)
    assert _all_same(load_sweep(cfg, store), load_sweep(cfg, reference))
    with Store(store) as st:
        rows = st.rows()
    assert len(rows) == n and all(r["status"] == "done" for r in rows.values())  # nothing lost or duplicated
    assert len(list(store.glob("runs/*/*.npz"))) == n  # one file per run, no stray visible files


# -- Dask -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_two_workers_equal_in_process(tmp_path, dask_client):
    cfg = _config(params={"b": 1.5}, grid={"a": [1.5, 2.0, 3.0], "noise": [0.0, 0.1]}, seeds={"start": 0, "stop": 3})
    run_sweep(cfg, tmp_path / "local", progress=False)
    reference = load_sweep(cfg, tmp_path / "local")
    from distributed import get_task_stream

    with get_task_stream(dask_client) as stream:
        dask_result = run_sweep(cfg, tmp_path / "dask", client=dask_client, progress=False)
    assert (dask_result.n_done, dask_result.n_failed) == (18, 0)
    assert _all_same(load_sweep(cfg, tmp_path / "dask"), reference)
    assert len({task["worker"] for task in stream.data}) == 2  # both worker processes ran tasks
    # workers send results back and the driver writes: same store content
    driver = run_sweep(cfg, tmp_path / "driver", client=dask_client, worker_writes=False, progress=False)
    assert driver.n_done == 18
    assert _all_same(load_sweep(cfg, tmp_path / "driver"), reference)


def test_dask_failures_are_isolated(tmp_path, dask_client):
    cfg = _config(seeds=None, params={"b": 1.5}, grid={"a": [1.5, 2.0], "noise": [0.0, 0.1]})
    result = run_sweep(cfg, tmp_path / "s", client=dask_client, progress=False)
    assert (result.n_done, result.n_failed) == (2, 2)
    assert all(err.startswith("ValueError: seed must be given") for *_, err in result.failures)


def test_cli_scheduler_address(tmp_path, capsys, dask_client):
    cfg = _write_toml(
        tmp_path / "c.toml",
        'generator = "modesum"\nseeds = [0, 1]\n[params]\nb = 1.5\nnoise = 0.1\n[grid]\na = [1.5, 2.0]\n'
        "[axis]\ntimes = {start = 1, stop = 100, num = 8, log = true}\n",
    )
    address = dask_client.scheduler.address
    assert cli.main(["sweep", str(cfg), "--out", str(tmp_path / "c"), "--scheduler", address, "--driver-writes"]) == 0
    assert "4 done now, 0 failed" in capsys.readouterr().out
    times = np.geomspace(1, 100, 8)
    want = [solve(ModesumParams(a=a, b=1.5, noise=0.1), times, seed=s) for a in (1.5, 2.0) for s in (0, 1)]
    assert _all_same(load_sweep(cfg, tmp_path / "c"), want)


def test_cli_workers_flag(tmp_path, capsys):
    pytest.importorskip("distributed")
    cfg = _write_toml(
        tmp_path / "w.toml",
        'generator = "modesum"\nseeds = [0, 1]\n[params]\nb = 1.5\nnoise = 0.1\n[grid]\na = [1.5, 2.0]\n'
        "[axis]\ntimes = {start = 1, stop = 100, num = 8, log = true}\n",
    )
    assert cli.main(["sweep", str(cfg), "--out", str(tmp_path / "w"), "--workers", "2"]) == 0
    assert "4 done now, 0 failed" in capsys.readouterr().out
    assert cli.main(["sweep", str(cfg), "--out", str(tmp_path / "x"), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    times = np.geomspace(1, 100, 8)
    want = [solve(ModesumParams(a=a, b=1.5, noise=0.1), times, seed=s) for a in (1.5, 2.0) for s in (0, 1)]
    assert _all_same(load_sweep(cfg, tmp_path / "w"), want)


# -- other generators (written in parallel; skipped until they exist) --------------------------------
def _has(module: str, *names: str) -> bool:
    if importlib.util.find_spec(module) is None:
        return False
    mod = __import__(module, fromlist=["_"])
    return all(hasattr(mod, n) for n in names)


@pytest.mark.skipif(not _has("generators.dmft", "DMFTParams", "solve"), reason="generators/dmft.py not written yet")
def test_dmft_theory_sweep_equals_direct_calls(tmp_path):
    from generators import dmft

    cfg = {
        "generator": "dmft",
        "params": {"b": 1.5, "M": 200, "N": float("inf"), "P": float("inf")},
        "grid": {"a": [2.0, 3.0]},
        "axis": {"times": {"start": 1.0, "stop": 1e3, "num": 6, "log": True}},
    }
    result = run_sweep(cfg, tmp_path / "s", progress=False)
    assert (result.n_done, result.n_failed) == (2, 0)
    times = np.geomspace(1.0, 1e3, 6)
    want = [dmft.solve(dmft.DMFTParams(a=a, b=1.5, M=200, N=math.inf, P=math.inf), times) for a in (2.0, 3.0)]
    assert _all_same(load_sweep(cfg, tmp_path / "s"), want)
    # solve is deterministic: seeds are a config error
    with pytest.raises(ValueError, match="takes no seed"):
        load_config({**cfg, "seeds": [0]})


@pytest.mark.skipif(not _has("generators.plrf", "PLRFParams", "volterra"), reason="generators/plrf.py not written yet")
def test_plrf_volterra_sweep_equals_direct_calls(tmp_path):
    from generators import plrf

    cfg = {
        "generator": "plrf",
        "function": "volterra",
        "seeds": [0, 1],
        "params": {"beta": 0.7, "d": 16},
        "grid": {"alpha": [1.0, 1.5]},
        "axis": {"steps": {"start": 1, "stop": 1000, "num": 10, "log": True, "integer": True}},
    }
    result = run_sweep(cfg, tmp_path / "s", progress=False)
    assert (result.n_done, result.n_failed) == (4, 0)
    steps = np.unique(np.round(np.geomspace(1, 1000, 10)).astype(np.int64))
    want = [plrf.volterra(plrf.PLRFParams(alpha=al, beta=0.7, d=16), steps, seed=s) for al in (1.0, 1.5) for s in (0, 1)]
    assert _all_same(load_sweep(cfg, tmp_path / "s"), want)


@pytest.mark.skipif(
    not _has("generators.maloney", "MaloneyParams", "scaling_curve"), reason="generators/maloney.py not written yet"
)
def test_maloney_theory_sweep_equals_direct_calls(tmp_path):
    from generators import maloney

    cfg = {
        "generator": "maloney",
        "params": {"M": 64, "N": 16, "T": float("inf")},
        "grid": {"alpha": [0.5, 1.0]},
        "axis": {"name": "N", "values": [4, 8, 16]},
    }
    result = run_sweep(cfg, tmp_path / "s", progress=False)
    assert (result.n_done, result.n_failed) == (2, 0)
    want = [
        maloney.scaling_curve(maloney.MaloneyParams(alpha=al, M=64, N=16, T=math.inf), "N", np.array([4, 8, 16]))
        for al in (0.5, 1.0)
    ]
    assert _all_same(load_sweep(cfg, tmp_path / "s"), want)
    with pytest.raises(ValueError, match=r"axis.name must name the swept size"):
        load_config({**cfg, "axis": {"values": [4, 8]}})


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.skipif(
    not _has("generators.networks", "TrainConfig", "train") or importlib.util.find_spec("torch") is None,
    reason="generators/networks.py or torch not available",
)
def test_network_sweep_equals_direct_call(tmp_path):
    from generators.networks import TrainConfig, train

    params = {"dataset": "digits", "steps": 12, "n_record": 4, "projection_dim": 0, "device": "cpu", "n_eval": 32}
    cfg = {"generator": "network", "seeds": [3], "params": params, "grid": {"width": [8]}}
    result = run_sweep(cfg, tmp_path / "s", progress=False)
    assert (result.n_done, result.n_failed) == (1, 0), result.failures
    want = [train(TrainConfig(**params, width=8), 3)]
    assert _all_same(load_sweep(cfg, tmp_path / "s"), want)


# -- batches and group commit ---------------------------------------------------------------------
def test_chunk_size_follows_the_measured_time_per_run():
    from toptraj.sweeps.cluster import TASK_SECONDS, chunk_size

    assert chunk_size(None, 1000, 2) == 1  # nothing measured yet: one run per task
    assert chunk_size(1e-3, 10_000, 2) == int(TASK_SECONDS / 1e-3)  # ~TASK_SECONDS of work per task
    assert chunk_size(1e-3, 100, 2) == 25  # but at least two tasks left per worker
    assert chunk_size(10.0, 1000, 2) == 1  # slow runs: one per task
    assert chunk_size(1e-9, 1, 8) == 1


def test_execute_batch_writes_syncs_and_returns_in_order(tmp_path, monkeypatch):
    from toptraj import store as store_mod
    from toptraj.store import file_sha256
    from toptraj.sweeps.runner import execute_batch

    runs = load_config(_config()).runs
    calls = []
    real = store_mod.sync_files
    monkeypatch.setattr("toptraj.sweeps.runner.sync_files", lambda root, files: calls.append(list(files)) or real(root, files))
    results = execute_batch(runs, str(tmp_path))
    assert [r["key"] for r in results] == [r.key for r in runs]
    assert all(r["status"] == "done" for r in results)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(f for r in results for f in r["files"])  # one sync per batch
    for r in results:
        assert [file_sha256(tmp_path / f) for f in r["files"]] == r["checksums"]


def test_sync_files_without_syncfs_fsyncs_each_file(tmp_path, monkeypatch):
    from toptraj import store as store_mod

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(store_mod, "_syncfs", lambda: None)
    monkeypatch.setattr(store_mod.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    (tmp_path / "runs" / "ab").mkdir(parents=True)
    for name in ("a.npz", "b.npz"):
        (tmp_path / "runs" / "ab" / name).write_bytes(b"x")
    store_mod.sync_files(tmp_path, ["runs/ab/a.npz", "runs/ab/b.npz"])
    assert len(synced) == 3  # two files and their folder
    with pytest.raises(OSError):
        store_mod.sync_files(tmp_path, ["runs/ab/missing.npz"])


def test_one_catalog_transaction_per_batch(tmp_path, monkeypatch):
    import concurrent.futures

    from toptraj.sweeps import runner

    batches = []
    real = Store.record

    def record(self, results):
        results = list(results)
        batches.append(len(results))
        return real(self, results)

    monkeypatch.setattr(Store, "record", record)
    cfg = _config(seeds={"start": 0, "stop": 10})
    monkeypatch.setattr(runner, "BATCH_SECONDS", 60.0)
    run_sweep(cfg, tmp_path / "a", progress=False)
    assert batches == [30]  # in-process: every run in one batch, committed once
    batches.clear()
    monkeypatch.setattr(runner, "BATCH_SECONDS", 0.0)
    run_sweep(cfg, tmp_path / "b", progress=False)
    assert batches == [1] * 30  # a batch closes after every run when its time is up
    batches.clear()
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        res = run_sweep(cfg, tmp_path / "c", client=ex, progress=False)
    assert res.n_done == 30 and sum(batches) == 30
    assert batches[:2] == [1, 1] and max(batches) > 1  # probe tasks of one run, then chunks sized from their time
    assert _all_same(load_sweep(cfg, tmp_path / "c"), load_sweep(cfg, tmp_path / "a"))
