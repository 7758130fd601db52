"""Classify the compute-optimal phase of power-law random features (PLRF) from loss curves.

The phases are those of Paquette, Paquette, Xiao and Pennington, "4+3 Phases of Compute-Optimal
Neural Scaling Laws" (NeurIPS 2024, arXiv 2405.15074; docs/theory/plrf.rst): Ia, Ib, Ic, II, III,
IVa, IVb, regions of the (alpha, beta) plane (data and target exponents).

:class:`PhaseClassifier` learns the phase from

- ``input="curve"``: one early loss curve at one parameter count d (a Trajectory, loss vs step);
- ``input="front"``: loss curves at several d (a sequence of >= 3 Trajectory, ``params['d']``),
  read as loss-vs-flops fronts f = step x d.

``features="topology"`` uses persistence summaries of the curve's log-log path and of its slope's
sublevel filtration plus sliding-window H0 statistics, with the plain fits; ``features="baseline"``
uses the plain fits only (log-log slopes over thirds of the curve, the L0 + A t^-r fit, the drop
ratio, and for fronts the envelope slope and the slope of the best d against flops). Every feature
is invariant to an unknown loss amplitude; the time scale enters only through slopes.
``chance_rate_`` (the majority-class share of the training labels) and ``uniform_rate_`` (1 / number
of classes) are stored so that accuracies are read against chance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from toptraj.exceptions import InputError
from toptraj.trajectory import Trajectory
from toptraj.validation import check_choice, check_number, check_seed

#: Most trees PhaseClassifier accepts (the study uses 200-300; a larger value is almost surely a typo).
MAX_ESTIMATORS = 10_000

PHASE_NAMES = ("Ia", "Ib", "Ic", "II", "III", "IVa", "IVb")  # = generators.plrf.PHASES
INPUTS = ("curve", "front")
FEATURE_SETS = ("topology", "baseline")


def _curve(traj: Trajectory, where: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(traj, Trajectory):
        raise InputError(f"{where} must be a Trajectory (loss vs step), got {type(traj).__name__}")
    for ch in ("loss", "test_loss"):
        if traj.has_channel(ch):
            y = traj.channel(ch)
            break
    else:
        raise InputError(f"{where}: no 'loss' or 'test_loss' channel in {list(traj.channels)}")
    keep = (traj.times > 0) & (y > 0)
    if keep.sum() < 8:
        raise InputError(f"{where}: needs at least 8 points with positive step and loss, got {int(keep.sum())}")
    return traj.times[keep], y[keep]


def _slopes(t, y, parts: int = 3) -> list[float]:
    lt, ly = np.log(t), np.log(y)
    edges = np.linspace(lt[0], lt[-1], parts + 1)
    out = []
    for i in range(parts):
        sel = (lt >= edges[i]) & (lt <= edges[i + 1])
        if sel.sum() < 2:
            out.append(0.0)
        else:
            out.append(float(np.polyfit(lt[sel], ly[sel], 1)[0]))
    return out


def curve_baseline_features(t, y) -> np.ndarray:
    """Plain fits of one curve, shape (8,): slopes over log-time sixths, fitted r, log(L_end / L_start)."""
    from toptraj.baselines import fit_offset_power_law

    fit = fit_offset_power_law(t, y)
    r = fit.r if math.isfinite(fit.r) else 0.0
    return np.array([*_slopes(t, y, 6), r, math.log(y[-1] / y[0])])


def curve_topology_features(t, y) -> np.ndarray:
    """Persistence summaries of one curve, shape (9,).

    H0 total / max / count-above-median of the normalised log-log path (minimum spanning tree),
    H0 total and max of the sublevel filtration of the local slope d log L / d log t and of its
    negative (superlevel), and the mean and std over sliding windows of the path's H0 total.
    """
    from toptraj.breakpoints import log_interp, sliding_persistence
    from toptraj.embeddings import log_slope
    from toptraj.persistence import h0_mst_diagram, lower_star_diagram

    grid = np.geomspace(t[0], t[-1], 48)
    ly = log_interp(grid, t, np.log(y))
    lg = np.log(grid)
    path = np.column_stack([(lg - lg[0]) / max(lg[-1] - lg[0], 1e-12), (ly - ly[0]) / max(abs(ly[-1] - ly[0]), 1e-12)])
    h = h0_mst_diagram(path).finite(0)
    lt = h[:, 1] - h[:, 0]
    s = log_slope(grid, np.exp(ly))
    lo = lower_star_diagram(s).finite(0)
    hi = lower_star_diagram(-s).finite(0)
    lo_l = lo[:, 1] - lo[:, 0] if lo.size else np.zeros(1)
    hi_l = hi[:, 1] - hi[:, 0] if hi.size else np.zeros(1)
    win = sliding_persistence(path, 8, 4)[:, 0]
    return np.array([lt.sum(), lt.max(), float(np.sum(lt > np.median(lt))), lo_l.sum(), lo_l.max(), hi_l.sum(),
                     hi_l.max(), win.mean(), win.std()])


def front_arrays(sweep, where: str = "X") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d (k,), flops (n,), losses (k, n)) of a sweep of >= 3 runs at different d; NaN outside a run.

    flops = step x d x batch (batch from params, default 1), on a common log grid of 48 points.
    """
    if isinstance(sweep, Trajectory) or not isinstance(sweep, Sequence) or len(sweep) < 3:
        raise InputError(f"{where} must be a sequence of >= 3 Trajectory runs at different d")
    ds, curves = [], []
    for j, r in enumerate(sweep):
        t, y = _curve(r, f"{where}[{j}]")
        d = r.params.get("d", r.params.get("N"))
        try:
            d = float(d)
        except (TypeError, ValueError):
            raise InputError(f"{where}[{j}]: no parameter count params['d'] (or 'N')") from None
        B = float(r.params.get("batch", 1) or 1)
        ds.append(d)
        curves.append((t * d * B, y))
    ds = np.array(ds)
    if np.unique(ds).size != ds.size:
        raise InputError(f"{where}: each d must appear once, got {sorted(ds.tolist())}")
    order = np.argsort(ds)
    ds = ds[order]
    curves = [curves[i] for i in order]
    f = np.geomspace(min(c[0][0] for c in curves), max(c[0][-1] for c in curves), 48)
    L = np.full((ds.size, f.size), np.nan)
    for i, (x, y) in enumerate(curves):
        sel = (f >= x[0]) & (f <= x[-1])
        L[i, sel] = np.exp(np.interp(np.log(f[sel]), np.log(x), np.log(y)))
    return ds, f, L


