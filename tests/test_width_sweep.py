"""Width sweeps: the finite-size signatures (sweep_physics), the log target transform, the analysis."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.base import clone

from toptraj.io import InputError
from toptraj.path_features import first_crossing, sweep_physics
from toptraj.predictor import ExponentPredictor, Sweep
from toptraj.trajectory import Trajectory

TIMES = np.geomspace(1.0, 1e4, 64)
SIZES = np.array([64.0, 128.0, 256.0, 512.0])


def plateau_sweep(r: float, m: float, A: float = 1.0) -> np.ndarray:
    """L_N(t) = A (t^-r + N^-m): time exponent r, size exponent m at every time."""
    return A * (TIMES[None, :] ** -r + SIZES[:, None] ** -m)


@pytest.mark.core
def test_sweep_physics_reads_r_and_m_of_a_plateau_sweep():
    f = sweep_physics(SIZES, TIMES, plateau_sweep(0.6, 0.8))
    # D_i = N_i^-m - N_i+1^-m at every time: kappa and the D-vs-N slope are exactly m
    assert f["ph_kappa_end_w"] == pytest.approx(0.8, abs=1e-3)
    assert f["ph_kappa_start_nar"] == pytest.approx(0.8, abs=1e-3)
    assert f["ph_DvsN_end"] == pytest.approx(-0.8, abs=1e-3)
    # the Richardson-extrapolated curve is t^-r exactly (geometric differences)
    assert f["ph_ext_slope_last"] == pytest.approx(-0.6, abs=1e-3)
    assert all(isinstance(v, float) for v in f.values())


@pytest.mark.core
def test_sweep_physics_is_amplitude_free_and_crossing_slope_reads_b():
    L = plateau_sweep(0.6, 0.8)
    f1, f2 = sweep_physics(SIZES, TIMES, L), sweep_physics(SIZES, TIMES, 37.0 * L)
    for k in f1:
        assert (math.isnan(f1[k]) and math.isnan(f2[k])) or f1[k] == pytest.approx(f2[k], rel=1e-6, abs=1e-9), k
    # gap log(L_N / L_widest) = log(1 + t / N^b) - log(1 + t / N_max^b): crosses a level at t ~ N^b
    b = 1.3
    sizes = np.array([8.0, 16.0, 32.0, 1e6])
    L = TIMES[None, :] ** -0.5 * (1.0 + TIMES[None, :] / sizes[:, None] ** b)
    f = sweep_physics(sizes, TIMES, L, n_grid=200)
    assert f["ph_cross_slope_0.1"] == pytest.approx(b, rel=0.02)


@pytest.mark.core
def test_first_crossing_interpolates_and_reports_never():
    u = np.array([0.0, 1.0, 2.0])
    assert first_crossing(u, np.array([0.0, 0.5, 1.0]), 0.75) == pytest.approx(1.5)
    assert first_crossing(u, np.array([1.0, 2.0, 3.0]), 0.5) == 0.0
    assert math.isnan(first_crossing(u, np.zeros(3), 0.1))


def synthetic_sweeps(n: int, seed: int):
    """Sweeps L_N(t) = A ((1 + tau t)^-r + N^-m) with m = min(a-1, b), random A and tau."""
    rng = np.random.default_rng(seed)
    out, y = [], []
    for _ in range(n):
        a, b = float(rng.uniform(1.2, 3.0)), float(rng.uniform(1.05, 2.5))
        r, m = (a - 1) / b, min(a - 1, b)
        A, tau = float(np.exp(rng.uniform(-2, 2))), float(np.exp(rng.uniform(-1, 1)))
        runs = [Trajectory(TIMES, A * ((1 + tau * TIMES) ** -r + s**-m), ("test_loss",)) for s in SIZES]
        out.append(Sweep(tuple(SIZES), tuple(runs), labels={"a": a, "b": b}))
        y.append([a, b])
    return out, np.array(y)


@pytest.mark.core
def test_log_target_transform_contract_and_round_trip(tmp_path):
    X, y = synthetic_sweeps(12, seed=2)
    est = ExponentPredictor(input_type="width_sweep", features="baseline", n_splits=3, target_transform="log")
    assert clone(est).get_params()["target_transform"] == "log"
    assert est.fit(X, y) is est
    p, iv = est.predict(X), est.predict_interval(X)
    assert p.shape == (12, 2) and iv.shape == (12, 2, 2)
    assert np.all(iv[..., 0] > 0) and np.all(iv[..., 0] <= p) and np.all(p <= iv[..., 1])
    np.testing.assert_allclose(est.oof_pred_.shape, (12, 2))
    path = est.save(tmp_path / "ws.npz")
    back = ExponentPredictor.load(path)
    assert back.target_transform == "log"
    np.testing.assert_array_equal(back.predict(X), p)
    np.testing.assert_array_equal(back.predict_interval(X), iv)


@pytest.mark.core
def test_log_target_transform_bad_input():
    X, y = synthetic_sweeps(8, seed=3)
    with pytest.raises(ValueError, match="target_transform"):
        ExponentPredictor(input_type="width_sweep", target_transform="sqrt").fit(X, y)
    y_bad = y.copy()
    y_bad[0, 1] = 0.0
    with pytest.raises(InputError, match="positive for target_transform='log'"):
        ExponentPredictor(input_type="width_sweep", features="baseline", target_transform="log").fit(X, y_bad)


@pytest.mark.slow
def test_quick_width_sweep_study_writes_report_figure_and_coverage(tmp_path):
    from analyses import predict_width_sweep

    assert predict_width_sweep.main(["--quick", "--out", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 0
    rep = json.loads((tmp_path / "width_sweep.json").read_text())
    assert (tmp_path / rep["figures"][0]).stat().st_size > 0
    assert len(rep["rows"]) == 1 and len(rep["rows"][0]["draws"]) == 2
    cells = rep["targets_check"]["coverage"]["cells"]
    assert cells and all(c["clopper_pearson_90"][0] <= c["coverage"] <= c["clopper_pearson_90"][1] for c in cells)
    for d in rep["rows"][0]["draws"]:
        for t in ("a", "b"):
            m = {k: v["metrics"]["mae"] for k, v in d[t].items()}
            assert m["baseline"] < m["mean"]  # the sweep's fits beat the training mean
    assert rep["provenance"]["versions"] and list((tmp_path / "cache").glob("*.npz"))
    with pytest.raises(SystemExit):
        predict_width_sweep.main(["--bogus"])
