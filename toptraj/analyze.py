"""`toptraj analyze`: a researcher's own runs — any log format :mod:`toptraj.readers` knows, a
folder of them, stored runs or a sweep store.

For each run: the time exponent r of ``L = L0 + A t^-r`` from a stated fit window with a bootstrap
interval and a curvature check (:mod:`toptraj.fitting`; refusals come with their reason, not a
number), the log-log slope over the window, the local slope d log L / d log t, a topological summary
of the curve, and, when a held-out loss is logged beside the train loss, the overfitting onset
(first step where (test - train) / test reaches 0.1, :func:`toptraj.transitions.overfitting_onset`,
docs/theory/dmft.rst). Sign convention: slopes are d log L / d log t (negative while the loss
falls); r > 0.

Outputs: a table on stdout, and in ``out``: ``summary.json`` (strict JSON: null, never NaN),
``overview.png``, ``runs.png`` and ``report.html`` (one self-contained file with the figures embedded).
A folder that already holds them from an earlier run is refused (exit 2) unless ``--overwrite``.

Exit status: 0 when at least one run was read (bad files in a folder are reported on stderr, one
line each, and skipped); 2 bad input (nothing readable, bad arguments); 3 a numerical failure.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import zipfile
from pathlib import Path

import numpy as np

from toptraj.fitting import NumericalError, fit_exponent, local_slope, log_bin
from toptraj.io import dumps_strict as _dumps_strict
from toptraj.io import strict_json_value

EXIT_OK, EXIT_BAD_INPUT, EXIT_NUMERICAL = 0, 2, 3
#: Runs beyond which progress is shown on stderr.
PROGRESS_MIN = 20
_NUMERIC_ERRORS = (NumericalError, FloatingPointError, OverflowError, ZeroDivisionError, np.linalg.LinAlgError)
_INPUT_ERRORS = (ValueError, KeyError, AttributeError, TypeError, IndexError, RecursionError, UnicodeError,
                 sqlite3.Error, zipfile.BadZipFile, EOFError, MemoryError, OSError)


# -- shared with predict ---------------------------------------------------------------------------
strict_json = strict_json_value  # NaN/inf -> null, numpy -> Python (toptraj.io)


def dumps_strict(obj) -> str:
    """Strict JSON text (``allow_nan=False``), indented for reading."""
    return _dumps_strict(obj, indent=1)


def parse_window(text: str | None) -> tuple[float, float] | None:
    """'TMIN:TMAX' -> (tmin, tmax), 0 < tmin < tmax < inf; None passes through."""
    if text is None:
        return None
    parts = str(text).split(":")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--window {text!r}: must be TMIN:TMAX, e.g. 100:1e4") from None
    if not (0 < lo < hi < math.inf):
        raise ValueError(f"--window {text!r}: need 0 < TMIN < TMAX < inf")
    return lo, hi


def add_common_arguments(p) -> None:
    """Options shared by analyze and predict."""
    p.add_argument("--out", default=None, help="folder for summary.json, figures and report.html")
    p.add_argument("--columns", default=None, help="column mapping override, e.g. train=loss,test=val_loss,step=epoch")
    p.add_argument("--window", default=None, help="fit window TMIN:TMAX in steps (default: later half of the log-time span)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures and the HTML report")
    p.add_argument("--force-size", action="store_true", help="read files above the 1 GiB size guard")
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out")


def add_cli_arguments(p) -> None:
    """Arguments of ``toptraj analyze``."""
    p.add_argument("paths", nargs="+", help="log files (CSV, JSON, TensorBoard events, .npz) or folders")
    add_common_arguments(p)
    p.set_defaults(out="out/analyze")


#: Files analyze and predict write into --out.
OUTPUT_NAMES = ("summary.json", "overview.png", "runs.png", "report.html")


def check_out_free(out, names=OUTPUT_NAMES, overwrite: bool = False) -> None:
    """InputError when ``out`` already holds any of ``names`` and ``overwrite`` is False (nothing is lost)."""
    from toptraj.exceptions import InputError

    if out is None or overwrite:
        return
    held = [n for n in names if (Path(out) / n).exists()]
    if held:
        raise InputError(f"--out {out}: already holds {', '.join(held)} from an earlier run; "
                         "pass --overwrite to replace them, or give another folder")


def fail(command: str, message: str, code: int) -> int:
    """One line on stderr; returns ``code``."""
    print(f"toptraj {command}: error: {' '.join(str(message).split())[:2000]}", file=sys.stderr)
    return code


def read_inputs(paths, columns, command: str, force_size: bool = False):
    """Read every path; returns (logs, list of (file, reason)); InputError when nothing was read."""
    from toptraj.exceptions import InputError
    from toptraj.readers import read_logs

    logs, errors = [], []
    single = len(paths) == 1
    for p in paths:
        try:
            res = read_logs(p, columns=columns, progress=True, force_size=force_size)
        except InputError as exc:
            if single:
                raise
            errors.append((str(p), str(exc)))
            continue
        except _INPUT_ERRORS as exc:  # anything else a hostile file can raise is still bad input
            msg = f"{p}: unreadable ({type(exc).__name__}: {exc})"
            if single:
                raise InputError(msg) from None
            errors.append((str(p), msg))
            continue
        logs += res.logs
        errors += res.errors
    for f, reason in errors:
        print(f"toptraj {command}: skipped {reason if f in reason else f + ': ' + reason}", file=sys.stderr)
    if not logs:
        raise InputError(f"nothing could be read from {', '.join(map(str, paths))}")
    names: dict[str, int] = {}
    for log in logs:  # unique run names (two files called metrics.csv in different folders)
        k = names.get(log.name, 0)
        names[log.name] = k + 1
        if k:
            log.name = f"{log.name} [{Path(log.source).parent.name or k}]"
    return logs, errors


def progress(items, desc: str):
    if len(items) <= PROGRESS_MIN:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="run", file=sys.stderr, leave=True)


# -- one run ---------------------------------------------------------------------------------------
def topological_summary(t: np.ndarray, y: np.ndarray) -> dict:
    """Counts and total persistence of the log-binned curve's Rips and slope lower-star diagrams."""
    from toptraj.features import lifetime_stats
    from toptraj.regression import topology_diagrams
    from toptraj.trajectory import Trajectory

    traj = Trajectory(times=t, values=y, channels=("loss",), axis="step")
    n_points = int(min(64, max(8, traj.n_steps)))
    d = topology_diagrams([traj], "loss", n_points)
    out = {}
    for name, dg in (("curve_rips", d["curve"][0]), ("slope_lower_star", d["slope"][0])):
        for q in dg.dims:
            stats = lifetime_stats(dg, q)
            out[f"{name}_H{q}_bars"] = int(stats["count"])
            out[f"{name}_H{q}_total_persistence"] = float(stats["total"])
    return out


