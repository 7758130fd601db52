"""Exponents from early training on NOISY curves, and transfer from DMFT theory to other models.

    python analyses/predict_exponents_noisy.py [--quick] [--out DIR] [--seed 0] [--cache DIR]
    (or: python analyses/predict_exponents.py --part noisy [--quick] ...)

Part 1 (noisy): for finite DMFT simulations (``dmft_sim``), PLRF trained by one-pass SGD
(``plrf_sgd``) and small MLPs trained by SGD (``network``), two training sets are drawn
independently (seeds s + 1 and s + 101) and one evaluation set from a third draw (seed s + 999), all
made through the sweep runner (:mod:`generators.noisy_sets`; every run with a random amplitude
x0.1-10 and time scale x0.3-3). Each input type the generator gives (curve, pair, weights,
order parameters) x observed fraction (of steps and of log-time) x method (topology, baseline,
both, null, untrained direct fit, training mean) is scored as in analyses/predict_exponents.py:
MAE, median relative error, share within 5%, 90% interval coverage, each with a bootstrap interval
over resampled evaluation runs, per training draw, and a verdict per row.

Part 2 (transfer): the same methods trained on DMFT theory runs (:mod:`generators.exponent_sets`,
random amplitude and time scale; two independent draws) and tested on the evaluation sets of
``dmft_sim``, ``plrf_sgd``, ``network`` and on the latent-space model's loss along T
(``maloney``, target its power-law exponent alpha).

Targets: r = (a-1)/b (dmft_sim; (a, b) for order parameters), r = (2 alpha + 2 beta - 1)/(2 alpha)
for PLRF (its forcing's exponent in DMFT notation, docs/theory/plrf.rst), alpha for Maloney, and
for networks the measured test-loss time exponent of each width (generators/networks/truth.py).

Writes OUT/report.json (rows, verdict table, provenance) and OUT/noisy_mae.png,
OUT/noisy_predicted_vs_true.png; default OUT: analyses/results/predict_exponents/noisy/.
The generated runs go to --cache (a sweep store; reused by a later call with the same seed) or to
a temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from generators import exponent_sets, noisy_sets
from toptraj import provenance
from toptraj.exponent_eval import METHODS, run_methods, score, verdict
from toptraj.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"curve": ("r",), "pair": ("r",), "weights": ("r",), "order_parameters": ("a", "b")}
LABELS = {"dmft_sim": "r = (a-1)/b of the simulated model", "plrf_sgd": "r = (2 alpha + 2 beta - 1)/(2 alpha)",
          "maloney": "alpha (L ~ T^-alpha along the number of samples T)",
          "network": "measured test-loss time exponent (generators/networks/truth.py)"}
# DMFT theory training set per input type for the transfer rows (exponent_sets.make_single prior)
TRANSFER_PRIOR = {"curve": "time", "weights": "time", "pair": "wide"}
BOTH = ("linear", "log")


def config(quick: bool) -> dict:
    """Sizes. quick: PLRF and Maloney only (~20 s of CPU); default: every generator, 20% and 50% of steps
    and of log-time for the noisy rows (also 10% and 30% for single curves), 20% for the transfer rows (~6-10 CPU minutes, most of it the
    DMFT simulations, the network training and the featurisation)."""
    if quick:
        return {"n_train": 8, "n_test": 6, "n_net_train": 0, "n_net_test": 0, "n_transfer_train": 16, "n_times": 32,
                "n_draws": 2,
                "plan": (("noisy", "plrf_sgd", "curve", (0.2,), ("log",)),
                         ("transfer", "plrf_sgd", "curve", (0.2,), ("log",)),
                         ("transfer", "maloney", "curve", (0.2,), ("log",)))}
    f4, f2, f1 = (0.1, 0.2, 0.3, 0.5), (0.2, 0.5), (0.2,)
    n, t = "noisy", "transfer"
    # in order of priority (the report is checkpointed after every row)
    return {"n_train": 16, "n_test": 12, "n_net_train": 5, "n_net_test": 5, "n_transfer_train": 24, "n_times": 48,
            "n_draws": 2,
            "plan": ((n, "dmft_sim", "curve", f4, BOTH), (t, "dmft_sim", "curve", f1, BOTH),
                     (n, "plrf_sgd", "curve", f4, BOTH), (t, "plrf_sgd", "curve", f1, BOTH),
                     (t, "maloney", "curve", f1, BOTH), (n, "network", "curve", f4, BOTH),
                     (t, "network", "curve", f1, BOTH), (n, "dmft_sim", "pair", f2, BOTH),
                     (n, "dmft_sim", "weights", f2, BOTH), (n, "plrf_sgd", "weights", f2, BOTH),
                     (n, "network", "pair", f2, BOTH), (n, "network", "weights", f2, BOTH),
                     (n, "dmft_sim", "order_parameters", f2, BOTH), (t, "dmft_sim", "pair", f1, BOTH),
                     (t, "dmft_sim", "weights", f1, BOTH), (t, "plrf_sgd", "weights", f1, BOTH),
                     (t, "network", "pair", f1, BOTH), (t, "network", "weights", f1, BOTH))}


def summary(row: dict) -> dict:
    """One line of the verdict table: MAE per method (mean over draws, and the spread over draws),
    share within 5% and coverage of "both", and the verdict keyword."""
    out = {}
    for tn in row["targets"]:
        mae = {m: [d[tn][m]["metrics"]["mae"] for d in row["draws"]] for m in METHODS}
        v = next(s for s in row["verdict"] if s.startswith(tn + ":"))
        key = "ADDS" if "ADDS" in v else "HURTS" if "HURTS" in v else "no clear effect"
        out[tn] = {"mae_mean": {m: float(np.mean(x)) for m, x in mae.items()},
                   "mae_per_draw": mae,
                   "within_5pct": {m: float(np.mean([d[tn][m]["metrics"]["within_5pct"] for d in row["draws"]]))
                                   for m in ("topology", "baseline", "both", "direct")},
                   "median_rel": {m: float(np.mean([d[tn][m]["metrics"]["median_rel"] for d in row["draws"]]))
                                  for m in ("topology", "baseline", "both", "direct")},
                   "coverage_both": float(np.mean([d[tn]["both"]["metrics"]["coverage"] for d in row["draws"]])),
                   "best": min(("topology", "baseline", "both", "direct"), key=lambda m: np.mean(mae[m])),
                   "topology_adds": key}
    return out


def evaluate(draws: list, test: tuple, itype: str, fraction: float, scale: str, seed: int) -> dict:
    """Every method fitted on each training draw and scored on ``test``: one row of the report."""
    Xt, yt, _ = test
    targets = TARGETS[itype]
    per_draw, tables = [], []
    for d, (X, y, g) in enumerate(draws):
        res = run_methods(X, y, g, Xt, itype, fraction, scale, METHODS, seed=seed + d)
        tables.append(score(res, yt, targets, seed=seed + d))
        per_draw.append(res)
    verdicts = []
    for j, tname in enumerate(targets):
        def col(p, j=j):
            return p[:, j] if p.ndim == 2 else p
        vd = [{"y": col(yt), **{m: col(r[m]["pred"]) for m in ("both", "baseline", "topology")}} for r in per_draw]
        verdicts.append(verdict(vd, tname))
    row = {"input_type": itype, "fraction": fraction, "scale": scale, "n_train": [len(d[0]) for d in draws],
           "n_test": len(Xt), "targets": list(targets), "draws": tables, "verdict": verdicts,
           "_pred": {m: per_draw[0][m] for m in ("both", "baseline", "topology", "direct")}, "_y": yt}
    row["summary"] = summary(row)
    return row


def study(cfg: dict, seed: int, cache: Path, log=print, checkpoint=None) -> dict:
    data: dict = {}
    cpu_data: dict = {}

    def noisy(kind, itype, n, s):
        key = (kind, itype, n, s)
        if key not in data:
            t0 = time.process_time()
            data[key] = noisy_sets.load_runs(kind, itype, n, s, cache / kind, n_times=cfg["n_times"])
            cpu_data[kind] = cpu_data.get(kind, 0.0) + time.process_time() - t0
        return data[key]

    def sizes(kind):
        return (cfg["n_net_train"], cfg["n_net_test"]) if kind == "network" else (cfg["n_train"], cfg["n_test"])

    rows = []
    for part, kind, itype, fractions, scales in cfg["plan"]:
        n_tr, n_te = sizes(kind)
        if n_te == 0:
            continue
        try:
            test = noisy(kind, itype, n_te, seed + 999)
            if part == "noisy":
                draws = [noisy(kind, itype, n_tr, seed + 1 + 100 * d) for d in range(cfg["n_draws"])]
                train_name = kind
            else:
                t0 = time.process_time()
                draws = []
                for d in range(cfg["n_draws"]):
                    key = ("theory", itype, d)
                    if key not in data:
                        data[key] = exponent_sets.make_single(itype, cfg["n_transfer_train"], seed=seed + 1 + 100 * d,
                                                              prior=TRANSFER_PRIOR[itype],
                                                              times=exponent_sets.default_times(cfg["n_times"]))
                    draws.append(data[key])
                cpu_data["dmft_theory"] = cpu_data.get("dmft_theory", 0.0) + time.process_time() - t0
                train_name = f"dmft_theory ({TRANSFER_PRIOR[itype]} prior)"
        except Exception as exc:  # noqa: BLE001 - a data set that cannot be made is reported, the study goes on
            err = f"{type(exc).__name__}: {exc}"
            log(f"{part} {kind}/{itype}: data FAILED {err}")
            rows.extend({"part": part, "dataset": kind, "input_type": itype, "fraction": f, "scale": sc,
                         "error": err} for sc in scales for f in fractions)
            continue
        for scale in scales:
            for f in fractions:
                t1 = time.process_time()
                head = {"part": part, "dataset": kind, "train_on": train_name, "label": LABELS[kind]}
                try:
                    row = {**head, **evaluate(draws, test, itype, f, scale, seed)}
                except Exception as exc:  # noqa: BLE001 - one failing row is reported, the study goes on
                    row = {**head, "input_type": itype, "fraction": f, "scale": scale,
                           "error": f"{type(exc).__name__}: {exc}"}
                    log(f"{part} {kind}/{itype} {f:.0%} {scale}: FAILED {row['error']}")
                    rows.append(row)
                    continue
                row["cpu_seconds"] = round(time.process_time() - t1, 2)
                rows.append(row)
                if checkpoint is not None:
                    checkpoint(rows)
                s = row["summary"][row["targets"][0]]["mae_mean"]
                log(f"{part} {kind}/{itype} {f:.0%} of {scale}: MAE " +
                    ", ".join(f"{m} {v:.3f}" for m, v in s.items()) + f" ({row['cpu_seconds']} s CPU)")
    return {"rows": rows, "cpu_data": {k: round(v, 1) for k, v in cpu_data.items()}}


def table(rows: list) -> list[dict]:
    """The verdict table: one entry per (part, data set, input type, fraction, scale, target)."""
    out = []
    for r in rows:
        if "error" in r:
            out.append({k: r[k] for k in ("part", "dataset", "input_type", "fraction", "scale")} | {"error": r["error"]})
            continue
        for tn, s in r["summary"].items():
            out.append({"part": r["part"], "dataset": r["dataset"], "input_type": r["input_type"],
                        "fraction": r["fraction"], "scale": r["scale"], "target": tn, "n_test": r["n_test"],
                        **{f"mae_{m}": round(v, 4) for m, v in s["mae_mean"].items()},
                        "mae_both_draws": [round(v, 4) for v in s["mae_per_draw"]["both"]],
                        "within5_both": round(s["within_5pct"]["both"], 3),
                        "within5_baseline": round(s["within_5pct"]["baseline"], 3),
                        "within5_direct": round(s["within_5pct"]["direct"], 3),
                        "coverage_both": round(s["coverage_both"], 3), "best": s["best"],
                        "topology_adds": s["topology_adds"]})
    return out


def table_rst(entries: list[dict]) -> str:
    """The verdict table as a reStructuredText list-table (included by docs/results_noisy.rst)."""
    head = ["part", "data / input", "target", "observed", "MAE topo", "MAE base", "MAE both", "MAE null",
            "MAE direct", "MAE mean", "both per draw", "within 5% both / base / direct", "cov. both", "topology"]
    lines = [".. list-table::", "   :header-rows: 1", "   :class: small", ""]

    def add(cells):
        lines.append("   * - " + str(cells[0]))
        lines.extend("     - " + str(c) for c in cells[1:])

    add(head)
    for e in entries:
        obs = f"{100 * e['fraction']:.0f}% {'steps' if e['scale'] == 'linear' else 'log-time'}"
        if "error" in e:
            add([e["part"], f"{e['dataset']} / {e['input_type']}", "", obs, *[""] * 9, "failed: " + e["error"][:60]])
            continue
        add([e["part"], f"{e['dataset']} / {e['input_type']}", e["target"], obs,
             *(f"{e['mae_' + m]:.3f}" for m in METHODS), " / ".join(f"{v:.3f}" for v in e["mae_both_draws"]),
             f"{e['within5_both']:.2f} / {e['within5_baseline']:.2f} / {e['within5_direct']:.2f}",
             f"{e['coverage_both']:.2f}", e["topology_adds"]])
    return "\n".join(lines) + "\n"


def figures(rows: list, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if "error" not in r]
    written = []
    # 1. MAE per method at the 20% rows (both scales), with the bootstrap interval of draw 0
    colors = {"topology": "C0", "baseline": "C1", "both": "C2", "null": "C3", "direct": "C4", "mean": "C7"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.32 * max(8, len(ok) // 3) + 1.5), squeeze=False)
    for ax, scale in zip(axes[0], BOTH):
        sub = [(r, tn) for r in ok if r["scale"] == scale and abs(r["fraction"] - 0.2) < 1e-9 for tn in r["targets"]]
        for i, (r, tn) in enumerate(sub):
            for k, m in enumerate(METHODS):
                v = np.mean([d[tn][m]["metrics"]["mae"] for d in r["draws"]])
                lo, hi = r["draws"][0][tn][m]["bootstrap_90"]["mae"]
                y = i + (k - 2.5) * 0.12
                ax.plot([lo, hi], [y, y], color=colors[m], lw=0.8)
                ax.plot(v, y, "o", ms=3.5, color=colors[m], label=m if i == 0 else None)
        ax.set_yticks(range(len(sub)))
        ax.set_yticklabels([f"{'T: ' if r['part'] == 'transfer' else ''}{r['dataset']}/{r['input_type']} {tn}"
                            for r, tn in sub], fontsize=7)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("MAE (mean over 2 training draws; bar: 90% bootstrap, draw 0)")
        ax.set_title(f"first 20% of {'steps' if scale == 'linear' else 'log-time'} (T: trained on DMFT theory)",
                     fontsize=9)
        if sub:
            ax.legend(fontsize=7, loc="lower right")
        else:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "noisy_mae.png", dpi=90)
    plt.close(fig)
    written.append("noisy_mae.png")

    # 2. predicted vs true at 20% of log-time: baseline, both, direct
    panels = [(r, j, tn) for r in ok if r["scale"] == "log" and abs(r["fraction"] - 0.2) < 1e-9
              for j, tn in enumerate(r["targets"])]
    if panels:
        ncol = 4
        nrow = (len(panels) + ncol - 1) // ncol
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.3 * nrow), squeeze=False)
        for ax, (r, j, tn) in zip(axes.ravel(), panels):
            y = r["_y"][:, j] if r["_y"].ndim == 2 else r["_y"]
            lo, hi = float(y.min()), float(y.max())
            for m in ("baseline", "both", "direct"):
                p = r["_pred"][m]["pred"]
                p = p[:, j] if p.ndim == 2 else p
                ax.plot(y, p, "o", ms=3, alpha=0.7, color=colors[m], label=m)
                fin = p[np.isfinite(p)]
                if fin.size:
                    lo, hi = min(lo, float(np.quantile(fin, 0.02))), max(hi, float(np.quantile(fin, 0.98)))
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            s = r["summary"][tn]["mae_mean"]
            ax.set_title(f"{'transfer: ' if r['part'] == 'transfer' else ''}{r['dataset']}/{r['input_type']} {tn}\n"
                         f"MAE both {s['both']:.3f} base {s['baseline']:.3f} direct {s['direct']:.3f}", fontsize=7)
            ax.set_xlabel("true", fontsize=7)
            ax.set_ylabel("predicted (20% of log-time)", fontsize=7)
            ax.legend(fontsize=6)
        for ax in axes.ravel()[len(panels):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(out / "noisy_predicted_vs_true.png", dpi=80)
        plt.close(fig)
        written.append("noisy_predicted_vs_true.png")
    return written


def run(quick: bool = False, out: Path | str | None = None, seed: int = 0, cache: str | Path | None = None,
        log=None) -> int:
    """Run the study and write OUT/report.json and the figures; returns the exit status (0)."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    out = Path(out) if out is not None else ROOT / "analyses" / "results" / "predict_exponents" / "noisy"
    out.mkdir(parents=True, exist_ok=True)
    tmp = None
    if cache is None:
        tmp = tempfile.mkdtemp(prefix="toptraj-noisy-")
        cache = tmp
    cfg = config(quick)
    t0 = time.process_time()
    try:
        def checkpoint(rows):  # the rows so far, so that an interrupted run leaves its finished rows
            part = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
            atomic_write_text(out / "report.partial.json", json.dumps({"rows": part}, default=str))

        res = study(cfg, seed, Path(cache), log=log, checkpoint=checkpoint)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = res["rows"]
    figs = figures(rows, out)
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    report = {"question": "does topology add over the plain baselines on noisy curves, and does a DMFT-trained "
                          "predictor transfer to other models?",
              "quick": quick, "seed": seed, "config": cfg, "methods": list(METHODS), "labels": LABELS,
              "verdict_table": table(rows), "rows": clean, "figures": figs, "cpu_seconds_data": res["cpu_data"],
              "cpu_seconds": round(time.process_time() - t0, 1),
              "provenance": provenance.collect(params={"seed": seed, "quick": quick})}
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=str))
    atomic_write_text(out / "verdict_table.rst", table_rst(report["verdict_table"]))
    (out / "report.partial.json").unlink(missing_ok=True)
    for r in clean:
        for v in r.get("verdict", [r.get("error", "")]):
            print(f"[{r['part']} {r['dataset']}/{r['input_type']} {r['fraction']:.0%} {r['scale']}] {v}")
    print(f"wrote {out / 'report.json'} ({report['cpu_seconds']} s CPU)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="PLRF and Maloney only, small sizes (CI)")
    ap.add_argument("--out", default=str(ROOT / "analyses" / "results" / "predict_exponents" / "noisy"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None, help="sweep store for the generated runs (default: temporary)")
    args = ap.parse_args(argv)
    if args.seed < 0:
        print("--seed must be a non-negative integer", file=sys.stderr)
        return 2
    return run(quick=args.quick, out=args.out, seed=args.seed, cache=args.cache)


if __name__ == "__main__":
    sys.exit(main())
