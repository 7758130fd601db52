"""Sweep analysis of width sweeps: time and width exponents, the labels t_x and t_of, and width_sweep.

Label definitions: docs/theory/dmft.rst section 6 (Bordelon, Atanasov, Pehlevan, arXiv:2402.01092),
implemented in :mod:`toptraj.transitions`; the runs are described in docs/theory/networks.rst.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from generators.networks.config import TrainConfig
from generators.networks.ntk import ntk_at_init
from generators.networks.training import train
from toptraj.trajectory import Trajectory, TrajectorySet
from toptraj.transitions import local_width_exponent
from toptraj.transitions import width_crossover_time as crossover_time
from toptraj.validation import check_number, check_seed


def _log_window(times: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Mask of times whose log-time fraction between times[0] and times[-1] lies in ``window``."""
    lo, hi = window
    if not (0 <= lo < hi <= 1):
        raise ValueError(f"window must be (lo, hi) with 0 <= lo < hi <= 1, got {window!r}")
    u = (np.log(times) - np.log(times[0])) / (np.log(times[-1]) - np.log(times[0]))
    return (u >= lo - 1e-12) & (u <= hi + 1e-12)


def time_exponent_fit(times, loss, window: tuple[float, float] = (0.3, 1.0)) -> float:
    """r of L ~ t^-r: least-squares slope of log L vs log t over a log-time ``window`` (fractions)."""
    t, y = np.asarray(times, float), np.asarray(loss, float)
    keep = _log_window(t, window) & (y > 0)
    if keep.sum() < 3:
        return math.nan
    return float(-np.polyfit(np.log(t[keep]), np.log(y[keep]), 1)[0])


def width_exponent(widths, dl_by_width: np.ndarray, times, window: tuple[float, float]) -> float:
    """Exponent k of dL ~ N^-k: slope of mean log dL over a log-time window vs log N.

    widths : (n_w,); dl_by_width : (n_w, n_times); widths with dL <= 0 anywhere in the window skipped.
    """
    keep_t = _log_window(np.asarray(times, float), window)
    xs, ys = [], []
    for n, dl in zip(widths, np.asarray(dl_by_width, float), strict=True):
        d = dl[keep_t]
        if len(d) and np.all(d > 0):
            xs.append(math.log(n))
            ys.append(float(np.mean(np.log(d))))
    if len(xs) < 2:
        return math.nan
    return float(-np.polyfit(xs, ys, 1)[0])


def sweep_labels(
    trajectories: Sequence[Trajectory],
    *,
    channel: str = "test_loss",
    early: tuple[float, float] = (0.2, 0.45),
    late: tuple[float, float] = (0.8, 1.0),
    time_window: tuple[float, float] = (0.3, 1.0),
) -> dict:
    """Sweep-level ground truth from runs of several widths (seeds averaged per width).

    The widest width stands in for N = inf; dL(t, N) = L(t, N) - L(t, N_max) on the common step
    grid (runs that stopped early shorten it). Returns a dict: time_exponent (widest model's
    ``channel`` over ``time_window``), width_exponent_early/late (over the ``early``/``late``
    log-time windows), t_x per width (kappa_N uses N and 2N; defined when 2N < N_max is swept),
    the windows, the widths and the seed-mean curves (lists, JSON-ready).
    """
    by_width: dict[int, list[Trajectory]] = {}
    for t in trajectories:
        by_width.setdefault(int(t.params["width"]), []).append(t)
    widths = sorted(by_width)
    if len(widths) < 2:
        raise ValueError(f"a width sweep needs at least 2 widths, got {widths}")
    n = min(t.n_steps for t in trajectories)
    times = trajectories[0].times[:n]
    mean = {w: np.mean([t.channel(channel)[:n] for t in by_width[w]], axis=0) for w in widths}
    n_max = widths[-1]
    dl = {w: mean[w] - mean[n_max] for w in widths[:-1]}
    dl_arr = np.array([dl[w] for w in widths[:-1]])
    early_k = width_exponent(widths[:-1], dl_arr, times, early)
    late_k = width_exponent(widths[:-1], dl_arr, times, late)
    t_x = {}
    for w in widths[:-1]:
        if 2 * w in dl:
            t_x[w] = crossover_time(times, local_width_exponent(dl[w], dl[2 * w]), late_k)
        else:
            t_x[w] = math.nan
    return {
        "time_exponent": time_exponent_fit(times, mean[n_max], time_window),
        "width_exponent_early": early_k,
        "width_exponent_late": late_k,
        "t_x": t_x,
        "widths": widths,
        "windows": {"early": list(early), "late": list(late), "time": list(time_window), "channel": channel},
        "times": times.tolist(),
        "mean_curves": {str(w): mean[w].tolist() for w in widths},
    }


