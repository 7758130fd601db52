"""Measured ground truth of real-network sweeps, with seed-bootstrap intervals and stated rules.

Every quantity is measured from the seed-mean curves of a width sweep (runs of one config at
several widths and seeds) by a deterministic rule, and its interval comes from resampling the
seeds of each width with replacement (``n_boot`` draws from ``boot_seed``; percentile interval,
nominal ``level`` = 0.9 as in the study's metrics). Rules (see docs/theory/networks.rst):

* **Time exponent** r of L(t) ~ t^-r, per width, for the test and the train loss: least-squares
  slope of log L vs log t on the record steps whose log-time fraction u = log(t/t0)/log(T/t0)
  satisfies u >= ``START`` (0.3, past the initial transient) and, for the test loss, t <= the
  step of the minimum of the seed-mean test loss (after it the test loss is dominated by
  overfitting, not by a power law). At least ``MIN_POINTS`` (5) steps, else not determinable.
  The run's ``time_exponent`` label is the test-loss exponent of its width; the train-loss
  exponent, the drift (slope on the first vs second half of the window) and the interval are
  in the truth record.
* **Plateau width exponent** m (label ``model_exponent``): the plateau of width N is the
  seed-mean loss averaged over the records with u >= ``PLATEAU_START`` (0.9); it is fitted by
  L(N) = L_inf + B N^-m (L_inf >= 0, B > 0, m in [``M_MIN``, ``M_MAX``]; relative least squares,
  grid over m, closed form in L_inf and B). Needs >= 4 widths; a fit at a bound of m is reported
  as not determinable.
* **L(t, inf)** at every record step: the same three-parameter fit across widths, per step;
  NaN (not determinable) where m lands on a grid end or L_inf on its bound 0.
* **t_x** (per width N with 2N swept): the label definition of :mod:`toptraj.transitions`
  (kappa_N(t) = -log2(dL(t, 2N) / dL(t, N)) crosses (1 + m_late) / 2, m_late = the plateau
  width exponent), with dL(t, N) = L(t, N) - L(t, inf) from the extrapolated L(t, inf).
* **t_x (widest reference)**: the previous definition with the widest run standing in for
  N = inf, kept for comparison (``t_x_widest_reference`` in the truth record).
* **t_of** per run: :func:`toptraj.transitions.overfitting_onset` on the run's own full
  train/test pair; per width the same on the seed-mean pair, with a seed-bootstrap interval.

Each measurement is a :class:`Measured` (value, lo, hi, level, rule, reason when not
determinable). :func:`label_sweep` writes the point values as labels of every run and the full
records into ``provenance["truth"]``; :func:`measured_sweep` trains (resumable) and stores the
labelled runs and a ``truth.json``, so a resumed sweep gives the same labels.

Cost: O(n_boot n_widths n_steps n_mgrid) flops for the sweep-level fits (n_mgrid = 200);
milliseconds to a few seconds for a sweep of 5 widths x 3 seeds x 40 records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from toptraj.trajectory import Trajectory, TrajectorySet, jsonable
from toptraj.transitions import CROSSOVER_MIN_CONTRAST, local_width_exponent, overfitting_onset, width_crossover_time
from toptraj.validation import check_choice, check_number, check_seed

__all__ = [
    "Measured", "START", "MIN_POINTS", "PLATEAU_START", "LEVEL", "time_exponent_window", "fit_time_exponent",
    "fit_width_power_law", "extrapolate_infinite_width", "measure_sweep", "label_sweep", "measured_sweep",
    "TRUTH_FORMAT",
]

START = 0.3
MIN_POINTS = 5
PLATEAU_START = 0.9
LEVEL = 0.9
M_MIN, M_MAX = 0.02, 4.0
_M_GRID = np.geomspace(M_MIN, M_MAX, 200)
TRUTH_FORMAT = "toptraj.network.truth/1"

RULES = {
    "time_exponent": (
        f"slope of log L vs log t over records with log-time fraction >= {START} (and, for test loss, "
        f"t <= argmin of the seed-mean test loss); >= {MIN_POINTS} records"
    ),
    "model_exponent": (
        f"L(N) = L_inf + B N^-m fitted to the plateau (seed-mean loss averaged over log-time fraction "
        f">= {PLATEAU_START}) of >= 4 widths; relative least squares, m in [{M_MIN}, {M_MAX}] on a 200-point grid"
    ),
    "t_x": (
        "first t where kappa_N(t) = -log2(dL(t,2N)/dL(t,N)) crosses (1 + m_late)/2, dL = L(t,N) - L(t,inf), "
        "L(t,inf) from the per-step fit L_inf + B N^-m across widths, m_late = model_exponent "
        f"(undefined if |m_late - 1| < {CROSSOVER_MIN_CONTRAST})"
    ),
    "t_of": "first t where (L_test - L_train)/L_test reaches 0.1 (toptraj.transitions.overfitting_onset)",
}


@dataclass(frozen=True)
class Measured:
    """One measured quantity: point value (all seeds), percentile interval over seed resamples.

    value : float (NaN when not determinable); lo, hi : interval ends (NaN when the point value is
    NaN or fewer than half of the resamples were determinable); level : nominal coverage;
    rule : how it was measured; reason : why not determinable (None otherwise); n_boot : resamples;
    determinable_share : share of resamples that gave a finite value.
    """

    value: float
    lo: float
    hi: float
    level: float
    rule: str
    reason: str | None = None
    n_boot: int = 0
    determinable_share: float = math.nan

    def to_dict(self) -> dict:
        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> Measured:
        f = lambda v: float(v) if v is not None else math.nan  # noqa: E731
        return cls(f(d["value"]), f(d["lo"]), f(d["hi"]), float(d["level"]), d["rule"], d.get("reason"),
                   int(d.get("n_boot", 0)), f(d.get("determinable_share")))


def _log_fraction(times: np.ndarray) -> np.ndarray:
    lt = np.log(times)
    return (lt - lt[0]) / (lt[-1] - lt[0])


def time_exponent_window(times, loss, *, stop_at_min: bool) -> tuple[np.ndarray, str | None]:
    """Mask of the fit window of the time-exponent rule and the reason if it is too short.

    times : (n,) increasing positive steps; loss : (n,) seed-mean loss.
    stop_at_min : end the window at the minimum of ``loss`` (test loss).
    Returns (mask (n,) bool, reason or None).
    """
    t = np.asarray(times, float)
    y = np.asarray(loss, float)
    if t.shape != y.shape or t.ndim != 1 or t.size < 2:
        raise ValueError(f"times and loss must be 1-D arrays of the same length >= 2, got {t.shape} and {y.shape}")
    keep = (_log_fraction(t) >= START - 1e-12) & np.isfinite(y) & (y > 0)
    if stop_at_min:
        keep &= t <= t[int(np.nanargmin(y))]
    if keep.sum() < MIN_POINTS:
        where = f"t in [{t[_log_fraction(t) >= START - 1e-12][0]:.0f}, {t[int(np.nanargmin(y))]:.0f}]" if stop_at_min else ""
        return keep, (f"fewer than {MIN_POINTS} records in the fit window {where}".strip()
                      + (" (the test loss reaches its minimum early: overfitting)" if stop_at_min else ""))
    return keep, None


def fit_time_exponent(times, loss, *, stop_at_min: bool) -> tuple[float, float, str | None]:
    """r of L ~ t^-r by the module's rule; also the drift (r on the 2nd half minus r on the 1st half).

    Returns (r, drift, reason): NaN and a reason when the window is too short.
    """
    t, y = np.asarray(times, float), np.asarray(loss, float)
    keep, reason = time_exponent_window(t, y, stop_at_min=stop_at_min)
    if reason:
        return math.nan, math.nan, reason
    lt, ly = np.log(t[keep]), np.log(y[keep])
    r = float(-np.polyfit(lt, ly, 1)[0])
    half = len(lt) // 2
    drift = math.nan
    if half >= 2 and len(lt) - half >= 2:
        drift = float(-np.polyfit(lt[half:], ly[half:], 1)[0] + np.polyfit(lt[: half + 1], ly[: half + 1], 1)[0])
    return r, drift, None


def fit_width_power_law(widths, values) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit L(N) = L_inf + B N^-m across widths, independently for each column.

    widths : (n_w,) increasing; values : (n_w,) or (n_w, n_t) positive losses.
    Relative least squares sum_N ((L - L_inf - B N^-m) / L)^2, minimised in closed form over
    (L_inf, B) for each m of a 200-point log grid in [M_MIN, M_MAX], constrained to L_inf >= 0 and
    B > 0 (columns with no admissible m get NaN).

    Returns (L_inf, B, m, at_bound), each of shape (n_t,) (or scalars for 1-D input, as 0-d arrays);
    at_bound is True where the best m is the first or last grid value.
    """
    n = np.asarray(widths, float)
    v = np.asarray(values, float)
    one_d = v.ndim == 1
    if one_d:
        v = v[:, None]
    if v.shape[0] != n.size or n.size < 3:
        raise ValueError(f"values must have one row per width (>= 3 widths), got {v.shape} for {n.size} widths")
    w = 1.0 / v  # relative residuals: weight 1/L
    best = np.full(v.shape[1], np.inf)
    out = np.full((3, v.shape[1]), np.nan)
    idx = np.full(v.shape[1], -1)
    for j, m in enumerate(_M_GRID):
        x = n**-m  # (n_w,)
        # weighted normal equations for y = c + B x, weights w^2, per column
        w2 = w**2
        s0, s1 = w2.sum(0), (w2 * x[:, None]).sum(0)
        s2 = (w2 * x[:, None] ** 2).sum(0)
        sy, sxy = (w2 * v).sum(0), (w2 * x[:, None] * v).sum(0)
        det = s0 * s2 - s1**2
        with np.errstate(invalid="ignore", divide="ignore"):
            b = (s0 * sxy - s1 * sy) / det
            c = (sy - b * s1) / s0
        ok = np.isfinite(b) & (b > 0) & (c >= 0)
        # with c < 0 the constrained optimum sits on c = 0: B alone
        b0 = sxy / s2
        cost_free = ((w * (v - c - b * x[:, None])) ** 2).sum(0)
        cost_zero = ((w * (v - b0 * x[:, None])) ** 2).sum(0)
        use_zero = ~ok & (b0 > 0)
        cost = np.where(ok, cost_free, np.where(use_zero, cost_zero, np.inf))
        better = cost < best
        best = np.where(better, cost, best)
        out[0] = np.where(better, np.where(ok, c, 0.0), out[0])
        out[1] = np.where(better, np.where(ok, b, b0), out[1])
        out[2] = np.where(better, m, out[2])
        idx = np.where(better, j, idx)
    at_bound = (idx == 0) | (idx == len(_M_GRID) - 1)
    res = (out[0], out[1], out[2], at_bound)
    return tuple(r[0] for r in res) if one_d else res


