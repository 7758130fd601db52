"""How well are the overfitting onset t_of and the width crossover t_x detected and forecast?

DMFT theory curves (truth from the theory's labels), each with a random amplitude A in [0.1, 10] and
time scale tau in [0.3, 3] (L_obs(t) = A L(tau t), so the true time is t / tau). Held-out parameter
points: the learned forecast is trained on points drawn with another seed.

- Detection (event inside the data): every method of TransitionDetector on the whole run; t_x on
  width sweeps (N, 2N, 4N) at P = inf.
- Forecast (event after the observed part): the theory route and the learned route from the first
  10, 20, 30, 50% of log-time, beside the training median (no information).
Metrics (docs/theory/study.rst): share within x1.5 (detection) and x2 (forecast), median factor
max(t_hat/t, t/t_hat), interval coverage; NaN estimates count as misses.

    python analyses/detect_transitions.py [--quick] [--out DIR] [--seed 0]

Writes report.json and figures to --out (default analyses/results/detect_transitions/).
"""

from __future__ import annotations

import argparse
import json
import math
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
    """Width sweeps at P = inf with |m_late - 1| >= 0.2 (t_x defined) and t_x inside the data."""
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
    est, truth = np.asarray(est, float), np.asarray(truth, float)
    fac = np.where(np.isfinite(est) & (est > 0), np.maximum(est / truth, truth / est), np.inf)
    out = {"n": int(truth.size), f"within_x{tol:g}": float(np.mean(fac <= tol)), "median_factor": float(np.median(fac)),
           "n_nan": int(np.sum(~np.isfinite(est)))}
    if lo is not None:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        out["coverage"] = float(np.mean((lo <= truth) & (truth <= hi)))
    return out


def run_detection(pairs, sweeps) -> dict:
    res = {"overfitting_onset": {}, "width_crossover": {}}
    truth = np.array([p.labels["t_of"] for p in pairs])
    for m in DETECT_METHODS["overfitting_onset"]:
        det = TransitionDetector(method=m).fit()
        r = det.estimate(pairs)
        res["overfitting_onset"][m] = score([x["estimate"] for x in r], truth, [x["low"] for x in r], [x["high"] for x in r])
    tx = np.array([s[0].labels["t_x"] for s in sweeps])
    mlate = np.array([s[0].labels["model_exponent"] for s in sweeps])
    for m in DETECT_METHODS["width_crossover"]:
        det = TransitionDetector(kind="width_crossover", method=m).fit()
        r = det.estimate(sweeps)
        res["width_crossover"][m] = score([x["estimate"] for x in r], tx, [x["low"] for x in r], [x["high"] for x in r])
    # the definition with the theory's m_late (what a user cannot know; shows what the m_late estimate costs)
    r = [TransitionDetector(kind="width_crossover", m_late=float(m)).fit().estimate([s])[0] for s, m in zip(sweeps, mlate)]
    res["width_crossover"]["extrapolation_theory_m_late"] = score([x["estimate"] for x in r], tx,
                                                                  [x["low"] for x in r], [x["high"] for x in r])
    return res


