"""ExponentPredictor: estimator contract, storage, bad input, conformal coverage, recovery on DMFT."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from toptraj.io import InputError
from toptraj.path_features import invert_exponents, sizes_exponent
from toptraj.predictor import ExponentPredictor, Sweep, load_shipped, time_shuffled
from toptraj.trajectory import Trajectory

TIMES = np.geomspace(1.0, 1e4, 64)


def power_curve(r: float, seed: int, noise: float = 0.0, A: float = 1.0, tau: float = 1.0, offset: float = 0.0):
    """L = A ((1 + tau t)^-r + offset), with optional log-normal noise: a pure, known exponent."""
    rng = np.random.default_rng(seed)
    L = A * ((1.0 + tau * TIMES) ** -r + offset)
    if noise:
        L = L * np.exp(noise * rng.standard_normal(L.shape))
    return Trajectory(TIMES, L, ("test_loss",), source="synthetic", params={"r": r, "seed": seed},
                      labels={"time_exponent": r})


def synthetic(n: int, seed: int, noise: float = 0.05):
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.1, 1.5, n)
    X = [power_curve(float(r[i]), seed * 10_000 + i, noise, A=float(np.exp(rng.uniform(-2, 2))),
                     tau=float(np.exp(rng.uniform(-1, 1)))) for i in range(n)]
    return X, r, np.arange(n)


@pytest.fixture(scope="module")
def small():
    X, y, g = synthetic(24, seed=1)
    return X, y, g


def fast(**kw):
    return ExponentPredictor(features="topology", n_points=16, n_splits=3, **kw)


# -- contract ---------------------------------------------------------------------------------------
@pytest.mark.core
def test_init_stores_params_and_clone_works():
    est = ExponentPredictor(input_type="pair", features="baseline", fraction=0.3, scale="log", coverage=0.8)
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert c is not est


@pytest.mark.core
def test_fit_returns_self_and_predict_before_fit_raises(small):
    X, y, g = small
    est = fast()
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert est.fit(X, y, groups=g) is est
    assert est.predict(X).shape == (len(X),)
    iv = est.predict_interval(X)
    assert iv.shape == (len(X), 2) and np.all(iv[:, 0] <= iv[:, 1])
    assert clone(est).get_params() == est.get_params() and not hasattr(clone(est), "coef_")


def test_two_targets_give_n_k_2_intervals(small):
    X, y, g = small
    Y = np.column_stack([y, 2 * y + 1])
    est = fast().fit(X, Y, groups=g)
    assert est.predict(X).shape == (len(X), 2)
    assert est.predict_interval(X).shape == (len(X), 2, 2)


# -- storage ----------------------------------------------------------------------------------------
@pytest.mark.core
def test_save_load_round_trip_gives_identical_predictions(small, tmp_path):
    X, y, g = small
    est = fast(fraction=0.5, scale="log").fit(X, y, groups=g)
    path = est.save(tmp_path / "p.npz")
    back = ExponentPredictor.load(path)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.predict_interval(X), est.predict_interval(X))
    assert back.get_params() == est.get_params()
    with np.load(path, allow_pickle=False) as z:  # plain data, no pickles
        assert "coef_" in z.files and json.loads(str(z["header"]))["format_version"] == 1
    with pytest.raises(InputError, match="exists"):
        est.save(path)


def _rewrite(path, out, change):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: np.array(z[k]) for k in z.files}
    change(arrays)
    np.savez(out, **arrays)
    return out


@pytest.mark.core
def test_load_refuses_tampered_and_unknown_files(small, tmp_path):
    X, y, g = small
    path = fast().fit(X, y, groups=g).save(tmp_path / "p.npz")

    def bump_coef(a):
        a["coef_"] = a["coef_"] + 1e-9

    with pytest.raises(InputError, match="checksum"):
        ExponentPredictor.load(_rewrite(path, tmp_path / "t1.npz", bump_coef))

    def new_version(a):
        h = json.loads(str(a["header"]))
        h["format_version"] = 99
        a["header"] = np.array(json.dumps(h))

    with pytest.raises(InputError, match="format_version 99"):
        ExponentPredictor.load(_rewrite(path, tmp_path / "t2.npz", new_version))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a saved"):
        ExponentPredictor.load(tmp_path / "junk.npz")
    with pytest.raises(InputError, match="not found"):
        ExponentPredictor.load(tmp_path / "missing.npz")


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.core
def test_bad_input_rules(small):
    X, y, g = small
    with pytest.raises(InputError, match="too few runs"):
        fast().fit(X[:3], y[:3])
    with pytest.raises(InputError, match="no labels"):
        fast().fit(X, None)
    yn = y.copy()
    yn[2] = np.nan
    with pytest.raises(InputError, match="finite label"):
        fast().fit(X, yn)
    for f in (0.0, 1.5, -0.2):
        with pytest.raises(InputError, match="fraction"):
            fast(fraction=f).fit(X, y, groups=g)
    with pytest.raises(InputError, match="too few parameter points"):
        fast().fit(X, y, groups=np.zeros(len(X), dtype=int) + np.arange(len(X)) % 2)
    with pytest.raises(InputError, match="not a single one"):
        fast().fit(X[0], y)
    with pytest.raises(InputError, match="lacks channel"):
        ExponentPredictor(input_type="pair").fit(X, y)
    with pytest.raises(ValueError, match="input_type"):
        ExponentPredictor(input_type="banana").fit(X, y)


@pytest.mark.core
def test_sweep_rules_and_mixed_inputs(small):
    X, y, _ = small
    with pytest.raises(InputError, match="at least three sizes"):
        Sweep((64, 128), (X[0], X[1]))
    short = X[2].truncate(0.5, "linear")
    with pytest.raises(InputError, match="same step"):
        Sweep((64, 128, 256), (X[0], X[1], short))
    with pytest.raises(InputError, match="strictly increasing"):
        Sweep((64, 32, 256), (X[0], X[1], X[2]))
    sw = Sweep((64, 128, 256), (X[0], X[1], X[2]))
    with pytest.raises(InputError, match="mixes input types"):
        fast().fit([*X[:6], sw], np.r_[y[:6], 1.0])
    with pytest.raises(InputError, match="needs a list of Trajectory"):
        fast().fit([sw] * 8, np.ones(8))
    with pytest.raises(InputError, match="needs a list of Sweep"):
        ExponentPredictor(input_type="width_sweep").fit(X, y)
    with pytest.raises(InputError, match="needs a list of Sweep"):
        ExponentPredictor(input_type="data_sweep").fit([sw] * 8, np.ones(8))  # axis N is a width sweep


# -- conformal coverage -----------------------------------------------------------------------------
@pytest.mark.slow
def test_conformal_coverage_holds_on_exchangeable_groups():
    """Training and test runs are i.i.d. draws of one distribution, one run per group: split-conformal
    coverage must be near the nominal 90% (finite-sample: 80 calibration groups, 200 test runs)."""
    X, y, g = synthetic(80, seed=3, noise=0.1)
    Xt, yt, _ = synthetic(200, seed=4, noise=0.1)
    est = ExponentPredictor(features="topology", n_points=16, coverage=0.9).fit(X, y, groups=g)
    iv = est.predict_interval(Xt)
    cover = np.mean((yt >= iv[:, 0]) & (yt <= iv[:, 1]))
    assert 0.8 <= cover <= 0.99, cover
    # narrower nominal coverage gives narrower intervals
    est50 = ExponentPredictor(features="topology", n_points=16, coverage=0.5).fit(X, y, groups=g)
    assert np.mean(np.diff(est50.predict_interval(Xt), axis=1)) < np.mean(np.diff(iv, axis=1))


# -- helpers ----------------------------------------------------------------------------------------
@pytest.mark.core
def test_invert_exponents_and_size_exponent():
    for a, b in [(1.5, 1.25), (2.5, 1.2), (3.0, 1.5), (2.0, 1.0)]:
        r, m = (a - 1) / b, min(a - 1, b)
        np.testing.assert_allclose(invert_exponents(r, m, "width_sweep"), (a, b), rtol=1e-12)
        np.testing.assert_allclose(invert_exponents(r, min(a - 1, 2 * b), "data_sweep"), (a, b), rtol=1e-12)
    assert all(math.isnan(v) for v in invert_exponents(math.nan, 1.0))
    n = np.array([64.0, 128, 256, 512])
    assert sizes_exponent(n, 0.3 + 5 * n**-0.7) == pytest.approx(0.7, rel=1e-9)


@pytest.mark.core
def test_time_shuffled_keeps_values_and_destroys_order(small):
    X, _, _ = small
    sh = time_shuffled(X[:3], seed=0)
    for a, b in zip(X[:3], sh):
        np.testing.assert_array_equal(np.sort(a.values[:, 0]), np.sort(b.values[:, 0]))
        assert not np.array_equal(a.values, b.values)


def test_time_exponent_recovered_on_small_dmft_set():
    """Recovery (can fail): DMFT theory curves, first half of log-time, held-out points."""
    from generators.exponent_sets import make_single

    X, y, g = make_single("curve", 24, seed=10, times=np.geomspace(1, 1e4, 48))
    Xt, yt, _ = make_single("curve", 12, seed=11, times=np.geomspace(1, 1e4, 48))
    est = ExponentPredictor(features="topology", fraction=0.5, scale="log", n_points=24).fit(X, y, groups=g)
    assert np.mean(np.abs(est.predict(Xt) - yt)) < 0.05


def test_shipped_predictor_loads_and_reads_a_dmft_curve():
    from generators.exponent_sets import make_single

    est = load_shipped("curve")
    assert est.input_type == "curve" and est.fraction == 1.0
    X, y, _ = make_single("curve", 4, seed=123)
    pred = est.predict([t.truncate(0.5, "log") for t in X])
    assert np.max(np.abs(pred - y)) < 0.1
    with pytest.raises(InputError, match="shipped"):
        load_shipped("pair")


def test_load_shipped_or_none_says_why_a_damaged_file_is_not_used(tmp_path, monkeypatch):
    import toptraj.predictor as mod

    est, why = mod.load_shipped_or_none("curve")
    assert isinstance(est, ExponentPredictor) and why == ""
    bad = tmp_path / "curve.npz"
    bad.write_bytes(b"not an npz")
    monkeypatch.setattr(mod, "shipped_path", lambda input_type: bad)
    est, why = mod.load_shipped_or_none("curve")
    assert est is None and why.startswith("InputError: ") and str(bad) in why


# -- other input types ------------------------------------------------------------------------------
def synthetic_sweep(a: float, b: float, seed: int, axis: str = "N") -> Sweep:
    """L_N(t) = A [(1 + tau t)^-r + N^-m]: time exponent r and plateau exponent m of a width sweep."""
    rng = np.random.default_rng(seed)
    r, m = (a - 1) / b, min(a - 1, b) if axis == "N" else min(a - 1, 2 * b)
    A, tau = float(np.exp(rng.uniform(-2, 2))), float(np.exp(rng.uniform(-1, 1)))
    sizes = (64.0, 128.0, 256.0, 512.0)
    runs = [Trajectory(TIMES, A * ((1 + tau * TIMES) ** -r + n**-m), ("test_loss",), labels={"a": a, "b": b})
            for n in sizes]
    return Sweep(sizes, tuple(runs), axis=axis)


@pytest.mark.parametrize("axis", ["N", "P"])
def test_sweep_direct_inversion_recovers_a_and_b(axis):
    kind = "width_sweep" if axis == "N" else "data_sweep"
    pts = [(1.5, 1.25), (2.5, 1.2), (3.0, 1.4), (2.2, 2.0)]
    sweeps = [synthetic_sweep(a, b, i, axis) for i, (a, b) in enumerate(pts)]
    direct = ExponentPredictor(input_type=kind).direct(sweeps)
    np.testing.assert_allclose(direct, np.array(pts), rtol=0.08)


def test_sweep_predictor_fits_and_predicts_two_targets():
    rng = np.random.default_rng(5)
    pts = [(float(rng.uniform(1.2, 3)), float(rng.uniform(1.05, 2.5))) for _ in range(10)]
    sweeps = [synthetic_sweep(a, b, i) for i, (a, b) in enumerate(pts)]
    est = ExponentPredictor(input_type="width_sweep", features="baseline", n_splits=3).fit(sweeps, np.array(pts))
    assert est.predict(sweeps).shape == (10, 2) and est.predict_interval(sweeps).shape == (10, 2, 2)


def test_order_parameters_relaxation_fit_reads_b():
    modes = (1, 2, 4, 8, 16, 32)
    X, Y = [], []
    for i, (a, b) in enumerate([(1.5, 1.25), (2.0, 1.8), (2.8, 1.1)]):
        tau = 0.5 + i
        H = np.exp(-np.outer(tau * TIMES, np.array(modes, float) ** -b))
        L = (1 + tau * TIMES) ** (-(a - 1) / b)
        X.append(Trajectory(TIMES, np.column_stack([L, H]), ("test_loss", *(f"H_{k}" for k in modes)),
                            labels={"a": a, "b": b}))
        Y.append((a, b))
    d = ExponentPredictor(input_type="order_parameters", fraction=0.3, scale="log").direct(X)
    np.testing.assert_allclose(d[:, 1], np.array(Y)[:, 1], rtol=1e-6)  # rates ~ k^-b: exact early on
    # a = 1 + r b needs the asymptotic slope of the loss: the whole run, not its first 30%
    d = ExponentPredictor(input_type="order_parameters").direct(X)
    np.testing.assert_allclose(d[:, 0], np.array(Y)[:, 0], rtol=0.03)


def test_weight_paths_featurise_and_fit():
    from generators.exponent_sets import make_single

    X, y, g = make_single("weights", 8, seed=4, times=np.geomspace(1, 1e4, 40))
    est = ExponentPredictor(input_type="weights", features="both", n_points=16, n_splits=3).fit(X, y, groups=g)
    names = est.feature_names_
    assert any(n.startswith("w_H1_") for n in names) and "w_ph_dim" in names and "w_speed_slope" in names
    assert np.all(np.isfinite(est.predict(X)))


@pytest.mark.slow
def test_demo_dmft_quick_returns_every_method_and_the_sweep():
    from toptraj.predictor import demo_dmft

    out = demo_dmft(quick=True, seed=0)
    for scale in ("linear", "log"):
        res = out["curve"][scale]
        assert set(res) == {"topology", "baseline", "both", "null", "direct", "mean"}
        assert res["baseline"]["mae"] < res["mean"]["mae"]
        assert 0.0 <= res["both"]["coverage"] <= 1.0
    assert set(out["width_sweep"]["shipped"]) == {"a", "b"} and out["cpu_seconds"] > 0
