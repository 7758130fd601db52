"""How well are the overfitting onset t_of and the width crossover t_x detected and forecast?

DMFT theory curves (truth from the theory's labels), each with a random amplitude A in [0.1, 10] and
time scale tau in [0.3, 3] (L_obs(t) = A L(tau t), so the true time is t / tau). Held-out parameter
points: the learned forecast is trained on points drawn with another seed.

- Detection (event inside the data): every method of TransitionDetector on the whole run and on its
  first half of log-time; t_x on width sweeps (N, 2N, 4N) = (64, 128, 256) at P = inf, L(t, inf)
  extrapolated from the sweep (no oracle curve), beside Aitken's three-point extrapolation
  (the previous method) and the definition with the theory's m_late (what the m_late estimate costs).
- Forecast (event after the observed part): the theory route and the learned route from the first
  10, 20, 30, 50% of log-time, beside the training median (no information); t_x from the smallest
  width's first 20% of log-time, both routes.
Everything is repeated on independent parameter draws (--draws, default 2: test seeds seed and seed + 1;
the learned routes' training points come from a third, independent seed) and the spread over the
draws is reported. Metrics (docs/theory/study.rst): share within x1.5 and x2, median factor
max(t_hat/t, t/t_hat), interval coverage; NaN estimates count as misses. Nothing is chosen on the
held-out points (the detectors have no tuned parameters; the learned routes see only their training draw).

    python analyses/detect_transitions.py [--quick] [--out DIR] [--seed 0] [--draws 2]

Writes report.json and figures to --out (default analyses/results/detect_transitions/).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from generators import dmft
from toptraj import provenance
from toptraj.detectors import DETECT_METHODS, TransitionDetector
from toptraj.trajectory import Trajectory

M_TRUTH = 20000  # modes of the truth's model; the forecast does not know it (its default differs)
T_OBS = np.geomspace(1.0, 1e5, 64)
FRACTIONS = (0.1, 0.2, 0.3, 0.5)
LEAN = False  # --lean: t_x on the whole run only, without the breakpoint baseline and the theory-m_late row (CPU)


def observed_run(params, rng, times=T_OBS):
    """A DMFT theory run with a random amplitude and time scale; t_of rescaled to the observed axis."""
    A = float(np.exp(rng.uniform(math.log(0.1), math.log(10.0))))
    tau = float(np.exp(rng.uniform(math.log(0.3), math.log(3.0))))
    tr = dmft.solve(params, tau * times, with_labels=False)
    lab = dict(tr.labels)
    lab["t_of"] = dmft.overfitting_onset(params) / tau
    vals = tr.values.copy()
    for j, c in enumerate(tr.channels):
        if c in ("test_loss", "train_loss", "bias"):
            vals[:, j] *= A
    return Trajectory(times=tr.times / tau, values=vals, channels=tr.channels, axis="time", source="dmft",
                      params={**tr.params, "amplitude": A, "tau": tau}, labels=lab)


def draw_pairs(n, rng):
    """Parameter points with a finite onset: a in [1.3, 2.5], b in [1, 2], N in {512..inf}, P in {512..4096}."""
    out = []
    while len(out) < n:
        a, b = float(rng.uniform(1.3, 2.5)), float(rng.uniform(1.0, 2.0))
        N = float(rng.choice([512.0, 1024.0, 4096.0, math.inf]))
        P = float(rng.choice([512.0, 1024.0, 2048.0, 4096.0]))
        tr = observed_run(dmft.DMFTParams(round(a, 3), round(b, 3), M_TRUTH, N, P), rng)
        t_of = tr.labels["t_of"]
        if math.isfinite(t_of) and tr.times[2] < t_of < tr.times[-3]:
            out.append(tr)
    return out


def draw_sweeps(n, rng, widths=(64.0, 128.0, 256.0)):
    """Width sweeps at P = inf: a in [1.3, 3], b in [0.8, 2] uniform, |m_late - 1| >= 0.2 (t_x defined,
    with some contrast) and t_x inside the data (between the third and the third-last time)."""
    out = []
    while len(out) < n:
        a, b = float(rng.uniform(1.3, 3.0)), float(rng.uniform(0.8, 2.0))
        m = min(a - 1, b)
        if abs(m - 1) < 0.2:
            continue
        A = float(np.exp(rng.uniform(math.log(0.1), math.log(10.0))))
        tau = float(np.exp(rng.uniform(math.log(0.3), math.log(3.0))))
        runs = []
        for j, N in enumerate(widths):
            p = dmft.DMFTParams(round(a, 3), round(b, 3), M_TRUTH, N, math.inf)
            tr = dmft.solve(p, tau * T_OBS, with_labels=j == 0)
            lab = {k: (v / tau if k in ("t_x", "t_of") else v) for k, v in tr.labels.items()}
            runs.append(Trajectory(times=tr.times / tau, values=tr.values * A, channels=tr.channels, source="dmft",
                                   params=tr.params, labels=lab))
        t_x = runs[0].labels["t_x"]
        if math.isfinite(t_x) and T_OBS[2] / tau < t_x < T_OBS[-3] / tau:
            out.append(runs)
    return out


def score(est, truth, lo=None, hi=None, tol=1.5) -> dict:
    """Share within x1.5 and x2, median factor, NaN count and (with an interval) coverage.

    ``tol`` names the headline share (``within_x{tol}``); both shares are always given.
    """
    est, truth = np.asarray(est, float), np.asarray(truth, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fac = np.where(np.isfinite(est) & (est > 0), np.maximum(est / truth, truth / est), np.inf)
    out = {"n": int(truth.size), "within_x1.5": float(np.mean(fac <= 1.5)), "within_x2": float(np.mean(fac <= 2.0)),
           "median_factor": float(np.median(fac)) if truth.size else math.nan, "n_nan": int(np.sum(~np.isfinite(est)))}
    out["headline"] = f"within_x{tol:g}"
    out["raw"] = {"estimate": est.tolist(), "truth": truth.tolist(), "tol": tol}
    if lo is not None:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        out["coverage"] = float(np.mean((lo <= truth) & (truth <= hi)))
        out["raw"].update(low=lo.tolist(), high=hi.tolist())
    return out


def merge(parts: list):
    """Merge the results of chunks of one draw (same structure): every score is recomputed from the
    concatenated raw estimates; other numbers (shares of events after the observed part) are averaged
    over the chunks weighted by their sizes; strings are taken from the first chunk."""
    parts = [p for p in parts if p is not None]
    first = parts[0]
    if isinstance(first, dict) and "raw" in first:
        raws = [p["raw"] for p in parts]
        cat = {k: sum((r[k] for r in raws), []) for k in ("estimate", "truth", "low", "high") if k in raws[0]}
        out = score(cat["estimate"], cat["truth"], cat.get("low"), cat.get("high"), tol=raws[0]["tol"])
        for k, v in first.items():
            if k not in out:
                out[k] = merge([p.get(k) for p in parts]) if not isinstance(v, str) else v
        return out
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for p in parts for k in p))
        return {k: merge([p.get(k) for p in parts if isinstance(p, dict) and k in p]) for k in keys}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return float(np.mean(parts))
    return first


def _scored(results, truth, tol=1.5) -> dict:
    return score([x["estimate"] for x in results], truth, [x["low"] for x in results], [x["high"] for x in results],
                 tol=tol)


def _truncate_sweep(sweep, f):
    return [r.truncate(f, "log") for r in sweep]


def aitken_crossover(sweep) -> float:
    """The previous t_x detection, kept as a baseline: Aitken's three-point L(t, inf) (one power of N
    through the three widths) and m_late as the median local exponent over the last 20% of log-time."""
    from toptraj import transitions
    from toptraj.detectors import local_width_exponent_sweep, sweep_arrays

    w, t, L = sweep_arrays(sweep)
    kap, _ = local_width_exponent_sweep(w, L)
    lt = np.log(t)
    late = (lt >= lt[-1] - 0.2 * (lt[-1] - lt[0])) & np.isfinite(kap)
    if late.sum() < 2:
        return math.nan
    return transitions.width_crossover_time(t, kap, float(np.median(kap[late])))


def run_detection(pairs, sweeps, fractions=(1.0,)) -> dict:
    """Detection scores per kind, method and observed fraction of log-time (``{method: {f: score}}``
    under ``by_fraction``; the whole run's scores also directly under the method name)."""
    res = {"overfitting_onset": {}, "width_crossover": {}}
    by_f = {"overfitting_onset": {}, "width_crossover": {}}
    truth = np.array([p.labels["t_of"] for p in pairs])
    tx = np.array([s[0].labels["t_x"] for s in sweeps])
    mlate = np.array([s[0].labels["model_exponent"] for s in sweeps])
    for f in fractions:
        obs = [p.truncate(f, "log") if f < 1 else p for p in pairs]
        inside = np.array([o.times[-1] >= t for o, t in zip(obs, truth)])
        for m in DETECT_METHODS["overfitting_onset"] if pairs else ():
            r = TransitionDetector(method=m).fit().estimate(obs)
            sc = _scored(r, truth)
            sc["share_event_inside"] = float(inside.mean())
            by_f["overfitting_onset"].setdefault(m, {})[f"{f:g}"] = sc
        if not sweeps or (LEAN and f < max(fractions)):
            continue
        osw = [_truncate_sweep(s, f) if f < 1 else s for s in sweeps]
        inside = np.array([o[0].times[-1] >= t for o, t in zip(osw, tx)])
        for m in DETECT_METHODS["width_crossover"]:
            if m == "breakpoint" and (f < max(fractions) or LEAN):
                continue  # the whole run only (the cost of its L(t, inf) fit; the baseline is far off there too)
            r = TransitionDetector(kind="width_crossover", method=m).fit().estimate(osw)
            sc = _scored(r, tx)
            sc["share_event_inside"] = float(inside.mean())
            by_f["width_crossover"].setdefault(m, {})[f"{f:g}"] = sc
        # the definition with the theory's m_late (what a user cannot know; shows what the m_late estimate costs)
        if f == max(fractions) and not LEAN:
            r = [TransitionDetector(kind="width_crossover", m_late=float(m)).fit().estimate([s])[0]
                 for s, m in zip(osw, mlate)]
            by_f["width_crossover"].setdefault("extrapolation_theory_m_late", {})[f"{f:g}"] = _scored(r, tx)
        by_f["width_crossover"].setdefault("aitken_baseline", {})[f"{f:g}"] = score([aitken_crossover(s) for s in osw], tx)
    for kind in res:
        for m, rows in by_f[kind].items():
            res[kind][m] = rows.get("1", rows[max(rows)])
    res["by_fraction"] = by_f
    return res


def run_forecast(train, test, sweeps, fractions, theory_fractions, train_sweeps=()) -> dict:
    res = {"overfitting_onset": {}, "width_crossover": {}}
    y_train = np.array([p.labels["t_of"] for p in train])
    truth = np.array([p.labels["t_of"] for p in test])
    for f in fractions if test else ():
        obs_tr = [p.truncate(f, "log") for p in train]
        obs = [p.truncate(f, "log") for p in test]
        after = np.array([o.times[-1] < t for o, t in zip(obs, truth)])
        row = {"share_event_after_observed": float(after.mean())}
        learned = TransitionDetector(mode="forecast", method="learned").fit(obs_tr, y_train)
        row["learned"] = _scored(learned.estimate(obs), truth, tol=2)
        med = float(np.exp(np.median(np.log(y_train))))
        row["training_median"] = score(np.full(truth.size, med), truth, tol=2)
        if f in theory_fractions:
            det = TransitionDetector(mode="forecast", method="theory").fit(obs_tr, y_train)  # calibrates the interval
            r = det.estimate(obs)
            row["theory"] = _scored(r, truth, tol=2)
            row["theory"]["exponent_source"] = r[0].get("exponent_source")
            if after.any():
                sel = np.flatnonzero(after)
                row["theory_event_after_observed"] = score([r[i]["estimate"] for i in sel], truth[sel], tol=2)
        res["overfitting_onset"][f"{f:g}"] = row
    # t_x forecast from the smallest width's first 20% of log-time (N known, P = inf)
    if sweeps:
        tx = np.array([s[0].labels["t_x"] for s in sweeps])
        obs = [[s[0].truncate(0.2, "log")] for s in sweeps]
        after = np.array([o[0].times[-1] < t for o, t in zip(obs, tx)])
        row = {"share_event_after_observed": float(after.mean())}
        det = TransitionDetector(kind="width_crossover", mode="forecast", method="theory", P=math.inf).fit()
        row["theory"] = _scored(det.estimate(obs), tx, tol=2)
        if len(train_sweeps) >= 5:
            y = np.array([s[0].labels["t_x"] for s in train_sweeps])
            Xtr = [s[0].truncate(0.2, "log") for s in train_sweeps]
            learned = TransitionDetector(kind="width_crossover", mode="forecast", method="learned", P=math.inf).fit(Xtr, y)
            row["learned"] = _scored(learned.estimate([o[0] for o in obs]), tx, tol=2)
            med = float(np.exp(np.median(np.log(y))))
            row["training_median"] = score(np.full(tx.size, med), tx, tol=2)
        res["width_crossover"]["0.2"] = row
    return res


def spread(draws: list[dict]) -> dict:
    """Key figures per draw (lists) and their range, for the report's headline table."""
    keys = {
        "t_x detection, extrapolation, within x1.5": ("detection", "width_crossover", "extrapolation", "within_x1.5"),
        "t_x detection, extrapolation, median factor": ("detection", "width_crossover", "extrapolation", "median_factor"),
        "t_x detection, Aitken baseline, within x1.5": ("detection", "width_crossover", "aitken_baseline", "within_x1.5"),
        "t_x detection, theory m_late, within x1.5": ("detection", "width_crossover", "extrapolation_theory_m_late",
                                                      "within_x1.5"),
        "t_of detection, gap, within x1.5": ("detection", "overfitting_onset", "gap", "within_x1.5"),
        "t_of forecast 20%, theory, within x2": ("forecast", "overfitting_onset", "0.2", "theory", "within_x2"),
        "t_of forecast 20%, theory, median factor": ("forecast", "overfitting_onset", "0.2", "theory", "median_factor"),
        "t_of forecast 20%, learned, within x2": ("forecast", "overfitting_onset", "0.2", "learned", "within_x2"),
        "t_x forecast 20%, theory, within x2": ("forecast", "width_crossover", "0.2", "theory", "within_x2"),
        "t_x forecast 20%, learned, within x2": ("forecast", "width_crossover", "0.2", "learned", "within_x2"),
    }
    out = {}
    for name, path in keys.items():
        vals = []
        for d in draws:
            v = d
            for k in path:
                v = v.get(k, {}) if isinstance(v, dict) else {}
            vals.append(v if isinstance(v, float) else math.nan)
        out[name] = {"per_draw": vals, "min": float(np.nanmin(vals)) if np.isfinite(vals).any() else math.nan,
                     "max": float(np.nanmax(vals)) if np.isfinite(vals).any() else math.nan}
    return out


def figure(pairs, sweeps, out: Path):
    from toptraj import plotting
    from toptraj.detectors import crossover_exponent_sweep, sweep_arrays

    fig, (ax1, ax2) = plotting.new_axes(ncols=2, size=4.5)
    p = pairs[0]
    t = p.times
    ratio = (p.channel("test_loss") - p.channel("train_loss")) / p.channel("test_loss")
    ax1.semilogx(t, ratio, label="gap ratio")
    est = TransitionDetector().fit().estimate([p])[0]
    ax1.axhline(0.1, color="k", lw=0.5)
    ax1.axvline(p.labels["t_of"], color="k", ls="--", label="true t_of")
    ax1.axvspan(est["low"], est["high"], color="C1", alpha=0.3, label="detected (interval)")
    ax1.set_xlabel("t")
    ax1.legend(fontsize=7)
    s = sweeps[0]
    w, tt, L = sweep_arrays(s)
    kap, _, info = crossover_exponent_sweep(w, tt, L)
    ax2.semilogx(tt, kap, label="kappa_N (L(t, inf) from the sweep)")
    ax2.axhline(0.5 * (1 + info["m_late"]), color="C1", lw=0.5, label="level (1 + m_late)/2, fitted")
    ax2.axvline(s[0].labels["t_x"], color="k", ls="--", label="true t_x")
    e = TransitionDetector(kind="width_crossover").fit().estimate([s])[0]
    if math.isfinite(e["estimate"]):
        ax2.axvspan(e["low"], e["high"], color="C1", alpha=0.3, label="detected (interval)")
    ax2.set_xlabel("t")
    ax2.legend(fontsize=7)
    plotting.save_figure(fig, out / "detection_examples.png")


def _set_lean(value: bool) -> None:
    global LEAN
    LEAN = value


def onset_part(seed: int, draws: int, n_pairs: int, n_train: int, fractions, theory_fractions, detect_fractions,
               chunk: int = 0):
    """The overfitting onset on ``draws`` independent held-out draws (seeds seed, seed + 1, ...; chunk c of a
    draw from seed + 10 c); the learned route's training points from seed + 1000."""
    c0 = time.process_time()
    train = draw_pairs(n_train, np.random.default_rng(seed + 1000))
    out = []
    for j in range(draws):
        test = draw_pairs(n_pairs, np.random.default_rng(seed + j + 10 * chunk))
        out.append({"seed": seed + j, "detection": run_detection(test, [], detect_fractions),
                    "forecast": run_forecast(train, test, [], fractions, theory_fractions), "test_pairs": len(test)})
    return {"draws": out, "train_pairs": len(train), "cpu_seconds": time.process_time() - c0}


def crossover_part(seed: int, n_sweeps: int, n_train_sweeps: int, detect_fractions, chunk: int = 0):
    """The width crossover on one held-out draw of sweeps (seed + 2000 + 100 chunk; chunks are merged into
    one draw); the learned route's training sweeps from seed + 3000 (the same in every chunk)."""
    c0 = time.process_time()
    sweeps = draw_sweeps(n_sweeps, np.random.default_rng(seed + 2000 + 100 * chunk))
    train_sweeps = draw_sweeps(n_train_sweeps, np.random.default_rng(seed + 3000)) if n_train_sweeps else []
    return {"detection": run_detection([], sweeps, detect_fractions),
            "forecast": run_forecast([], [], sweeps, (), (), train_sweeps), "sweeps": len(sweeps),
            "train_sweeps": len(train_sweeps), "cpu_seconds": time.process_time() - c0}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "detect_transitions"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=None, help="independent held-out onset draws (default 2; quick 1)")
    parser.add_argument("--sizes", default=None,
                        help="TEST,TRAIN,SWEEPS,TRAIN_SWEEPS (default 40,40,30,16; quick 6,8,2,6); TEST per draw")
    parser.add_argument("--lean", action="store_true", help="skip the t_x breakpoint baseline and theory-m_late row")
    parser.add_argument("--onset-chunks", type=int, default=1, help="processes per onset draw (with --workers)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes: each onset draw and each of (workers - draws) crossover chunks in its own")
    args = parser.parse_args(argv)
    n_pairs, n_train, n_sweeps, n_train_sweeps = (6, 8, 2, 6) if args.quick else (40, 40, 30, 16)
    if args.sizes:
        n_pairs, n_train, n_sweeps, n_train_sweeps = (int(x) for x in args.sizes.split(","))
    draws = args.draws if args.draws is not None else (1 if args.quick else 2)
    if draws < 1:
        parser.error("--draws must be >= 1")
    fractions = (0.2,) if args.quick else FRACTIONS
    theory_fractions = (0.2,)
    detect_fractions = (1.0,) if args.quick else (0.5, 1.0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c0 = time.process_time()
    onset_args = (args.seed, draws, n_pairs, n_train, fractions, theory_fractions, detect_fractions)
    cross_args = (args.seed, n_sweeps, n_train_sweeps, detect_fractions)
    global LEAN
    LEAN = bool(args.lean)
    oc = max(int(args.onset_chunks), 1)
    chunks = max(args.workers - draws * oc, 1)
    if args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        sizes = [n_sweeps // chunks + (1 if j < n_sweeps % chunks else 0) for j in range(chunks)]
        osz = [n_pairs // oc + (1 if c < n_pairs % oc else 0) for c in range(oc)]
        with ProcessPoolExecutor(args.workers, initializer=_set_lean, initargs=(LEAN,)) as pool:
            fo = [[pool.submit(onset_part, args.seed + j, 1, osz[c], *onset_args[3:], c) for c in range(oc)]
                  for j in range(draws)]
            fx = [pool.submit(crossover_part, args.seed, sizes[j], n_train_sweeps, detect_fractions, j)
                  for j in range(chunks)]
            ons = [[f.result() for f in row] for row in fo]
            crs = [f.result() for f in fx]
        onset = {"draws": [{"seed": row[0]["draws"][0]["seed"],
                            "detection": merge([o["draws"][0]["detection"] for o in row]),
                            "forecast": merge([o["draws"][0]["forecast"] for o in row]),
                            "test_pairs": sum(o["draws"][0]["test_pairs"] for o in row)} for row in ons],
                 "train_pairs": ons[0][0]["train_pairs"], "cpu_seconds": sum(o["cpu_seconds"] for r in ons for o in r)}
        cross = {"detection": merge([c["detection"] for c in crs]), "forecast": merge([c["forecast"] for c in crs]),
                 "sweeps": sum(c["sweeps"] for c in crs), "train_sweeps": crs[0]["train_sweeps"],
                 "cpu_seconds": sum(c["cpu_seconds"] for c in crs)}
    else:
        onset, cross = onset_part(*onset_args), crossover_part(*cross_args)
    first = onset["draws"][0]
    detection = {**first["detection"], "width_crossover": cross["detection"]["width_crossover"]}
    detection["by_fraction"] = {**first["detection"]["by_fraction"],
                                "width_crossover": cross["detection"]["by_fraction"]["width_crossover"]}
    forecast = {**first["forecast"], "width_crossover": cross["forecast"]["width_crossover"]}
    per_draw = [{"detection": detection, "forecast": forecast}] + [
        {"detection": d["detection"], "forecast": d["forecast"]} for d in onset["draws"][1:]]
    figure(draw_pairs(1, np.random.default_rng(args.seed)), draw_sweeps(1, np.random.default_rng(args.seed + 2000)), out)
    report = {
        "question": "detect and forecast t_of and t_x on held-out DMFT runs (random amplitude and time scale)",
        "targets": {"detection_within_x1.5": 0.9, "forecast_t_of_within_x2_at_20pct_log_time": 0.8},
        "detection": detection, "forecast": forecast,
        "other_onset_draws": [{k: d[k] for k in ("seed", "detection", "forecast", "test_pairs")}
                              for d in onset["draws"][1:]],
        "spread_over_draws": spread(per_draw),
        "sizes": {"test_pairs_per_draw": n_pairs, "onset_draws": draws, "train_pairs": onset["train_pairs"],
                  "sweeps": cross["sweeps"], "train_sweeps": cross["train_sweeps"], "widths": [64, 128, 256],
                  "M_truth": M_TRUTH, "times": [float(T_OBS[0]), float(T_OBS[-1]), int(T_OBS.size)]},
        "lean": LEAN, "onset_chunks": oc,
        "seeds": {"onset_test": [[args.seed + j + 10 * c for c in range(oc)] for j in range(draws)], "onset_train": [args.seed + 1000 + j for j in range(draws)] if args.workers > 1 else args.seed + 1000,
                  "sweeps_test": [args.seed + 2000 + 100 * j for j in range(chunks if args.workers > 1 else 1)],
                  "sweeps_train": args.seed + 3000},
        "cpu_seconds": {"onset_part": onset["cpu_seconds"], "crossover_part": cross["cpu_seconds"],
                        "main": time.process_time() - c0},
        "quick": bool(args.quick), "seed": args.seed, "provenance": provenance.collect(load_average_1min=os.getloadavg()[0]),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    print(json.dumps({"detection": detection["width_crossover"], "spread": report["spread_over_draws"]},
                     indent=1, default=float))
    return report


if __name__ == "__main__":
    main()