def run_forecast(train, test, sweeps, fractions, theory_fractions) -> dict:
    res = {"overfitting_onset": {}, "width_crossover": {}}
    y_train = np.array([p.labels["t_of"] for p in train])
    truth = np.array([p.labels["t_of"] for p in test])
    for f in fractions:
        obs_tr = [p.truncate(f, "log") for p in train]
        obs = [p.truncate(f, "log") for p in test]
        after = np.array([o.times[-1] < t for o, t in zip(obs, truth)])
        row = {"share_event_after_observed": float(after.mean())}
        learned = TransitionDetector(mode="forecast", method="learned").fit(obs_tr, y_train)
        r = learned.estimate(obs)
        row["learned"] = score([x["estimate"] for x in r], truth, [x["low"] for x in r], [x["high"] for x in r], tol=2)
        med = float(np.exp(np.median(np.log(y_train))))
        row["training_median"] = score(np.full(truth.size, med), truth, tol=2)
        if f in theory_fractions:
            det = TransitionDetector(mode="forecast", method="theory").fit(obs_tr, y_train)  # calibrates the interval
            r = det.estimate(obs)
            row["theory"] = score([x["estimate"] for x in r], truth, [x["low"] for x in r], [x["high"] for x in r], tol=2)
            row["theory"]["exponent_source"] = r[0].get("exponent_source")
            if after.any():
                sel = np.flatnonzero(after)
                row["theory_event_after_observed"] = score([r[i]["estimate"] for i in sel], truth[sel], tol=2)
        res["overfitting_onset"][f"{f:g}"] = row
    # t_x forecast by the theory route from the smallest width's first 20% of log-time
    if sweeps:
        tx = np.array([s[0].labels["t_x"] for s in sweeps])
        obs = [[s[0].truncate(0.2, "log")] for s in sweeps]
        det = TransitionDetector(kind="width_crossover", mode="forecast", method="theory", P=math.inf).fit()
        r = det.estimate(obs)
        res["width_crossover"]["0.2"] = {"theory": score([x["estimate"] for x in r], tx, [x["low"] for x in r],
                                                         [x["high"] for x in r], tol=2)}
    return res


def figure(pairs, sweeps, out: Path):
    from toptraj import plotting
    from toptraj.detectors import local_width_exponent_sweep, sweep_arrays

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
    kap, _ = local_width_exponent_sweep(w, L)
    ax2.semilogx(tt, kap, label="kappa_N (from the sweep)")
    ax2.axvline(s[0].labels["t_x"], color="k", ls="--", label="true t_x")
    e = TransitionDetector(kind="width_crossover").fit().estimate([s])[0]
    if math.isfinite(e["estimate"]):
        ax2.axvspan(e["low"], e["high"], color="C1", alpha=0.3, label="detected (interval)")
    ax2.set_xlabel("t")
    ax2.legend(fontsize=7)
    plotting.save_figure(fig, out / "detection_examples.png")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "detect_transitions"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", default=None, help="TEST,TRAIN,SWEEPS (default 30,40,12; quick 6,8,2)")
    args = parser.parse_args(argv)
    n_pairs, n_train, n_sweeps = (6, 8, 2) if args.quick else (30, 40, 12)
    if args.sizes:
        n_pairs, n_train, n_sweeps = (int(x) for x in args.sizes.split(","))
    fractions = (0.2,) if args.quick else FRACTIONS
    theory_fractions = (0.2,)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c0 = time.process_time()
    test = draw_pairs(n_pairs, np.random.default_rng(args.seed))
    train = draw_pairs(n_train, np.random.default_rng(args.seed + 1000))
    sweeps = draw_sweeps(n_sweeps, np.random.default_rng(args.seed + 2000))
    c1 = time.process_time()
    detection = run_detection(test, sweeps)
    c2 = time.process_time()
    forecast = run_forecast(train, test, sweeps, fractions, theory_fractions)
    c3 = time.process_time()
    figure(test, sweeps, out)
    report = {
        "question": "detect and forecast t_of and t_x on held-out DMFT runs (random amplitude and time scale)",
        "targets": {"detection_within_x1.5": 0.9, "forecast_t_of_within_x2_at_20pct_log_time": 0.8},
        "detection": detection, "forecast": forecast,
        "sizes": {"test_pairs": len(test), "train_pairs": len(train), "sweeps": len(sweeps), "M_truth": M_TRUTH,
                  "times": [float(T_OBS[0]), float(T_OBS[-1]), int(T_OBS.size)]},
        "cpu_seconds": {"generate": c1 - c0, "detect": c2 - c1, "forecast": c3 - c2},
        "quick": bool(args.quick), "seed": args.seed, "provenance": provenance.collect(),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    print(json.dumps({"detection": detection, "forecast": forecast}, indent=1, default=float))
    return report


if __name__ == "__main__":
    main()