def front_baseline_features(ds, f, L) -> np.ndarray:
    """Envelope slope (-eta estimate), slope of log d* vs log f (xi estimate), spread of the best d, shape (5,)."""
    masked = np.where(np.isfinite(L), L, np.inf)
    has = np.isfinite(L).sum(axis=0) >= 2
    env = masked.min(axis=0)
    dstar = ds[np.argmin(masked, axis=0)]
    lf = np.log(f[has])
    le = np.log(env[has])
    eta = -float(np.polyfit(lf, le, 1)[0]) if has.sum() >= 3 else 0.0
    xi = float(np.polyfit(lf, np.log(dstar[has]), 1)[0]) if has.sum() >= 3 else 0.0
    half = lf.size // 2
    eta_late = -float(np.polyfit(lf[half:], le[half:], 1)[0]) if lf.size - half >= 3 else eta
    n_best = float(np.unique(dstar[has]).size) / ds.size
    return np.array([eta, xi, eta_late, n_best, math.log(ds[-1] / ds[0])])


class PhaseClassifier(ClassifierMixin, BaseEstimator):
    """PLRF phase from early loss curves (one d) or loss-vs-flops fronts (several d).

    Parameters
    ----------
    input : "curve" (X: sequence of Trajectory) or "front" (X: sequence of sweeps, each a sequence
        of >= 3 Trajectory at different ``params['d']``)
    features : "topology" (persistence summaries plus the plain fits) or "baseline" (plain fits only)
    n_estimators : trees of the random forest
    seed : random state of the forest

    Attributes
    ----------
    ``classes_``: phases seen in training; ``chance_rate_``: majority-class share of the training labels;
    ``uniform_rate_``: 1 / len(``classes_``); ``n_features_in_``: features per sample; ``forest_``: the fitted forest.
    """

    def __init__(self, input: str = "curve", features: str = "topology", n_estimators: int = 300, seed: int = 0):
        self.input = input
        self.features = features
        self.n_estimators = n_estimators
        self.seed = seed

    def _check(self):
        check_choice("input", self.input, INPUTS)
        check_choice("features", self.features, FEATURE_SETS)
        # An upper bound, so that a typo (1e12 trees) is refused at once instead of running for days.
        check_number("n_estimators", self.n_estimators, low=1, high=MAX_ESTIMATORS, integer=True)
        if check_seed("seed", self.seed) is not None:
            check_number("seed", self.seed, high=2**32 - 1)  # the forest's random_state range

    def featurize(self, X) -> np.ndarray:
        """Feature matrix, shape (n_samples, n_features)."""
        self._check()
        if isinstance(X, Trajectory) or not isinstance(X, Sequence) or len(X) == 0:
            raise InputError("X must be a non-empty sequence of samples (Trajectory for input='curve', "
                             "sweeps of >= 3 Trajectory for input='front')")
        rows = []
        for i, x in enumerate(X):
            where = f"X[{i}]"
            if self.input == "curve":
                t, y = _curve(x, where)
                row = [curve_baseline_features(t, y)]
                if self.features == "topology":
                    row.append(curve_topology_features(t, y))
            else:
                ds, f, L = front_arrays(x, where)
                smallest = np.isfinite(L[0])
                row = [front_baseline_features(ds, f, L), curve_baseline_features(f[smallest], L[0][smallest])]
                if self.features == "topology":
                    env = np.nanmin(np.where(np.isfinite(L), L, np.nan), axis=0)
                    ok = np.isfinite(env)
                    row.append(curve_topology_features(f[ok], env[ok]))
            rows.append(np.concatenate(row))
        return np.nan_to_num(np.asarray(rows, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)

    def fit(self, X, y):
        """Fit on samples X and phase labels y (strings from PHASE_NAMES), shape (n_samples,)."""
        from sklearn.ensemble import RandomForestClassifier

        self._check()
        y = np.asarray(y, dtype=object)
        if y.shape != (len(X),):
            raise InputError(f"y must have shape ({len(X)},) (one phase per sample), got {y.shape}")
        bad = sorted({str(v) for v in y if v not in PHASE_NAMES})
        if bad:
            raise InputError(f"y: unknown phases {bad}; allowed {list(PHASE_NAMES)}")
        F = self.featurize(X)
        self.forest_ = RandomForestClassifier(n_estimators=int(self.n_estimators), random_state=int(self.seed),
                                              min_samples_leaf=2).fit(F, y.astype(str))
        self.classes_ = self.forest_.classes_
        labels, counts = np.unique(y.astype(str), return_counts=True)
        self.chance_rate_ = float(counts.max() / counts.sum())
        self.uniform_rate_ = 1.0 / labels.size
        self.n_features_in_ = F.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Phase names, shape (n_samples,)."""
        check_is_fitted(self, "forest_")
        return self.forest_.predict(self.featurize(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) in the order of ``classes_``."""
        check_is_fitted(self, "forest_")
        return self.forest_.predict_proba(self.featurize(X))


def boundary_distance(alpha: float, beta: float) -> float:
    """Euclidean distance in (alpha, beta) from the point to the nearest phase boundary.

    Boundaries (spec table): beta = 1/2, alpha = 1/2 (for beta < 1/2 and for beta > 1/2), beta = alpha
    (alpha > 1/2), alpha = 1/4 and alpha = 1 - 1/sqrt 2 (beta > 1/2, alpha < 1/2), and the edge of the
    region alpha + beta = 1/2.
    """
    a, b = float(alpha), float(beta)
    segs = []
    big = 10.0
    segs.append(((0.0, 0.5), (big, 0.5)))  # beta = 1/2
    segs.append(((0.5, 0.0), (0.5, big)))  # alpha = 1/2
    segs.append(((0.5, 0.5), (big, big)))  # beta = alpha, alpha > 1/2
    segs.append(((0.25, 0.5), (0.25, big)))  # Ic / IV
    iv = 1.0 - 1.0 / math.sqrt(2.0)
    segs.append(((iv, 0.5), (iv, big)))  # IVa / IVb
    segs.append(((0.0, 0.5), (0.5, 0.0)))  # alpha + beta = 1/2 (edge of the region)
    best = math.inf
    p = np.array([a, b])
    for (x0, y0), (x1, y1) in segs:
        s0, s1 = np.array([x0, y0]), np.array([x1, y1])
        d = s1 - s0
        u = float(np.clip((p - s0) @ d / (d @ d), 0.0, 1.0))
        best = min(best, float(np.linalg.norm(p - (s0 + u * d))))
    return best


__all__ = ["FEATURE_SETS", "INPUTS", "PHASE_NAMES", "PhaseClassifier", "boundary_distance", "front_arrays"]
