"""Scaling exponents from the early part of training, with conformal prediction intervals.

:class:`ExponentPredictor` is a scikit-learn regressor whose samples are observed runs: single
trajectories (input types ``curve``, ``pair``, ``order_parameters``, ``weights``) or sweeps
(:class:`Sweep`: three or more sizes of one task, input types ``width_sweep`` and ``data_sweep``).
It cuts each run to its first ``fraction`` of steps or of log-time (docs/theory/study.rst section
1), maps it to stateless features (:mod:`toptraj.path_features`: topology, baselines or both),
standardises them, and fits one ridge regression per target whose penalty is chosen by grouped
cross-validation (:class:`toptraj.regression.GroupedRidgeCV`).

What each input identifies (docs/theory/study.rst section 5): a single loss curve, a train/test
pair or a weight path only r = (a-1)/b; per-mode order parameters and sweeps identify a and b.

Prediction intervals: grouped split-conformal in its cross-validated form (CV+-style). During
``fit`` the training groups (whole parameter points) are split into K folds; each fold's runs are
predicted by a model fitted on the other folds, and the normalised residuals
``|y - y_hat| / (|y_hat| + c)`` of these held-out groups give, per target, the conformal quantile at
level (1 - alpha)(1 + 1/G) (G groups, each group weighted equally so that a point with many runs
does not dominate). ``predict_interval`` returns ``y_hat +- q (|y_hat| + c)``. With ``target_transform="log"`` the
ridges fit log y, the scores are ``|log y - log y_hat|`` and the intervals ``y_hat exp(+-q)``. Why not MAPIE: its
estimators take numeric arrays (ours are Trajectory objects), it does not weight groups, it needs
scikit-learn >= 1.4 in current releases (the giotto-tda environment has 1.3.2), and a fitted
MAPIE object can only be stored by pickling the estimators, which this project never does.

Storage: :meth:`ExponentPredictor.save` writes one ``.npz`` (no pickles) holding the scaler and
ridge arrays, the conformal quantiles and a JSON header (format version, parameters, feature
names, provenance, a sha256 of the arrays). :meth:`ExponentPredictor.load` refuses unknown
versions and any file whose arrays or header do not match the checksum.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError

from toptraj.io import InputError
from toptraj.path_features import FEATURE_SETS, INPUT_TYPES, SWEEP_TYPES, direct_estimate, item_features
from toptraj.trajectory import TIME_SCALES, Trajectory
from toptraj.validation import check_choice, check_fraction, check_number, check_seed

FORMAT = "toptraj.exponent_predictor"
FORMAT_VERSION = 1
CLIP_SD = 5.0
MIN_ITEMS = 6
MIN_GROUPS = 3
MAX_POINTS = 10_000  # most log-time grid points (n_points) accepted
TARGET_TRANSFORMS = ("identity", "log")
SHIPPED = {"curve": "exponent_predictor_curve.npz", "width_sweep": "exponent_predictor_width_sweep.npz"}
DEFAULT_TARGETS = {"curve": ("time_exponent",), "pair": ("time_exponent",), "weights": ("time_exponent",),
                   "order_parameters": ("a", "b"), "width_sweep": ("a", "b"), "data_sweep": ("a", "b")}


@dataclass(frozen=True, eq=False)
class Sweep:
    """Runs of one task at three or more sizes (widths N or data-set sizes P), observed to one step.

    Parameters
    ----------
    sizes : sequence of float, length n_sizes >= 3, strictly increasing, finite, > 0
    trajectories : sequence of Trajectory, length n_sizes, all on the same time axis end
    axis : {"N", "P"}
        What the sizes are: widths (a width sweep) or data-set sizes (a data sweep).
    labels : dict
        Ground truth of the task (e.g. ``{"a": 1.5, "b": 1.25}``); default: the first run's labels.
    """

    sizes: tuple
    trajectories: tuple
    axis: str = "N"
    labels: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = tuple(float(s) for s in self.sizes)
        trajs = tuple(self.trajectories)
        check_choice("axis", self.axis, ("N", "P"))
        if len(sizes) < 3:
            raise InputError(f"a sweep needs at least three sizes ({self.axis}); got {len(sizes)}")
        if len(trajs) != len(sizes):
            raise InputError(f"a sweep needs one trajectory per size: {len(sizes)} sizes, {len(trajs)} trajectories")
        if not all(math.isfinite(s) and s > 0 for s in sizes) or np.any(np.diff(sizes) <= 0):
            raise InputError(f"sweep sizes must be finite, positive and strictly increasing, got {list(sizes)}")
        for i, t in enumerate(trajs):
            if not isinstance(t, Trajectory):
                raise InputError(f"sweep trajectories[{i}] must be a Trajectory, got {type(t).__name__}")
        ends = np.array([t.times[-1] for t in trajs])
        if not np.allclose(ends, ends[0], rtol=1e-9, atol=0):
            raise InputError(f"sweep trajectories must be observed up to the same step; last times are {ends.tolist()}")
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "trajectories", trajs)
        object.__setattr__(self, "labels", dict(self.labels) or dict(trajs[0].labels))

    @property
    def input_type(self) -> str:
        return "width_sweep" if self.axis == "N" else "data_sweep"

    def truncate(self, fraction: float, scale: str = "linear") -> Sweep:
        """Every run cut to its first ``fraction`` (they share the time axis, so the same cut)."""
        return Sweep(self.sizes, tuple(t.truncate(fraction, scale) for t in self.trajectories), self.axis, self.labels)

    def with_trajectories(self, trajectories) -> Sweep:
        return Sweep(self.sizes, tuple(trajectories), self.axis, self.labels)


def _kind(item: Any) -> str:
    if isinstance(item, Sweep):
        return item.input_type
    if isinstance(item, Trajectory):
        return "trajectory"
    return type(item).__name__


def check_items(X: Any, input_type: str, channel: str = "test_loss") -> list:
    """Validate a list of observed runs for ``input_type``; return it as a list.

    Raises InputError for an empty list, a mixture of Trajectory and Sweep (or of width and data
    sweeps), items of the wrong kind, and missing channels.
    """
    if isinstance(X, (Trajectory, Sweep)):
        raise InputError("X must be a list of runs (or of sweeps), not a single one; wrap it in a list")
    try:
        items = list(X)
    except TypeError as exc:
        raise InputError(f"X must be a list of Trajectory or Sweep objects, got {type(X).__name__}") from exc
    if not items:
        raise InputError("X is empty: give at least one run")
    kinds = {_kind(i) for i in items}
    if len(kinds) > 1:
        raise InputError(f"X mixes input types {sorted(kinds)}; give one input type per call")
    kind = kinds.pop()
    want = input_type if input_type in SWEEP_TYPES else "trajectory"
    if kind != want:
        raise InputError(f"input_type={input_type!r} needs a list of {'Sweep' if want != 'trajectory' else 'Trajectory'}"
                         f" objects{' with axis ' + ('N' if input_type == 'width_sweep' else 'P') if want != 'trajectory' else ''},"
                         f" got {kind}")
    need = {"curve": [channel], "pair": ["test_loss", "train_loss"], "width_sweep": [channel],
            "data_sweep": [channel]}.get(input_type, [])
    for i, it in enumerate(items):
        trajs = it.trajectories if isinstance(it, Sweep) else (it,)
        for t in trajs:
            missing = [c for c in need if not t.has_channel(c)]
            if missing:
                hint = (f" (the channel read is the parameter channel={channel!r}: rename the run's channel or pass "
                        f"e.g. channel='loss'; set_params works on a fitted or shipped predictor)"
                        if missing == [channel] else "")
                raise InputError(f"X[{i}] lacks channel(s) {missing} needed by input_type={input_type!r}; "
                                 f"it has {list(t.channels)[:8]}{hint}")
            if input_type == "order_parameters" and sum(c.startswith("H_") for c in t.channels) < 3:
                raise InputError(f"X[{i}] needs at least 3 per-mode channels H_k for input_type='order_parameters'")
            if input_type == "weights" and len(t.channels_with_prefix("proj_")) < 2:
                raise InputError(f"X[{i}] needs at least 2 weight-path channels proj_j for input_type='weights'")
            if t.n_steps < 4:
                raise InputError(f"X[{i}] has {t.n_steps} observed steps; at least 4 are needed")
    return items


def observe(items: Sequence, fraction: float, scale: str) -> list:
    """Each run (or sweep) cut to its first ``fraction`` of steps or of log-time."""
    if fraction == 1.0:
        return list(items)
    return [it.truncate(fraction, scale) for it in items]


def time_shuffled(items: Sequence, seed: int = 0) -> list:
    """Null model for every input type: the rows of each run permuted in time (all channels together).

    Values and their distribution are kept; the order (the trajectory's shape) is destroyed. A
    sweep's runs share one permutation.
    """
    rng = np.random.default_rng(seed)
    out = []
    for it in items:
        if isinstance(it, Sweep):
            perm = rng.permutation(it.trajectories[0].n_steps)
            out.append(it.with_trajectories([t.with_values(t.values[perm]) for t in it.trajectories]))
        else:
            out.append(it.with_values(it.values[rng.permutation(it.n_steps)]))
    return out


def item_groups(items: Sequence) -> np.ndarray:
    """Default groups: the (a, b) point of each run or sweep (its other parameters vary freely)."""
    keys = []
    for it in items:
        lab = it.labels
        if "a" in lab and "b" in lab:
            keys.append(f"{float(lab['a']):.9g},{float(lab['b']):.9g}")
        elif isinstance(it, Trajectory):
            keys.append(it.group_key)
        else:
            keys.append(it.trajectories[0].group_key)
    return np.unique(np.array(keys), return_inverse=True)[1].astype(int)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, level: float) -> float:
    if level >= 1.0:
        return float(np.max(values))
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    return float(v[min(int(np.searchsorted(cum, level - 1e-12)), len(v) - 1)])


class ExponentPredictor(RegressorMixin, BaseEstimator):
    """Predict scaling exponents from the observed part of runs or sweeps, with intervals.

    Parameters
    ----------
    input_type : {"curve", "pair", "order_parameters", "weights", "width_sweep", "data_sweep"}
    features : {"topology", "baseline", "both"}
    fraction : float in (0, 1]
        Each input is cut to its first ``fraction`` before featurising (1.0: use it as given,
        which is what a user's partial run needs: its file is the observed part).
    scale : {"linear", "log"}
        Count the fraction in steps (t <= t0 + f (T - t0)) or in log-time.
    coverage : float in (0, 1)
        Nominal coverage of :meth:`predict_interval`.
    n_points : int in [8, 10000]
        Points of the log-time grid the topology is computed on.
    n_splits : int >= 2
        Folds (of whole groups) for the conformal calibration and the ridge penalty.
    channel : str
        Loss channel of curves and sweeps.
    seed : int
        Seed of the fold assignment.
    target_transform : {"identity", "log"}
        Space the ridge regressions and the conformal calibration work in. ``"log"`` fits log y
        (targets must be positive, e.g. a and b) and predicts exp of the fit: a relative error
        model, whose conformal score ``|log y - log y_hat|`` is normalised by construction and
        whose intervals ``y_hat exp(+-q)`` are asymmetric and positive. The power-law exponents
        a and b combine multiplicatively (a - 1 = r b), which is why this helps for sweeps.

    Attributes
    ----------
    mean_, scale_ : arrays (n_features,), standardisation of the features
    ``coef_``: array (n_targets, n_features); ``intercept_``: array (n_targets,)
    alpha_ : array (n_targets,), ridge penalties chosen by grouped CV
    conformal_q_ : array (n_targets,), quantiles of the normalised held-out residuals
    score_offset_ : array (n_targets,), the c of the normalisation ``|y_hat| + c`` (0 with the log transform)
    ``feature_names_``: list of str; ``n_targets_``: int; ``n_groups_``: int
    oof_pred_ : array (n_samples, n_targets), held-out (out-of-fold) predictions of the training runs

    Examples
    --------
    >>> pred = ExponentPredictor(input_type="curve", fraction=0.2, scale="log")  # doctest: +SKIP
    >>> pred.fit(runs, r, groups=points).predict_interval(new_runs)  # doctest: +SKIP
    """

    def __init__(self, input_type: str = "curve", features: str = "both", fraction: float = 1.0,
                 scale: str = "linear", coverage: float = 0.9, n_points: int = 48, n_splits: int = 5,
                 channel: str = "test_loss", seed: int = 0, target_transform: str = "identity"):
        self.input_type = input_type
        self.features = features
        self.fraction = fraction
        self.scale = scale
        self.coverage = coverage
        self.n_points = n_points
        self.n_splits = n_splits
        self.channel = channel
        self.seed = seed
        self.target_transform = target_transform

    # -- parameters and input -------------------------------------------------------------------
    def _check_params(self) -> None:
        check_choice("input_type", self.input_type, INPUT_TYPES)
        check_choice("features", self.features, FEATURE_SETS)
        try:
            check_fraction("fraction", self.fraction)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        check_choice("scale", self.scale, TIME_SCALES)
        check_number("coverage", self.coverage, low=0.0, high=1.0, low_open=True, high_open=True)
        # Bounded: the features take Rips persistence of n_points points (1e9 would exhaust memory).
        check_number("n_points", self.n_points, low=8, high=MAX_POINTS, integer=True)
        check_number("n_splits", self.n_splits, low=2, integer=True)
        check_seed("seed", self.seed)
        check_choice("target_transform", self.target_transform, TARGET_TRANSFORMS)

    def featurize(self, X: Any) -> np.ndarray:
        """Feature matrix of runs, shape (n, n_features), columns named by ``feature_names_`` once fitted."""
        return self._features(X)[0]

    def _features(self, X: Any) -> tuple[np.ndarray, list[str]]:
        self._check_params()
        items = observe(check_items(X, self.input_type, self.channel), self.fraction, self.scale)
        rows = [self._row(it) for it in items]
        names = list(self.feature_names_) if hasattr(self, "feature_names_") else list(rows[0])
        F = np.array([[r.get(n, math.nan) for n in names] for r in rows], dtype=np.float64)
        return F, names

    def _row(self, it: Any) -> dict:
        sets = ("topology", "baseline") if self.features == "both" else (self.features,)
        out: dict = {}
        for fs in sets:
            out.update(_cached_features(it, self.input_type, fs, int(self.n_points), self.channel))
        return out

    def _standardise(self, F: np.ndarray) -> np.ndarray:
        Z = (F - self.mean_) / self.scale_
        Z = np.nan_to_num(Z, nan=0.0, posinf=CLIP_SD, neginf=-CLIP_SD)
        # A feature nearly constant in training but not in a new run would be scaled to a huge value.
        return np.clip(Z, -CLIP_SD, CLIP_SD)

    def _linear(self, F: np.ndarray) -> np.ndarray:
        return self._standardise(F) @ self.coef_.T + self.intercept_

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, groups: Any = None) -> ExponentPredictor:
        """Fit on observed runs.

        Parameters
        ----------
        X : list of n Trajectory (or of n Sweep for sweep input types)
        y : array, shape (n,) or (n, k): the targets (r = (a-1)/b for single runs; a and b for
            sweeps and order parameters)
        groups : array (n,) or None: the parameter point of each run; whole groups are held out
            together. Default: the (a, b) labels of each run.

        Returns
        -------
        self
        """
        from toptraj.regression import GroupedRidgeCV, grouped_folds

        self._check_params()
        items = check_items(X, self.input_type, self.channel)
        if y is None:
            raise InputError("y is required: the target exponents of every run (no labels given)")
        y = np.asarray(y, dtype=np.float64)
        if y.ndim not in (1, 2) or y.shape[0] != len(items):
            raise InputError(f"y must have shape (n,) or (n, k) with n = {len(items)} runs, got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise InputError("y has NaN or inf entries: every run needs a finite label")
        Y = y[:, None] if y.ndim == 1 else y
        if self.target_transform == "log":
            if np.any(Y <= 0):
                raise InputError("y must be positive for target_transform='log'; got a value <= 0")
            Y = np.log(Y)
        if len(items) < MIN_ITEMS:
            raise InputError(f"too few runs to fit: {len(items)}; at least {MIN_ITEMS} are needed")
        groups = item_groups(items) if groups is None else np.asarray(groups)
        if groups.shape != (len(items),):
            raise InputError(f"groups must have one entry per run ({len(items)}), got shape {groups.shape}")
        n_groups = len(np.unique(groups))
        if n_groups < MIN_GROUPS:
            raise InputError(f"too few parameter points (groups) to fit and calibrate: {n_groups}; "
                             f"at least {MIN_GROUPS} are needed")
        if hasattr(self, "feature_names_"):  # refitting: names come from the new data
            del self.feature_names_
        F, names = self._features(items)
        self.feature_names_ = names
        self.mean_ = np.nanmean(F, axis=0)
        self.mean_ = np.nan_to_num(self.mean_)
        sd = np.nanstd(F, axis=0)
        self.scale_ = np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0)
        Z = self._standardise(F)
        k = Y.shape[1]
        self.coef_ = np.zeros((k, Z.shape[1]))
        self.intercept_ = np.zeros(k)
        self.alpha_ = np.zeros(k)
        for j in range(k):
            r = GroupedRidgeCV(n_splits=int(self.n_splits)).fit(Z, Y[:, j], groups=groups)
            self.coef_[j] = r.model_.coef_
            self.intercept_[j] = r.model_.intercept_
            self.alpha_[j] = r.alpha_
        # Conformal calibration on held-out groups: the same model refitted without each fold.
        n_splits = min(int(self.n_splits), n_groups)
        oof = np.full(Y.shape, np.nan)
        for train, test in grouped_folds(groups, n_splits, int(self.seed)):
            sub = _clone_fitted_standardisation(self, F[train])
            Zt, Zs = sub._standardise(F[train]), sub._standardise(F[test])
            for j in range(k):
                r = GroupedRidgeCV(n_splits=int(self.n_splits)).fit(Zt, Y[train, j], groups=groups[train])
                oof[test, j] = r.predict(Zs)
        self.oof_pred_ = np.exp(oof) if self.target_transform == "log" else oof
        if self.target_transform == "log":  # already relative: plain absolute residuals of log y
            self.score_offset_ = np.zeros(k)
            scores = np.abs(Y - oof)
        else:
            self.score_offset_ = 0.05 * np.mean(np.abs(Y), axis=0)
            scores = np.abs(Y - oof) / (np.abs(oof) + self.score_offset_)
        _, inv, counts = np.unique(groups, return_inverse=True, return_counts=True)
        w = 1.0 / counts[inv]
        level = min(1.0, float(self.coverage) * (1.0 + 1.0 / n_groups))
        self.conformal_q_ = np.array([_weighted_quantile(scores[:, j], w, level) for j in range(k)])
        self.n_targets_ = k
        self.n_groups_ = n_groups
        self.n_train_ = len(items)
        self.y_ndim_ = y.ndim
        self.n_features_in_ = len(self.feature_names_)
        return self

    # -- predict ------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this ExponentPredictor is not fitted yet; call fit(X, y) or load a saved one")

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets, shape (n,) for one target or (n, k)."""
        self._check_fitted()
        P = self._linear(self.featurize(X))
        if self.target_transform == "log":
            P = np.exp(P)
        return P[:, 0] if self.y_ndim_ == 1 else P

    def predict_interval(self, X: Any, coverage: float | None = None) -> np.ndarray:
        """Conformal intervals at the fitted ``coverage``: shape (n, 2) for one target, (n, k, 2).

        ``coverage`` must equal the fitted one (the quantiles are calibrated for it) or be None.
        """
        self._check_fitted()
        if coverage is not None and not math.isclose(float(coverage), float(self.coverage)):
            raise InputError(f"coverage={coverage} differs from the calibrated coverage {self.coverage}; refit with it")
        P = self._linear(self.featurize(X))
        if self.target_transform == "log":
            out = np.stack([np.exp(P - self.conformal_q_), np.exp(P + self.conformal_q_)], axis=-1)
        else:
            half = self.conformal_q_ * (np.abs(P) + self.score_offset_)
            out = np.stack([P - half, P + half], axis=-1)
        return out[:, 0, :] if self.y_ndim_ == 1 else out

    def direct(self, X: Any) -> np.ndarray:
        """The untrained direct estimate of the input type (see :func:`toptraj.path_features.direct_estimate`)."""
        self._check_params()
        items = observe(check_items(X, self.input_type, self.channel), self.fraction, self.scale)
        rows = np.array([direct_estimate((it.sizes, it.trajectories) if isinstance(it, Sweep) else it,
                                         self.input_type, self.channel) for it in items])
        return rows[:, 0] if rows.shape[1] == 1 else rows

    # -- storage ------------------------------------------------------------------------------
    _ARRAYS = ("mean_", "scale_", "coef_", "intercept_", "alpha_", "conformal_q_", "score_offset_")

    def save(self, path: str | Path, overwrite: bool = False, provenance: dict | None = None) -> Path:
        """Write the fitted predictor to ``path`` (.npz, no pickles); returns the path.

        Refuses to replace an existing file unless ``overwrite=True``.
        """
        from toptraj import provenance as prov
        from toptraj.io import atomic_write

        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            raise InputError(f"path must end in .npz, got {str(path)!r}")
        if path.exists() and not overwrite:
            raise InputError(f"{path} exists; pass overwrite=True to replace it")
        arrays = {k: np.asarray(getattr(self, k), dtype=np.float64) for k in self._ARRAYS}
        header = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "params": self.get_params(),
            "feature_names": list(self.feature_names_), "n_targets": int(self.n_targets_),
            "n_groups": int(self.n_groups_), "n_train": int(self.n_train_), "y_ndim": int(self.y_ndim_),
            "provenance": provenance if provenance is not None else prov.collect(),
        }
        header["checksum"] = _checksum(arrays, header)
        payload = {**arrays, "header": np.array(json.dumps(header, sort_keys=True, default=str))}
        return atomic_write(path, lambda fh: np.savez(fh, **payload))

    @classmethod
    def load(cls, path: str | Path) -> ExponentPredictor:
        """Read a predictor written by :meth:`save`; verify format version and checksum."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: file not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                arrays = {k: np.array(z[k]) for k in cls._ARRAYS}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a saved ExponentPredictor ({exc})") from exc
        if header.get("format") != FORMAT:
            raise InputError(f"{path}: format {header.get('format')!r} is not {FORMAT!r}")
        if header.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{path}: format_version {header.get('format_version')!r} is not supported "
                             f"(this toptraj reads version {FORMAT_VERSION})")
        stored = header.pop("checksum", None)
        if stored != _checksum(arrays, header):
            raise InputError(f"{path}: checksum mismatch: the file was changed or damaged")
        est = cls(**header["params"])
        est._check_params()
        for k, v in arrays.items():
            setattr(est, k, v)
        est.feature_names_ = list(header["feature_names"])
        est.n_targets_ = int(header["n_targets"])
        est.n_groups_ = int(header["n_groups"])
        est.n_train_ = int(header["n_train"])
        est.y_ndim_ = int(header["y_ndim"])
        est.n_features_in_ = len(est.feature_names_)
        est.provenance_ = header.get("provenance", {})
        p = len(est.feature_names_)
        if est.coef_.shape != (est.n_targets_, p) or est.mean_.shape != (p,) or est.scale_.shape != (p,):
            raise InputError(f"{path}: array shapes do not match the {p} features in its header")
        return est


_CACHE: dict = {}
_CACHE_SIZE = 20_000


def _cached_features(it: Any, input_type: str, features: str, n_points: int, channel: str) -> dict:
    """Features of one item, memoised on its arrays: evaluations featurise the same runs for several
    methods (topology, baseline, both) and folds; the maps are pure functions of the arrays."""
    h = hashlib.sha1()
    for t in (it.trajectories if isinstance(it, Sweep) else (it,)):
        h.update(t.times.tobytes())
        h.update(t.values.tobytes())
        h.update("|".join(t.channels).encode())
    if isinstance(it, Sweep):
        h.update(np.asarray(it.sizes).tobytes())
    key = (h.hexdigest(), input_type, features, n_points, channel)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        obj = (it.sizes, it.trajectories) if isinstance(it, Sweep) else it
        _CACHE[key] = item_features(obj, input_type, features, n_points, channel)
    return dict(_CACHE[key])


def _clone_fitted_standardisation(est: ExponentPredictor, F: np.ndarray) -> ExponentPredictor:
    """A bare object standardising like ``est`` but with statistics of the rows ``F`` only."""
    sub = ExponentPredictor.__new__(ExponentPredictor)
    sub.mean_ = np.nan_to_num(np.nanmean(F, axis=0))
    sd = np.nanstd(F, axis=0)
    sub.scale_ = np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0)
    return sub


def _checksum(arrays: dict, header: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k], dtype=np.float64)
        h.update(k.encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(json.dumps({k: v for k, v in header.items() if k != "checksum"}, sort_keys=True, default=str).encode())
    return h.hexdigest()


def shipped_path(input_type: str = "curve") -> Path:
    """Path of the predictor shipped in the package for ``input_type``."""
    check_choice("input_type", input_type, sorted(SHIPPED))
    from importlib import resources

    return Path(str(resources.files("toptraj") / "data" / SHIPPED[input_type]))


def load_shipped(input_type: str = "curve") -> ExponentPredictor:
    """The predictor trained on DMFT theory runs that ships with the package.

    ``curve``: r = (a-1)/b from one loss curve given as observed (fraction 1.0; trained on curves
    cut to a random 10-100% of their log-time); ``width_sweep``: (a, b) from a width sweep. Both
    reproduced bit for bit by ``analyses/train_shipped_predictor.py``.
    """
    if input_type not in SHIPPED:
        raise InputError(f"input_type must be one of {sorted(SHIPPED)} (shipped predictors), got {input_type!r}")
    path = shipped_path(input_type)
    if not path.is_file():
        raise InputError(f"the shipped predictor {path.name} is missing from this installation")
    return ExponentPredictor.load(path)


def load_shipped_or_none(input_type: str = "curve") -> tuple[ExponentPredictor | None, str]:
    """(:func:`load_shipped` ``(input_type)``, "") or, when its file is missing or damaged, (None, why).

    For callers that fall back to a fit (``toptraj predict``, the theory forecast of
    :class:`toptraj.detectors.TransitionDetector`) and say so; ``why`` names the error.
    """
    try:
        return load_shipped(input_type), ""
    except (InputError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def demo_dmft(quick: bool = True, seed: int = 0) -> dict:
    """The exponent demo on DMFT runs as plain data; see :func:`toptraj.exponent_eval.demo_dmft`."""
    from toptraj.exponent_eval import demo_dmft as _demo

    return _demo(quick=quick, seed=seed)


__all__ = ["ExponentPredictor", "Sweep", "demo_dmft", "check_items", "item_groups", "load_shipped", "load_shipped_or_none",
           "observe", "shipped_path",
           "time_shuffled"]
