"""Classify the compute-optimal phase of power-law random features (PLRF) from loss curves.

The phases are those of Paquette, Paquette, Xiao and Pennington, "4+3 Phases of Compute-Optimal
Neural Scaling Laws" (NeurIPS 2024, arXiv 2405.15074; docs/theory/plrf.rst): Ia, Ib, Ic, II, III,
IVa, IVb, regions of the (alpha, beta) plane (data and target exponents).

:class:`PhaseClassifier` learns the phase from

- ``input="curve"``: one early loss curve at one parameter count d (a Trajectory, loss vs step);
- ``input="front"``: loss curves at several d (a sequence of >= 3 Trajectory, ``params['d']``),
  read as loss-vs-flops fronts f = step x d, together with the curve features of the runs at the
  smallest, middle and largest d.

Feature sets, nested: ``"baseline"`` is the plain fits (log-log slopes over sixths of the curve, the
L0 + A t^-r fit, the drop ratio, and for fronts the envelope slope and the slope of the best d against
flops); ``"physics"`` adds estimates of the exponents of the loss terms whose dominance defines the
phases (the local slope spectrum, the loss's scaling with d, and (alpha, beta) of the term model
F_pp + F_ac + F_0 + K_pp fitted to the runs, :func:`fit_term_exponents`); ``"topology"`` adds persistence
summaries of the curve's log-log path and of its slope's sublevel filtration plus sliding-window H0
statistics. Every feature is invariant to an unknown loss amplitude; the time scale enters only
through slopes and the term fit's free amplitudes.
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
FEATURE_SETS = ("topology", "physics", "baseline")


def loss_curve(traj: Trajectory, where: str = "X") -> tuple[np.ndarray, np.ndarray]:
    """(steps, loss) of a run with positive step and loss, shapes (n,); the "loss" channel, else "test_loss"."""
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
        t, y = loss_curve(r, f"{where}[{j}]")
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


# --- physics features: the exponents of the loss terms (docs/theory/plrf.rst, section 3) -------------
#
# The phases differ by which terms of P ~ F_pp(t) + F_ac(t, d) + F_0(d) + K_pp(t) dominate
# (Paquette et al. 2024, arXiv 2405.15074): F_pp ~ t^-(1 + (beta - 1/2)/alpha), F_ac ~ t^-(1 - 1/(2 alpha)) / d,
# F_0 ~ d^-(2 alpha - max(0, 1 - 2 beta)), K_pp ~ t^-(2 - 1/(2 alpha)). Their exponents are functions of
# (alpha, beta) only, so the local slope spectrum of a curve, the loss's scaling with d and a fit of the term
# model estimate where in the (alpha, beta) plane a run sits.

def _term_basis(alpha: float, beta: float, r: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Columns F_pp, F_0, K_pp, F_ac of the term model at (alpha, beta), shape (n, 4) (F_ac zero if 2 alpha <= 1)."""
    e1 = 1.0 + (beta - 0.5) / alpha
    q = 2.0 * alpha - max(0.0, 1.0 - 2.0 * beta)
    e3 = 2.0 - 1.0 / (2.0 * alpha)
    e2 = 1.0 - 1.0 / (2.0 * alpha)
    fac = r ** -e2 / d if e2 > 0 else np.zeros_like(r)
    return np.column_stack([r ** -e1, d ** -q, r ** -e3, fac])


def _term_residual(alpha, beta, r, d, L) -> float:
    from scipy.optimize import nnls

    phi = _term_basis(alpha, beta, r, d) / L[:, None]
    scale = phi.max(axis=0)
    scale[scale <= 0] = 1.0
    return float(nnls(phi / scale, np.ones(L.size))[1])


