"""Transition-time definitions (docs/theory/dmft.rst, Labels) on hand-computed curves."""

import math

import numpy as np
import pytest

from toptraj.transitions import (
    first_reach,
    local_width_exponent,
    overfitting_onset,
    width_crossover_time,
)

pytestmark = pytest.mark.core


def test_first_reach_interpolates_in_log_time():
    t = np.array([1.0, 10.0, 100.0])
    assert first_reach(t, [0.0, 1.0, 2.0], 0.5) == pytest.approx(math.sqrt(10.0))
    assert first_reach(t, [0.0, 1.0, 2.0], 1.0) == 10.0
    assert first_reach(t, [3.0, 1.0, 0.0], 2.0, direction=-1) == pytest.approx(math.sqrt(10.0))
    assert first_reach(t, [3.0, 4.0, 5.0], 2.0) == 1.0  # already reached at the start
    assert math.isnan(first_reach(t, [0.0, 0.1, 0.2], 1.0))
    assert first_reach(t, [0.0, np.nan, 2.0], 1.0) == pytest.approx(10.0)  # NaN skipped: 1 -> 100
    assert first_reach([0.0, 4.0], [0.0, 1.0], 0.25) == pytest.approx(1.0)  # linear from t = 0


def test_first_reach_bad_input():
    with pytest.raises(ValueError, match="strictly increasing"):
        first_reach([1.0, 1.0], [0.0, 1.0], 0.5)
    with pytest.raises(ValueError, match="direction"):
        first_reach([1.0, 2.0], [0.0, 1.0], 0.5, direction=0)
    with pytest.raises(ValueError, match="must match"):
        first_reach([1.0, 2.0], [0.0], 0.5)


def test_overfitting_onset():
    steps = np.array([1.0, 10.0, 100.0, 1000.0])
    train = np.array([1.0, 0.5, 0.2, 0.1])
    test = np.array([1.0, 0.5, 0.25, 0.2])  # gap ratio 0, 0, 0.2, 0.5
    assert overfitting_onset(steps, train, test) == pytest.approx(10.0**1.5)
    assert math.isnan(overfitting_onset(steps, train, train))
    with pytest.raises(ValueError, match="positive"):
        overfitting_onset(steps, train, -test)


def test_width_crossover():
    t = np.geomspace(1, 1e4, 5)
    kappa = local_width_exponent(2.0 ** -(np.array([1.0, 1.0, 0.8, 0.5, 0.5])) * 0 + 1.0,
                                 2.0 ** -np.array([1.0, 1.0, 0.8, 0.5, 0.5]))
    np.testing.assert_allclose(kappa, [1.0, 1.0, 0.8, 0.5, 0.5])
    # m_late = 0.5: level 0.75, reached between t=100 (0.8) and t=1000 (0.5), 1/6 of the way in log t.
    assert width_crossover_time(t, kappa, 0.5) == pytest.approx(10 ** (2 + 1 / 6))
    assert math.isnan(width_crossover_time(t, kappa, 0.95))  # too little contrast
    up = np.array([1.0, 1.0, 1.5, 2.0, 2.0])
    assert width_crossover_time(t, up, 2.0) == pytest.approx(100.0)
    assert np.isnan(local_width_exponent([1.0, -1.0], [0.5, 0.5])[1])
