"""generators.dmft.overfitting_onset and labels at P > M (every mode eventually learned).

There the theory's test loss decays to rounding noise (and turns negative); the label used to
raise "test_loss must be positive". It must give a value or NaN with a reason, never raise.
"""

import math

import pytest

from generators import dmft
from generators.dmft import DMFTParams

FAILING_POINTS = [(1.95, 1.9), (1.32, 2.15), (2.0, 1.5)]  # N = inf, P = 4096, M = 2000


@pytest.mark.parametrize("a, b", FAILING_POINTS)
def test_onset_is_finite_at_infinite_width_with_more_samples_than_modes(a, b):
    t_of, reason = dmft.overfitting_onset(DMFTParams(a, b, 2000, math.inf, 4096), return_reason=True)
    assert math.isfinite(t_of) and reason == ""
    assert 10.0 < t_of < 1e6


@pytest.mark.parametrize("a, b", FAILING_POINTS[:2])
def test_onset_grows_with_P_beyond_M(a, b):
    # more data delays overfitting (spec: t_of ~ P^b heuristically); P = 2500 and 8192 both exceed M
    lo = dmft.overfitting_onset(DMFTParams(a, b, 2000, math.inf, 2500))
    hi = dmft.overfitting_onset(DMFTParams(a, b, 2000, math.inf, 8192))
    assert hi > 3 * lo


def test_labels_at_finite_width_beyond_M_do_not_raise():
    lab = dmft.labels(DMFTParams(2.03, 1.49, 2000, 4096.0, 4096.0))
    assert math.isfinite(lab["t_of"])


def test_onset_reason_when_nan():
    t_of, reason = dmft.overfitting_onset(DMFTParams(1.5, 1.25, 400, 200, math.inf), return_reason=True)
    assert math.isnan(t_of) and "P = inf" in reason