def width_sweep(
    config: TrainConfig,
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    out_dir: str | Path | None = None,
    ntk_samples: int = 1000,
    num_threads: int = 1,
    progress: Callable[[int], None] | None = None,
    n_boot: int = 1000,
) -> TrajectorySet:
    """Train ``config`` at every width and seed; attach measured ground truth to every run.

    Parameters
    ----------
    config : TrainConfig (its width is replaced by each of ``widths``)
    widths : increasing positive ints (>= 2); seeds : non-negative ints
    out_dir : folder for resumable runs (one subfolder per width and seed); a killed sweep resumes
    ntk_samples : training samples for the empirical NTK of the widest net at initialisation
        (first seed); 0 skips it (no a, b labels)
    num_threads, progress : as in :func:`train`
    n_boot : seed resamples for the intervals of :func:`generators.networks.truth.measure_sweep`

    Returns
    -------
    TrajectorySet in width-major order. Labels from :mod:`generators.networks.truth` (measured by
    stated rules, intervals in ``provenance["truth"]``): N, P, t_of (the run's own pair),
    time_exponent (test loss of the run's width), model_exponent (plateau width exponent), t_x
    (per width, L(t, inf) extrapolated; NaN with a reason where not determinable); and
    width_exponent_early/late (widest run as the reference), a and b (if ntk_samples > 0). The
    provenance also holds ``sweep`` (windows, fit ranges, NTK summary).
    """
    from generators.networks.truth import label_sweep

    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    widths = [check_number("widths", w, low=1, integer=True) for w in widths]
    if len(widths) < 2 or any(b <= a for a, b in pairwise(widths)):
        raise ValueError(f"widths must be at least 2 strictly increasing positive integers, got {widths}")
    seeds = [check_seed("seeds", s) for s in seeds]
    if not seeds or any(s is None for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds}")
    ntk_samples = check_number("ntk_samples", ntk_samples, low=0, integer=True)
    runs = []
    for w in widths:
        cfg = replace(config, width=w)
        for s in seeds:
            run_dir = None if out_dir is None else Path(out_dir) / f"w{w}_s{s}"
            runs.append(train(cfg, s, run_dir=run_dir, num_threads=num_threads, progress=progress))
    summary = sweep_labels(runs)
    ntk = None
    if ntk_samples:
        ntk = ntk_at_init(replace(config, width=widths[-1]), seeds[0], ntk_samples, num_threads=num_threads)
    shared = {k: summary[k] for k in ("width_exponent_early", "width_exponent_late")}
    if ntk is not None:
        shared.update(a=ntk.a, b=ntk.b)
    sweep_info = {k: summary[k] for k in ("windows", "widths")}
    sweep_info["ntk"] = None if ntk is None else {**ntk.to_dict(), "width": widths[-1], "seed": seeds[0]}
    out = []
    for t in label_sweep(runs, n_boot=n_boot):
        out.append(replace(t, labels={**t.labels, **shared}, provenance={**t.provenance, "sweep": sweep_info}))
    return TrajectorySet(out)


def train_widths(
    config: TrainConfig,
    seeds: Sequence[int] = (0,),
    *,
    widths: Sequence[int] = (16, 32, 64, 128, 256, 512),
    ntk_samples: int = 1000,
    threads: int = 1,
    run_dir: str | Path | None = None,
    progress: Callable[..., None] | None = None,
) -> list[Trajectory]:
    """Train ``config`` at each width and seed: :func:`width_sweep` for two or more widths (with its
    measured labels), one :func:`train` per seed for a single width.

    Parameters
    ----------
    config : TrainConfig
        Its width is replaced by each of ``widths``.
    seeds : sequence of int
    widths : sequence of int
        Strictly increasing positive widths.
    ntk_samples, threads : as ``ntk_samples`` and ``num_threads`` of :func:`width_sweep`
    run_dir : path or None
        Folder of resumable runs (one subfolder ``w{width}_s{seed}`` per run).
    progress : callable or None
        Called as ``progress(0, total=n_steps)`` once, then ``progress(n)`` per n steps trained.

    Returns
    -------
    list of Trajectory, width-major
    """
    widths = [check_number("widths", w, low=1, integer=True) for w in widths]
    seeds = [check_seed("seeds", s) for s in seeds]
    if progress is not None:
        progress(0, total=len(widths) * len(seeds) * config.steps)
    root = None if run_dir is None else Path(run_dir)
    if len(widths) == 1:
        cfg = replace(config, width=widths[0])
        return [
            train(cfg, s, run_dir=None if root is None else root / f"w{widths[0]}_s{s}", num_threads=threads,
                  progress=progress)
            for s in seeds
        ]
    return list(width_sweep(config, widths, seeds, out_dir=root, ntk_samples=ntk_samples, num_threads=threads,
                            progress=progress))
