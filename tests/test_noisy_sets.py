"""generators.noisy_sets: the noisy and foreign data sets of the exponent study, via the sweep runner."""

import math

import numpy as np
import pytest

from generators import noisy_sets as ns


def test_plrf_time_exponent_is_the_dmft_r_with_b_2alpha_a_2alpha_plus_2beta():
    assert ns.plrf_time_exponent(1.0, 1.0) == pytest.approx(1.5)
    alpha, beta = 0.8, 0.6
    a, b = 2 * alpha + 2 * beta, 2 * alpha
    assert ns.plrf_time_exponent(alpha, beta) == pytest.approx((a - 1) / b)


@pytest.mark.parametrize("alpha,beta,name", [(0.0, 1.0, "alpha"), (-1.0, 1.0, "alpha"), (math.nan, 1.0, "alpha"),
                                             (0.2, 0.2, "beta"), (1.0, math.inf, "beta")])
def test_plrf_time_exponent_bad_input(alpha, beta, name):
    with pytest.raises(ValueError, match=name):
        ns.plrf_time_exponent(alpha, beta)


def test_draw_configs_reproducible_and_distinct():
    a = ns.draw_configs("dmft_sim", 3, seed=5)
    b = ns.draw_configs("dmft_sim", 3, seed=5)
    c = ns.draw_configs("dmft_sim", 3, seed=6)
    assert [x[0] for x in a] == [x[0] for x in b]
    assert [x[0] for x in a] != [x[0] for x in c]
    for cfg, meta in a:
        p = cfg["params"]
        assert meta["r"] == pytest.approx((p["a"] - 1) / p["b"])
        assert 0.1 <= meta["A"] <= 10 and 0.3 <= meta["tau"] <= 3
        # the generator runs at tau * t
        assert cfg["axis"]["times"][0] == pytest.approx(meta["tau"] * meta["times"][0])
    for cfg, _meta in ns.draw_configs("plrf_sgd", 5, seed=1):
        p = cfg["params"]
        assert p["beta"] < p["alpha"]  # phases I/II only
        assert all(isinstance(s, int) and s >= 1 for s in cfg["axis"]["steps"])


@pytest.mark.parametrize("kwargs,name", [({"kind": "modesum"}, "kind"), ({"n_points": 0}, "n_points"),
                                         ({"seed": -1}, "seed"), ({"n_points": 2.5}, "n_points"),
                                         ({"n_times": 3}, "n_times")])
def test_draw_configs_bad_input(kwargs, name):
    args = {"kind": "plrf_sgd", "n_points": 2, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=name):
        ns.draw_configs(**args)


@pytest.mark.slow
def test_load_runs_uses_the_store_as_a_cache(tmp_path):
    from toptraj.store import Store

    X, y, g = ns.load_runs("plrf_sgd", "curve", 2, seed=3, store=tmp_path / "s", n_times=16)
    assert len(X) == 2 and y.shape == (2,) and list(g) == [0, 1]
    for t, r, (cfg, meta) in zip(X, y, ns.draw_configs("plrf_sgd", 2, seed=3, n_times=16)):
        assert t.has_channel("test_loss") and len(t.channels_with_prefix("proj_")) >= 2
        assert r == pytest.approx(ns.plrf_time_exponent(cfg["params"]["alpha"], cfg["params"]["beta"]))
        np.testing.assert_allclose(t.times, meta["times"])
        assert t.params["amplitude"] == pytest.approx(meta["A"])
    with Store(tmp_path / "s") as st:
        n_runs = len(st.catalog())
    X2, y2, _ = ns.load_runs("plrf_sgd", "curve", 2, seed=3, store=tmp_path / "s", n_times=16)
    with Store(tmp_path / "s") as st:
        assert len(st.catalog()) == n_runs  # nothing run again
    np.testing.assert_array_equal(y, y2)
    for a, b in zip(X, X2):
        np.testing.assert_array_equal(a.values, b.values)


def test_load_runs_maloney_curve_slope_near_alpha(tmp_path):
    X, y, _ = ns.load_runs("maloney", "curve", 2, seed=0, store=tmp_path, n_times=24)
    for t, alpha in zip(X, y):
        v = t.channel("test_loss")
        late = slice(len(v) // 2, None)
        slope = -np.polyfit(np.log(t.times[late]), np.log(v[late]), 1)[0]
        assert slope == pytest.approx(alpha, rel=0.25)


def test_load_runs_bad_input_type(tmp_path):
    with pytest.raises(ValueError, match="input_type"):
        ns.load_runs("plrf_sgd", "pair", 2, seed=0, store=tmp_path)
