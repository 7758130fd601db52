"""Regression of exponents on topological features, beside baselines and a null model.

Pipelines are flat scikit-learn Pipelines built from public scikit-learn parts only::

    topology:  FeatureUnion(curve Rips branch, slope lower-star branch) -> scaler -> regressor
    baseline:  BaselineFeatures -> scaler -> regressor
    combined:  FeatureUnion(topology branches, baselines) -> scaler -> regressor

where a branch is ``LogTimeResampler -> [DelayEmbedder -> VietorisRips | LowerStar] ->
DiagramFeatures``. Inputs are lists of :class:`~toptraj.trajectory.Trajectory` (already cut to the
observed fraction of training); outputs are the target values.

:func:`evaluate` runs grouped cross-validation: runs of one parameter point (all seeds) are never
split between train and test, so a test point's exponents were never seen in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from toptraj._validation import check_choice, check_number
from toptraj.baselines import BaselineFeatures, fit_offset_power_law, loglog_slope
from toptraj.embeddings import DelayEmbedder, LogTimeResampler
from toptraj.features import DiagramFeatures
from toptraj.persistence import LowerStar, VietorisRips
from toptraj.trajectory import Trajectory, TrajectorySet

METHODS = ("topology", "baseline", "combined")
#: Estimators that need no training: the exponent read directly off the observed curve.
DIRECT_ESTIMATORS = ("direct_loglog_slope", "direct_power_law_r")


def topology_features(channel: str = "test_loss", n_points: int = 48, memory=None) -> FeatureUnion:
    """Topological feature map: list of n Trajectory -> array (n, n_features).

    Two branches on the observed curve, resampled on a log-time grid and centred (so that an
    unknown amplitude and time scale only shift coordinates and are removed):

    - ``curve``: the path (log t, log L, d log L / d log t) as a point cloud, Vietoris-Rips H0/H1;
      its H0 bars are the gaps between consecutive points, i.e. the local speed along the curve.
    - ``slope``: the sublevel (lower-star) H0 diagram of the local slope signal d log L / d log t:
      its essential bar is born at the steepest slope, finite bars record its wiggles.
    """
    curve = Pipeline(
        [
            ("resample", LogTimeResampler(channel=channel, n_points=n_points, representation="both", center=True)),
            ("embed", DelayEmbedder(dim=1)),
            ("persistence", VietorisRips(maxdim=1)),
            ("features", DiagramFeatures(dims=(0, 1))),
        ],
        memory=memory,
    )
    slope = Pipeline(
        [
            ("resample", LogTimeResampler(channel=channel, n_points=n_points, representation="slope", center=True)),
            ("persistence", LowerStar(column=-1)),
            ("features", DiagramFeatures(dims=(0,), features=("entropy", "lifetimes", "alpha_sum", "betti"))),
        ],
        memory=memory,
    )
    return FeatureUnion([("curve", curve), ("slope", slope)])


def make_pipeline(method: str = "topology", channel: str = "test_loss", seed: int = 0, n_points: int = 48, memory=None) -> Pipeline:
    """The estimator of one method (see module docstring); a random forest regressor.

    Parameters
    ----------
    method : {"topology", "baseline", "combined"}
    channel : the loss channel read from each Trajectory
    seed : random_state of the forest
    """
    check_choice("method", method, METHODS)
    if method == "topology":
        feats = topology_features(channel, n_points, memory)
    elif method == "baseline":
        feats = BaselineFeatures(channel=channel)
    else:
        topo = topology_features(channel, n_points, memory)
        feats = FeatureUnion([*topo.transformer_list, ("baseline", BaselineFeatures(channel=channel))])
    return Pipeline(
        [
            ("features", feats),
            ("scale", StandardScaler()),
            ("regress", RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed, n_jobs=1)),
        ]
    )


def direct_estimate(trajectories, how: str, channel: str = "test_loss") -> np.ndarray:
    """Time exponent read directly off each observed curve, shape (n,).

    ``direct_loglog_slope``: minus the log-log slope of the last third (in log t) of the curve;
    ``direct_power_law_r``: the exponent r of a fitted L0 + A t^-r.
    """
    check_choice("how", how, DIRECT_ESTIMATORS)
    if how == "direct_loglog_slope":
        return np.array([-loglog_slope(t.times, t.channel(channel), last=1 / 3).slope for t in trajectories])
    return np.array([fit_offset_power_law(t.times, t.channel(channel)).r for t in trajectories])


def time_shuffled(trajectories, seed: int, channel: str = "test_loss") -> TrajectorySet:
    """Null model: each curve's values permuted in time (same values, same times, order destroyed).

    A feature that predicts as well on these as on the real curves reads the value distribution
    (density), not the shape of the trajectory.
    """
    rng = np.random.default_rng(seed)
    out = []
    for t in trajectories:
        i = t.channels.index(channel)
        vals = np.array(t.values)
        vals[:, i] = rng.permutation(vals[:, i])
        out.append(t.with_values(vals))
    return TrajectorySet(out)


@dataclass
class MethodResult:
    """Held-out predictions of one method: ``y_true``, ``y_pred`` (shape (n,)), MAE and R^2."""

    name: str
    y_true: np.ndarray
    y_pred: np.ndarray
    mae: float = field(init=False)
    r2: float = field(init=False)

    def __post_init__(self) -> None:
        ok = np.isfinite(self.y_pred)
        self.mae = float(mean_absolute_error(self.y_true[ok], self.y_pred[ok])) if ok.any() else math.nan
        self.r2 = float(r2_score(self.y_true[ok], self.y_pred[ok])) if ok.sum() > 1 else math.nan

    def as_dict(self) -> dict:
        return {"mae": self.mae, "r2": self.r2, "n": int(len(self.y_true))}


def evaluate(
    trajectories,
    target: str,
    methods=("topology", "baseline", "combined", "null_topology", *DIRECT_ESTIMATORS, "mean"),
    n_splits: int = 5,
    seed: int = 0,
    channel: str = "test_loss",
    groups: np.ndarray | None = None,
    progress=None,
) -> dict[str, MethodResult]:
    """Grouped K-fold held-out predictions of ``target`` for each method.

    Parameters
    ----------
    trajectories : sequence of Trajectory, length n (already truncated to the observed part)
    target : label name (e.g. ``"time_exponent"``)
    methods : any of METHODS, ``"null_topology"`` (topology pipeline on time-shuffled curves),
        DIRECT_ESTIMATORS, and ``"mean"`` (predict the training mean)
    n_splits : folds; whole parameter points (``groups``) are held out together
    groups : array (n,), default: the trajectories' parameter-point groups

    Returns
    -------
    dict method name -> MethodResult (with MAE and R^2 over all held-out predictions).
    """
    tset = trajectories if isinstance(trajectories, TrajectorySet) else TrajectorySet(trajectories)
    y = tset.targets(target)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"target {target!r} is missing (NaN) for some trajectories")
    groups = tset.groups() if groups is None else np.asarray(groups)
    n_groups = len(np.unique(groups))
    n_splits = int(check_number("n_splits", n_splits, low=2, integer=True))
    if n_groups < n_splits:
        raise ValueError(f"n_splits={n_splits} needs at least as many parameter points; got {n_groups}")
    known = {*METHODS, "null_topology", *DIRECT_ESTIMATORS, "mean"}
    for m in methods:
        check_choice("methods", m, sorted(known))
    # Shuffle group order deterministically so folds mix parameter points.
    perm = np.random.default_rng(seed).permutation(n_groups)
    folds = list(GroupKFold(n_splits=n_splits).split(np.zeros(len(y)), y, perm[groups]))
    null_set = time_shuffled(tset, seed + 1, channel) if "null_topology" in methods else None
    results = {}
    for m in methods:
        if m in DIRECT_ESTIMATORS:
            results[m] = MethodResult(m, y, direct_estimate(tset, m, channel))
            continue
        pred = np.full(len(y), np.nan)
        for train, test in folds:
            if m == "mean":
                pred[test] = y[train].mean()
                continue
            data = null_set if m == "null_topology" else tset
            est = make_pipeline("topology" if m == "null_topology" else m, channel, seed)
            est.fit([data[i] for i in train], y[train])
            pred[test] = est.predict([data[i] for i in test])
            if progress is not None:
                progress.update(1)
        results[m] = MethodResult(m, y, pred)
    return results


def observed(trajectories, fraction: float, scale: str = "linear") -> TrajectorySet:
    """Every run cut to its first ``fraction`` of training (see Trajectory.truncate)."""
    return TrajectorySet([t.truncate(fraction, scale) for t in trajectories])


__all__ = [
    "DIRECT_ESTIMATORS",
    "METHODS",
    "MethodResult",
    "Trajectory",
    "direct_estimate",
    "evaluate",
    "make_pipeline",
    "observed",
    "time_shuffled",
    "topology_features",
]
