"""Real networks as ground truth: measured exponents with intervals, kernels, onset runs, paths, char model.

Parts (each cached in a resumable run store; a rerun reads finished runs back):
  sweep    MNIST-1D MLP width sweeps (data-limited P = 4000 and online), >= 3 seeds: measured
           time exponents (test, train) with seed-bootstrap intervals, plateau width exponent,
           L(t, inf), t_x, t_of (generators.networks.truth)
  cnn      a small MNIST-1D CNN width sweep (measured exponents for the kernel comparison)
  onset    small training sets (several P, 3 seeds): t_of against P, and the weight-sketch path's
           topology against the generalisation gap and t_of (generators.networks.paths)
  kernels  NTK at init and after training (binary split and trace over outputs) for the MLP, the
           CNN and the character transformer: predicted (a-1)/b against the measured exponent
  char     character-level transformer width sweep (online stdlib text, 3 seeds): the final loss
           predicted from the first 30% and 50% of steps by plain baselines (and toptraj.predictor
           when it exists), MAE with seed-bootstrap intervals beside the published 0.090 / 0.061

    python analyses/network_truth.py [--quick] [--out DIR] [--runs DIR] [--parts sweep,onset,...]

Writes report.json and PNG figures to --out (default analyses/results/network_truth/; --quick:
out/network_truth_quick/). CPU seconds (time.process_time) per part are in the report.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from generators import networks as nw
from generators.networks import kernels as nk
from generators.networks import paths as npaths
from generators.networks import truth as nt
from toptraj import provenance
from toptraj.baselines import fit_offset_power_law, loglog_slope
from toptraj.io import atomic_write_text
from toptraj.trajectory import jsonable

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"source": "public prior attempt, 5 character-level GPT models, one seed (combined loss+TDA model)",
             "mae_30": 0.090, "mae_50": 0.061, "loss_only_30": 0.101, "loss_only_50": 0.086}
PARTS = ("sweep", "cnn", "onset", "kernels", "char")


def sizes(quick: bool) -> dict:
    if quick:
        return {"widths": [8, 16, 32, 64], "seeds": [0, 1, 2], "steps": 400, "n_record": 24, "online_steps": 300,
                "cnn_widths": [4, 8, 16, 32], "cnn_steps": 200, "P": [100, 400], "onset_steps": 400,
                "onset_record": 30, "onset_width": 32, "kernel_n": 40, "kernel_steps": 2,
                "char_widths": [8, 16], "char_steps": 120, "char_depth": 1, "char_record": 24, "n_boot": 200}
    return {"widths": [16, 32, 64, 128, 256], "seeds": [0, 1, 2], "steps": 8000, "n_record": 50, "online_steps": 4000,
            "cnn_widths": [8, 16, 32, 64], "cnn_steps": 3000, "P": [125, 250, 500, 1000, 2000, 4000],
            "onset_steps": 3000, "onset_record": 60, "onset_width": 64, "kernel_n": 200, "kernel_steps": 3,
            "char_widths": [16, 32, 64], "char_steps": 1500, "char_depth": 1, "char_record": 50, "n_boot": 1000}


def mlp_config(sz: dict, **kw) -> nw.TrainConfig:
    return nw.TrainConfig(steps=sz["steps"], n_record=sz["n_record"], base_width=64, projection_dim=64, device="cpu",
                          **kw)


def cnn_config(sz: dict) -> nw.TrainConfig:
    return nw.TrainConfig(arch="cnn", steps=sz["cnn_steps"], n_record=sz["n_record"], base_width=16, projection_dim=64,
                          device="cpu")


def char_config(sz: dict) -> nw.TrainConfig:
    return nw.TrainConfig(dataset="text", arch="transformer", depth=sz["char_depth"], context=32, online=True,
                          optimizer="adam", lr=3e-3, base_width=32, steps=sz["char_steps"], n_record=sz["char_record"],
                          n_test=1000, n_eval=500, projection_dim=64, device="cpu")


def summarise_truth(truth: dict) -> dict:
    """Compact table of a truth record: per width the exponents and times with intervals."""
    rows = {}
    for w, rec in truth["per_width"].items():
        rows[w] = {k: [rec[k]["value"], rec[k]["lo"], rec[k]["hi"]] + ([rec[k]["reason"]] if rec[k].get("reason") else [])
                   for k in ("time_exponent_test", "time_exponent_train", "t_of", "t_x")}
        rows[w]["drift_test"] = rec["drift_test"]
    me = truth["model_exponent"]
    return {"per_width": rows, "model_exponent": [me["value"], me["lo"], me["hi"], me.get("reason")]}


def part_sweep(sz, runs_dir, report, figs):
    out = {}
    for name, cfg in (("data_limited", mlp_config(sz)),
                      ("online", mlp_config(sz, online=True) if True else None)):
        if name == "online":
            cfg = replace(cfg, steps=sz["online_steps"])
        ts, truth = nt.measured_sweep(cfg, sz["widths"], sz["seeds"], runs_dir / f"mlp_{name}", n_boot=sz["n_boot"])
        out[name] = {"config": asdict(cfg), "truth": summarise_truth(truth), "L_inf": truth["L_inf"],
                     "times": truth["times"], "mean_test": {}, "mean_train": {}}
        for w in sz["widths"]:
            sel = [t for t in ts if t.params["width"] == w]
            out[name]["mean_test"][str(w)] = np.mean([t.channel("test_loss") for t in sel], 0)
            out[name]["mean_train"][str(w)] = np.mean([t.channel("train_loss") for t in sel], 0)
    report["sweep"] = out
    figs.append(("sweep", out))


def part_cnn(sz, runs_dir, report, figs):
    cfg = cnn_config(sz)
    ts, truth = nt.measured_sweep(cfg, sz["cnn_widths"], sz["seeds"], runs_dir / "cnn", n_boot=sz["n_boot"])
    report["cnn"] = {"config": asdict(cfg), "truth": summarise_truth(truth)}


def part_onset(sz, runs_dir, report, figs):
    base = mlp_config(sz, width=sz["onset_width"])
    base = replace(base, steps=sz["onset_steps"], n_record=sz["onset_record"], n_test=1000)
    rows = []
    for P in sz["P"]:
        for s in sz["seeds"]:
            t = nw.train(replace(base, n_train=P), s, run_dir=runs_dir / "onset" / f"P{P}_s{s}")
            topo = npaths.path_topology(t)
            try:
                t_topo = npaths.topological_onset(t)
            except ValueError:
                t_topo = math.nan
            tr, te = t.channel("train_loss"), t.channel("test_loss")
            rows.append({"P": P, "seed": s, "t_of": t.labels["t_of"], "t_topo": t_topo,
                         "t_test_min": float(t.times[int(np.argmin(te))]), "final_train": float(tr[-1]),
                         "final_test": float(te[-1]), **topo})
    by_p = {}
    for P in sz["P"]:
        v = np.array([r["t_of"] for r in rows if r["P"] == P])
        by_p[str(P)] = {"t_of_mean": float(np.nanmean(v)) if np.isfinite(v).any() else math.nan,
                        "t_of_seeds": v.tolist()}
    logp = np.log([r["P"] for r in rows])
    tof = np.array([r["t_of"] for r in rows])
    ok = np.isfinite(tof)
    slope = float(np.polyfit(logp[ok], np.log(tof[ok]), 1)[0]) if ok.sum() >= 3 else math.nan
    same_seed_monotone = []
    for s in sz["seeds"]:
        seq = [r["t_of"] for r in sorted(rows, key=lambda r: r["P"]) if r["seed"] == s]
        same_seed_monotone.append(bool(np.all(np.diff(seq) > 0)))
    corr = correlations(rows)
    tt = np.array([r["t_topo"] for r in rows])
    both = np.isfinite(tt) & ok
    report["onset"] = {
        "config": asdict(base), "runs": rows, "by_P": by_p, "t_of_vs_P_loglog_slope": slope,
        "t_of_increases_with_P_per_seed": same_seed_monotone, "correlations_spearman": corr,
        "t_topo_vs_t_of": {
            "n_runs": int(both.sum()), "share_t_topo_before_t_of": float(np.mean(tt[both] < tof[both])) if both.any() else math.nan,
            "median_ratio_t_topo_over_t_of": float(np.median(tt[both] / tof[both])) if both.any() else math.nan,
            "spearman_t_topo_t_of": spearman(tt[both], tof[both]),
            "rule": "t_topo: midpoint crossing of the normalised H0 persistence entropy over windows of 12 records (generators.networks.paths)"},
    }
    figs.append(("onset", report["onset"]))


def spearman(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 4 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan  # constant input: undefined
    from scipy.stats import spearmanr

    return float(spearmanr(x[ok], y[ok]).statistic)


def partial_spearman(x, y, z) -> float:
    """Spearman correlation of x and y given z: Pearson of the rank residuals after regressing on rank(z)."""
    from scipy.stats import rankdata

    x, y, z = (np.asarray(v, float) for v in (x, y, z))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    if ok.sum() < 5 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan
    rx, ry, rz = (rankdata(v[ok]) for v in (x, y, z))
    design = np.c_[np.ones_like(rz), rz]
    res = [r - design @ np.linalg.lstsq(design, r, rcond=None)[0] for r in (rx, ry)]
    den = np.linalg.norm(res[0]) * np.linalg.norm(res[1])
    return float(res[0] @ res[1] / den) if den > 0 else math.nan


def correlations(rows) -> dict:
    """Spearman correlation of each path feature (and the weight-norm baseline) with the gap and t_of,
    raw and partial given log P (P drives both the features and the targets: the confound)."""
    feats = ("h0_ratio", "h1_ratio", "h1_count", "h0_entropy", "ph_dimension", "final_param_norm", "arc_length")
    out = {}
    for f in feats:
        x = [r[f] for r in rows]
        logp = [math.log(r["P"]) for r in rows]
        gap, tof = [r["final_gap"] for r in rows], [r["t_of"] for r in rows]
        out[f] = {"vs_final_gap": spearman(x, gap), "vs_t_of": spearman(x, tof), "vs_log_P": spearman(x, logp),
                  "vs_final_gap_given_log_P": partial_spearman(x, gap, logp),
                  "vs_t_of_given_log_P": partial_spearman(x, tof, logp)}
    return out


def _measured_r(traj) -> float:
    r, _, _ = nt.fit_time_exponent(traj.times, traj.channel("test_loss"), stop_at_min=True)
    return r


def part_kernels(sz, runs_dir, report, figs):
    n = sz["kernel_n"]
    sweep = report.get("sweep", {}).get("data_limited", {}).get("truth", {}).get("per_width", {})
    cnn = report.get("cnn", {}).get("truth", {}).get("per_width", {})
    mlp_w = sz["widths"][-2]
    cases = [("mlp", replace(mlp_config(sz), width=mlp_w), n, sweep.get(str(mlp_w))),
             ("cnn", replace(cnn_config(sz), width=sz["cnn_widths"][-2]), max(24, n // 2), cnn.get(str(sz["cnn_widths"][-2]))),
             ("transformer", replace(char_config(sz), width=sz["char_widths"][-1]), max(24, n // 2), None)]
    out = {}
    for name, cfg, n_k, truth_row in cases:
        steps = sorted({int(x) for x in np.geomspace(max(10, cfg.steps // 100), cfg.steps, sz["kernel_steps"]).round()})
        c0 = time.process_time()
        res = nk.kernels_through_training(cfg, 0, steps, runs_dir / "kernels" / name, n_samples=n_k, probes=8)
        traj = res["trajectory"]
        r_run = _measured_r(traj)
        r_train, _, _ = nt.fit_time_exponent(traj.times, traj.channel("train_loss"), stop_at_min=False)
        out[name] = {
            "config": asdict(cfg), "n_samples": n_k, "steps": res["steps"], "cpu_seconds": time.process_time() - c0,
            "spectra": {k: [s.to_dict() for s in v] for k, v in res["spectra"].items()},
            "change": res["change"],
            "measured_test_exponent_this_run": r_run, "measured_train_exponent_this_run": r_train,
            "measured_test_exponent_sweep": None if truth_row is None else truth_row["time_exponent_test"],
        }
    report["kernels"] = out
    figs.append(("kernels", out))


def split_observed(times, fraction):
    """Mask of the first ``fraction`` of steps (linear, study.md section 1)."""
    t = np.asarray(times, float)
    return t <= t[0] + fraction * (t[-1] - t[0])


def _shipped_predictor():
    """The part-1 exponent predictor shipped with toptraj (curve input), or None if absent."""
    try:
        from toptraj.predictor import ExponentPredictor, shipped_path
    except ImportError:
        return None
    return ExponentPredictor.load(shipped_path("curve"))


def _fixed_r_extrapolation(t, y, r, T) -> float:
    """L0 + A T^-r with r given and (L0 >= 0, A) by least squares on the observed part."""
    x = t ** (-r)
    design = np.c_[np.ones_like(x), x]
    L0, A = np.linalg.lstsq(design, y, rcond=None)[0]
    if L0 < 0:
        L0, A = 0.0, float(x @ y / (x @ x))
    return float(L0 + A * T ** (-r))


def predict_final(traj, fraction, predictor=None) -> dict:
    """Final test-loss predictions from the observed first ``fraction`` of steps.

    Plain baselines (last value, L0 + A t^-r fit, log-log slope of the last third) and, when
    ``predictor`` is given, the part-1 predictor: its r from the observed curve, then L0 + A T^-r
    with that r (L0, A by least squares on the observed part).
    """
    times, loss = traj.times, traj.channel("test_loss")
    keep = split_observed(times, fraction)
    t, y, T = times[keep], loss[keep], float(times[-1])
    out = {"last_value": float(y[-1])}
    fit = fit_offset_power_law(t, y)
    out["power_law_L0_At^-r"] = float(fit.L0 + fit.A * T ** (-fit.r)) if fit.success else math.nan
    s = loglog_slope(t, y, last=1 / 3)
    out["loglog_slope"] = float(math.exp(s.intercept + s.slope * math.log(T)))
    if predictor is not None:
        observed = replace(traj, times=t, values=traj.values[keep])
        r = float(predictor.predict([observed])[0])
        out["predictor_r_then_L0_At^-r"] = _fixed_r_extrapolation(t, y, r, T) if r > 0 else math.nan
        out["predictor_r"] = r
    return out


def part_char(sz, runs_dir, report, figs):
    cfg = char_config(sz)
    c0 = time.process_time()
    ts, truth = nt.measured_sweep(cfg, sz["char_widths"], sz["seeds"], runs_dir / "char", n_boot=sz["n_boot"])
    rows = []
    predictor = _shipped_predictor()
    for t in ts:
        y = t.channel("test_loss")
        for f in (0.3, 0.5):
            preds = predict_final(t, f, predictor)
            rows.append({"width": int(t.params["width"]), "seed": t.seed, "fraction": f, "final": float(y[-1]),
                         "n_observed": int(split_observed(t.times, f).sum()), **preds})
    methods = [k for k in rows[0] if k not in ("width", "seed", "fraction", "final", "n_observed", "predictor_r")]
    seeds = sz["seeds"]
    rng = np.random.default_rng(0)
    table = {}
    for f in (0.3, 0.5):
        sub = [r for r in rows if r["fraction"] == f]
        table[str(f)] = {}
        for m in methods:
            err = {s: [abs(r[m] - r["final"]) for r in sub if r["seed"] == s] for s in seeds}
            mae = float(np.nanmean([e for s in seeds for e in err[s]]))
            boots = []
            for _ in range(sz["n_boot"]):
                pick = rng.integers(0, len(seeds), len(seeds))
                boots.append(np.nanmean([e for i in pick for e in err[seeds[i]]]))
            lo, hi = np.quantile(boots, [0.05, 0.95])
            table[str(f)][m] = {"mae": mae, "lo": float(lo), "hi": float(hi)}
    pred_note = ("toptraj.predictor (part-1 predictor) is not installed: skipped" if predictor is None else
                 "shipped curve predictor (toptraj/data/exponent_predictor_curve.npz, trained on generated curves) "
                 "predicts r from the observed part; final = L0 + A T^-r with that r, L0 and A fitted on the observed part")
    report["char"] = {"config": asdict(cfg), "truth": summarise_truth(truth), "predictions": rows, "mae": table,
                      "published": PUBLISHED, "predictor": pred_note, "cpu_seconds": time.process_time() - c0,
                      "final_test_loss": {str(w): float(np.mean([t.channel("test_loss")[-1] for t in ts
                                                                 if t.params["width"] == w])) for w in sz["char_widths"]},
                      "curves": {f"w{t.params['width']}_s{t.seed}": t.channel("test_loss") for t in ts},
                      "times": ts[0].times}
    figs.append(("char", report["char"]))


# -- figures -------------------------------------------------------------------------------------
def draw(figs, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for kind, data in figs:
        if kind == "sweep":
            fig, axes = plt.subplots(1, 3, figsize=(14, 4))
            for ax, regime in zip(axes[:2], ("data_limited", "online"), strict=True):
                d = data[regime]
                t = np.asarray(d["times"])
                for w, c in d["mean_test"].items():
                    ax.loglog(t, c, label=f"N={w} test")
                    ax.loglog(t, d["mean_train"][w], ls=":", color=ax.lines[-1].get_color())
                li = np.asarray(d["L_inf"], float)
                ax.loglog(t, li, "k--", label="L(t, inf) extrapolated")
                ax.set(title=f"MNIST-1D MLP, {regime}", xlabel="step", ylabel="loss")
                ax.legend(fontsize=6)
            ax = axes[2]
            for k, (regime, mk) in enumerate((("data_limited", "o"), ("online", "s"))):
                rows = data[regime]["truth"]["per_width"]
                ws = [int(w) for w in rows]
                for j, ch in enumerate(("time_exponent_test", "time_exponent_train")):
                    v = np.array([rows[str(w)][ch][:3] for w in ws], float)
                    x = np.array(ws) * (1 + 0.06 * (2 * k + j))
                    ax.errorbar(x, v[:, 0], yerr=[v[:, 0] - v[:, 1], v[:, 2] - v[:, 0]], fmt=mk, capsize=2,
                                label=f"{regime} {ch.split('_')[-1]}")
            ax.set(xscale="log", xlabel="width N", ylabel="time exponent r (90% seed bootstrap)")
            ax.legend(fontsize=6)
        elif kind == "onset":
            fig, axes = plt.subplots(1, 2, figsize=(10, 4))
            rows = data["runs"]
            axes[0].loglog([r["P"] for r in rows], [r["t_of"] for r in rows], "o", label="t_of (gap ratio 0.1)")
            axes[0].loglog([r["P"] for r in rows], [r["t_test_min"] for r in rows], "x", label="argmin test loss")
            axes[0].loglog([r["P"] for r in rows], [r["t_topo"] for r in rows], "^", label="t_topo (path)")
            axes[0].set(xlabel="training set size P", ylabel="step", title="overfitting onset vs P")
            axes[0].legend(fontsize=7)
            sc = axes[1].scatter([r["final_gap"] for r in rows], [r["ph_dimension"] for r in rows],
                                 c=np.log([r["P"] for r in rows]))
            fig.colorbar(sc, ax=axes[1], label="log P")
            axes[1].set(xlabel="final gap (test - train loss)", ylabel="PH dimension of the sketch path")
        elif kind == "kernels":
            fig, ax = plt.subplots(figsize=(7, 4))
            labels, x = [], 0
            for arch, d in data.items():
                for kk, spectra in d["spectra"].items():
                    ax.plot([x + 0.1 * i for i in range(len(spectra))], [s["predicted_exponent"] for s in spectra], "o-",
                            label=f"{arch} {kk} (init -> trained)")
                ms = d["measured_test_exponent_this_run"]
                ax.axhline(ms, xmin=0, xmax=1, ls=":", lw=0.8, color=ax.lines[-1].get_color())
                labels.append(arch)
                x += 1
            ax.set(ylabel="(a-1)/b predicted (dots) / measured test exponent (dotted)", xticks=range(len(labels)),
                   xticklabels=labels)
            ax.legend(fontsize=6)
        elif kind == "char":
            fig, ax = plt.subplots(figsize=(7, 4))
            t = np.asarray(data["times"])
            for name, c in data["curves"].items():
                ax.loglog(t, c, lw=0.8, label=name)
            for f in (0.3, 0.5):
                ax.axvline(t[0] + f * (t[-1] - t[0]), color="grey", ls=":")
            ax.set(xlabel="step", ylabel="test loss (nats/char)", title="character transformer, online stdlib text")
            ax.legend(fontsize=5, ncol=3)
        else:
            continue
        fig.tight_layout()
        path = out / f"{kind}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        names.append(path.name)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds; smoke test)")
    parser.add_argument("--out", default=None, help="report folder")
    parser.add_argument("--runs", default=None, help="resumable run store (default out/network_truth_runs[_quick])")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad:
        import sys

        print(f"--parts: unknown part(s) {bad}; allowed: {', '.join(PARTS)}", file=sys.stderr)
        return 2
    sz = sizes(args.quick)
    out = Path(args.out) if args.out else (ROOT / "out" / "network_truth_quick" if args.quick
                                           else ROOT / "analyses" / "results" / "network_truth")
    runs = Path(args.runs) if args.runs else ROOT / "out" / ("network_truth_runs_quick" if args.quick else "network_truth_runs")
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"quick": args.quick, "sizes": sz, "cpu_seconds": {}}
    prev = out / "report.json"
    if prev.exists():  # parts not rerun keep their previous results
        old = json.loads(prev.read_text())
        if old.get("quick") == args.quick:
            report.update({k: v for k, v in old.items() if k in (*PARTS, "figures")})
            report["cpu_seconds"].update(old.get("cpu_seconds", {}))
    figs: list = []
    fns = {"sweep": part_sweep, "cnn": part_cnn, "onset": part_onset, "kernels": part_kernels, "char": part_char}
    for p in PARTS:
        if p in parts:
            c0 = time.process_time()
            fns[p](sz, runs, report, figs)
            report["cpu_seconds"][p] = time.process_time() - c0
            print(f"{p}: {report['cpu_seconds'][p]:.1f} CPU s", flush=True)
    report["figures"] = sorted(set(report.get("figures", [])) | set(draw(figs, out)))
    report["provenance"] = provenance.collect(script="analyses/network_truth.py")
    atomic_write_text(out / "report.json", json.dumps(jsonable(report), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
