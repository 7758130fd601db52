"""Weight-path onset detection: the input object, bad inputs, the TransitionDetector hook, and a
synthetic path whose change point is known."""

import math

import numpy as np
import pytest
from sklearn.base import clone

from toptraj.detectors import DETECT_METHODS, TransitionDetector
from toptraj.exceptions import InputError
from toptraj.trajectory import Trajectory
from toptraj.weight_path_detection import PairWithPath, detect_onset, fixed_projection, window_statistics

T = np.geomspace(1, 1e4, 80)


def synthetic(t_star: float, seed: int = 0, d: int = 32, change: bool = True):
    """A path moving at constant speed in log-time: straight before t_star, a random walk after it.

    Speed per unit log t is the same on both sides, so only the shape (H0 of the windows) changes.
    The losses are smooth and carry no sign of t_star (train = test = 1/sqrt(t)).
    """
    rng = np.random.default_rng(seed)
    steps = np.diff(np.log(T))
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    moves = []
    for tt, dl in zip(T[1:], steps):
        if change and tt > t_star:
            v = rng.standard_normal(d)
            v /= np.linalg.norm(v)
        else:
            v = direction + 0.02 * rng.standard_normal(d)
        moves.append(dl * v)
    path = np.vstack([np.zeros(d), np.cumsum(moves, axis=0)])
    loss = T**-0.5
    return PairWithPath(T, loss, loss * 1.01, path)


def as_trajectory(s: PairWithPath, n_proj: int | None = None) -> Trajectory:
    p = s.path if n_proj is None else s.path[:, :n_proj]
    return Trajectory(times=s.times, values=np.column_stack([s.train, s.test, p]),
                      channels=("train_loss", "test_loss", *(f"proj_{j}" for j in range(p.shape[1]))))


@pytest.mark.parametrize("t_star", [30.0, 300.0])
def test_known_change_point_is_found_within_x1_5_and_covered(t_star):
    r = detect_onset(synthetic(t_star))
    assert max(r["estimate"] / t_star, t_star / r["estimate"]) <= 1.5
    assert r["low"] <= t_star <= r["high"]
    assert r["low"] <= r["estimate"] <= r["high"]
    assert r["cost_drop"] > 0.5 and r["note"] == ""


def test_a_path_without_change_gives_a_weaker_change_than_one_with_it():
    with_change = detect_onset(synthetic(100.0, seed=3))["cost_drop"]
    without = detect_onset(synthetic(100.0, seed=3, change=False))["cost_drop"]
    assert without < with_change


def test_detector_hook_matches_module_and_contract():
    det = TransitionDetector(method="weight_path", window=8, seed=0)
    assert clone(det).get_params() == det.get_params()
    assert det.fit() is det and det.method_ == "weight_path"
    assert "weight_path" not in DETECT_METHODS["overfitting_onset"]  # not run on pairs without a path
    s = synthetic(100.0)
    from_traj = det.estimate([as_trajectory(s)])[0]
    from_pair = det.estimate([s])[0]
    direct = detect_onset(s)
    assert from_traj["estimate"] == pytest.approx(direct["estimate"])
    assert from_pair["estimate"] == pytest.approx(direct["estimate"])
    assert det.predict_interval([s]).shape == (1, 2)


def test_same_seed_same_numbers_and_pair_signal_runs():
    s = synthetic(100.0, seed=5)
    a, b = detect_onset(s, seed=1), detect_onset(s, seed=1)
    assert a["estimate"] == b["estimate"] and a["statistics"] == b["statistics"]
    r = detect_onset(s, signal="pair+path")
    assert np.array(r["statistics"]).shape[1] == 8 and math.isfinite(r["estimate"])


def test_projection_is_fixed_by_seed_and_window_statistics_shape():
    assert np.array_equal(fixed_projection(40, 8, 3), fixed_projection(40, 8, 3))
    assert not np.array_equal(fixed_projection(40, 8, 3), fixed_projection(40, 8, 4))
    line = np.outer(np.arange(20.0), np.ones(3))
    S = window_statistics(line, 5)
    assert S.shape == (16, 4)
    np.testing.assert_allclose(S[:, 1], 1.0)  # a straight stretch: total H0 = diameter
    np.testing.assert_allclose(S[:, 3], 1.0)  # equal steps: maximal entropy


def test_constant_path_gives_nan_with_reason():
    s = synthetic(100.0)
    r = detect_onset(PairWithPath(s.times, s.train, s.test, np.ones_like(s.path)))
    assert math.isnan(r["estimate"]) and "constant" in r["note"]


@pytest.mark.parametrize("kwargs, word", [
    ({"path": np.zeros((80, 1))}, "path"),
    ({"path": np.zeros((79, 4))}, "path"),
    ({"path": np.full((80, 4), np.nan)}, "path"),
    ({"train": -np.ones(80)}, "train"),
    ({"test": np.ones(79)}, "test"),
    ({"times": T[::-1]}, "times"),
    ({"times": T[:5], "train": np.ones(5), "test": np.ones(5), "path": np.zeros((5, 3))}, "times"),
])
def test_bad_pair_with_path_names_the_argument(kwargs, word):
    base = {"times": T, "train": np.ones(80), "test": np.ones(80), "path": np.zeros((80, 4))}
    with pytest.raises(InputError, match=word):
        PairWithPath(**{**base, **kwargs})


def test_bad_inputs_of_detect_onset_and_the_hook():
    s = synthetic(100.0)
    no_path = Trajectory(times=T, values=np.column_stack([s.train, s.test]), channels=("train_loss", "test_loss"))
    with pytest.raises(InputError, match="proj_"):
        detect_onset(no_path)
    with pytest.raises(InputError, match="proj_"):
        TransitionDetector(method="weight_path").fit().estimate([no_path])
    with pytest.raises(InputError, match="proj_"):
        detect_onset(as_trajectory(s, n_proj=1))
    with pytest.raises(InputError, match="sample"):
        detect_onset(np.zeros((80, 3)))
    with pytest.raises(InputError, match="signal"):
        detect_onset(s, signal="weights")
    with pytest.raises(InputError, match="window"):
        detect_onset(s, window=40)
    with pytest.raises(InputError, match="level"):
        detect_onset(s, level=1.0)
    with pytest.raises(InputError, match="method"):
        TransitionDetector(kind="width_crossover", method="weight_path").fit()
