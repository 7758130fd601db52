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

import contextlib
import math
import tempfile
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from toptraj.baselines import BaselineFeatures, fit_offset_power_law, loglog_slope
from toptraj.embeddings import DelayEmbedder, LogTimeResampler
from toptraj.features import DiagramFeatures
from toptraj.persistence import LowerStar, VietorisRips
from toptraj.trajectory import Trajectory, TrajectorySet
from toptraj.validation import check_choice, check_number

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


REGRESSORS = ("ridge", "forest")
CLIP_SD = 5.0


class GroupedRidgeCV(RegressorMixin, BaseEstimator):
    """Ridge regression whose penalty is chosen by grouped K-fold CV on the training data.

    Runs of one parameter point are near-duplicates; scikit-learn's RidgeCV picks its penalty by
    leave-one-out, which leaks across them and picks too small a penalty (on uninformative
    features it then extrapolates wildly). Pass ``groups`` to :meth:`fit` (through a Pipeline:
    ``regress__groups=...``) to hold out whole groups; without groups it falls back to RidgeCV.
    """

    def __init__(self, alphas=tuple(np.logspace(-3, 3, 13)), n_splits: int = 5):
        self.alphas = alphas
        self.n_splits = n_splits

    def fit(self, X, y, groups=None):
        """Choose the penalty (grouped CV when ``groups`` has >= 2 groups), then fit on all of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), optional
            Parameter-point labels; folds never split a group.

        Returns
        -------
        self
        """
        # scikit-learn's public validators: sparse, complex, NaN and 2-D y are rejected or
        # converted exactly as every scikit-learn regressor does (parametrize_with_checks).
        X, y = check_X_y(X, y, dtype=np.float64, y_numeric=True)
        alphas = np.asarray(self.alphas, dtype=float)
        if alphas.ndim != 1 or alphas.size == 0 or np.any(alphas <= 0):
            raise ValueError(f"alphas must be a non-empty list of positive numbers, got {self.alphas!r}")
        n_groups = 0 if groups is None else len(np.unique(groups))
        if n_groups < 2:
            self.model_ = RidgeCV(alphas=alphas).fit(X, y)
            self.alpha_ = float(self.model_.alpha_)
        else:
            cv = GroupKFold(n_splits=min(self.n_splits, n_groups))
            errors = np.zeros(len(alphas))
            for train, test in cv.split(X, y, groups):
                errors += np.abs(_ridge_path_predict(X[train], y[train], X[test], alphas) - y[test]).sum(axis=1)
            self.alpha_ = float(alphas[int(np.argmin(errors))])
            self.model_ = Ridge(alpha=self.alpha_).fit(X, y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        """Predictions, array of shape (n_samples,)."""
        check_is_fitted(self, "model_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but GroupedRidgeCV is expecting {self.n_features_in_} features as input")
        return self.model_.predict(X)


def _ridge_path_predict(X, y, X_test, alphas):
    """Predictions of ``Ridge(alpha=a).fit(X, y).predict(X_test)`` for every a, shape (n_alphas, n_test).

    One SVD of the centred training data serves all penalties (the same estimator, to rounding, as
    scikit-learn's Ridge with an intercept); 13 separate fits per fold cost 10x more, mostly input
    validation.
    """
    x_mean, y_mean = X.mean(axis=0), y.mean()
    U, s, Vt = np.linalg.svd(X - x_mean, full_matrices=False)
    shrink = s / (s**2 + alphas[:, None])  # (n_alphas, rank)
    coef = (shrink * (U.T @ (y - y_mean))) @ Vt  # (n_alphas, n_features)
    return coef @ (X_test - x_mean).T + y_mean


def make_regressor(name: str = "ridge", seed: int = 0):
    """``ridge``: GroupedRidgeCV over 13 log-spaced penalties (chosen by grouped CV);
    ``forest``: a 300-tree random forest. With tens of runs the linear model generalises to unseen
    parameter points better (measured in the demo: see README)."""
    check_choice("regressor", name, REGRESSORS)
    if name == "ridge":
        return GroupedRidgeCV()
    return RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=seed, n_jobs=1)


def topology_diagrams(trajectories, channel: str = "test_loss", n_points: int = 48) -> dict[str, list]:
    """The diagrams the topological features are computed from: {"curve": [...], "slope": [...]}.

    Each branch of :func:`topology_features` without its final feature step, so figures and
    summaries show exactly what the regressors see. Lists of n Diagram.
    """
    X = list(trajectories)
    return {name: branch[:-1].fit_transform(X) for name, branch in topology_features(channel, n_points).transformer_list}


