"""Tests for toptraj.embeddings: hand-computed kernels, invariances, estimator contracts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toptraj.embeddings import (
    DelayEmbedder,
    LogTimeResampler,
    delay_embed,
    log_slope,
    loglog,
    random_projection,
    resample_log,
    sliding_windows,
)
from toptraj.trajectory import Trajectory

pytestmark = pytest.mark.core


# -- resample_log / loglog / log_slope ---------------------------------------------------------


def test_resample_log_is_exact_for_curves_linear_in_log_t():
    t = np.array([1.0, 2.0, 7.0, 30.0, 100.0])
    v = np.column_stack([3.0 - 2.0 * np.log(t), 0.5 * np.log(t)])
    t_new, v_new = resample_log(t, v, 9)
    assert t_new.shape == (9,) and v_new.shape == (9, 2)
    np.testing.assert_allclose(t_new, np.geomspace(1.0, 100.0, 9), rtol=1e-12)
    np.testing.assert_allclose(v_new[:, 0], 3.0 - 2.0 * np.log(t_new), atol=1e-12)
    np.testing.assert_allclose(v_new[:, 1], 0.5 * np.log(t_new), atol=1e-12)
    t1, v1 = resample_log(t, v[:, 0], 9)
    assert v1.shape == (9,)
    np.testing.assert_allclose(v1, v_new[:, 0])


def test_resample_log_interpolates_in_log_t_not_t():
    # Midpoint in log t of [1, 100] is t = 10; linear-in-t interpolation would give 10/99 of the way.
    _, v = resample_log([1.0, 100.0], [0.0, 1.0], 3)
    assert v[1] == pytest.approx(0.5, abs=1e-12)


def test_resample_log_rejects_bad_input():
    with pytest.raises(ValueError, match="times must be positive"):
        resample_log([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], 4)
    with pytest.raises(ValueError, match="n_points"):
        resample_log([1.0, 2.0], [1.0, 2.0], 1)
    with pytest.raises(ValueError, match="rows"):
        resample_log([1.0, 2.0, 3.0], [1.0, 2.0], 4)


def test_loglog_and_its_errors():
    lt, lv = loglog([1.0, np.e], [np.e, 1.0])
    np.testing.assert_allclose(lt, [0.0, 1.0])
    np.testing.assert_allclose(lv, [1.0, 0.0])
    with pytest.raises(ValueError, match="values must be positive"):
        loglog([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="times must be positive"):
        loglog([-1.0, 2.0], [1.0, 1.0])


def test_log_slope_of_a_power_law_is_its_exponent_on_an_irregular_grid():
    t = np.array([1.0, 1.5, 4.0, 4.2, 50.0, 1e3])
    v = 7.0 * t**-0.37
    np.testing.assert_allclose(log_slope(t, v), -0.37, atol=1e-12)
    two = log_slope(t, np.column_stack([v, t**1.5]))
    np.testing.assert_allclose(two[:, 1], 1.5, atol=1e-12)


# -- delay_embed / sliding_windows -------------------------------------------------------------


def test_delay_embed_hand_example():
    x = np.arange(6.0)
    np.testing.assert_array_equal(delay_embed(x, 3, 2), [[0, 2, 4], [1, 3, 5]])
    x2 = np.column_stack([np.arange(4.0), 10 + np.arange(4.0)])
    np.testing.assert_array_equal(delay_embed(x2, 2, 1), [[0, 10, 1, 11], [1, 11, 2, 12], [2, 12, 3, 13]])
    np.testing.assert_array_equal(delay_embed(x2, 1, 5), x2)


def test_delay_embed_rejects_too_short_series():
    with pytest.raises(ValueError, match="needs at least 5"):
        delay_embed(np.arange(4.0), 3, 2)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    c=st.integers(1, 3),
    dim=st.integers(-2, 5),
    lag=st.integers(-1, 4),
)
def test_delay_embed_shape_or_clear_error(n, c, dim, lag):
    x = np.arange(n * c, dtype=float).reshape(n, c)
    if dim < 1:
        with pytest.raises(ValueError, match="dim"):
            delay_embed(x, dim, lag)
    elif lag < 1:
        with pytest.raises(ValueError, match="lag"):
            delay_embed(x, dim, lag)
    elif n - (dim - 1) * lag < 1:
        with pytest.raises(ValueError, match="needs at least"):
            delay_embed(x, dim, lag)
    else:
        out = delay_embed(x, dim, lag)
        assert out.shape == (n - (dim - 1) * lag, dim * c)
        # Column block k is the series shifted by k * lag.
        for k in range(dim):
            np.testing.assert_array_equal(out[:, k * c : (k + 1) * c], x[k * lag : k * lag + out.shape[0]])


def test_sliding_windows_hand_example():
    w = sliding_windows(np.arange(7.0), 3, 2)
    assert w.shape == (3, 3, 1)
    np.testing.assert_array_equal(w[:, :, 0], [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    w2 = sliding_windows(np.ones((5, 2)), 5, 1)
    assert w2.shape == (1, 5, 2)
    with pytest.raises(ValueError, match="width"):
        sliding_windows(np.arange(4.0), 5, 1)
    with pytest.raises(ValueError, match="stride"):
        sliding_windows(np.arange(4.0), 2, 0)


# -- random_projection -------------------------------------------------------------------------


def test_random_projection_deterministic_and_blockwise_invariant():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 101))
    a = random_projection(X, 7, seed=3)
    b = random_projection(X, 7, seed=3, block_rows=10)  # 11 blocks, last one short
    c = random_projection(X, 7, seed=4)
    assert a.shape == (5, 7)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert not np.allclose(a, c)
    # The documented construction: R ~ N(0, 1) / sqrt(dim) from default_rng(seed), shape (D, dim).
    R = np.random.default_rng(3).standard_normal((101, 7)) / np.sqrt(7)
    np.testing.assert_allclose(a, X @ R, rtol=1e-10, atol=1e-12)


def test_random_projection_preserves_squared_norms_in_expectation():
    # |xR|^2 / |x|^2 ~ chi2(dim) / dim: mean 1, std sqrt(2 / dim) = 0.1 for dim = 200.
    x = np.random.default_rng(0).standard_normal((1, 1000))
    ratios = [np.sum(random_projection(x, 200, seed=s) ** 2) / np.sum(x**2) for s in range(40)]
    assert abs(np.mean(ratios) - 1.0) < 4 * 0.1 / np.sqrt(40)
    assert abs(np.std(ratios) - 0.1) < 0.05  # the sample std of 40 draws has sd ~ 0.011


def test_random_projection_validation():
    with pytest.raises(ValueError, match="dim"):
        random_projection(np.ones((2, 3)), 0)
    with pytest.raises(ValueError, match="seed"):
        random_projection(np.ones((2, 3)), 2, seed=-1)
    with pytest.raises(ValueError, match="X must have 2"):
        random_projection(np.ones(3), 2)


# -- LogTimeResampler --------------------------------------------------------------------------


def _broken_power_law(t):
    # L = t^-0.3 before t=30, t^-0.8 after (continuous), plus a floor.
    return np.where(t < 30, t**-0.3, 30**0.5 * t**-0.8) + 0.01


def _traj(times, values, name="test_loss"):
    return Trajectory(times=times, values=values, channels=(name,))


def test_resampler_pure_power_law_gives_a_line_and_constant_slope():
    t = np.geomspace(1, 1e4, 200)
    tr = _traj(t, 5.0 * t**-0.4)
    res = LogTimeResampler(n_points=16, representation="both").fit([tr])
    assert res.columns_ == ("u", "y", "s")
    out = res.transform([tr])
    assert out.shape == (1, 16, 3)
    u, y, s = out[0].T
    np.testing.assert_allclose(u, np.linspace(0, np.log(1e4), 16), atol=1e-12)
    np.testing.assert_allclose(y, -0.4 * u, atol=1e-12)
    np.testing.assert_allclose(s, -0.4, atol=1e-12)


def test_resampler_centering_removes_amplitude_and_time_scale():
    t = np.geomspace(1, 1e4, 300)
    f = _broken_power_law(t)
    a = _traj(t, f)
    c, A = 7.3, 0.02  # L2(t') = A f(c t') observed at t' = t / c
    b = _traj(t / c, A * f)
    res = LogTimeResampler(n_points=32, representation="both")
    out = res.fit_transform([a, b])
    np.testing.assert_allclose(out[0], out[1], atol=1e-10)
    raw = LogTimeResampler(n_points=32, center=False).fit_transform([a, b])
    assert not np.allclose(raw[0], raw[1])  # without centring they differ


def test_resampler_drops_nonpositive_times():
    t = np.geomspace(1, 100, 50)
    with_zero = _traj(np.concatenate([[0.0], t]), np.concatenate([[123.0], t**-0.5]))
    without = _traj(t, t**-0.5)
    out = LogTimeResampler(n_points=10, representation="slope").fit_transform([with_zero, without])
    np.testing.assert_allclose(out[0], out[1])


def test_resampler_errors():
    t = np.geomspace(1, 100, 20)
    with pytest.raises(ValueError, match="positive"):
        LogTimeResampler().fit_transform([_traj(t, t - 5.0)])
    with pytest.raises(ValueError, match="no channel"):
        LogTimeResampler(channel="train_loss").fit_transform([_traj(t, t**-1)])
    with pytest.raises(ValueError, match="representation"):
        LogTimeResampler(representation="linear").fit([_traj(t, t**-1)])
    with pytest.raises(ValueError, match="at least 2"):
        LogTimeResampler().fit_transform([_traj([0.0, 1.0], [1.0, 1.0])])
    with pytest.raises(ValueError, match="must be a Trajectory"):
        LogTimeResampler().fit([np.ones(3)])


# -- DelayEmbedder -----------------------------------------------------------------------------


def test_delay_embedder_shapes_and_dim1_identity():
    X = np.random.default_rng(0).standard_normal((4, 20, 3))
    emb = DelayEmbedder(dim=3, lag=2, columns=[1, 2]).fit(X)
    clouds = emb.transform(X)
    names = ["b_lag0", "c_lag0", "b_lag1", "c_lag1", "b_lag2", "c_lag2"]  # block k = delay k
    assert list(emb.get_feature_names_out(["a", "b", "c"])) == names
    assert len(clouds) == 4 and clouds[0].shape == (16, 6)
    np.testing.assert_array_equal(clouds[2], delay_embed(X[2][:, [1, 2]], 3, 2))
    same = DelayEmbedder(dim=1).fit_transform(X)
    np.testing.assert_array_equal(same[1], X[1])


def test_delay_embedder_errors():
    X = np.zeros((2, 5, 2))
    with pytest.raises(ValueError, match="need at least"):
        DelayEmbedder(dim=3, lag=3).fit(X)
    with pytest.raises(ValueError, match="columns"):
        DelayEmbedder(columns=[5]).fit(X)


