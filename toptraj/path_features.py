"""Stateless feature maps of an observed run, one per input type: topology, baselines, direct fits.

Every map takes one observed item (a :class:`~toptraj.trajectory.Trajectory`, or a sweep: a list
of trajectories at increasing sizes) and returns a fixed-length feature vector with names. No map
learns anything from training data, so a fitted predictor is fully described by its feature
configuration plus its regression arrays (see :mod:`toptraj.predictor`). All features are
invariant to an unknown loss amplitude and time scale (a run's normalisation and learning rate):
curves enter in centred log-log coordinates and paths after dividing by their own extent.

Input types (and the channels they read):

- ``curve``: one loss channel (``test_loss`` by default).
- ``pair``: ``test_loss`` and ``train_loss``; adds the gap ratio (L - Lhat)/L.
- ``order_parameters``: per-mode transfer functions ``H_{k}`` (k parsed from the name), plus the
  loss if present. Baseline: the per-mode relaxation fit, rates ~ k^-b.
- ``weights``: a weight-space path ``proj_{j}`` (random projections of the weights). Baselines:
  log-log slopes of the path's norm, displacement and speed (a norm path shifts r by 1).
- ``width_sweep`` / ``data_sweep``: three or more runs at sizes N (or P). Baselines: the time
  exponent of the largest size, the exponent m of the size corrections L_{N_i} - L_{N_i+1} ~ N^-m
  at the last observed time (plateau-vs-N fit) and at the first (the early 1/N check), the
  (a, b) implied by (r, m) (spec: docs/theory/study.rst section 5), and the finite-size
  signatures of the DMFT theory (:func:`sweep_physics`: per-size local slopes, log-gaps to the
  largest size, difference curves and their local size exponent, crossing times against log N,
  whose slope reads b since t_x ~ N^b, and the slope of the size-extrapolated curve).

Topology: Vietoris-Rips H0/H1 of the centred log-log curve (log t, log L, slope) or of the path as
a point cloud, H0 of consecutive windows along the path (sliding-window persistence, by minimum
spanning tree), lower-star persistence of each channel's local slope, and the PH dimension of the
path (Birdal et al. 2021, arXiv 2111.13171). Diagrams are summarised by counts, lifetime
statistics and quantiles, entropy, and Betti curves on fixed grids (no fitted ranges).

Cost: a curve's features cost one Rips H1 of ``n_points`` points (a few ms at 48) and one
L0 + A t^-r fit; a sweep costs that per size.
"""

from __future__ import annotations

import math
import re

import numpy as np

from toptraj.baselines import fit_offset_power_law, loglog_slope
from toptraj.diagrams import Diagram
from toptraj.features import betti_curve, persistence_entropy
from toptraj.persistence import h0_mst_diagram, lower_star_diagram, rips_diagram

INPUT_TYPES = ("curve", "pair", "order_parameters", "weights", "width_sweep", "data_sweep")
SWEEP_TYPES = ("width_sweep", "data_sweep")
FEATURE_SETS = ("topology", "baseline", "both")
#: Fixed grid of local log-log slopes for Betti curves of the slope lower-star diagram.
SLOPE_GRID = np.linspace(-3.0, 0.5, 12)
_MODE = re.compile(r"^H_(\d+)$")
_TINY = 1e-300


# -- curve helpers --------------------------------------------------------------------------------
def positive(v: np.ndarray) -> np.ndarray:
    """Values floored at 1e-12 of their largest magnitude (a train loss can reach 0 or -1e-14)."""
    v = np.asarray(v, dtype=np.float64)
    top = float(np.max(np.abs(v))) if v.size else 1.0
    return np.maximum(v, 1e-12 * max(top, _TINY))


