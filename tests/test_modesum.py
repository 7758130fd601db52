"""Mode-sum generator against the time-bottleneck closed form (docs/theory/modesum.rst, Validation)."""

import math

import numpy as np
import pytest
from scipy import special

from generators.modesum import ModesumParams, loss_curve, solve, time_exponent, transfer

pytestmark = pytest.mark.core


def test_spec_check_1_time_bottleneck():
    # Reference values (modesum.rst; arXiv:2402.01092): a=1.5, b=1.25, sum over k <= 2e6, relative 1e-5.
    got = loss_curve(ModesumParams(1.5, 1.25, M=2_000_000), [1, 10, 100, 1000])
    want = [1.35679, 0.533975, 0.211729, 0.0834395]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_infinite_sum_tail_is_exact():
    # The integral tail must reproduce the difference between a huge finite sum and the
    # infinite one: at t=1 for k > 2e6, sum k^-1.5 exp(-2 k^-1.25) ~ 2/sqrt(2e6) (Hurwitz zeta).
    t = np.array([1.0, 50.0])
    inf = loss_curve(ModesumParams(1.5, 1.25), t)
    fin = loss_curve(ModesumParams(1.5, 1.25, M=2_000_000), t)
    tail = special.zeta(1.5, 2_000_001)  # exp(-2 k^-b t) = 1 - O(1e-7) for those k
    np.testing.assert_allclose(inf - fin, tail, rtol=2e-4)


def test_power_law_late_slope_matches_theory():
    for a, b in ((1.5, 1.25), (2.5, 1.8)):
        t = np.geomspace(1e5, 1e7, 20)
        L = loss_curve(ModesumParams(a, b), t)
        slope = np.polyfit(np.log(t), np.log(L), 1)[0]
        assert -slope == pytest.approx(time_exponent(a, b), rel=0.01)


def test_amplitude_timescale_noise_and_seed():
    t = np.geomspace(1, 100, 9)
    base = loss_curve(ModesumParams(2.0, 1.5), t)
    scaled = loss_curve(ModesumParams(2.0, 1.5, amplitude=3.0, time_scale=0.5), t)
    np.testing.assert_allclose(scaled, 3.0 * loss_curve(ModesumParams(2.0, 1.5), 0.5 * t), rtol=1e-12)
    assert not np.allclose(scaled, base)
    p = ModesumParams(2.0, 1.5, noise=0.1)
    a1, a2, b1 = solve(p, t, seed=1), solve(p, t, seed=1), solve(p, t, seed=2)
    assert np.array_equal(a1.values, a2.values) and not np.array_equal(a1.values, b1.values)
    ratio = np.log(a1.channel("test_loss") / base)
    assert 0.02 < ratio.std() < 0.3
    assert a1.labels["time_exponent"] == pytest.approx(1.0 / 1.5)


def test_transfer_and_channels():
    tr = solve(ModesumParams(1.5, 1.25), [1.0, 10.0], modes=[1, 5])
    assert tr.channels == ("test_loss", "H_1", "H_5")
    np.testing.assert_allclose(tr.channel("H_5"), np.exp(-np.array([1.0, 10.0]) * 5**-1.25))
    np.testing.assert_allclose(transfer(ModesumParams(1.5, 1.25), [2.0], [1]), [[math.exp(-2.0)]])


@pytest.mark.parametrize("kw, message", [
    (dict(a=1.0, b=1.0), "a must be > 1.0"),
    (dict(a=2.0, b=0.0), "b must be > 0.0"),
    (dict(a=2.0, b=1.0, M=0), "M must be >= 1"),
    (dict(a=2.0, b=1.0, noise=-1.0), "noise"),
    (dict(a=2.0, b=1.0, amplitude=0.0), "amplitude"),
])
def test_bad_params(kw, message):
    with pytest.raises(ValueError, match=message):
        ModesumParams(**kw)


def test_bad_times_and_missing_seed():
    with pytest.raises(ValueError, match="strictly increasing"):
        loss_curve(ModesumParams(2.0, 1.0), [1.0, 1.0])
    with pytest.raises(ValueError, match="seed must be given"):
        solve(ModesumParams(2.0, 1.0, noise=0.1), [1.0, 2.0])
