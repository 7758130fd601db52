"""Exponents from early training: every input type x observed fraction x method, on held-out points.

    python analyses/predict_exponents.py [--quick] [--out DIR] [--seed 0]

For each data set (generator x input type), two training sets are drawn independently (seeds s
and s + 100) and one evaluation set from a third, independent parameter draw (seed s + 999), so
every evaluation point is unseen. Every run has a random amplitude (x0.1-10) and time scale
(x0.3-3). For each observed fraction (10, 20, 30, 50% of steps and of log-time) the methods of
:mod:`toptraj.exponent_eval` are fitted on each training draw and scored on the evaluation set:
MAE, median relative error, share within 5%, coverage of 90% conformal intervals, each with a
bootstrap interval over resampled evaluation points, and a verdict per row (does topology add
over the baselines). Writes report.json and figures to --out
(default analyses/results/predict_exponents/).

Data sets (DMFT theory, generators.exponent_sets):
  dmft_time   N = P = inf (time bottleneck), M in [1e5, 1e8]: curve, weights, order_parameters
  dmft_wide   N in [64, 8192] or inf, P in [128, 16384] or inf: curve, pair
  dmft_sweep  width sweeps (4 widths, P = inf) and data sweeps (4 sizes P, N = inf)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from generators import exponent_sets
from toptraj import provenance
from toptraj.exponent_eval import METHODS, run_methods, score, verdict
from toptraj.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"curve": ("r",), "pair": ("r",), "weights": ("r",), "order_parameters": ("a", "b"),
           "width_sweep": ("a", "b"), "data_sweep": ("a", "b")}


def config(quick: bool) -> dict:
    """Sizes. The default (non-quick) run is sized for a shared 2-core machine: 30 training points
    per draw, 24 evaluation points, 12/10 sweeps; pass larger numbers by editing here."""
    if quick:
        return {"n_train": 12, "n_test": 8, "n_sweeps_train": 6, "n_sweeps_test": 4, "n_times": 40, "n_sizes": 3,
                "n_draws": 2,
                "rows": (("dmft_time", "curve", (0.2,), ("log",)), ("dmft_time", "weights", (0.2,), ("log",)),
                         ("dmft_time", "order_parameters", (0.2,), ("log",)),
                         ("dmft_sweep", "width_sweep", (0.2,), ("log",)))}
    both = ("linear", "log")
    return {"n_train": 30, "n_test": 24, "n_sweeps_train": 12, "n_sweeps_test": 10, "n_times": 48, "n_sizes": 4,
            "n_draws": 2,
            "rows": (("dmft_time", "curve", (0.1, 0.2, 0.3, 0.5), both), ("dmft_sweep", "width_sweep", (0.2, 0.5), both),
                     ("dmft_time", "order_parameters", (0.2, 0.5), both), ("dmft_time", "weights", (0.2, 0.5), both),
                     ("dmft_wide", "curve", (0.2, 0.5), both), ("dmft_wide", "pair", (0.2,), both),
                     ("dmft_sweep", "data_sweep", (0.2,), ("linear",)))}


def make(dataset: str, input_type: str, n: int, n_sweeps: int, seed: int, cfg: dict):
    times = exponent_sets.default_times(cfg["n_times"])
    if dataset == "dmft_sweep":
        return exponent_sets.make_sweeps(input_type, n_sweeps, seed=seed, n_sizes=cfg["n_sizes"], times=times)
    prior = "time" if dataset == "dmft_time" else "wide"
    return exponent_sets.make_single(input_type, n, seed=seed, prior=prior, times=times)


def study(cfg: dict, seed: int, log=print) -> dict:
    rows = []
    for dataset, itype, fractions, scales in cfg["rows"]:
        t0 = time.process_time()
        draws = [make(dataset, itype, cfg["n_train"], cfg["n_sweeps_train"], seed + 100 * d, cfg)
                 for d in range(cfg["n_draws"])]
        Xt, yt, _ = make(dataset, itype, cfg["n_test"], cfg["n_sweeps_test"], seed + 999, cfg)
        gen_cpu = time.process_time() - t0
        for scale in scales:
            for f in fractions:
                t1 = time.process_time()
                per_draw, tables = [], []
                for d, (X, y, g) in enumerate(draws):
                    res = run_methods(X, y, g, Xt, itype, f, scale, METHODS, seed=seed + d)
                    tables.append(score(res, yt, TARGETS[itype], seed=seed + d))
                    per_draw.append(res)
                verdicts = []
                for j, tname in enumerate(TARGETS[itype]):
                    def col(p, j=j):
                        return p[:, j] if p.ndim == 2 else p
                    vd = [{"y": col(yt), **{m: col(r[m]["pred"]) for m in ("both", "baseline", "topology")}}
                          for r in per_draw]
                    verdicts.append(verdict(vd, tname))
                row = {"dataset": dataset, "input_type": itype, "fraction": f, "scale": scale,
                       "n_train": len(draws[0][0]), "n_test": len(Xt), "targets": list(TARGETS[itype]),
                       "draws": tables, "verdict": verdicts,
                       "cpu_seconds": round(time.process_time() - t1, 2)}
                # predictions of draw 0 for the figures
                row["_pred"] = {m: per_draw[0][m] for m in ("both", "baseline", "topology", "direct")}
                row["_y"] = yt
                rows.append(row)
                best = {tn: {m: round(tables[0][tn][m]["metrics"]["mae"], 4) for m in METHODS}
                        for tn in TARGETS[itype]}
                log(f"{dataset}/{itype} {f:.0%} of {scale}: MAE {best} ({row['cpu_seconds']} s CPU)")
        log(f"  data {dataset}/{itype}: {gen_cpu:.1f} s CPU")
    return {"rows": rows}


def figures(rows: list, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    # predicted vs true with intervals, method "both", first 20% (or the first fraction) per data set
    keys = sorted({(r["dataset"], r["input_type"]) for r in rows})
    panels = []
    for ds, it in keys:
        sub = [r for r in rows if r["dataset"] == ds and r["input_type"] == it]
        for scale in ("log", "linear"):
            pick = [r for r in sub if r["scale"] == scale]
            if pick:
                r = min(pick, key=lambda r: abs(r["fraction"] - 0.2))
                for j, tn in enumerate(r["targets"]):
                    panels.append((r, j, tn))
    ncol = 4
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.4 * nrow), squeeze=False)
    for ax, (r, j, tn) in zip(axes.ravel(), panels):
        y = r["_y"][:, j] if r["_y"].ndim == 2 else r["_y"]
        p = r["_pred"]["both"]["pred"]
        iv = r["_pred"]["both"]["interval"]
        p = p[:, j] if p.ndim == 2 else p
        iv = iv[:, j, :] if iv.ndim == 3 else iv
        ax.errorbar(y, p, yerr=np.abs(np.stack([p - iv[:, 0], iv[:, 1] - p])), fmt="o", ms=3, lw=0.6, alpha=0.7)
        lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        m = r["draws"][0][tn]["both"]["metrics"]
        ax.set_title(f"{r['dataset']}/{r['input_type']} {tn}\n{r['fraction']:.0%} {r['scale']}: MAE {m['mae']:.3f}, "
                     f"cov {m['coverage']:.2f}", fontsize=8)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted (both, 90% interval)")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "predicted_vs_true.png", dpi=90)
    plt.close(fig)
    written.append("predicted_vs_true.png")

    # error vs fraction
    fig, axes = plt.subplots(len(keys), 2, figsize=(9, 3 * len(keys)), squeeze=False)
    for i, (ds, it) in enumerate(keys):
        for k, scale in enumerate(("linear", "log")):
            ax = axes[i, k]
            sub = sorted([r for r in rows if r["dataset"] == ds and r["input_type"] == it and r["scale"] == scale],
                         key=lambda r: r["fraction"])
            if not sub:
                ax.axis("off")
                continue
            tn = sub[0]["targets"][0]
            for m in ("topology", "baseline", "both", "null", "direct", "mean"):
                ys = [np.mean([d[tn][m]["metrics"]["mae"] for d in r["draws"]]) for r in sub]
                ax.plot([100 * r["fraction"] for r in sub], ys, marker="o", label=m)
            ax.set_yscale("log")
            ax.set_title(f"{ds}/{it}: MAE of {tn}, % of {scale} time observed", fontsize=8)
            ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "error_vs_fraction.png", dpi=90)
    plt.close(fig)
    written.append("error_vs_fraction.png")
    return written


def targets_check(rows: list) -> dict:
    """The issue's targets, measured (mean over training draws, method "both" unless named)."""
    out = {}

    def get(ds, it, f, sc):
        for r in rows:
            if (r["dataset"], r["input_type"], r["fraction"], r["scale"]) == (ds, it, f, sc):
                return r
        return None

    for sc in ("log", "linear"):
        r = get("dmft_time", "curve", 0.2, sc)
        if r:
            w = {m: [d["r"][m]["metrics"]["within_5pct"] for d in r["draws"]] for m in ("both", "baseline", "topology",
                                                                                        "direct")}
            out[f"curve_20pct_{sc}_within5"] = {"target": ">= 0.90", "values_per_draw": w,
                                                 "met_by_both": bool(min(w["both"]) >= 0.9)}
    r = get("dmft_sweep", "width_sweep", 0.2, "linear")
    if r:
        mae = {t: [d[t]["both"]["metrics"]["mae"] for d in r["draws"]] for t in ("a", "b")}
        out["width_sweep_20pct_steps_mae"] = {"target": "<= 0.05 each", "values_per_draw": mae,
                                              "met": bool(max(max(v) for v in mae.values()) <= 0.05)}
    covs = [d[t][m]["metrics"]["coverage"] for r in rows for d in r["draws"] for t in r["targets"]
            for m in ("both", "baseline", "topology")]
    out["coverage"] = {"target": "0.85-0.95 (nominal 0.90)", "mean": float(np.mean(covs)), "min": float(np.min(covs)),
                       "max": float(np.max(covs)),
                       "share_of_rows_within_5_points": float(np.mean(np.abs(np.array(covs) - 0.9) <= 0.05))}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="seconds-to-a-minute version (CI)")
    ap.add_argument("--part", choices=("theory", "noisy"), default="theory",
                    help="theory: DMFT theory rows (report.json); noisy: noisy generators and transfer "
                         "(analyses/predict_exponents_noisy.py, written to OUT/noisy/)")
    ap.add_argument("--out", default=str(ROOT / "analyses" / "results" / "predict_exponents"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None, help="noisy part: sweep store folder for the generated runs "
                                                  "(default: a temporary folder, removed afterwards)")
    args = ap.parse_args(argv)
    if args.seed < 0:
        print("--seed must be a non-negative integer", file=sys.stderr)
        return 2
    if args.part == "noisy":
        import importlib.util

        # a sibling script, loaded by path: analyses/ is not an installed package
        spec = importlib.util.spec_from_file_location("predict_exponents_noisy", Path(__file__).with_name(
            "predict_exponents_noisy.py"))
        noisy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(noisy)
        return noisy.run(quick=args.quick, out=Path(args.out) / "noisy", seed=args.seed,
                                           cache=args.cache)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = config(args.quick)
    t0 = time.process_time()
    res = study(cfg, args.seed, log=lambda s: print(s, file=sys.stderr, flush=True))
    rows = res["rows"]
    figs = figures(rows, out)
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    report = {"question": "exponents from early training, per input type, against baselines and nulls",
              "quick": args.quick, "seed": args.seed, "config": cfg, "methods": list(METHODS),
              "targets_check": targets_check(rows), "rows": clean, "figures": figs,
              "cpu_seconds": round(time.process_time() - t0, 1), "provenance": provenance.collect()}
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=str))
    for r in clean:
        for v in r["verdict"]:
            print(f"[{r['dataset']}/{r['input_type']} {r['fraction']:.0%} {r['scale']}] {v}")
    print(json.dumps(report["targets_check"], indent=1))
    print(f"wrote {out / 'report.json'} ({report['cpu_seconds']} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
