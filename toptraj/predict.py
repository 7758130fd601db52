"""`toptraj predict`: forecasts for runs still going, from the part logged so far.

For each file (any format of :mod:`toptraj.readers`):

- the time exponent with an interval: from the trained predictor shipped with the package
  (``toptraj.predictor.load_shipped("curve")``) unless its file is missing or damaged, always beside the fit of
  :mod:`toptraj.fitting` (stated rule, bootstrap interval, curvature check);
- the forecast loss at ``horizon`` steps (default: 10 times the last logged step) with a 95%
  interval: the fitted ``L0 + A t^-r`` evaluated on every bootstrap replicate;
- the overfitting onset: observed, if the held-out/train gap ratio already reached 0.1; else a
  DMFT-based forecast from ``toptraj.detectors`` when ``--N`` and ``--P`` are given; otherwise "not
  available" with the reason.

``fraction=f`` checks the tool on a finished run: only the first fraction f of its steps (linear)
is shown to the forecaster, the horizon defaults to the run's last step, and the hidden loss there
is reported beside the forecast (inside the interval or not).

Same outputs and exit codes as ``toptraj analyze``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from toptraj import analyze as _an
from toptraj.fitting import fit_exponent, local_slope, log_bin

#: Default horizon, as a multiple of the last logged step.
HORIZON_FACTOR = 10.0


def add_cli_arguments(p) -> None:
    """Arguments of ``toptraj predict``."""
    p.add_argument("paths", nargs="+", help="logs of runs still going (any format toptraj analyze reads)")
    p.add_argument("--N", type=float, default=None, help="model width/size (for the overfitting-onset forecast)")
    p.add_argument("--P", type=float, default=None, help="training-set size (for the overfitting-onset forecast)")
    p.add_argument("--horizon", type=float, default=None,
                   help=f"step at which to forecast the loss (default {HORIZON_FACTOR:g} x the last logged step)")
    p.add_argument("--fraction", type=float, default=None,
                   help="check on a finished run: show only this first fraction of its steps (0 < f < 1)")
    _an.add_common_arguments(p)
    p.set_defaults(out="out/predict")


def shipped_predictor():
    """(estimator or None, message): the shipped curve predictor, or why the fit alone is used."""
    from toptraj.predictor import load_shipped_or_none

    est, why = load_shipped_or_none("curve")
    if est is None:  # a damaged or missing model file must not stop the forecast
        return None, f"shipped predictor not available ({why}); exponents come from the fit (toptraj.fitting)"
    return est, "exponent also from the shipped predictor toptraj.predictor (curve)"


def onset_forecast(log, N, P, observed, seed: int = 0):
    """(step or None, (low, high) or None, how): the overfitting onset.

    Uses ``toptraj.detectors.TransitionDetector(kind="overfitting_onset", mode="forecast", N=N, P=P)``
    (its ``estimate`` gives estimate, low, high, note).
    """
    if observed is not None and math.isfinite(observed):
        return observed, None, "observed: the gap ratio (test - train) / test already reached 0.1"
    if N is None or P is None:
        return None, None, "not available: give --N and --P for a DMFT-based forecast"
    from toptraj.detectors import TransitionDetector

    try:
        det = TransitionDetector(kind="overfitting_onset", mode="forecast", N=float(N), P=float(P), seed=seed).fit()
        r = det.estimate([log.to_trajectory()])[0]
        value, lo, hi = float(r["estimate"]), float(r["low"]), float(r["high"])
    except Exception as exc:  # the detector's own refusals are reported, not raised
        return None, None, f"not available: the detector refused ({type(exc).__name__}: {exc})"
    note = f" ({r['note']})" if r.get("note") else ""
    if not math.isfinite(value):
        return None, None, f"not available: the DMFT-based forecast found no onset{note}"
    return value, (lo, hi), f"DMFT-based forecast (toptraj.detectors){note}"


def _hide_end(log, fraction):
    """Copy of ``log`` with only the first ``fraction`` of its steps (linear); and the hidden main curve."""
    from copy import copy

    role = log.main_role
    t, y = log.series[role]
    cut = t[0] + fraction * (t[-1] - t[0])
    shown = copy(log)
    shown.series = {k: (tt[tt <= cut], yy[tt <= cut]) for k, (tt, yy) in log.series.items()}
    shown.series = {k: v for k, v in shown.series.items() if v[0].size >= 2}
    if role not in shown.series:
        raise ValueError(f"{log.name}: --fraction {fraction} leaves fewer than 2 logged points")
    return shown, (t[t > cut], y[t > cut])


# Largest share of the last logged loss that a fitted floor L0 may make up before the shipped predictor
# (trained on floor-free DMFT curves) counts as outside its domain.
FLOOR_DOMAIN = 0.05


def _floor_share(fit, y) -> float:
    """L0 / (last logged loss) of an accepted fit; 0 when the fit was refused or has no floor."""
    if not fit.ok or not (math.isfinite(fit.L0) and fit.L0 > 0):
        return 0.0
    last = float(np.asarray(y, dtype=float)[-1])
    return float(fit.L0 / last) if last > 0 else 0.0


def predict_log(log, horizon, fraction, N, P, window, seed, predictor):
    from toptraj.transitions import overfitting_onset

    hidden = None
    full_end = float(log.series[log.main_role][0][-1])
    if fraction is not None:
        log, hidden = _hide_end(log, fraction)
    t, y = log.series[log.main_role]
    h = float(horizon) if horizon is not None else (full_end if fraction is not None else HORIZON_FACTOR * float(t[-1]))
    if not h > 0:
        raise ValueError(f"--horizon must be > 0, got {h}")
    with np.errstate(over="raise", invalid="ignore", divide="ignore", under="ignore"):
        binned = log_bin(t, y)
        fit = fit_exponent(t, y, window=window, seed=seed, binned=binned)
        slope = local_slope(binned)
        point, lo, hi = fit.forecast(np.array([h]))
    res = {"run": log.name, "source": log.source, "params": log.params, "seed": log.seed,
           "known_time_exponent": log.labels.get("time_exponent"), "loss_curve": log.main_role,
           "columns": log.mapping, "n_logged": int(t.size), "steps": [float(t[0]), float(t[-1])],
           **fit.to_dict(), "horizon": h, "forecast_loss": float(point[0]),
           "forecast_loss_interval": [float(lo[0]), float(hi[0])]}
    if fit.ok and h > fit.window[1] * 1e3:
        res["notes"].append("horizon is more than 1000x beyond the fit window: the forecast is an extrapolation "
                            "of the power law over several decades")
    floor_share = _floor_share(fit, y)
    if predictor is not None and floor_share > FLOOR_DOMAIN:
        # the shipped predictor saw only floor-free curves (N = P = inf): its number would be confident and wrong
        res["predictor_time_exponent"] = None
        res["predictor_error"] = (f"not applied: the fitted loss floor L0 is {floor_share:.0%} of the last logged "
                                  f"loss, outside the shipped predictor's training domain (curves without a floor, "
                                  f"share <= {FLOOR_DOMAIN:.0%}); the exponent comes from the fit")
    elif predictor is not None:
        try:
            from toptraj.trajectory import Trajectory

            # the curve whose exponent is reported, under the channel name the predictor reads
            traj = Trajectory(times=t, values=y, channels=(str(getattr(predictor, "channel", "test_loss")),),
                              axis=log.axis, source=log.name, params=dict(log.params), seed=log.seed)
            res["predictor_time_exponent"] = float(np.asarray(predictor.predict([traj])).ravel()[0])
            iv = np.asarray(predictor.predict_interval([traj]), dtype=float).reshape(-1, 2)[0]
            res["predictor_time_exponent_interval"] = [float(iv[0]), float(iv[1])]
        except Exception as exc:  # the predictor's refusal is reported beside the fit
            res["predictor_time_exponent"] = None
            res["predictor_error"] = f"{type(exc).__name__}: {exc}"
    observed = None
    pair = log.paired()
    if pair is not None and np.all(pair[2] > 0):
        observed = overfitting_onset(*pair)
    (res["overfitting_onset_step"], res["overfitting_onset_interval"],
     res["overfitting_onset_how"]) = onset_forecast(log, N, P, observed, seed)
    if hidden is not None and hidden[0].size:
        th, yh = hidden
        j = int(np.argmin(np.abs(np.log(th) - math.log(h)))) if th[0] > 0 else -1
        actual = float(yh[j])
        res["check"] = {"fraction_shown": fraction, "hidden_points": int(th.size), "actual_loss_at_horizon": actual,
                        "actual_step": float(th[j]), "inside_interval": bool(lo[0] * (1 - 1e-9) <= actual <= hi[0] * (1 + 1e-9)),
                        "relative_error": float(point[0] / actual - 1) if actual > 0 else None}
    item = {"name": log.name, "t": t, "y": y, "binned": binned, "fit": fit, "slope": slope, "r": fit.r,
            "lo": fit.r_low, "hi": fit.r_high, "status": fit.status, "horizon": (h, point[0], lo[0], hi[0]),
            "hidden": hidden, "true": math.nan}
    return res, item


def run_predict(paths, N=None, P=None, horizon=None, fraction=None, out=None, columns=None, window=None,
                seed: int = 0, plots: bool = True, force_size: bool = False, overwrite: bool = False) -> int:
    """Forecast each run; print the table; write outputs into ``out``; return the exit status.

    Outputs of an earlier run in ``out`` are replaced only with ``overwrite=True`` (exit 2 otherwise).
    """
    from toptraj import provenance

    command = "predict"
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    try:
        for name, v in (("--N", N), ("--P", P), ("--horizon", horizon)):
            if v is not None and not (isinstance(v, (int, float)) and v > 0 and not math.isnan(v)):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if horizon is not None and math.isinf(horizon):  # N, P = inf are the infinite-size limits
            raise ValueError(f"--horizon must be a finite number of steps, got {horizon!r}")
        if fraction is not None and not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
            raise ValueError(f"--fraction must be in (0, 1), got {fraction!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {seed!r}")
        win = _an.parse_window(window) if isinstance(window, (str, type(None))) else tuple(window)
        logs, errors = _an.read_inputs(paths, columns, command, force_size)
        _an.check_out_free(out, overwrite=overwrite)
    except _an._INPUT_ERRORS as exc:
        return _an.fail(command, exc, _an.EXIT_BAD_INPUT)
    predictor, how = shipped_predictor()
    print(how, file=sys.stderr)
    results, items, failed = [], [], []
    for log in _an.progress(logs, "predict"):
        try:
            res, item = predict_log(log, horizon, fraction, N, P, win, seed, predictor)
        except _an._NUMERIC_ERRORS as exc:
            failed.append(log.name)
            print(f"toptraj {command}: numerical failure in {log.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            results.append({"run": log.name, "status": "failed", "reason": f"numerical failure: {exc}"})
            continue
        except ValueError as exc:
            results.append({"run": log.name, "status": "refused", "reason": str(exc)})
            continue
        results.append(res)
        items.append(item)
    header, rows = _an.table_rows([{**r, "time_exponent_interval": r.get("time_exponent_interval", [None, None])}
                                   for r in results])
    header = header[:4] + ["horizon", "forecast loss [95%]", "onset"] + header[-1:]
    rows2 = []
    for r, row in zip(results, rows):
        fl, iv = r.get("forecast_loss"), r.get("forecast_loss_interval") or [None, None]
        fc = "-" if fl is None or not math.isfinite(fl) else f"{fl:.4g} [{_an._g(iv[0])}, {_an._g(iv[1])}]"
        if r.get("check"):
            c = r["check"]
            fc += f" (hidden: {c['actual_loss_at_horizon']:.4g}, {'inside' if c['inside_interval'] else 'outside'})"
        onset = _an._g(r.get("overfitting_onset_step")) if r.get("overfitting_onset_step") is not None else "n/a"
        rows2.append(row[:4] + [_an._g(r.get("horizon")), fc, onset] + row[-1:])
    _an.print_table(header, rows2)
    notes = [how] + [f"skipped {f}: {why}" for f, why in errors] + sorted({r.get("overfitting_onset_how", "")
                                                                          for r in results} - {""})
    summary = {"command": command, "inputs": [str(p) for p in paths], "N": N, "P": P, "fraction": fraction,
               "horizon_rule": f"--horizon {horizon:g}" if horizon is not None else (
                   "the run's last step (hidden)" if fraction is not None else f"{HORIZON_FACTOR:g} x last logged step"),
               "predictor": how, "sign_convention": "slope = d log L / d log t; L = L0 + A t^-r with r > 0",
               "runs": results, "skipped_files": [{"file": f, "reason": why} for f, why in errors],
               "provenance": provenance.collect()}
    if out is not None:
        try:
            written = _an.write_outputs(out, command, summary, items, header, rows2, notes, plots)
        except _an._NUMERIC_ERRORS as exc:
            return _an.fail(command, f"writing the report failed numerically: {type(exc).__name__}: {exc}",
                            _an.EXIT_NUMERICAL)
        except OSError as exc:
            return _an.fail(command, f"{getattr(exc, 'filename', '') or out}: cannot write ({exc.strerror or exc})",
                            _an.EXIT_BAD_INPUT)
        print(f"wrote {', '.join(str(p) for p in written)}")
    return _an.EXIT_NUMERICAL if failed else _an.EXIT_OK