def log_curve(times: np.ndarray, values: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred log-log curve on a log-uniform grid: (u, y, s), each shape (n_points,).

    u = log t - log t0, y = log L - log L(t0), s = dy/du. Points with t <= 0 are dropped; the
    values are floored by :func:`positive`.
    """
    t = np.asarray(times, dtype=np.float64)
    v = positive(values)
    keep = t > 0
    t, v = t[keep], v[keep]
    lt, lv = np.log(t), np.log(v)
    u = np.linspace(lt[0], lt[-1], n_points)
    y = np.interp(u, lt, lv)
    s = np.gradient(y, u) if u[-1] > u[0] else np.zeros(n_points)
    return u - u[0], y - y[0], s


def resample_path(times: np.ndarray, X: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """A multi-channel path on a log-uniform time grid: (u centred, X), shapes (n,), (n, c)."""
    t = np.asarray(times, dtype=np.float64)
    keep = t > 0
    lt = np.log(t[keep])
    X = np.asarray(X, dtype=np.float64)[keep]
    u = np.linspace(lt[0], lt[-1], n_points)
    out = np.column_stack([np.interp(u, lt, X[:, j]) for j in range(X.shape[1])])
    return u - u[0], out


# -- diagram summaries (stateless) ----------------------------------------------------------------
SUMMARY_KEYS = ("count", "n_essential", "total", "mean", "std", "max", "q25", "q50", "q90", "entropy", "birth_min",
                "birth_med")


def diagram_summary(d: Diagram, q: int) -> list[float]:
    """Fixed-length summary of dimension q of a diagram (finite bars; essential ones counted).

    Returns the values of :data:`SUMMARY_KEYS`: number of finite bars, of essential bars, total,
    mean, std, max and 25/50/90% quantiles of the finite lifetimes, persistence entropy, smallest
    and median birth (all bars). Empty parts give 0.
    """
    a = d[q]
    fin = np.isfinite(a[:, 1])
    lt = a[fin, 1] - a[fin, 0]
    if lt.size:
        stats = [lt.sum(), lt.mean(), lt.std(), lt.max(), *np.quantile(lt, [0.25, 0.5, 0.9])]
    else:
        stats = [0.0] * 7
    births = [float(a[:, 0].min()), float(np.median(a[:, 0]))] if a.shape[0] else [0.0, 0.0]
    return [float(lt.size), float(np.sum(~fin)), *map(float, stats), persistence_entropy(d, q), *births]


def _summary(prefix: str, d: Diagram, q: int) -> dict[str, float]:
    return {f"{prefix}H{q}_{k}": v for k, v in zip(SUMMARY_KEYS, diagram_summary(d, q))}


def _window_h0(prefix: str, cloud: np.ndarray, n_windows: int = 3) -> dict[str, float]:
    """Sliding-window persistence along a path: H0 (MST) total and max lifetime per window."""
    out = {}
    for j, w in enumerate(np.array_split(cloud, n_windows)):
        life = np.diff(h0_mst_diagram(w).finite(0), axis=1)[:, 0] if len(w) > 1 else np.zeros(0)
        out[f"{prefix}win{j}_total"] = float(life.sum())
        out[f"{prefix}win{j}_max"] = float(life.max()) if life.size else 0.0
    return out


def _ph_dim(cloud: np.ndarray) -> float:
    """PH dimension of a path (alpha = 1), capped at 10 (a near-linear E_alpha gives inf)."""
    from toptraj.features import ph_dimension

    n = cloud.shape[0]
    if n < 16 or np.ptp(cloud, axis=0).max() <= 0:
        return 0.0
    try:
        d = ph_dimension(cloud, alpha=1.0, n_min=max(8, n // 8), n_max=n, n_sizes=6, seed=0)
    except ValueError:
        return 0.0
    return float(min(d, 10.0))


# -- topology per kind ----------------------------------------------------------------------------
def curve_topology(times, values, n_points: int = 48, prefix: str = "") -> dict[str, float]:
    """Topology of one loss curve: Rips H0/H1 of (u, y, s), lower-star of s, window H0."""
    u, y, s = log_curve(times, values, n_points)
    cloud = np.column_stack([u, y, s])
    out = {}
    rips = rips_diagram(cloud, maxdim=1)
    out.update(_summary(prefix + "curve_", rips, 0))
    out.update(_summary(prefix + "curve_", rips, 1))
    star = lower_star_diagram(s)
    out.update(_summary(prefix + "slope_", star, 0))
    for i, v in enumerate(betti_curve(star, 0, SLOPE_GRID)):
        out[f"{prefix}slope_betti_{i}"] = float(v)
    out.update(_window_h0(prefix + "curve_", cloud))
    return out


def path_topology(times, X, n_points: int = 48, prefix: str = "path_") -> dict[str, float]:
    """Topology of a multi-channel path (weights, order parameters), shape (n_steps, c).

    The path is resampled on a log-time grid, centred and divided by its largest distance from
    the start (amplitude-free); features: Rips H0/H1 of the point cloud, window H0, PH dimension of
    the densely resampled path, and the mean over channels of the lower-star summary of each
    channel's log-time slope.
    """
    u, P = resample_path(times, X, n_points)
    P = P - P[0]
    ext = float(np.max(np.linalg.norm(P, axis=1)))
    P = P / ext if ext > 0 else P
    out = {}
    rips = rips_diagram(P, maxdim=1)
    out.update(_summary(prefix, rips, 0))
    out.update(_summary(prefix, rips, 1))
    out.update(_window_h0(prefix, P))
    _, dense = resample_path(times, X, 4 * n_points)
    dense = dense - dense[0]
    ext_d = float(np.max(np.linalg.norm(dense, axis=1)))
    out[prefix + "ph_dim"] = _ph_dim(dense / ext_d if ext_d > 0 else dense)
    rows = []
    for j in range(P.shape[1]):
        sj = np.gradient(P[:, j], u) if u[-1] > 0 else np.zeros_like(u)
        rows.append(diagram_summary(lower_star_diagram(sj), 0))
    for k, v in zip(SUMMARY_KEYS, np.mean(rows, axis=0)):
        out[f"{prefix}channel_star_{k}"] = float(v)
    return out


# -- baselines per kind ---------------------------------------------------------------------------
def curve_baseline(times, values, prefix: str = "") -> dict[str, float]:
    """Log-log slopes (whole window, last and first third), L0 + A t^-r fit (r, L0/L_last)."""
    t = np.asarray(times, dtype=np.float64)
    v = positive(values)
    whole = loglog_slope(t, v).slope
    late = loglog_slope(t, v, last=1 / 3).slope
    m = max(3, len(t) // 3)
    early = loglog_slope(t[:m], v[:m]).slope
    fit = fit_offset_power_law(t, v)
    return {
        prefix + "slope": whole, prefix + "slope_late": late, prefix + "slope_early": early,
        prefix + "power_law_r": fit.r, prefix + "offset_fraction": fit.L0 / v[-1] if v[-1] > 0 else math.nan,
    }


def mode_numbers(traj) -> tuple[list[str], np.ndarray]:
    """The ``H_{k}`` channels of a trajectory and their mode numbers k (sorted by k)."""
    pairs = sorted((int(m.group(1)), c) for c in traj.channels if (m := _MODE.match(c)))
    return [c for _, c in pairs], np.array([k for k, _ in pairs], dtype=np.float64)


def relaxation_rates(times, H: np.ndarray) -> np.ndarray:
    """Per-mode relaxation rate -log H_k(t) / t, shape (n_modes,).

    Read at the observed times where 0.05 < H_k < 0.95 (median over them); a mode that has barely
    moved uses the last time, a mode already relaxed the first.
    """
    t = np.asarray(times, dtype=np.float64)
    H = np.clip(np.asarray(H, dtype=np.float64), 1e-12, 1 - 1e-12)
    rates = np.empty(H.shape[1])
    for j in range(H.shape[1]):
        h = H[:, j]
        ok = (h > 0.05) & (h < 0.95) & (t > 0)
        if ok.any():
            rates[j] = np.median(-np.log(h[ok]) / t[ok])
        elif h[-1] >= 0.95:
            rates[j] = -math.log(h[-1]) / t[-1]
        else:
            i = int(np.argmax(t > 0))
            rates[j] = -math.log(h[i]) / t[i]
    return np.maximum(rates, _TINY)


def order_parameter_baseline(traj, channel: str = "test_loss") -> dict[str, float]:
    """Per-mode relaxation fit: b from rates ~ k^-b; r from the loss; a = 1 + r b."""
    names, k = mode_numbers(traj)
    rates = relaxation_rates(traj.times, traj.select(names).values)
    b_hat = -float(np.polyfit(np.log(k), np.log(rates), 1)[0])
    out = {"modes_b": b_hat}
    if traj.has_channel(channel):
        base = curve_baseline(traj.times, traj.channel(channel), prefix="loss_")
        out.update(base)
        out["modes_a_from_slope"] = 1.0 + (-base["loss_slope_late"]) * b_hat
        out["modes_a_from_fit"] = 1.0 + base["loss_power_law_r"] * b_hat
    return out


def _path_norms(times, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    norm = np.linalg.norm(X, axis=1)
    disp = np.linalg.norm(X - X[0], axis=1)
    speed = np.linalg.norm(np.diff(X, axis=0), axis=1) / np.diff(t)
    return t, positive(norm), positive(disp[1:]), positive(speed)


def weight_baseline(times, X) -> dict[str, float]:
    """Log-log slopes of the path's norm, displacement from the start and speed (whole, late third)."""
    t, norm, disp, speed = _path_norms(times, X)
    tm = np.sqrt(t[1:] * t[:-1])  # speed lives between samples
    out = {}
    for name, tt, v in (("norm", t, norm), ("disp", t[1:], disp), ("speed", tm, speed)):
        out[f"w_{name}_slope"] = loglog_slope(tt, v).slope
        out[f"w_{name}_slope_late"] = loglog_slope(tt, v, last=1 / 3).slope
    return out


def sizes_exponent(sizes: np.ndarray, L: np.ndarray) -> float:
    """Exponent m of successive differences L(n_i) - L(n_i+1) ~ n_i^-m (least squares in log-log).

    NaN when fewer than two differences are positive.
    """
    d = L[:-1] - L[1:]
    n = np.asarray(sizes[:-1], dtype=np.float64)
    ok = d > 0
    if ok.sum() < 2:
        return math.nan
    return -float(np.polyfit(np.log(n[ok]), np.log(d[ok]), 1)[0])


def invert_exponents(r: float, m: float, kind: str = "width_sweep") -> tuple[float, float]:
    """(a, b) from the time exponent r and the size exponent m (docs/theory/study.rst section 5).

    Width sweep, m = min(a-1, b): r < 1 -> a = 1 + m, b = m / r; else b = m, a = 1 + r b.
    Data sweep, m = min(a-1, 2b): r < 2 -> a = 1 + m, b = m / r; else b = m / 2, a = 1 + r b.
    Continuous at the switch. NaN in, NaN out.
    """
    if not (np.isfinite(r) and np.isfinite(m)) or r <= 0 or m <= 0:
        return math.nan, math.nan
    switch, factor = (1.0, 1.0) if kind == "width_sweep" else (2.0, 2.0)
    if r < switch:
        return 1.0 + m, m / r
    b = m / factor
    return 1.0 + r * b, b


def extrapolated_curve(sizes, Ls: np.ndarray) -> np.ndarray:
    """L(t, size -> inf) from the three largest sizes, assuming L_n(t) = L_inf(t) + c(t) n^-m(t).

    Per time: m from the ratio of the last two differences, then the geometric tail of the
    differences is added back (Richardson extrapolation). Where the differences are not positive
    and decreasing, the largest size's value is kept. Ls shape (n_sizes, n_steps) -> (n_steps,).
    """
    n = np.asarray(sizes, dtype=np.float64)
    d1, d2 = Ls[-3] - Ls[-2], Ls[-2] - Ls[-1]
    out = Ls[-1].copy()
    ok = (d1 > 0) & (d2 > 0) & (d1 > d2)
    m = np.log(d1[ok] / d2[ok]) / math.log(n[-2] / n[-3])
    out[ok] = Ls[-1][ok] - d2[ok] / ((n[-1] / n[-2]) ** m - 1.0)
    return positive(np.where(out > 0, out, Ls[-1]))


def _fit_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x; NaN for fewer than two distinct x."""
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 and np.ptp(x[ok]) > 0 else math.nan


def first_crossing(u: np.ndarray, g: np.ndarray, level: float) -> float:
    """First u where the signal g reaches ``level`` (linear interpolation); NaN if it never does."""
    above = np.nonzero(g >= level)[0]
    if above.size == 0:
        return math.nan
    j = int(above[0])
    if j == 0:
        return float(u[0])
    return float(u[j - 1] + (level - g[j - 1]) / (g[j] - g[j - 1]) * (u[j] - u[j - 1]))


def sweep_physics(sizes, times, Ls: np.ndarray, n_grid: int = 32) -> dict[str, float]:
    """The DMFT theory's finite-size signatures of a sweep, read off the observed window.

    Everything is a slope, a log-ratio of losses at one time, or a log-time difference, so an
    amplitude and a time scale shared by the sweep cancel (docs/theory/dmft.rst sections 5-6):

    - local slopes of log L per size (widest, second and third widest, narrowest) over the middle
      and last third of the window, at its end and start (the start carries the time scale: the
      curve bends where the first mode is learned, t ~ 1 in model units), the steepest slope;
    - log-gaps log(L_n / L_widest): their end value and growth exponent (early width correction
      grows ~ t/N; a plateau stops it);
    - difference curves D_i = L_{n_i} - L_{n_i+1}: growth exponents, the local width exponent
      kappa = log(D_i / D_i+1) / log(n_i+1 / n_i) (1 early, min(a-1, b) late), a collapse
      log D_i+1(u) = log D_i(u - b log(n_i+2/n_i+1)) - c (its b and c per log-size; degenerate,
      hence uninformative, wherever D is a pure power law of t, which is the usual case in an
      early window: on DMFT sweeps its b does not correlate with the true b);
    - crossing times: the log-time at which a size's log-gap reaches 1%, 5%, 20% minus log n,
      and the slope of the crossing log-time against log n (t_x ~ n^b: this slope reads b);
    - the size-exponent of L and D at the end, middle and start (plateau ~ n^-min(a-1, b));
    - the slope of the Richardson-extrapolated infinite-size curve and of the widest curve over
      the window where the two widest still agree within 2% (both read r = (a-1)/b).

    Parameters
    ----------
    sizes : array (n_sizes,), increasing
    times : array (n_steps,), the shared observed times
    Ls : array (n_sizes, n_steps), the observed losses
    n_grid : int, points of the log-uniform time grid

    Returns
    -------
    dict of 70 named floats (NaN where a quantity is undefined, e.g. a gap never reached)
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    keep = t > 0
    lt = np.log(t[keep])
    Ls = np.array([positive(L) for L in np.asarray(Ls, dtype=np.float64)[:, keep]])
    u = np.linspace(lt[0], lt[-1], n_grid)
    Y = np.array([np.interp(u, lt, np.log(L)) for L in Ls])  # (n_sizes, n_grid)
    S = np.gradient(Y, u, axis=1) if u[-1] > u[0] else np.zeros_like(Y)
    n = len(sizes)
    span = u[-1] - u[0]
    last = u >= u[0] + span * 2 / 3
    mid = (u >= u[0] + span / 3) & ~last
    out: dict[str, float] = {}
    for k, i in (("w0", n - 1), ("w1", n - 2), ("w2", n - 3), ("nar", 0)):
        out[f"ph_slope_last_{k}"] = _fit_slope(u[last], Y[i, last])
        out[f"ph_slope_mid_{k}"] = _fit_slope(u[mid], Y[i, mid])
        out[f"ph_slope_end_{k}"] = float(S[i, -1])
    for k, i in (("w1", n - 2), ("w2", n - 3), ("nar", 0)):
        lg = np.log(np.maximum(Y[i] - Y[-1], 1e-12))
        out[f"ph_loggap_end_{k}"] = float(lg[-1])
        out[f"ph_loggap_growth_{k}"] = _fit_slope(u[last], lg[last])
        out[f"ph_loggap_growth_mid_{k}"] = _fit_slope(u[mid], lg[mid])
    L = np.exp(Y)
    D = L[:-1] - L[1:]
    lr = np.log(sizes[1:] / sizes[:-1])
    logD = np.log(np.maximum(D, _TINY))
    for k, i in (("w", n - 2), ("nar", 0)):
        out[f"ph_Dgrowth_last_{k}"] = _fit_slope(u[last], logD[i, last])
        out[f"ph_Dgrowth_mid_{k}"] = _fit_slope(u[mid], logD[i, mid])
        out[f"ph_Drel_end_{k}"] = float(logD[i, -1] - Y[i + 1, -1])
    for k, i in (("w", n - 3), ("nar", 0)):
        kappa = (logD[i] - logD[i + 1]) / lr[i]
        out[f"ph_kappa_end_{k}"] = float(np.mean(kappa[last]))
        out[f"ph_kappa_mid_{k}"] = float(np.mean(kappa[mid]))
        out[f"ph_kappa_start_{k}"] = float(kappa[0])
    bs, cs, errs = [], [], []
    for i in range(n - 2):
        best = (math.inf, math.nan, math.nan)
        for b in np.linspace(0.5, 3.0, 51):
            shift = b * lr[i + 1]
            ok = u - shift >= u[0]
            if ok.sum() < 4:
                continue
            moved = np.interp(u[ok] - shift, u, logD[i])
            c = float(np.mean(moved - logD[i + 1, ok]))
            err = float(np.mean((moved - c - logD[i + 1, ok]) ** 2))
            if err < best[0]:
                best = (err, b, c / lr[i + 1])
        errs.append(best[0])
        bs.append(best[1])
        cs.append(best[2])
    fin = np.isfinite(bs)
    out["ph_collapse_b"] = float(np.median(np.asarray(bs)[fin])) if fin.any() else math.nan
    out["ph_collapse_m"] = float(np.median(np.asarray(cs)[fin])) if fin.any() else math.nan
    out["ph_collapse_err"] = float(np.log(max(min(errs), 1e-12))) if fin.any() else math.nan
    out["ph_LvsN_end"] = _fit_slope(np.log(sizes), Y[:, -1])
    for k, j in (("end", -1), ("mid", n_grid // 2), ("start", 0)):
        out[f"ph_DvsN_{k}"] = _fit_slope(np.log(sizes[:-1]), logD[:, j])
    r = -out["ph_slope_last_w0"]
    out["ph_a_from_ph_collapse_b"] = 1.0 + r * out["ph_collapse_b"]
    out["ph_r_times_mD"] = r * -out["ph_DvsN_end"]
    out["ph_slope_start_w0"] = float(S[-1, 0])
    out["ph_slope_q1_w0"] = float(S[-1, n_grid // 8])
    out["ph_min_slope_w0"] = float(S[-1].min())
    out["ph_u_min_slope_w0"] = float(u[np.argmin(S[-1])] - u[0])
    for lev in (0.01, 0.05, 0.2):
        for k, i in (("nar", 0), ("w1", n - 2)):
            c = first_crossing(u, Y[i] - Y[-1], lev)
            # never reached: one log-unit past the window's end (a censored value, flagged)
            out[f"ph_ucross_{lev}_{k}"] = ((c - u[0]) if np.isfinite(c) else span + 1.0) - math.log(sizes[i])
            out[f"ph_crossed_{lev}_{k}"] = float(np.isfinite(c))
    for k, i in (("nar", 0), ("w1", n - 2)):
        out[f"ph_flat_{k}"] = float(S[i, -1] / min(S[-1, -1], -1e-3))
    for lev in (0.02, 0.1):
        cr = np.array([first_crossing(u, Y[i] - Y[-1], lev) for i in range(n - 1)])
        ok = np.isfinite(cr)
        out[f"ph_cross_slope_{lev}"] = _fit_slope(np.log(sizes[:-1])[ok], cr[ok]) if ok.sum() >= 2 else math.nan
        out[f"ph_cross_n_{lev}"] = float(ok.sum())
    ext = np.log(extrapolated_curve(sizes, L))
    out["ph_ext_slope_last"] = _fit_slope(u[last], ext[last])
    out["ph_ext_slope_mid"] = _fit_slope(u[mid], ext[mid])
    out["ph_ext_slope_min"] = float(np.gradient(ext, u).min()) if span > 0 else 0.0
    idx = np.nonzero((Y[-2] - Y[-1]) < 0.02)[0]
    if idx.size >= 4:
        j = idx[idx.size // 2:]
        out["ph_clean_slope"] = _fit_slope(u[j], Y[-1, j])
        out["ph_clean_min"] = float(S[-1, idx].min())
        out["ph_clean_len"] = float(u[idx[-1]] - u[0])
    else:
        out["ph_clean_slope"] = out["ph_ext_slope_last"]
        out["ph_clean_min"] = out["ph_min_slope_w0"]
        out["ph_clean_len"] = 0.0
    return out


def sweep_baseline(sizes, trajectories, kind: str, channel: str = "test_loss") -> dict[str, float]:
    """Plateau-vs-size fit, early 1/N check, the time exponent of the size-extrapolated curve (and of
    the largest size), the (a, b) they imply, and the finite-size signatures of
    :func:`sweep_physics`."""
    sizes = np.asarray(sizes, dtype=np.float64)
    big = trajectories[-1]
    base = curve_baseline(big.times, big.channel(channel), prefix="big_")
    Ls = np.array([positive(t.channel(channel)) for t in trajectories])  # (n_sizes, n_steps), one grid
    out = dict(base)
    out.update(curve_baseline(big.times, extrapolated_curve(sizes, Ls), prefix="ext_"))
    m_end = sizes_exponent(sizes, Ls[:, -1])
    m_mid = sizes_exponent(sizes, Ls[:, Ls.shape[1] // 2])
    i0 = int(np.argmax(big.times > 0))
    m_early = sizes_exponent(sizes, Ls[:, i0])
    r = -out["ext_slope_late"]
    out.update({"m_end": m_end, "m_mid": m_mid, "m_early": m_early,
                "plateau_slope": float(np.polyfit(np.log(sizes), np.log(Ls[:, -1]), 1)[0])})
    a1, b1 = invert_exponents(r, m_end, kind)
    a2, b2 = invert_exponents(out["ext_power_law_r"], m_end, kind)
    out.update({"implied_a": a1, "implied_b": b1, "implied_a_fit": a2, "implied_b_fit": b2})
    out.update(sweep_physics(sizes, big.times, Ls))
    return out


def sweep_topology(sizes, trajectories, n_points: int = 32, channel: str = "test_loss") -> dict[str, float]:
    """Topology of a sweep: the widest curve's topology, Rips H0/H1 of the stacked (log n, u, y)
    surface, and lower-star summaries of the log-gaps log(L_n / L_largest) along time."""
    sizes = np.asarray(sizes, dtype=np.float64)
    big = trajectories[-1]
    out = curve_topology(big.times, big.channel(channel), n_points, prefix="big_")
    yb = log_curve(big.times, big.channel(channel), n_points)[1]
    pts, rows = [], []
    ln = np.log(sizes) - np.log(sizes[0])
    for n, t in zip(ln, trajectories):
        u, y, _ = log_curve(t.times, t.channel(channel), n_points)
        pts.append(np.column_stack([np.full(n_points, n), u, y]))
        gap = (y + np.log(positive(t.channel(channel)))[0]) - (yb + np.log(positive(big.channel(channel)))[0])
        rows.append(diagram_summary(lower_star_diagram(-gap), 0))
    rips = rips_diagram(np.vstack(pts), maxdim=1)
    out.update(_summary("sweep_", rips, 0))
    out.update(_summary("sweep_", rips, 1))
    for k, v in zip(SUMMARY_KEYS, np.mean(rows[:-1], axis=0)):
        out[f"gap_star_{k}"] = float(v)
    return out


# -- dispatch -------------------------------------------------------------------------------------
def item_features(item, input_type: str, features: str, n_points: int = 48, channel: str = "test_loss") -> dict:
    """Feature dict of one observed item. ``item`` is a Trajectory, or (sizes, trajectories) for sweeps."""
    out: dict[str, float] = {}
    topo = features in ("topology", "both")
    base = features in ("baseline", "both")
    if input_type in SWEEP_TYPES:
        sizes, trajs = item
        if topo:
            out.update(sweep_topology(sizes, trajs, max(16, n_points * 2 // 3), channel))
        if base:
            out.update(sweep_baseline(sizes, trajs, input_type, channel))
        return out
    t = item.times
    if input_type == "curve":
        if topo:
            out.update(curve_topology(t, item.channel(channel), n_points))
        if base:
            out.update(curve_baseline(t, item.channel(channel)))
    elif input_type == "pair":
        L, Lh = positive(item.channel("test_loss")), positive(item.channel("train_loss"))
        gap = (L - Lh) / L
        if topo:
            out.update(curve_topology(t, L, n_points, prefix="test_"))
            out.update(curve_topology(t, Lh, n_points, prefix="train_"))
            out.update(_summary("gap_", lower_star_diagram(-resample_path(t, gap[:, None], n_points)[1][:, 0]), 0))
        if base:
            out.update(curve_baseline(t, L, prefix="test_"))
            out.update(curve_baseline(t, Lh, prefix="train_"))
            out.update({"gap_last": float(gap[-1]), "gap_max": float(gap.max())})
    elif input_type == "order_parameters":
        names, _ = mode_numbers(item)
        if topo:
            out.update(path_topology(t, item.select(names).values, n_points, prefix="modes_"))
            if item.has_channel(channel):
                out.update(curve_topology(t, item.channel(channel), n_points, prefix="loss_"))
        if base:
            out.update(order_parameter_baseline(item, channel))
    elif input_type == "weights":
        X = item.select(item.channels_with_prefix("proj_")).values
        if topo:
            out.update(path_topology(t, X, n_points, prefix="w_"))
        if base:
            out.update(weight_baseline(t, X))
    else:  # pragma: no cover - checked by the caller
        raise ValueError(f"input_type must be one of {list(INPUT_TYPES)}, got {input_type!r}")
    return out


def direct_estimate(item, input_type: str, channel: str = "test_loss") -> np.ndarray:
    """Untrained estimate of the targets, shape (1,) (r) or (2,) (a, b).

    curve, pair: minus the whole-window log-log slope of the loss; weights: r from the speed,
    ``|dw/dt| ~ t^-(r+1)/2`` for the DMFT residual path; order_parameters: (a, b) from the relaxation
    fit and the late loss slope; sweeps: (a, b) implied by (r, m) of :func:`sweep_baseline`.
    """
    if input_type in ("curve", "pair"):
        traj = item
        return np.array([-loglog_slope(traj.times, positive(traj.channel(channel))).slope])
    if input_type == "weights":
        t, _, _, speed = _path_norms(item.times, item.select(item.channels_with_prefix("proj_")).values)
        return np.array([-2.0 * loglog_slope(np.sqrt(t[1:] * t[:-1]), speed).slope - 1.0])
    if input_type == "order_parameters":
        f = order_parameter_baseline(item, channel)
        return np.array([f.get("modes_a_from_slope", math.nan), f["modes_b"]])
    sizes, trajs = item
    f = sweep_baseline(sizes, trajs, input_type, channel)
    return np.array([f["implied_a"], f["implied_b"]])
