"""`toptraj demo`: scaling exponents from the first part of training, on DMFT runs.

The job, end to end (the study's protocol, docs/theory/study.rst):

1. One loss curve: DMFT theory curves (the random-feature model of arXiv:2402.01092) at (a, b)
   drawn from wide priors, each with a random amplitude (x0.1-10) and time scale (x0.3-3), so
   nothing can be read off the normalisation. From one curve only r = (a-1)/b is identifiable.
   Every method (topology, baseline, both, the time-shuffled null, the untrained direct fit, the
   training mean) is trained on one parameter draw and scored on an independent one, on the first
   ``fraction`` of steps and of log-time.
2. A width sweep (4 widths of one task): a and b separately, by the predictor shipped with the
   package and by the direct inversion of the plateau-vs-width and time exponents.
3. Tables on stdout, progress on stderr, report.json (numbers, config, provenance) and figures.

``--quick`` is the seconds-long version used in tests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from toptraj import provenance
from toptraj.io import atomic_write_text, dumps_strict
from toptraj.validation import check_choice, check_fraction, check_seed

_NAMES = {"topology": "topology (ridge)", "baseline": "baseline (ridge)", "both": "topology + baseline",
          "null": "null (time-shuffled)", "direct": "direct fit (untrained)", "mean": "training mean"}


def _say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def _fmt(x, digits=4) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _curve_table(rows: dict) -> str:
    lines = [f"{'method':<24} {'MAE':>8} {'median rel':>11} {'within 5%':>10} {'coverage':>9}", "-" * 66]
    for m, r in rows.items():
        cov = r.get("coverage")
        lines.append(f"{_NAMES.get(m, m):<24} {_fmt(r['mae']):>8} {_fmt(r['median_rel'], 3):>11} "
                     f"{100 * r['within_5pct']:>9.0f}% {'-' if cov is None else f'{100 * cov:.0f}%':>9}")
    return "\n".join(lines)


def _sweep_table(ws: dict) -> str:
    lines = [f"{'method':<24} {'MAE a':>8} {'MAE b':>8} {'cov. a':>7} {'cov. b':>7}", "-" * 58]
    for m in ("shipped", "direct"):
        ra, rb = ws[m]["a"], ws[m]["b"]
        ca, cb = ra.get("coverage"), rb.get("coverage")
        name = "shipped predictor" if m == "shipped" else "direct inversion"
        lines.append(f"{name:<24} {_fmt(ra['mae']):>8} {_fmt(rb['mae']):>8} "
                     f"{'-' if ca is None else f'{100 * ca:.0f}%':>7} {'-' if cb is None else f'{100 * cb:.0f}%':>7}")
    return "\n".join(lines)


OUTPUT_FILES = ("report.json", "loss_curves.png", "predicted_vs_true.png", "width_sweep.png")


def free_output_folder(out: str | Path, overwrite: bool = False) -> Path:
    """The folder the demo writes into: ``out``, or, when ``out`` holds an earlier demo's outputs and
    ``overwrite`` is False, the first free sibling ``out-2``, ``out-3``, ... (nothing is replaced).

    Raises InputError when ``out`` (or the chosen sibling) exists and is not a folder.
    """
    from toptraj.exceptions import InputError

    base = Path(out)

    def taken(p: Path) -> bool:
        if p.exists() and not p.is_dir():
            raise InputError(f"--out {p}: exists and is not a folder; give a folder path")
        return p.is_dir() and any((p / f).exists() for f in OUTPUT_FILES)

    if overwrite or not taken(base):
        return base
    k = 2
    while taken(base.with_name(f"{base.name}-{k}")):
        k += 1
    return base.with_name(f"{base.name}-{k}")


def run_demo(out: str | Path = "out/demo", quick: bool = False, seed: int = 0, fraction: float = 0.2,
             scale: str = "linear", overwrite: bool = False) -> int:
    """Run the demo (see the module docstring); returns the exit status 0.

    Parameters
    ----------
    out : path
        Folder for report.json and the figures (created). If it holds an earlier demo's outputs they
        are kept and the demo writes into the first free ``out-2``, ``out-3``, ... instead (it says so),
        unless ``overwrite`` is True.
    quick : bool
        16 training / 10 held-out curves and 2 sweeps instead of 60 / 40 and 6.
    seed : int >= 0
        Master seed: same seed, same numbers.
    fraction : float in (0, 1]
        Share of each run observed.
    scale : {"linear", "log"}
        The axis of the headline table (both are always computed and reported).
    overwrite : bool
        Replace an earlier demo's outputs in ``out`` instead of writing next to them.
    """
    fraction = check_fraction("--fraction", fraction)
    check_choice("--scale", scale, ("linear", "log"))
    seed = check_seed("--seed", seed, allow_none=False)
    from toptraj.exponent_eval import demo_dmft

    chosen = free_output_folder(out, overwrite)
    if chosen != Path(out):
        _say(f"{out} holds an earlier demo's outputs (kept); writing to {chosen} (--overwrite replaces them)")
    out = chosen
    out.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    res = demo_dmft(quick=quick, seed=seed, fraction=fraction, progress=_say)
    cpu = time.process_time() - c0

    order = (scale, "log" if scale == "linear" else "linear")
    for sc in order:
        axis = "steps" if sc == "linear" else "log-time"
        print(f"\nr = (a-1)/b from one loss curve, first {fraction:.0%} of {axis}; "
              f"{res['config']['n_test']} held-out DMFT curves from an independent parameter draw")
        print(_curve_table(res["curve"][sc]))
    ws = res["width_sweep"]
    print(f"\na and b from a width sweep (4 widths, first {ws['fraction']:.0%} of {ws['scale']} steps); "
          f"{len(ws['true'])} held-out sweeps")
    print(_sweep_table(ws))

    examples = res.pop("examples")
    report = {"task": "scaling exponents from early training on DMFT runs (toptraj demo)", **res,
              "cpu_seconds_total": round(cpu, 2), "provenance": provenance.collect()}
    atomic_write_text(out / "report.json", dumps_strict(report, indent=1))
    _say("writing figures")
    _figures(res, examples, fraction, scale, out)
    print(f"\nwrote {out / 'report.json'} and figures in {out} ({cpu:.1f} CPU s, {time.perf_counter() - t0:.1f} s)")
    return 0


def _figures(res: dict, examples, fraction: float, scale: str, out: Path) -> None:
    from toptraj import plotting
    from toptraj.trajectory import TrajectorySet

    fig, axes = plotting.new_axes(2)
    plotting.plot_loss_curves(TrajectorySet(list(examples)), ax=axes[0])
    axes[0].set_title("held-out DMFT loss curves (random amplitude and time scale)", fontsize=9)
    cut = examples[0].truncate(fraction, scale).times[-1]
    plotting.plot_loss_curves(TrajectorySet([examples[0]]), ax=axes[1], cut=cut)
    axes[1].set_title(f"observed part: first {fraction:.0%} ({scale})", fontsize=9)
    plotting.save_figure(fig, out / "loss_curves.png")

    y = np.asarray(res["y_test"])
    preds = res["curve_predictions"][scale]
    names = [m for m in preds if m != "mean"]
    fig, axes = plotting.new_axes(3, (len(names) + 2) // 3)
    for ax, m in zip(axes, names):
        r = res["curve"][scale][m]
        plotting.plot_predicted_vs_true(y, np.asarray(preds[m], dtype=float), ax=ax,
                                        title=f"{_NAMES.get(m, m)}: MAE {r['mae']:.3f}")
    for ax in list(axes)[len(names):]:
        ax.set_visible(False)  # the grid has more panels than methods
    plotting.save_figure(fig, out / "predicted_vs_true.png")

    ws = res["width_sweep"]
    true, pred, iv = np.asarray(ws["true"]), np.asarray(ws["predicted"]), np.asarray(ws["interval"])
    fig, axes = plotting.new_axes(2)
    for j, (ax, name) in enumerate(zip(axes, ("a", "b"))):
        ax.errorbar(true[:, j], pred[:, j], yerr=[pred[:, j] - iv[:, j, 0], iv[:, j, 1] - pred[:, j]], fmt="o", ms=4)
        lo, hi = float(min(true[:, j].min(), iv[:, j, 0].min())), float(max(true[:, j].max(), iv[:, j, 1].max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name} (90% interval)")
        ax.set_title(f"width sweep: {name}, MAE {ws['shipped'][name]['mae']:.3f}", fontsize=9)
    plotting.save_figure(fig, out / "width_sweep.png")
