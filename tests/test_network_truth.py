"""Measured ground truth of network sweeps, kernels after training, onset runs and path topology.

Hand-computed answers on synthetic sweeps; tiny torch runs (widths <= 32, <= 400 steps) for the
properties that need real training.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from generators.networks import paths as npaths
from generators.networks import truth as nt
from toptraj.trajectory import Trajectory

TIMES = np.unique(np.round(np.geomspace(1, 5000, 40)))


def _synthetic(widths=(16, 32, 64, 128, 256), seeds=3, m=0.6, r=0.25, noise=0.002, gap_from=None):
    rng = np.random.default_rng(0)
    runs = []
    for w in widths:
        for s in range(seeds):
            test = 2 * TIMES**-r + 3 * w**-m + noise * rng.standard_normal()
            train = test * (1 - 0.2 * (TIMES > gap_from)) if gap_from else test.copy()
            runs.append(Trajectory(times=TIMES, values=np.c_[train, test], channels=("train_loss", "test_loss"),
                                   source="network", params={"width": w}, seed=s, axis="step"))
    return runs


# -- the fit rules ---------------------------------------------------------------------------------
def test_time_exponent_of_exact_power_law_and_window():
    r, drift, why = nt.fit_time_exponent(TIMES, 3 * TIMES**-0.37, stop_at_min=False)
    assert r == pytest.approx(0.37, abs=1e-12) and abs(drift) < 1e-10 and why is None
    keep, _ = nt.time_exponent_window(TIMES, TIMES**-0.5, stop_at_min=False)
    u = np.log(TIMES) / np.log(TIMES[-1])
    assert np.array_equal(keep, u >= nt.START - 1e-12)


def test_test_loss_window_stops_at_the_minimum():
    y = TIMES**-0.3 + 1e-4 * TIMES  # decays, then rises (overfitting)
    keep, why = nt.time_exponent_window(TIMES, y, stop_at_min=True)
    assert why is None and TIMES[keep].max() == TIMES[np.argmin(y)]
    early_min = np.r_[1.0, 0.5, np.linspace(0.6, 2.0, TIMES.size - 2)]
    r, _, why = nt.fit_time_exponent(TIMES, early_min, stop_at_min=True)
    assert math.isnan(r) and "fewer than 5 records" in why


def test_width_power_law_fit_recovers_known_parameters():
    n = np.array([16, 32, 64, 128, 256.0])
    L_inf, B, m, at_bound = nt.fit_width_power_law(n, 0.4 + 2.0 * n**-0.7)
    assert m == pytest.approx(0.7, rel=0.02) and L_inf == pytest.approx(0.4, rel=0.01) and not at_bound
    cols = np.c_[0.4 + 2.0 * n**-0.7, 0.1 + 5.0 * n**-1.3]
    L_inf, _, m, _ = nt.fit_width_power_law(n, cols)
    np.testing.assert_allclose(m, [0.7, 1.3], rtol=0.02)
    np.testing.assert_allclose(L_inf, [0.4, 0.1], rtol=0.02)
    with pytest.raises(ValueError, match="one row per width"):
        nt.fit_width_power_law([1, 2], [1.0, 2.0])


@pytest.mark.slow
def test_measure_sweep_recovers_exponents_with_intervals_deterministically():
    runs = _synthetic(gap_from=200)
    a = nt.measure_sweep(runs, n_boot=200, boot_seed=3)
    b = nt.measure_sweep(runs, n_boot=200, boot_seed=3)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # the rule is deterministic
    me = a["model_exponent"]
    assert me["value"] == pytest.approx(0.6, abs=0.03) and me["lo"] <= me["value"] <= me["hi"]
    assert me["hi"] - me["lo"] > 0  # seed noise gives a non-degenerate interval
    # L(t, inf) extrapolated across widths is the infinite-width curve 2 t^-0.25 within 5%
    np.testing.assert_allclose(np.asarray(a["L_inf"], float)[-10:], 2 * TIMES[-10:] ** -0.25, rtol=0.05)
    for rec in a["per_width"].values():
        te = rec["time_exponent_test"]
        assert 0 < float(te["lo"]) <= float(te["value"]) <= float(te["hi"]) < 0.25  # finite N: slower than r
        assert float(rec["t_of"]["value"]) == pytest.approx(200, rel=0.3)  # gap ratio 0.2 from t > 200
    # per-width exponents approach r = 0.25 as N grows
    vals = [float(a["per_width"][str(w)]["time_exponent_test"]["value"]) for w in (16, 32, 64, 128, 256)]
    assert np.all(np.diff(vals) > 0)
    other = nt.measure_sweep(runs, n_boot=200, boot_seed=4)
    lo = lambda d: d["per_width"]["16"]["time_exponent_test"]["lo"]  # noqa: E731
    assert lo(other) != lo(a)  # the bootstrap seed is used


def test_t_x_not_determinable_gives_reasons():
    runs = _synthetic(m=1.02)  # |m_late - 1| < 0.1: no contrast
    truth = nt.measure_sweep(runs, n_boot=20)
    rec = truth["per_width"]["16"]["t_x"]
    assert rec["value"] == "nan" and ("contrast" in rec["reason"] or "bound" in rec["reason"] or "past" in rec["reason"])
    assert "not in the sweep" in truth["per_width"]["256"]["t_x"]["reason"]
    few = nt.measure_sweep(_synthetic(widths=(16, 32, 64)), n_boot=20)
    assert few["model_exponent"]["value"] == "nan" and ">= 4 widths" in few["model_exponent"]["reason"]


def test_label_sweep_writes_labels_and_truth_to_every_run():
    runs = _synthetic(gap_from=100)
    ts = nt.label_sweep(runs, n_boot=50)
    for t in ts:
        assert {"time_exponent", "model_exponent", "t_x", "t_of"} <= set(t.labels)
        rec = t.provenance["truth"]
        assert rec["format"] == nt.TRUTH_FORMAT and rec["width"]["time_exponent_test"]["rule"]
        assert float(rec["width"]["time_exponent_test"]["value"]) == t.labels["time_exponent"]


@pytest.mark.parametrize("kwargs, needle", [({"n_boot": 5}, "n_boot"), ({"boot_seed": -1}, "boot_seed")])
def test_measure_sweep_rejects_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        nt.measure_sweep(_synthetic(), **kwargs)
    with pytest.raises(ValueError, match="trajectories"):
        nt.measure_sweep([])


# -- stored labels survive resume (real runs) ------------------------------------------------------
@pytest.mark.slow
def test_measured_sweep_labels_every_stored_run_and_survive_resume(tmp_path):
    pytest.importorskip("torch")
    from generators import networks as nw
    from toptraj.io import load_set

    cfg = nw.TrainConfig(steps=60, n_record=8, n_train=200, n_test=100, n_eval=100, batch_size=16, projection_dim=4,
                         base_width=8, device="cpu")
    widths, seeds = [4, 8, 16, 32], [0, 1]
    ref, ref_truth = nt.measured_sweep(cfg, widths, seeds, tmp_path / "ref", n_boot=50)

    calls = {"n": 0}

    def interrupted(config, seed, **kw):  # the 5th run is killed after its first records
        calls["n"] += 1
        if calls["n"] == 5:
            def stop(step, row):
                if step >= 20:
                    raise KeyboardInterrupt
            return nw.train(config, seed, checkpoint_every=1, callback=stop, **kw)
        return nw.train(config, seed, **kw)

    with pytest.raises(KeyboardInterrupt):
        nt.measured_sweep(cfg, widths, seeds, tmp_path / "run", n_boot=50, train_fn=interrupted)
    ts, truth = nt.measured_sweep(cfg, widths, seeds, tmp_path / "run", n_boot=50)
    assert any(t.provenance.get("resumed_from") for t in ts)
    stored = load_set(tmp_path / "run" / "runs")
    assert len(stored) == len(widths) * len(seeds)
    for a, b in zip(stored, ref, strict=True):
        assert a.labels.keys() == b.labels.keys()
        np.testing.assert_array_equal([a.labels[k] for k in sorted(a.labels)], [b.labels[k] for k in sorted(b.labels)])
        w = a.provenance["truth"]["width"]
        assert {"value", "lo", "hi", "rule", "level"} <= set(w["time_exponent_test"])
    assert nt.load_truth(tmp_path / "run" / "truth.json")["per_width"] == json.loads(json.dumps(ref_truth))["per_width"]
    with pytest.raises(ValueError, match="widths"):
        nt.measured_sweep(cfg, [8, 4], seeds, tmp_path / "bad")


# -- overfitting on purpose ----------------------------------------------------------------------------
@pytest.mark.slow
def test_small_training_set_onset_inside_run_moves_later_with_P():
    pytest.importorskip("torch")
    from generators import networks as nw

    cfg = nw.TrainConfig(width=32, base_width=32, steps=400, n_record=24, n_test=500, n_eval=200, projection_dim=4,
                         device="cpu")
    small = nw.train(replace(cfg, n_train=100), 0)
    large = nw.train(replace(cfg, n_train=800), 0)
    t_small, t_large = small.labels["t_of"], large.labels["t_of"]
    for t_of, run in ((t_small, small), (t_large, large)):
        assert run.times[0] < t_of < run.times[-1]  # inside the run
    assert t_large > 1.5 * t_small


# -- kernels ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_trace_kernel_of_linear_model_is_C_times_gram_and_probes_are_proportional():
    torch = pytest.importorskip("torch")
    from torch import nn

    from generators.networks.kernels import trace_ntk

    x = torch.tensor(np.random.default_rng(0).standard_normal((12, 5)), dtype=torch.float32)
    gram = (x.double() @ x.double().T).numpy()
    model = nn.Linear(5, 10, bias=False)
    k, exact = trace_ntk(model, x, 10)
    assert exact
    np.testing.assert_allclose(k, 10 * gram, rtol=1e-5, atol=1e-4)  # J_ic = e_c x_i^T: sum over c gives C x.x
    wide = nn.Linear(5, 40, bias=False)
    kp, exact = trace_ntk(wide, x, 40, probes=6, seed=1)
    assert not exact
    ratio = kp / gram
    assert np.allclose(ratio, ratio[0, 0], rtol=1e-4) and 10 < ratio[0, 0] < 100  # mean |r|^2 ~ C = 40


def test_kernel_spectrum_multi_output_targets_hand_values():
    from scipy.linalg import hadamard

    from generators.networks.kernels import kernel_spectrum

    h = hadamard(16).astype(float)
    x = h[:, 1:5] * np.sqrt([5.0, 3.0, 2.0, 1.0])
    y = np.c_[h[:, 2], h[:, 3]]  # power in the 2nd and 3rd eigendirections, half each
    evals, power, *_ = kernel_spectrum(x @ x.T, y, (1, 4), (1, 4))
    np.testing.assert_allclose(evals[:4], [5, 3, 2, 1], rtol=1e-12)
    np.testing.assert_allclose(power[:4], [1.0, 0.5, 0.0, 0.0], atol=1e-12)


@pytest.mark.slow
def test_kernel_after_training_differs_from_init_and_trace_runs_on_ten_classes(tmp_path):
    pytest.importorskip("torch")
    from generators import networks as nw
    from generators.networks import kernels as nk

    cfg = nw.TrainConfig(width=16, base_width=16, steps=200, n_record=8, n_train=300, n_test=100, n_eval=100,
                         projection_dim=4, device="cpu")
    res = nk.kernels_through_training(cfg, 0, [200], tmp_path, n_samples=40)
    assert [s.step for s in res["spectra"]["trace"]] == [0, 200]
    for kind in ("binary", "trace"):
        change = res["change"][kind][0]
        assert change["relative_change_normalised"] > 0.02  # measured: the kernel moved
        assert change["trace_ratio"] != pytest.approx(1.0, abs=1e-3)
        for s in res["spectra"][kind]:
            assert math.isfinite(s.a) and math.isfinite(s.b) and s.n_samples == 40
    assert res["spectra"]["trace"][0].exact  # 10 classes: exact sum over outputs
    same = nk.kernels_through_training(cfg, 0, [200], tmp_path, n_samples=40)  # reuses the stored weights
    np.testing.assert_array_equal(same["spectra"]["trace"][1].eigenvalues, res["spectra"]["trace"][1].eigenvalues)
    with pytest.raises(ValueError, match="kind"):
        nk.kernels_through_training(cfg, 0, [200], tmp_path, kinds=["hessian"])


# -- weight-space paths -------------------------------------------------------------------------------
def _path_traj(points, times=None):
    n = points.shape[0]
    times = np.arange(1, n + 1, dtype=float) if times is None else times
    vals = np.c_[np.ones(n), np.ones(n) * 1.5, np.ones(n), points]
    ch = ("train_loss", "test_loss", "param_norm") + tuple(f"proj_{j}" for j in range(points.shape[1]))
    return Trajectory(times=times, values=vals, channels=ch, source="network", params={"width": 4}, seed=0, axis="step")


@pytest.mark.slow
def test_straight_path_has_h0_ratio_one_and_no_loops():
    pts = np.outer(np.arange(30.0), [1.0, 2.0, 0.5])
    topo = npaths.path_topology(_path_traj(pts))
    assert topo["h0_ratio"] == pytest.approx(1.0, rel=1e-6) and topo["h1_count"] == 0
    assert topo["final_gap"] == pytest.approx(0.5)
    assert math.isnan(npaths.topological_onset(_path_traj(pts)))  # s = 1 throughout: no change


def test_topological_onset_finds_the_switch_from_drift_to_dithering():
    rng = np.random.default_rng(0)
    drift = np.outer(np.arange(40.0), [1.0, 0.0])
    dither = drift[-1] + 0.3 * rng.standard_normal((40, 2))
    traj = _path_traj(np.r_[drift, dither])
    t = npaths.topological_onset(traj, window=10)
    assert 40 < t < 52  # the statistic drops once the windows reach the dithering part
    with pytest.raises(ValueError, match="window"):
        npaths.windowed_statistic(traj, window=200)
    with pytest.raises(ValueError, match="proj_"):
        npaths.path_points(_path_traj(np.ones((10, 1))))


# -- the analysis script -------------------------------------------------------------------------------
@pytest.mark.slow
def test_analysis_quick_writes_report_and_figures(tmp_path, capsys):
    pytest.importorskip("torch")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "analyses" / "network_truth.py"
    spec = importlib.util.spec_from_file_location("network_truth_analysis", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--parts", "bogus", "--out", str(tmp_path)]) == 2
    assert "--parts" in capsys.readouterr().err
    argv = ["--quick", "--parts", "sweep,onset", "--out", str(tmp_path / "rep"), "--runs", str(tmp_path / "runs")]
    assert mod.main(argv) == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert set(report["sweep"]) == {"data_limited", "online"}
    row = report["sweep"]["online"]["truth"]["per_width"]["8"]["time_exponent_test"]
    assert len(row) >= 3 and math.isfinite(float(row[0]))
    assert {"sweep.png", "onset.png"} <= set(report["figures"])
    assert all((tmp_path / "rep" / f).stat().st_size > 1000 for f in report["figures"])
    tofs = {P: v["t_of_mean"] for P, v in report["onset"]["by_P"].items()}
    assert float(tofs["400"]) > float(tofs["100"])  # the quick onset runs show the P dependence too