def analyze_log(log, window=None, seed: int = 0, with_topology: bool = True) -> tuple[dict, dict]:
    """(summary dict, plot item) of one :class:`toptraj.readers.LossLog`."""
    from toptraj.transitions import overfitting_onset

    role = log.main_role
    t, y = log.series[role]
    with np.errstate(over="raise", invalid="ignore", divide="ignore", under="ignore"):
        binned = log_bin(t, y)
        fit = fit_exponent(t, y, window=window, seed=seed, binned=binned)
        slope = local_slope(binned)
    res = {
        "run": log.name,
        "source": log.source,
        "params": log.params,
        "seed": log.seed,
        "known_time_exponent": log.labels.get("time_exponent"),
        "loss_curve": role,
        "columns": log.mapping,
        "n_logged": int(t.size),
        "steps": [float(t[0]), float(t[-1])],
        **fit.to_dict(),
    }
    pair = log.paired()
    if pair is not None:
        tp, tr, te = pair
        if np.all(te > 0):
            res["overfitting_onset_step"] = overfitting_onset(tp, tr, te)
            res["overfitting_onset_rule"] = "first step where (test - train) / test >= 0.1"
        else:
            res["overfitting_onset_step"] = None
            res["overfitting_onset_rule"] = "not computed: the held-out loss has values <= 0"
    if with_topology and binned.log_t.size >= 8:
        try:
            res["topology"] = topological_summary(np.exp(binned.log_t), np.exp(binned.log_y - binned.log_y.max()))
        except (ValueError, RuntimeError) as exc:
            res["topology"] = {"error": str(exc)}
    known = log.labels.get("time_exponent")
    item = {"name": log.name, "t": t, "y": y, "binned": binned, "fit": fit, "slope": slope,
            "r": fit.r, "lo": fit.r_low, "hi": fit.r_high, "status": fit.status,
            "true": float(known) if isinstance(known, (int, float)) else math.nan}
    return res, item


def fmt_exponent(res: dict) -> str:
    if res["status"] == "refused" or res.get("time_exponent") is None or not math.isfinite(res["time_exponent"]):
        return "-"
    lo, hi = res["time_exponent_interval"]
    return f"{res['time_exponent']:.3f} [{lo:.3f}, {hi:.3f}]"


def _g(x) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4g}"


def table_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    header = ["run", "points", "fit window", "r [95% interval]", "window slope", "overfit onset", "status / reason"]
    rows = []
    for r in results:
        w = r.get("fit_window") or [math.nan, math.nan]
        rows.append([r["run"], str(r.get("n_logged", "")), f"{_g(w[0])}-{_g(w[1])}", fmt_exponent(r),
                     _g(r.get("window_loglog_slope")), _g(r.get("overfitting_onset_step")),
                     r["status"] + (f": {r['reason']}" if r.get("reason") else "")
                     + "".join(f"; note: {n}" for n in r.get("notes") or [])])
    return header, rows


