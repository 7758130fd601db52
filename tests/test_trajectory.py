"""Core types: validation, truncation, sets, groups."""

import math

import numpy as np
import pytest

from toptraj import Trajectory, TrajectorySet

pytestmark = pytest.mark.core


def make(n=10, seed=None, **params):
    t = np.geomspace(1, 1000, n)
    return Trajectory(times=t, values=np.column_stack([1 / t, 2 / t]), channels=("test_loss", "train_loss"),
                      source="unit", params=params, seed=seed, labels={"a": 1.5, "b": 1.25})


def test_valid_trajectory_roundtrips_shapes():
    tr = make()
    assert tr.values.shape == (10, 2)
    assert tr.channel("train_loss")[0] == 2.0
    assert tr.select("train_loss").channels == ("train_loss",)
    assert tr.label("a") == 1.5 and math.isnan(tr.label("t_x"))
    with pytest.raises(ValueError):
        tr.values[0, 0] = 3.0  # read-only: a trajectory is a value


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(times=[1, 2, 2]), "strictly increasing"),
        (dict(times=[1, 3, 2]), "strictly increasing"),
        (dict(times=[1, 2, np.nan]), "finite"),
        (dict(values=[[1.0], [np.inf], [1.0]]), "finite"),
        (dict(values=[[1.0], [1.0]]), "rows"),
        (dict(channels=("a", "b")), "names"),
        (dict(channels=("",)), "non-empty"),
        (dict(labels={"time_exponant": 1.0}), "unknown label"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_input_is_rejected_with_clear_message(kwargs, message):
    base = dict(times=[1.0, 2.0, 3.0], values=[[1.0], [0.5], [0.3]], channels=("loss",))
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Trajectory(**base)


def test_duplicate_channels_rejected():
    with pytest.raises(ValueError, match="unique"):
        Trajectory(times=[1.0, 2.0], values=[[1.0, 1.0], [1.0, 1.0]], channels=("x", "x"))


def test_truncate_log_and_linear():
    tr = make(n=31)  # log-spaced 1..1000: log10 t = 0, 0.1, ..., 3
    assert tr.truncate(0.5, "log").times[-1] == pytest.approx(10**1.5)
    lin = tr.truncate(0.5, "linear")
    assert lin.times[-1] <= 500.5 and tr.times[lin.n_steps] > 500.5
    assert tr.truncate(1.0).n_steps == 31
    assert tr.truncate(1e-9).n_steps == 2  # at least two points survive
    with pytest.raises(ValueError, match="fraction"):
        tr.truncate(0.0)
    with pytest.raises(ValueError, match="scale"):
        tr.truncate(0.5, "loglog")


def test_set_targets_groups_select_windows():
    runs = TrajectorySet([make(seed=s, N=n) for n in (10, 20) for s in (0, 1)])
    assert runs.targets("a").shape == (4,)
    assert runs.targets(["a", "b"]).shape == (4, 2)
    assert np.isnan(runs.targets("t_x")).all()
    g = runs.groups()
    assert g[0] == g[1] and g[2] == g[3] and g[0] != g[2]  # seeds of one point share a group
    assert len(runs.select(N=20)) == 2
    wins = runs.windows(3)
    assert len(wins) == 3 and all(len(w) == 4 for w in wins)
    assert sum(w[0].n_steps for w in wins) == runs[0].n_steps
    with pytest.raises(ValueError, match="unknown label|must be one of"):
        runs.targets("nope")
