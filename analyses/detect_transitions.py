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

Networks (``--parts networks``): MNIST-1D MLPs (two widths, data size P from 125 to 4000, two
seeds; --quick: one width, three P, one seed, 600 steps), trained once and cached in resumable run
folders (--runs). Truth: the gap-ratio label t_of measured on the full run. Every onset method of
TransitionDetector (gap, breakpoint, prechelt_gl/pq, topology = ruptures on the pair's windowed
persistence, weight_path = the same on the weight-space sketch path) and the weight path with the
pair added, on the first 50, 70, 85, 100% of log-time; the learned forecast (N and P known, trained on
the other P values) from 20% and 50%; the null model is the geometric-mean t_of of the other P values.
Nothing is fitted to these runs: the weight-path method's settings are its defaults, fixed before.

    python analyses/detect_transitions.py [--quick] [--out DIR] [--seed 0] [--draws 2] [--workers N] [--lean]
                                          [--parts dmft,networks,simulate] [--runs DIR]

Writes report.json (DMFT), networks.json and figures to --out (default analyses/results/detect_transitions/).
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
from toptraj.transitions import overfitting_onset

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


# -- network runs (truth measured on the full run) ------------------------------------------------
NET_FRACTIONS = (0.5, 0.7, 0.85, 1.0)
NET_METHODS = ("gap", "breakpoint", "prechelt_gl", "prechelt_pq", "topology", "weight_path", "weight_path_pair")


def network_sizes(quick: bool) -> dict:
    """Small MNIST-1D MLPs; P over a decade or more so that t_of moves (t_of grows with P)."""
    if quick:
        return {"widths": [32], "P": [125, 500, 2000], "seeds": [0], "steps": 600, "n_record": 40,
                "fractions": [0.7, 1.0], "forecast_fractions": []}
    return {"widths": [32, 64], "P": [125, 250, 500, 1000, 2000, 4000], "seeds": [0, 1], "steps": 3000, "n_record": 60,
            "fractions": list(NET_FRACTIONS), "forecast_fractions": [0.2, 0.5]}


def network_runs(sz: dict, runs_dir: Path) -> list:
    """Train (or read back from the resumable run folders) every (width, P, seed) run."""
    from dataclasses import replace

    from generators import networks as nw

    base = nw.TrainConfig(steps=sz["steps"], n_record=sz["n_record"], base_width=64, projection_dim=64, n_test=1000,
                          device="cpu")
    runs = []
    for w in sz["widths"]:
        for P in sz["P"]:
            for s in sz["seeds"]:
                cfg = replace(base, width=w, n_train=P)
                key = f"w{w}_P{P}_T{sz['steps']}_r{sz['n_record']}_s{s}"
                runs.append(nw.train(cfg, s, run_dir=runs_dir / key))
    return runs


def network_estimates(obs, method: str) -> list[dict]:
    """One estimate per observed run; ``weight_path_pair`` is the weight-path method with the loss path added."""
    if method == "weight_path_pair":
        from toptraj.weight_path_detection import detect_onset

        return [detect_onset(o, signal="pair+path") for o in obs]
    return TransitionDetector(method=method).fit().estimate(obs)


def spearman(x, y, z=None) -> float:
    """Spearman correlation of x and y (given z: Pearson of the rank residuals after regressing on rank(z))."""
    from scipy.stats import rankdata

    cols = [np.asarray(v, float) for v in ((x, y) if z is None else (x, y, z))]
    ok = np.all([np.isfinite(v) for v in cols], axis=0)
    if ok.sum() < 5 or np.ptp(cols[0][ok]) == 0 or np.ptp(cols[1][ok]) == 0:
        return math.nan
    ranks = [rankdata(v[ok]) for v in cols]
    design = np.c_[np.ones(ok.sum()), ranks[2]] if z is not None else np.ones((ok.sum(), 1))
    res = [r - design @ np.linalg.lstsq(design, r, rcond=None)[0] for r in ranks[:2]]
    den = np.linalg.norm(res[0]) * np.linalg.norm(res[1])
    return float(res[0] @ res[1] / den) if den > 0 else math.nan