def make_pipeline(
    method: str = "topology", channel: str = "test_loss", seed: int = 0, n_points: int = 48, memory=None,
    regressor: str = "ridge",
) -> Pipeline:
    """The estimator of one method (see module docstring).

    Parameters
    ----------
    method : {"topology", "baseline", "combined"}
    channel : the loss channel read from each Trajectory
    seed : random_state of the regressor (forest)
    memory : None, str or joblib.Memory
        Cache of the feature steps (Pipeline ``memory`` and :class:`BaselineFeatures`).
    regressor : {"ridge", "forest"}, see :func:`make_regressor`
    """
    check_choice("method", method, METHODS)
    if method == "topology":
        feats = topology_features(channel, n_points, memory)
    elif method == "baseline":
        feats = BaselineFeatures(channel=channel, memory=memory)
    else:
        topo = topology_features(channel, n_points, memory)
        feats = FeatureUnion([*topo.transformer_list, ("baseline", BaselineFeatures(channel=channel, memory=memory))])
    return Pipeline(
        [
            ("features", feats),
            ("scale", StandardScaler()),
            # A feature (nearly) constant in training but not in a held-out run would otherwise be
            # scaled to a huge value and dominate a linear prediction: clip at +-CLIP_SD.
            ("clip", FunctionTransformer(np.clip, kw_args={"a_min": -CLIP_SD, "a_max": CLIP_SD})),
            ("regress", make_regressor(regressor, seed)),
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


def grouped_folds(groups, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds of (train, test) indices in which every group lies wholly on one side.

    Groups are relabelled by a seeded permutation first, so that folds mix parameter points
    rather than following the grid order.

    Examples
    --------
    Six runs of three parameter points: a point's runs are never split.

    >>> folds = grouped_folds(["p0", "p0", "p1", "p1", "p2", "p2"], n_splits=3)
    >>> sorted(sorted(test.tolist()) for _, test in folds)
    [[0, 1], [2, 3], [4, 5]]
    """
    groups = np.asarray(groups)
    uniq, codes = np.unique(groups, return_inverse=True)
    n_splits = int(check_number("n_splits", n_splits, low=2, integer=True))
    if len(uniq) < n_splits:
        raise ValueError(f"n_splits={n_splits} needs at least as many groups (parameter points); got {len(uniq)}")
    perm = np.random.default_rng(seed).permutation(len(uniq))
    return list(GroupKFold(n_splits=n_splits).split(np.zeros(len(groups)), None, perm[codes]))


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
    regressor: str = "ridge",
    baseline_memory=None,
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
    regressor : {"ridge", "forest"}
    baseline_memory : None, str or joblib.Memory
        Cache of the baseline curve fits, which every fold and method asks for again; None uses
        a temporary cache removed when the call returns.

    Returns
    -------
    dict method name -> MethodResult (with MAE and R^2 over all held-out predictions).
    """
    tset = trajectories if isinstance(trajectories, TrajectorySet) else TrajectorySet(trajectories)
    y = tset.targets(target)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"target {target!r} is missing (NaN) for some trajectories")
    groups = tset.groups() if groups is None else np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have one entry per trajectory ({len(y)}), got shape {groups.shape}")
    known = {*METHODS, "null_topology", *DIRECT_ESTIMATORS, "mean"}
    for m in methods:
        check_choice("methods", m, sorted(known))
    folds = grouped_folds(groups, n_splits, seed)
    null_set = time_shuffled(tset, seed + 1, channel) if "null_topology" in methods else None
    with contextlib.ExitStack() as stack:
        if baseline_memory is None:
            from joblib import Memory

            baseline_memory = Memory(stack.enter_context(tempfile.TemporaryDirectory(prefix="toptraj-")), verbose=0)
        return _evaluate(tset, y, groups, methods, folds, null_set, channel, seed, regressor, progress, baseline_memory)


def _evaluate(tset, y, groups, methods, folds, null_set, channel, seed, regressor, progress, memory):
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
            est = make_pipeline("topology" if m == "null_topology" else m, channel, seed, regressor=regressor)
            if m in ("baseline", "combined"):  # only the baseline fits are cached (see evaluate)
                est.set_params(**{("features__memory" if m == "baseline" else "features__baseline__memory"): memory})
            fit_params = {"regress__groups": groups[train]} if regressor == "ridge" else {}
            est.fit([data[i] for i in train], y[train], **fit_params)
            pred[test] = est.predict([data[i] for i in test])
            if progress is not None:
                progress.update(1)
        results[m] = MethodResult(m, y, pred)
    return results


def evaluate_targets(trajectories, targets, **kwargs) -> dict[str, dict[str, MethodResult]]:
    """:func:`evaluate` for several targets: {target: {method: MethodResult}}."""
    names = [targets] if isinstance(targets, str) else list(targets)
    return {name: evaluate(trajectories, name, **kwargs) for name in names}


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
    "evaluate_targets",
    "grouped_folds",
    "make_pipeline",
    "make_regressor",
    "observed",
    "time_shuffled",
    "topology_diagrams",
    "topology_features",
]
