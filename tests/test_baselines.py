"""Baselines: hand-checkable fits and the scikit-learn step contract."""

import math

import numpy as np
import pytest

from toptraj import Trajectory
from toptraj.baselines import BaselineFeatures, final_weight_norm, fit_offset_power_law, loglog_slope

pytestmark = pytest.mark.core


def test_loglog_slope_exact_power_law():
    t = np.geomspace(1, 1e4, 30)
    fit = loglog_slope(t, 7.0 * t**-0.37)
    assert fit.slope == pytest.approx(-0.37, abs=1e-12) and fit.stderr < 1e-10
    assert math.exp(fit.intercept) == pytest.approx(7.0)
    late = loglog_slope(t, 1 + t**-1.0, last=0.25)  # offset flattens the late slope
    assert -0.2 < late.slope < 0


def test_offset_power_law_recovers_parameters_and_error_grows_with_noise():
    t = np.geomspace(1, 1e4, 80)
    clean = fit_offset_power_law(t, 0.05 + 2.0 * t**-0.8)
    assert clean.r == pytest.approx(0.8, rel=1e-4) and clean.L0 == pytest.approx(0.05, rel=1e-3)
    assert clean.A == pytest.approx(2.0, rel=1e-3) and clean.success
    rng = np.random.default_rng(0)
    noisy = fit_offset_power_law(t, (0.05 + 2.0 * t**-0.8) * np.exp(0.05 * rng.standard_normal(t.size)))
    assert abs(noisy.r - 0.8) < 4 * noisy.r_stderr + 0.02
    assert noisy.r_stderr > 10 * (clean.r_stderr if np.isfinite(clean.r_stderr) else 0)


def test_fits_reject_bad_input():
    with pytest.raises(ValueError, match="at least 2 points"):
        loglog_slope([1.0, 2.0], [-1.0, -2.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        fit_offset_power_law([2.0, 1.0], [1.0, 0.5])
    with pytest.raises(ValueError, match="last"):
        loglog_slope([1.0, 2.0], [1.0, 0.5], last=0)


def make(amplitude=1.0, scale=1.0, r=0.5):
    t = np.geomspace(1, 1000, 40)
    proj = np.column_stack([np.linspace(0, 3, 40), np.linspace(0, 4, 40)])
    loss = amplitude * (0.01 + (scale * t) ** -r)
    return Trajectory(times=t, values=np.column_stack([loss, proj]), channels=("test_loss", "proj_0", "proj_1"))


def test_weight_norm():
    assert final_weight_norm(make()) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="no channels starting with"):
        final_weight_norm(make(), prefix="w_")


def test_features_contract_and_amplitude_invariance():
    X = [make(), make(amplitude=50.0), make(r=0.9)]
    step = BaselineFeatures(features=("loglog_slope", "loglog_slope_late", "power_law_r", "weight_norm"))
    assert step.fit(X) is step
    F = step.transform(X)
    assert F.shape == (3, 4) and np.all(np.isfinite(F))
    np.testing.assert_allclose(F[0], F[1], rtol=1e-6)  # amplitude does not enter
    assert F[2, 2] == pytest.approx(0.9, rel=0.05) and F[0, 2] == pytest.approx(0.5, rel=0.05)
    assert list(step.get_feature_names_out())[0] == "baseline__loglog_slope"
    with pytest.raises(ValueError, match="unknown"):
        BaselineFeatures(features=("nope",)).fit(X)


def test_undefined_features_warn_with_the_reason_and_become_zero(monkeypatch):
    t = np.geomspace(1, 1000, 40)
    ends_at_zero = Trajectory(times=t, values=np.append(t[:-1] ** -0.5, 0.0)[:, None], channels=("test_loss",))
    step = BaselineFeatures(features=("loglog_slope", "offset_fraction")).fit([make()])
    with pytest.warns(RuntimeWarning, match=r"run 1 offset_fraction: the last loss is 0\.0"):
        F = step.transform([make(), ends_at_zero])
    assert F[1, 1] == 0.0 and F[1, 0] == pytest.approx(-0.5, rel=1e-9) and F[0, 1] > 0

    from toptraj import baselines

    def no_fit(*args, **kwargs):
        raise ValueError("no fit")

    monkeypatch.setattr(baselines.optimize, "least_squares", no_fit)
    with pytest.warns(RuntimeWarning, match="power_law_r: the L0 \\+ A t\\^-r fit found no finite optimum"):
        F = BaselineFeatures(features=("power_law_r",)).fit([make()]).transform([make()])
    assert F[0, 0] == 0.0


def test_memory_caches_the_fits_and_gives_the_same_numbers(tmp_path, monkeypatch):
    X = [make(), make(r=0.9)]
    plain = BaselineFeatures().fit(X).transform(X)
    cached = BaselineFeatures(memory=str(tmp_path)).fit(X)
    np.testing.assert_array_equal(cached.transform(X), plain)
    from toptraj import baselines

    calls = []
    real = baselines.fit_offset_power_law
    monkeypatch.setattr(baselines, "fit_offset_power_law", lambda *a, **k: calls.append(1) or real(*a, **k))
    np.testing.assert_array_equal(cached.transform(X), plain)  # answered from the cache
    assert calls == []
    BaselineFeatures().fit(X).transform(X)  # no memory: computed again
    assert len(calls) == 2