def run_onset_runs(runs: list, truth, groups, fractions, forecast_fractions) -> dict:
    """Per observed fraction of log-time and method: share within x1.5 of the true t_of and the median factor.

    Two denominators: all runs whose true t_of lies inside the record grid (a run whose onset lies
    after the observed part can only be a miss), and the runs whose onset lies inside the observed
    part (detection proper). The null model: the geometric mean of t_of over the runs of the other
    groups (held out by group: data size P for networks, parameter point for DMFT). The learned
    forecast (TransitionDetector mode="forecast", N and P known) is trained on the other groups.
    """
    truth = np.asarray(truth, float)
    groups = np.asarray(groups)
    valid = np.isfinite(truth) & np.array([r.times[2] < t < r.times[-3] for r, t in zip(runs, truth)])
    runs_v, truth_v, G = [r for r, v in zip(runs, valid) if v], truth[valid], groups[valid]
    logP = np.log([float(r.params.get("P", r.labels.get("P", math.nan))) for r in runs_v])
    null = np.array([math.exp(np.mean(np.log(truth_v[G != g]))) if np.any(G != g) else math.nan for g in G])
    detection = {}
    for f in fractions:
        obs = [r.truncate(f, "log") for r in runs_v]
        inside = np.array([o.times[-1] >= t for o, t in zip(obs, truth_v)])
        row = {"share_event_inside_observed": float(inside.mean()), "null_other_groups": score(null, truth_v)}
        for m in NET_METHODS:
            est = network_estimates(obs, m)
            e = np.array([x["estimate"] for x in est])
            lo, hi = np.array([x["low"] for x in est]), np.array([x["high"] for x in est])
            row[m] = {"all": score(e, truth_v, lo, hi),
                      "event_inside": score(e[inside], truth_v[inside], lo[inside], hi[inside]) if inside.any() else None}
            if f == 1.0:
                row[m]["spearman_vs_t_of"] = spearman(e, truth_v)
                row[m]["spearman_vs_t_of_given_log_P"] = spearman(e, truth_v, logP)
        detection[f"{f:g}"] = row
    forecast = {}
    for f in forecast_fractions:
        obs = [r.truncate(f, "log") for r in runs_v]
        if min(int(np.sum(G != g)) for g in np.unique(G)) < 5:
            forecast[f"{f:g}"] = {"skipped": "fewer than 5 training runs outside one group"}
            continue
        est = np.full(truth_v.size, np.nan)
        for g in np.unique(G):
            tr, te = G != g, G == g
            det = TransitionDetector(mode="forecast", method="learned").fit([o for o, k in zip(obs, tr) if k], truth_v[tr])
            est[te] = det.predict([o for o, k in zip(obs, te) if k])
        after = np.array([o.times[-1] < t for o, t in zip(obs, truth_v)])
        forecast[f"{f:g}"] = {"share_event_after_observed": float(after.mean()),
                              "learned_leave_one_group_out": score(est, truth_v, tol=2),
                              "null_other_groups": score(null, truth_v, tol=2)}
    return {"n_runs": len(runs), "n_with_onset_inside_grid": int(valid.sum()),
            "t_of_range": [float(truth_v.min()), float(truth_v.max())] if truth_v.size else None,
            "detection": detection, "forecast": forecast}


def run_networks(sz: dict, runs: list) -> dict:
    """:func:`run_onset_runs` on network runs: truth = the run's own full-run t_of, groups = data size P."""
    from dataclasses import replace

    truth = [r.labels["t_of"] for r in runs]
    # the learned forecast reads the width and data size from params N and P (network runs label them)
    runs = [replace(r, params={**r.params, "N": r.labels["N"], "P": r.labels["P"]}) for r in runs]
    res = run_onset_runs(runs, truth, [float(r.labels["P"]) for r in runs], sz["fractions"], sz["forecast_fractions"])
    res["runs"] = [{"width": float(r.labels["N"]), "P": float(r.labels["P"]), "seed": r.seed, "t_of": float(t)}
                   for r, t in zip(runs, truth)]
    return res


# -- finite DMFT simulations: the weight path is the realised residual's projections (truth from the theory) --
def simulate_runs(n: int, rng, M: int = 2000, times=T_OBS) -> list:
    """Finite DMFT simulations (generators.dmft.simulate, 16 proj_ channels) with a random amplitude and time scale.

    a in [1.3, 2.5], b in [1, 2], N in {512, 1024, 2048, inf}, P in {256..2048}; t_of is the theory's label
    (divided by tau); points whose t_of lies outside the grid are redrawn.
    """
    out = []
    while len(out) < n:
        a, b = round(float(rng.uniform(1.3, 2.5)), 3), round(float(rng.uniform(1.0, 2.0)), 3)
        N = float(rng.choice([512.0, 1024.0, 2048.0, math.inf]))
        P = float(rng.choice([256.0, 512.0, 1024.0, 2048.0]))
        A = float(np.exp(rng.uniform(math.log(0.1), math.log(10.0))))
        tau = float(np.exp(rng.uniform(math.log(0.3), math.log(3.0))))
        p = dmft.DMFTParams(a, b, M, N, P)
        t_of = dmft.overfitting_onset(p) / tau
        if not (math.isfinite(t_of) and times[2] / tau < t_of < times[-3] / tau):
            continue
        tr = dmft.simulate(p, tau * times, seed=int(rng.integers(2**31)), n_proj=16)
        vals = tr.values.copy()
        for j, c in enumerate(tr.channels):
            if c in ("test_loss", "train_loss", "bias"):
                vals[:, j] *= A
        out.append(Trajectory(times=tr.times / tau, values=vals, channels=tr.channels, axis="time", source="dmft.simulate",
                              params={**tr.params, "amplitude": A, "tau": tau}, seed=tr.seed,
                              labels={**tr.labels, "t_of": t_of}))
    return out