def fit_term_exponents(r, d, L, coarse: float = 0.1, fine: float = 0.01) -> tuple[float, float, float]:
    """(alpha, beta, rms relative misfit) of the PLRF term model fitted to losses L at steps r and sizes d.

    The model P = c1 F_pp + c0 F_0 + c3 K_pp + c2 F_ac with non-negative amplitudes (any loss amplitude and
    time scale is absorbed by them) and the exponents of docs/theory/plrf.rst (section 3) as functions of
    (alpha, beta). For each (alpha, beta) on a grid (alpha in [0.05, 2], beta in [0, 2], 2(alpha + beta) > 1,
    spacing ``coarse``, then finer grids around the best down to ``fine``) the amplitudes are a non-negative least-squares fit of
    the relative error; the (alpha, beta) of the smallest error is returned. With one d, F_0 is a constant
    and its exponent is not identified. Only points where the loss has fallen below 0.3 of its first value
    enter (the early transient, t <~ 1, follows no term).

    Parameters
    ----------
    r, d, L : arrays, shape (n,): steps, parameter counts, losses (positive)
    """
    r, d, L = (np.asarray(v, dtype=np.float64).ravel() for v in (r, d, L))
    if not (r.shape == d.shape == L.shape) or r.size < 4:
        raise InputError(f"r, d, L must be arrays of one shape with >= 4 points, got {r.shape}, {d.shape}, {L.shape}")

    def grid(a0, a1, b0, b1, h):
        best = (math.inf, math.nan, math.nan)
        for a in np.arange(a0, a1 + h / 2, h):
            for b in np.arange(b0, b1 + h / 2, h):
                if a <= 0 or 2 * (a + b) <= 1.0 + 1e-9:
                    continue
                res = _term_residual(a, b, r, d, L)
                if res < best[0]:
                    best = (res, float(a), float(b))
        return best

    res, a, b = grid(coarse, 2.0, 0.0, 2.0, coarse)
    h = coarse
    while h > fine * 1.001:  # zoom in: +-h around the best at spacing h / 5 (at least ``fine``)
        h2 = max(h / 5.0, fine)
        res, a, b = grid(max(a - h, h2), a + h, max(b - h, 0.0), b + h, h2)
        h = h2
    return a, b, math.sqrt(res / L.size)


def transient_cut(t, y) -> np.ndarray:
    """Mask of shape (n,): the points past the early transient (loss below 0.3 of its first value),
    the part of a curve (t, y), shapes (n,), that the loss-term model describes."""
    return y < 0.3 * y[0]