def extrapolate_infinite_width(widths, curves) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L(t, inf) per record step from a width sweep. curves : (n_w, n_t) seed-mean losses.

    Returns (L_inf (n_t,), m (n_t,), at_bound (n_t,)).
    """
    L_inf, _, m, at_bound = fit_width_power_law(widths, curves)
    return L_inf, m, at_bound


# -- bootstrap -----------------------------------------------------------------------------------
def _boot_means(curves: dict[int, np.ndarray], n_boot: int, seed: int) -> list[dict[int, np.ndarray]]:
    """Seed-resampled means: for each draw and width, the mean of n_seeds curves drawn with replacement."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        draws.append({w: c[rng.integers(0, c.shape[0], c.shape[0])].mean(0) for w, c in curves.items()})
    return draws


def _measured(point: float, reason: str | None, boot: Sequence[float], rule: str) -> Measured:
    vals = np.asarray(boot, float)
    finite = vals[np.isfinite(vals)]
    share = float(finite.size / vals.size) if vals.size else math.nan
    if not math.isfinite(point) or finite.size < max(1, vals.size // 2):
        lo = hi = math.nan
    else:
        a = (1 - LEVEL) / 2
        lo, hi = (float(q) for q in np.quantile(finite, [a, 1 - a]))
    return Measured(float(point), lo, hi, LEVEL, rule, reason if not math.isfinite(point) else None, len(vals), share)


def _plateau(times: np.ndarray, curve: np.ndarray) -> float:
    return float(np.mean(curve[_log_fraction(times) >= PLATEAU_START - 1e-12]))


def _sweep_quantities(times, widths, test: dict, train: dict, fits: tuple) -> dict:
    """All sweep-level point values from seed-mean curves (dicts width -> (n_t,)).

    fits : (plateaus (n_w,), plateau fit (L_inf, B, m, at_bound), per-step fit (L_inf, B, m, at_bound))
    precomputed for all draws at once (see :func:`_batched_fits`).
    """
    out: dict = {"time_exponent_test": {}, "time_exponent_train": {}, "drift_test": {}, "drift_train": {},
                 "reasons": {}, "t_of": {}}
    for w in widths:
        r, d, why = fit_time_exponent(times, test[w], stop_at_min=True)
        out["time_exponent_test"][w], out["drift_test"][w] = r, d
        if why:
            out["reasons"][f"time_exponent_test/{w}"] = why
        r, d, why = fit_time_exponent(times, train[w], stop_at_min=False)
        out["time_exponent_train"][w], out["drift_train"][w] = r, d
        if why:
            out["reasons"][f"time_exponent_train/{w}"] = why
        out["t_of"][w] = overfitting_onset(times, train[w], np.maximum(test[w], 1e-300))
    arr = np.array([test[w] for w in widths])
    m_late, reason = math.nan, None
    if len(widths) < 4:
        reason = f"the plateau fit needs >= 4 widths, got {len(widths)}"
    else:
        plateaus, (_, _, m, at_bound), _ = fits
        if not np.isfinite(m) or at_bound:
            reason = f"plateau fit L_inf + B N^-m put m at a bound of [{M_MIN}, {M_MAX}] (plateaus {np.round(plateaus, 4).tolist()})"
        else:
            m_late = float(m)
    out["model_exponent"], out["reasons"]["model_exponent"] = m_late, reason
    t_x: dict = {}
    t_x_ref: dict = {}
    if len(widths) >= 3:
        L_inf, _, _, at_bound = fits[2]
        # a fit with m at a grid end or L_inf pinned at its bound 0 does not determine L(t, inf)
        L_inf = np.where(at_bound | (L_inf <= 0), np.nan, L_inf)
        for i, w in enumerate(widths):
            if 2 * w not in widths:
                continue
            kappa = local_width_exponent(arr[i] - L_inf, arr[widths.index(2 * w)] - L_inf)
            if not math.isfinite(m_late):
                t_x[w], why = math.nan, f"no late width exponent ({reason})"
            elif abs(m_late - 1.0) < CROSSOVER_MIN_CONTRAST:
                t_x[w], why = math.nan, f"|m_late - 1| = {abs(m_late - 1):.3f} < {CROSSOVER_MIN_CONTRAST}: no contrast"
            else:
                t_x[w] = width_crossover_time(times, kappa, m_late)
                why = None if math.isfinite(t_x[w]) else "kappa_N never crosses (1 + m_late)/2 within the run"
                if t_x[w] == times[0]:
                    # the definition returns t0 when kappa starts past the level: no early regime seen
                    t_x[w], why = math.nan, "kappa_N is past (1 + m_late)/2 from the first record: no crossover seen"
                elif t_x[w] >= times[-1]:
                    t_x[w], why = math.nan, "kappa_N reaches (1 + m_late)/2 only at the last record: not inside the run"
            if why:
                out["reasons"][f"t_x/{w}"] = why
            ref = arr[-1]
            if 2 * w < widths[-1]:
                kap = local_width_exponent(arr[i] - ref, arr[widths.index(2 * w)] - ref)
                t_x_ref[w] = width_crossover_time(times, kap, m_late) if math.isfinite(m_late) else math.nan
        out["L_inf"] = L_inf
    else:
        out["reasons"]["t_x"] = "t_x needs >= 3 widths to extrapolate L(t, inf)"
    out["t_x"], out["t_x_widest_reference"] = t_x, t_x_ref
    return out


def _batched_fits(times, widths, draws: list[dict]) -> list[tuple]:
    """Plateau and per-step width fits of many seed-mean sweeps in one vectorised call each."""
    arr = np.array([[d[w] for w in widths] for d in draws])  # (n_draws, n_w, n_t)
    n_d, n_w, n_t = arr.shape
    if n_w < 3:
        return [(None, None, None)] * n_d
    late = _log_fraction(times) >= PLATEAU_START - 1e-12
    plateaus = arr[:, :, late].mean(-1)  # (n_d, n_w)
    pfit = fit_width_power_law(widths, plateaus.T)
    sfit = fit_width_power_law(widths, arr.transpose(1, 0, 2).reshape(n_w, n_d * n_t))
    return [(plateaus[i], tuple(f[i] for f in pfit), tuple(f.reshape(n_d, n_t)[i] for f in sfit)) for i in range(n_d)]


def _group(trajectories: Sequence[Trajectory]) -> tuple[np.ndarray, list[int], dict, dict]:
    by_width: dict[int, list[Trajectory]] = {}
    for t in trajectories:
        by_width.setdefault(int(t.params["width"]), []).append(t)
    widths = sorted(by_width)
    n = min(t.n_steps for t in trajectories)
    times = np.asarray(trajectories[0].times[:n], float)
    for t in trajectories:
        if not np.array_equal(t.times[:n], times):
            raise ValueError("trajectories must share one record grid (same steps and n_record)")
    test = {w: np.array([t.channel("test_loss")[:n] for t in by_width[w]]) for w in widths}
    train = {w: np.array([t.channel("train_loss")[:n] for t in by_width[w]]) for w in widths}
    return times, widths, test, train


def measure_sweep(trajectories: Sequence[Trajectory], *, n_boot: int = 1000, boot_seed: int = 0) -> dict:
    """Measured truth of a width sweep (see the module docstring for every rule).

    Parameters
    ----------
    trajectories : network runs of one config at >= 2 widths (any number of seeds per width),
        on one record grid; runs that stopped early shorten the common grid.
    n_boot : seed resamples for the intervals (>= 10); boot_seed : their seed.

    Returns
    -------
    dict (JSON-ready after :func:`toptraj.trajectory.jsonable`): ``format``, ``widths``, ``seeds``,
    ``times``, ``per_width`` {width: {time_exponent_test, time_exponent_train, t_of, t_x,
    t_x_widest_reference: Measured dicts; drift_test, drift_train: floats}}, ``model_exponent``
    (Measured dict), ``per_run`` {"w{width}_s{seed}": {"t_of": float}}, ``L_inf`` (n_t,) and
    ``rules``.
    """
    runs = list(trajectories)
    if not runs or not all(isinstance(t, Trajectory) for t in runs):
        raise ValueError("trajectories must be a non-empty sequence of Trajectory objects")
    n_boot = check_number("n_boot", n_boot, low=10, integer=True)
    boot_seed = check_seed("boot_seed", boot_seed)
    times, widths, test, train = _group(runs)
    if len(widths) < 2:
        raise ValueError(f"a width sweep needs at least 2 widths, got {widths}")
    # resample the seeds of every width jointly (one draw = one resampled sweep); draw 0 = all seeds
    tests = [{w: c.mean(0) for w, c in test.items()}, *_boot_means(test, n_boot, boot_seed)]
    trains = [{w: c.mean(0) for w, c in train.items()}, *_boot_means(train, n_boot, boot_seed)]
    fits = _batched_fits(times, widths, tests)
    allq = [_sweep_quantities(times, widths, a, b, f) for a, b, f in zip(tests, trains, fits, strict=True)]
    point, boot = allq[0], allq[1:]
    reasons = point["reasons"]
    per_width = {}
    for w in widths:
        rec = {}
        for key, rule in (("time_exponent_test", RULES["time_exponent"]), ("time_exponent_train", RULES["time_exponent"]),
                          ("t_of", RULES["t_of"] + " on the seed-mean pair")):
            why = reasons.get(f"{key}/{w}") or ("the gap ratio never reaches 0.1 within the run" if key == "t_of" else None)
            rec[key] = _measured(point[key][w], why, [b[key][w] for b in boot], rule).to_dict()
        if w in point["t_x"]:
            rec["t_x"] = _measured(point["t_x"][w], reasons.get(f"t_x/{w}"), [b["t_x"].get(w, math.nan) for b in boot],
                                   RULES["t_x"]).to_dict()
        else:
            rec["t_x"] = Measured(math.nan, math.nan, math.nan, LEVEL, RULES["t_x"],
                                  reasons.get("t_x") or f"2N = {2 * w} is not in the sweep").to_dict()
        if w in point["t_x_widest_reference"]:
            rec["t_x_widest_reference"] = _measured(
                point["t_x_widest_reference"][w], "kappa_N never crosses (or no m_late)",
                [b["t_x_widest_reference"].get(w, math.nan) for b in boot],
                "as t_x with the widest run standing in for L(t, inf)").to_dict()
        rec["drift_test"], rec["drift_train"] = point["drift_test"][w], point["drift_train"][w]
        per_width[str(w)] = rec
    model_exp = _measured(point["model_exponent"], reasons.get("model_exponent"),
                          [b["model_exponent"] for b in boot], RULES["model_exponent"])
    per_run = {}
    for t in runs:
        tr, te = t.channel("train_loss"), t.channel("test_loss")
        per_run[f"w{int(t.params['width'])}_s{t.seed}"] = {"t_of": overfitting_onset(t.times, tr, np.maximum(te, 1e-300))}
    seeds = sorted({int(t.seed) for t in runs})
    return jsonable({
        "format": TRUTH_FORMAT, "widths": widths, "seeds": seeds, "n_runs": len(runs), "times": times,
        "per_width": per_width, "model_exponent": model_exp.to_dict(), "per_run": per_run,
        "L_inf": point.get("L_inf", np.full(times.shape, np.nan)), "rules": RULES,
        "bootstrap": {"n_boot": n_boot, "boot_seed": boot_seed, "level": LEVEL,
                      "resampling": "seeds with replacement, independently per width, jointly for all quantities"},
    })


def _f(v) -> float:
    return float(v) if v is not None else math.nan


def label_sweep(trajectories: Sequence[Trajectory], truth: dict | None = None, **kwargs) -> TrajectorySet:
    """The runs with measured labels and ``provenance["truth"]`` (their width's records).

    Labels set: N, P, t_of (the run's own pair), time_exponent (test loss of its width),
    model_exponent, t_x (its width; NaN where not determinable). ``truth`` (from
    :func:`measure_sweep`) is computed when not given; kwargs go to :func:`measure_sweep`.
    """
    runs = list(trajectories)
    truth = truth if truth is not None else measure_sweep(runs, **kwargs)
    out = []
    for t in runs:
        w = str(int(t.params["width"]))
        rec = truth["per_width"][w]
        labels = {**t.labels, "t_of": _f(truth["per_run"][f"w{w}_s{t.seed}"]["t_of"]),
                  "time_exponent": _f(rec["time_exponent_test"]["value"]),
                  "model_exponent": _f(truth["model_exponent"]["value"]), "t_x": _f(rec["t_x"]["value"])}
        record = {"width": rec, "model_exponent": truth["model_exponent"], "rules": truth["rules"],
                  "bootstrap": truth["bootstrap"], "widths": truth["widths"], "seeds": truth["seeds"],
                  "format": TRUTH_FORMAT}
        out.append(replace(t, labels=labels, provenance={**t.provenance, "truth": record}))
    return TrajectorySet(out)


def measured_sweep(
    config,
    widths: Sequence[int],
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    n_boot: int = 1000,
    boot_seed: int = 0,
    num_threads: int = 1,
    progress: Callable[[int], None] | None = None,
    train_fn: Callable | None = None,
) -> tuple[TrajectorySet, dict]:
    """Train (resumably) a width sweep and store every run with its measured labels.

    Writes ``out_dir/_runs/w{W}_s{S}/`` (resumable runs), ``out_dir/runs/run_*.npz`` (labelled
    runs, :func:`toptraj.io.save_set`) and ``out_dir/truth.json``. A rerun (or a resumed, killed
    sweep) reads the finished runs back and recomputes the same labels (the rules and the
    bootstrap are deterministic). ``train_fn`` defaults to :func:`generators.networks.train`.

    Returns (labelled TrajectorySet, truth dict).
    """
    from generators import networks as nw
    from toptraj.io import atomic_write_text, save_set

    if not isinstance(config, nw.TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    widths = [check_number("widths", w, low=1, integer=True) for w in widths]
    if len(widths) < 2 or any(b <= a for a, b in zip(widths, widths[1:], strict=False)):
        raise ValueError(f"widths must be at least 2 strictly increasing positive integers, got {widths}")
    seeds = [check_seed("seeds", s) for s in seeds]
    if not seeds or any(s is None for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds}")
    out = Path(out_dir)
    train_fn = train_fn or nw.train
    runs = []
    for w in widths:
        for s in seeds:
            runs.append(train_fn(replace(config, width=w), s, run_dir=out / "_runs" / f"w{w}_s{s}",
                                 num_threads=num_threads, progress=progress))
    truth = measure_sweep(runs, n_boot=n_boot, boot_seed=boot_seed)
    truth["config"] = jsonable(asdict(config))
    labelled = label_sweep(runs, truth)
    save_set(labelled, out / "runs")
    atomic_write_text(out / "truth.json", json.dumps(truth, indent=1))
    return labelled, truth


def load_truth(path: str | Path) -> dict:
    """Read a ``truth.json`` written by :func:`measured_sweep` (checks the format tag)."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{p}: cannot read a truth record ({type(exc).__name__}: {exc})") from None
    if not isinstance(d, dict) or d.get("format") != TRUTH_FORMAT:
        raise ValueError(f"{p}: not a network truth record (format must be {TRUTH_FORMAT!r})")
    return d


def interval(record: dict, name: str) -> tuple[float, float, float]:
    """(value, lo, hi) of a Measured dict inside a truth record, NaN-restored."""
    check_choice("name", name, tuple(record))
    m = record[name]
    return _f(m["value"]), _f(m["lo"]), _f(m["hi"])