def main_simulate(args, out: Path) -> dict:
    import os

    n, M = (3, 1000) if args.quick else (16, 2000)
    fractions = [0.7, 1.0] if args.quick else list(NET_FRACTIONS)
    c0 = time.process_time()
    runs = simulate_runs(n, np.random.default_rng(args.seed + 3000), M=M)
    c1 = time.process_time()
    res = run_onset_runs(runs, [r.labels["t_of"] for r in runs], np.arange(len(runs)), fractions,
                         [] if args.quick else [0.2, 0.5])
    # the same runs scored against the realisation's own gap-ratio onset (the networks' kind of truth)
    own = [overfitting_onset(r.times, r.channel("train_loss"), r.channel("test_loss")) for r in runs]
    res["truth_realised_gap"] = run_onset_runs(runs, own, np.arange(len(runs)), fractions, [])
    res["runs"] = [{k: r.params[k] for k in ("a", "b", "N", "P")} | {"t_of": r.labels["t_of"], "t_of_realised": t,
                   "tau": r.params["tau"]} for r, t in zip(runs, own)]
    report = {"question": "detect t_of on finite DMFT simulations (weight path = 16 random projections of the realised "
                          "residual); truth = the theory's t_of (truth_realised_gap: the run's own gap-ratio onset)", "M": M, "n": n, "fractions": fractions, **res,
              "cpu_seconds": {"simulate": c1 - c0, "estimate": time.process_time() - c1},
              "load_average": list(os.getloadavg()), "quick": bool(args.quick), "seed": args.seed,
              "provenance": provenance.collect()}
    (out / "dmft_simulate.json").write_text(json.dumps(report, indent=1, default=float))
    return report


def network_figure(res: dict, runs: list, out: Path):
    from toptraj import plotting
    from toptraj.weight_path_detection import detect_onset

    fig, (ax1, ax2) = plotting.new_axes(ncols=2, size=4.5)
    fr = sorted(res["detection"], key=float)
    for j, m in enumerate(NET_METHODS):
        ax1.plot([float(f) for f in fr], [res["detection"][f][m]["all"]["within_x1.5"] for f in fr], "o-",
                 color=f"C{j}", label=m)
    ax1.plot([float(f) for f in fr], [res["detection"][f]["null_other_groups"]["within_x1.5"] for f in fr], "k--",
             label="null (other P)")
    ax1.set_xlabel("observed fraction of log-time")
    ax1.set_ylabel("share within x1.5 of full-run t_of")
    ax1.set_ylim(-0.02, 1.02)
    ax1.legend(fontsize=6)
    r = max((r for r in runs if math.isfinite(r.labels["t_of"])), key=lambda r: r.labels["P"])
    d = detect_onset(r)
    S = np.array(d["statistics"])
    c = np.array(d["centres"])
    for j, name in enumerate(("log total H0", "total / diameter", "max / total", "entropy")):
        v = S[:, j]
        ax2.semilogx(c, (v - v.mean()) / max(v.std(), 1e-12), label=name)
    ax2.axvline(r.labels["t_of"], color="k", ls="--", label="t_of (gap, full run)")
    ax2.axvspan(d["low"], d["high"], color="C1", alpha=0.25, label="weight-path change (interval)")
    ax2.set_xlabel(f"step (width {r.labels['N']:g}, P = {r.labels['P']:g})")
    ax2.set_ylabel("standardised window statistic")
    ax2.legend(fontsize=6)
    plotting.save_figure(fig, out / "networks.png")


def main_networks(args, out: Path) -> dict:
    import os

    sz = network_sizes(args.quick)
    runs_dir = Path(args.runs) if args.runs else Path(__file__).resolve().parents[1] / "out" / (
        "detect_transitions_runs" + ("_quick" if args.quick else ""))
    c0 = time.process_time()
    runs = network_runs(sz, runs_dir)
    c1 = time.process_time()
    res = run_networks(sz, runs)
    c2 = time.process_time()
    network_figure(res, runs, out)
    report = {"question": "detect t_of on network runs (MNIST-1D MLPs, P over a decade): truth = the gap-ratio "
                          "label measured on the full run; estimates from the first fraction of log-time",
              "sizes": sz, "config": {"dataset": "mnist1d", "arch": "mlp", "depth": 2, "optimizer": "sgd", "lr": 0.1,
                                      "batch_size": 32, "projection_dim": 64, "n_test": 1000, "parametrization": "mup"},
              **res, "cpu_seconds": {"train_or_load": c1 - c0, "estimate": c2 - c1},
              "load_average": list(os.getloadavg()), "quick": bool(args.quick), "provenance": provenance.collect()}
    (out / "networks.json").write_text(json.dumps(report, indent=1, default=float))
    return report


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
    parser.add_argument("--parts", default="dmft,networks,simulate",
                        help="dmft, networks, simulate (finite DMFT with the weight path), comma-separated")
    parser.add_argument("--runs", default=None, help="network run cache (default out/detect_transitions_runs[_quick])")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - {"dmft", "networks", "simulate"}:
        parser.error(f"--parts: each part must be 'dmft', 'networks' or 'simulate', got {args.parts!r}")
    extra = {}
    if parts & {"networks", "simulate"}:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    if "networks" in parts:
        extra["networks"] = main_networks(args, Path(args.out))
    if "simulate" in parts:
        extra["simulate"] = main_simulate(args, Path(args.out))
    if "dmft" not in parts:
        return extra
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