def slope_spectrum_features(t, y, n: int = 32) -> np.ndarray:
    """Summaries of the local slope s = -d log L / d log t of one curve, shape (10,).

    On a log grid of ``n`` points (smoothed over 3): the peak slope, the final slope, the 10/25/50/75/90%
    quantiles, the drop from the peak to the end, the log-time (share of the window) the slope stays above 80%
    of its peak, and the share of the window after the peak. All invariant to the loss amplitude and, but for
    the window's position, to the time scale.
    """
    from toptraj.breakpoints import log_interp

    g = np.geomspace(t[0], t[-1], n)
    ly = log_interp(g, t, np.log(y))
    s = -np.gradient(ly, np.log(g))
    s = np.convolve(np.pad(s, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    k = int(np.argmax(s))
    q = np.quantile(s, [0.1, 0.25, 0.5, 0.75, 0.9])
    return np.array([s[k], s[-1], *q, s[k] - s[-1], float(np.mean(s >= 0.8 * s[k])), 1.0 - k / (n - 1)])


def curve_physics_features(t, y) -> np.ndarray:
    """Slope spectrum plus the term-model fit (alpha, beta, misfit) of one curve at one d, shape (13,)."""
    keep = transient_cut(t, y)
    if keep.sum() >= 4:
        a, b, res = fit_term_exponents(t[keep], np.ones(int(keep.sum())), y[keep])
    else:
        a, b, res = 0.0, 0.0, 1.0
    return np.concatenate([slope_spectrum_features(t, y), [a, b, res]])


def front_physics_features(runs_t, runs_y, ds) -> np.ndarray:
    """Physics features of a sweep over d (loss vs step per d), shape (12,).

    The term-model fit (alpha, beta, misfit) on all d together; the loss's scaling with d at the last step all
    runs share (-d log L / d log d: the limiting-loss exponent where the runs have plateaued), its largest
    value over the shared steps and the step share where it exceeds half of that; the slope spectrum
    peak, final slope and median of the largest d.
    """
    from toptraj.breakpoints import log_interp

    r_all, d_all, L_all = [], [], []
    for t, y, d in zip(runs_t, runs_y, ds):
        keep = transient_cut(t, y)
        r_all.append(t[keep])
        d_all.append(np.full(int(keep.sum()), float(d)))
        L_all.append(y[keep])
    r_all, d_all, L_all = (np.concatenate(v) for v in (r_all, d_all, L_all))
    if r_all.size >= 6:
        a, b, res = fit_term_exponents(r_all, d_all, L_all)
    else:
        a, b, res = 0.0, 0.0, 1.0
    lo = max(t[0] for t in runs_t)
    hi = min(t[-1] for t in runs_t)
    if not hi > lo:  # the runs share no steps: no loss-vs-d scaling to read
        last = slope_spectrum_features(runs_t[-1], runs_y[-1])
        return np.array([a, b, res, 0.0, 0.0, 0.0, 0.0, 0.0, last[0], last[1], last[4], last[7]])
    g = np.geomspace(lo, hi, 32)
    ll = np.array([log_interp(g, t, np.log(y)) for t, y in zip(runs_t, runs_y)])
    ld = np.log(np.asarray(ds, dtype=np.float64))
    kappa = -np.polyfit(ld, ll, 1)[0]  # (32,) -d log L / d log d at each shared step
    kmax = float(kappa.max())
    spread = float(np.mean(kappa > 0.5 * kmax)) if kmax > 0 else 0.0
    last = slope_spectrum_features(runs_t[-1], runs_y[-1])
    return np.array([a, b, res, kappa[-1], kmax, spread, float(np.median(kappa)), kappa[len(kappa) // 2],
                     last[0], last[1], last[4], last[7]])


def _d_of(run) -> float:
    try:
        return float(run.params.get("d", run.params.get("N")))
    except (TypeError, ValueError, AttributeError):
        return math.nan  # front_arrays has already rejected a run without d


def _front_physics_of_runs(sweep, where: str) -> np.ndarray:
    """front_physics_features of a sweep of Trajectory runs (steps x batch, sorted by d)."""
    rows = []
    for j, r in enumerate(sweep):
        t, y = loss_curve(r, f"{where}[{j}]")
        rows.append((float(r.params.get("d", r.params.get("N"))), t * float(r.params.get("batch", 1) or 1), y))
    rows.sort(key=lambda v: v[0])
    return front_physics_features([v[1] for v in rows], [v[2] for v in rows], [v[0] for v in rows])


class PhaseClassifier(ClassifierMixin, BaseEstimator):
    """PLRF phase from early loss curves (one d) or loss-vs-flops fronts (several d).

    Parameters
    ----------
    input : "curve" (X: sequence of Trajectory) or "front" (X: sequence of sweeps, each a sequence
        of >= 3 Trajectory at different ``params['d']``)
    features : "baseline" (plain fits), "physics" (plus the loss-term exponent estimates) or "topology"
        (plus persistence summaries)
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
                t, y = loss_curve(x, where)
                row = [curve_baseline_features(t, y)]
                if self.features in ("physics", "topology"):
                    row.append(curve_physics_features(t, y))
                if self.features == "topology":
                    row.append(curve_topology_features(t, y))
            else:
                ds, f, L = front_arrays(x, where)
                smallest = np.isfinite(L[0])
                runs = [loss_curve(r, f"{where}[{j}]") for j, r in sorted(enumerate(x), key=lambda jr: _d_of(jr[1]))]
                runs = [runs[0], runs[len(runs) // 2], runs[-1]]  # smallest, middle, largest d: a fixed width
                # blocks: the front's own features, then the same features of those runs' curves
                row = [front_baseline_features(ds, f, L), curve_baseline_features(f[smallest], L[0][smallest]),
                       *(curve_baseline_features(t, y) for t, y in runs)]
                if self.features in ("physics", "topology"):
                    row.append(_front_physics_of_runs(x, where))
                    row.extend(curve_physics_features(t, y) for t, y in runs)
                if self.features == "topology":
                    env = np.nanmin(np.where(np.isfinite(L), L, np.nan), axis=0)
                    ok = np.isfinite(env)
                    row.append(curve_topology_features(f[ok], env[ok]))
                    row.extend(curve_topology_features(t, y) for t, y in runs)
            rows.append(np.concatenate(row))
        return np.nan_to_num(np.asarray(rows, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)

    def fit(self, X, y):
        """Fit on samples X and phase labels y (strings from PHASE_NAMES), shape (n_samples,)."""
        self._check()
        y = np.asarray(y, dtype=object)
        if y.shape != (len(X),):
            raise InputError(f"y must have shape ({len(X)},) (one phase per sample), got {y.shape}")
        self._check_labels(y)
        return self.fit_features(self.featurize(X), y)

    @staticmethod
    def _check_labels(y):
        bad = sorted({str(v) for v in y if v not in PHASE_NAMES})
        if bad:
            raise InputError(f"y: unknown phases {bad}; allowed {list(PHASE_NAMES)}")

    def fit_features(self, F, y):
        """Fit on a feature matrix F from :meth:`featurize` (shape (n_samples, n_features)) and labels y.

        For studies that compute the features once and compare feature sets on column subsets
        (:func:`feature_columns`).
        """
        from sklearn.ensemble import RandomForestClassifier

        self._check()
        F = np.asarray(F, dtype=np.float64)
        y = np.asarray(y, dtype=object)
        if F.ndim != 2 or y.shape != (F.shape[0],):
            raise InputError(f"F must have shape (n_samples, n_features) and y ({F.shape[0]},), got {F.shape}, {y.shape}")
        self._check_labels(y)
        self.forest_ = RandomForestClassifier(n_estimators=int(self.n_estimators), random_state=int(self.seed),
                                              min_samples_leaf=2).fit(F, y.astype(str))
        self.classes_ = self.forest_.classes_
        labels, counts = np.unique(y.astype(str), return_counts=True)
        self.chance_rate_ = float(counts.max() / counts.sum())
        self.uniform_rate_ = 1.0 / labels.size
        self.n_features_in_ = F.shape[1]
        return self

    def predict_features(self, F) -> np.ndarray:
        """Phase names from a feature matrix of :meth:`featurize`, shape (n_samples,)."""
        check_is_fitted(self, "forest_")
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or F.shape[1] != self.n_features_in_:
            raise InputError(f"F must have shape (n_samples, {self.n_features_in_}), got {F.shape}")
        return self.forest_.predict(F)

    def predict(self, X) -> np.ndarray:
        """Phase names, shape (n_samples,)."""
        check_is_fitted(self, "forest_")
        return self.forest_.predict(self.featurize(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes) in the order of ``classes_``."""
        check_is_fitted(self, "forest_")
        return self.forest_.predict_proba(self.featurize(X))


#: Widths of the column blocks of :meth:`PhaseClassifier.featurize`: plain fits, physics, topology.
_BLOCKS = {"curve": (8, 13, 9), "front": (13 + 3 * 8, 12 + 3 * 13, 9 + 3 * 9)}


def feature_columns(input: str, features: str) -> np.ndarray:
    """Columns of the ``features="topology"`` matrix that make up feature set ``features``, shape (k,).

    featurize() lays the blocks out as plain fits, then physics, then persistence; "baseline" is the first
    block, "physics" the first two, "topology" all three.
    """
    check_choice("input", input, INPUTS)
    check_choice("features", features, FEATURE_SETS)
    b = _BLOCKS[input]
    n = {"baseline": b[0], "physics": b[0] + b[1], "topology": sum(b)}[features]
    return np.arange(n)


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


__all__ = ["FEATURE_SETS", "INPUTS", "PHASE_NAMES", "PhaseClassifier", "boundary_distance", "feature_columns",
           "fit_term_exponents", "front_arrays", "loss_curve", "transient_cut"]