def print_table(header, rows, file=None) -> None:
    file = file or sys.stdout
    width = [min(max(len(h), *(len(r[i]) for r in rows)) if rows else len(h), 64 if i == 0 else 200)
             for i, h in enumerate(header)]
    line = lambda cells: "  ".join((c if len(c) <= width[i] else "…" + c[-width[i] + 1:]).ljust(width[i])  # noqa: E731
                                   for i, c in enumerate(cells)).rstrip()
    print(line(header), file=file)
    for r in rows:
        print(line(r), file=file)


def write_outputs(out, command: str, summary: dict, items: list[dict], header, rows, notes, plots: bool) -> list[Path]:
    """summary.json (strict), figures and report.html into ``out``; returns the paths written."""
    from toptraj import report
    from toptraj.io import atomic_write_text

    out = Path(out)
    text = dumps_strict(summary)
    written = [atomic_write_text(out / "summary.json", text)]
    if plots and items:
        figs = [report.overview_figure(items, out / "overview.png", title=f"toptraj {command}"),
                report.runs_figure(items, out / "runs.png")]
        if len(items) > report.MAX_PANELS:
            notes = notes + [f"runs.png shows the first {report.MAX_PANELS} of {len(items)} runs; "
                             "overview.png and the table hold all"]
        written += figs
        intro = (f"{len(items)} run(s). Time exponent r of L = L0 + A t^-r (r > 0; slopes are d log L / d log t); "
                 "95% bootstrap intervals; fit window: later half of the log-time span unless --window.")
        written.append(report.write_html(out / "report.html", f"toptraj {command}", intro, header, rows, figs, notes))
    return written


# -- the command -----------------------------------------------------------------------------------
def run_analyze(paths, out=None, columns=None, window=None, seed: int = 0, plots: bool = True,
                topology: bool = True, force_size: bool = False, overwrite: bool = False) -> int:
    """Analyse files/folders; print the table; write outputs into ``out``; return the exit status.

    Outputs of an earlier run in ``out`` are replaced only with ``overwrite=True`` (exit 2 otherwise).
    """
    from toptraj import provenance

    command = "analyze"
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    try:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {seed!r}")
        win = parse_window(window) if isinstance(window, (str, type(None))) else tuple(window)
        logs, errors = read_inputs(paths, columns, command, force_size)
        check_out_free(out, overwrite=overwrite)
    except _INPUT_ERRORS as exc:
        return fail(command, exc, EXIT_BAD_INPUT)
    results, items, failed = [], [], []
    seen_mappings: dict[str, None] = {}
    for log in progress(logs, "analyze"):
        seen_mappings.setdefault(f"{log.mapping}")
        try:
            res, item = analyze_log(log, win, seed, with_topology=topology)
        except _NUMERIC_ERRORS as exc:
            failed.append(log.name)
            print(f"toptraj {command}: numerical failure in {log.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            results.append({"run": log.name, "source": log.source, "status": "failed",
                            "reason": f"numerical failure: {type(exc).__name__}: {exc}"})
            continue
        except ValueError as exc:
            results.append({"run": log.name, "source": log.source, "status": "refused", "reason": str(exc)})
            continue
        results.append(res)
        items.append(item)
    for m in seen_mappings:
        print(m)
    header, rows = table_rows([{**r, "time_exponent": r.get("time_exponent"), "time_exponent_interval":
                                r.get("time_exponent_interval", [None, None])} for r in results])
    print_table(header, rows)
    notes = [f"skipped {f}: {why}" for f, why in errors] + list(seen_mappings)
    summary = {"command": command, "inputs": [str(p) for p in paths], "window_rule": "later half of the log-time "
               "span" if win is None else f"--window {win[0]:g}:{win[1]:g}", "sign_convention":
               "slope = d log L / d log t (negative while the loss falls); L = L0 + A t^-r with r > 0",
               "runs": results, "skipped_files": [{"file": f, "reason": why} for f, why in errors],
               "provenance": provenance.collect()}
    if out is not None:
        try:
            written = write_outputs(out, command, summary, items, header, rows, notes, plots)
        except _NUMERIC_ERRORS as exc:
            return fail(command, f"writing the report failed numerically: {type(exc).__name__}: {exc}", EXIT_NUMERICAL)
        except OSError as exc:
            return fail(command, f"{getattr(exc, 'filename', '') or out}: cannot write ({exc.strerror or exc})",
                        EXIT_BAD_INPUT)
        print(f"wrote {', '.join(str(p) for p in written)}")
    return EXIT_NUMERICAL if failed else EXIT_OK
