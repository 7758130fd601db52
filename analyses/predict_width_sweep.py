"""a and b from a width sweep observed to the first part of its runs: error vs observed fraction, intervals.

    python analyses/predict_width_sweep.py [--quick] [--out DIR] [--seed 0] [--cache DIR]

Data (generators.exponent_sets.make_sweeps): DMFT theory width sweeps, N = n0 2^i (4 widths, n0
log-uniform in [32, 512]), P = inf, a in [1.1, 3], b in [1.05, 2.5], M in [1e5, 1e8], each sweep with
one random amplitude (x0.1-10) and time scale (x0.3-3) shared by its runs. Two training sets are
drawn independently (seeds s and s + 100) and one evaluation set from a third draw (seed s + 999):
every evaluation sweep is an unseen (a, b) point.

For each observed fraction (10, 20, 30, 50% of the steps and of log-time) every method is fitted on
each training draw and scored on the evaluation set:

- ``topology``, ``baseline``, ``both``: :class:`toptraj.predictor.ExponentPredictor` with that
  feature set and ``target_transform="log"`` (the baselines include the DMFT finite-size
  signatures of :func:`toptraj.path_features.sweep_physics`);
- ``both_identity``: ``both`` regressing a and b themselves (the previous set-up), an ablation;
- ``null``: the topology predictor on time-shuffled sweeps; ``direct``: the untrained (r, m)
  inversion; ``mean``: the training mean.

Metrics: MAE, median relative error, share within 5%, with bootstrap intervals over evaluation
sweeps; interval coverage of the 90% grouped split-conformal intervals per row with a
Clopper-Pearson 90% interval, beside what an exactly calibrated interval would show at these
sizes (:func:`calibrated_reference`). The conformal calibration uses 10 folds of whole sweeps
(``n_splits=10``): out-of-fold models trained on 90% of the groups are closer to the final one. Writes width_sweep.json and width_sweep_error_vs_fraction.png to
--out (default analyses/results/predict_exponents/). Generated sweeps are cached as npz (no
pickle) under --cache (default out/cache/width_sweep) so that a rerun does not solve them again.
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
from toptraj.exponent_eval import bootstrap, metrics, run_methods, verdict
from toptraj.io import atomic_write_text
from toptraj.predictor import Sweep
from toptraj.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("a", "b")
METHODS = ("topology", "baseline", "both", "both_identity", "null", "direct", "mean")
NOMINAL = 0.9


def config(quick: bool) -> dict:
    if quick:
        return {"n_train": 8, "n_test": 6, "n_sizes": 3, "n_times": 24, "n_draws": 2, "n_splits": 4, "fractions": (0.2,),
                "scales": ("linear",), "methods": ("baseline", "both", "null", "direct", "mean")}
    return {"n_train": 40, "n_test": 40, "n_sizes": 4, "n_times": 48, "n_draws": 2, "n_splits": 10,
            "fractions": (0.1, 0.2, 0.3, 0.5),
            "scales": ("linear", "log"), "methods": METHODS}


def sweeps(n: int, seed: int, cfg: dict, cache: Path | None) -> tuple[list, np.ndarray, np.ndarray]:
    """``make_sweeps`` output, read from / written to an npz cache keyed by the full data config."""
    times = exponent_sets.default_times(cfg["n_times"])
    path = None if cache is None else cache / f"sweeps_s{seed}_n{n}_k{cfg['n_sizes']}_t{cfg['n_times']}.npz"
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            y = np.array(z["y"])
            items = []
            for i in range(len(y)):
                runs = [Trajectory(times=z["times"], values=L[:, None], channels=("test_loss",), source="dmft",
                                   labels={"a": y[i, 0], "b": y[i, 1]}) for L in z[f"L{i}"]]
                items.append(Sweep(tuple(z[f"sizes{i}"]), tuple(runs), axis="N", labels={"a": y[i, 0], "b": y[i, 1]}))
        return items, y, np.arange(len(y))
    items, y, g = exponent_sets.make_sweeps("width_sweep", n, seed=seed, n_sizes=cfg["n_sizes"], times=times)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"y": y, "times": times}
        for i, s in enumerate(items):
            arrays[f"sizes{i}"] = np.asarray(s.sizes)
            arrays[f"L{i}"] = np.array([t.channel("test_loss") for t in s.trajectories])
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
    return items, y, g


def fit_methods(train, y, groups, test, fraction: float, scale: str, methods, seed: int, n_splits: int = 10) -> dict:
    """{method: {"pred": (n_test, 2), "interval": (n_test, 2, 2) or None}}: log targets, and
    "both_identity" the "both" method on the targets themselves (the previous set-up)."""
    return run_methods(train, y, groups, test, "width_sweep", fraction, scale, methods, seed,
                       estimator_params={"target_transform": "log", "n_splits": n_splits},
                       variants={"both_identity": ("both", {"target_transform": "identity"})})


def clopper_pearson(k: int, n: int, level: float = 0.9) -> list[float]:
    """Two-sided exact binomial interval for k successes out of n."""
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return [lo, hi]


def study(cfg: dict, seed: int, cache: Path | None, log=print) -> list[dict]:
    t0 = time.process_time()
    draws = [sweeps(cfg["n_train"], seed + 100 * d, cfg, cache) for d in range(cfg["n_draws"])]
    test, y_test, _ = sweeps(cfg["n_test"], seed + 999, cfg, cache)
    log(f"data: {cfg['n_draws']} x {cfg['n_train']} training and {cfg['n_test']} evaluation sweeps "
        f"({time.process_time() - t0:.1f} s CPU)")
    rows = []
    for scale in cfg["scales"]:
        for f in cfg["fractions"]:
            t1 = time.process_time()
            per_draw = [fit_methods(X, y, g, test, f, scale, cfg["methods"], seed + d, cfg["n_splits"])
                        for d, (X, y, g) in enumerate(draws)]
            table = []
            for d, res in enumerate(per_draw):
                tab = {}
                for j, tn in enumerate(TARGETS):
                    tab[tn] = {}
                    for m, r in res.items():
                        iv = None if r["interval"] is None else r["interval"][:, j, :]
                        entry = {"metrics": metrics(y_test[:, j], r["pred"][:, j], iv),
                                 "bootstrap_90": bootstrap(y_test[:, j], r["pred"][:, j], iv, seed=seed + d)}
                        if iv is not None:
                            k = int(np.sum((y_test[:, j] >= iv[:, 0]) & (y_test[:, j] <= iv[:, 1])))
                            entry["coverage_count"] = [k, len(y_test)]
                            entry["coverage_clopper_pearson_90"] = clopper_pearson(k, len(y_test))
                        tab[tn][m] = entry
                table.append(tab)
            verdicts = [verdict([{"y": y_test[:, j], **{m: res[m]["pred"][:, j] for m in ("both", "baseline", "topology")}}
                                 for res in per_draw], tn)
                        for j, tn in enumerate(TARGETS) if {"both", "baseline", "topology"} <= set(cfg["methods"])]
            row = {"fraction": f, "scale": scale, "n_train": cfg["n_train"], "n_test": len(test), "draws": table,
                   "verdict": verdicts, "cpu_seconds": round(time.process_time() - t1, 2),
                   "_pred": per_draw[0], "_y": y_test}
            rows.append(row)
            mae = {tn: {m: [round(t[tn][m]["metrics"]["mae"], 3) for t in table] for m in cfg["methods"]} for tn in TARGETS}
            log(f"{f:.0%} of {'steps' if scale == 'linear' else 'log-time'}: MAE per draw {mae} ({row['cpu_seconds']} s CPU)")
    return rows


def targets_check(rows: list) -> dict:
    out = {}
    for r in rows:
        if r["fraction"] == 0.2 and r["scale"] == "linear":
            mae = {tn: [d[tn]["both"]["metrics"]["mae"] for d in r["draws"]] for tn in TARGETS if "both" in r["draws"][0][tn]}
            base = {tn: [d[tn]["baseline"]["metrics"]["mae"] for d in r["draws"]] for tn in TARGETS}
            out["mae_20pct_steps"] = {"target": "<= 0.05 for a and b in every draw", "both": mae, "baseline": base,
                                      "met_by_both": bool(mae and max(max(v) for v in mae.values()) <= 0.05),
                                      "met_by_baseline": bool(max(max(v) for v in base.values()) <= 0.05)}
    cov = []
    for r in rows:
        for d, tab in enumerate(r["draws"]):
            for tn in TARGETS:
                for m, e in tab[tn].items():
                    if "coverage_count" in e:
                        k, n = e["coverage_count"]
                        cov.append({"fraction": r["fraction"], "scale": r["scale"], "draw": d, "target": tn, "method": m,
                                    "coverage": k / n, "n": n, "clopper_pearson_90": e["coverage_clopper_pearson_90"]})
    vals = np.array([c["coverage"] for c in cov])
    out["coverage"] = {"target": f"within 5 points of the nominal {NOMINAL}", "n_cells": len(cov),
                       "mean": float(vals.mean()), "min": float(vals.min()), "max": float(vals.max()),
                       "share_within_5_points": float(np.mean(np.abs(vals - NOMINAL) <= 0.05 + 1e-12)),
                       "share_whose_interval_contains_nominal": float(np.mean(
                           [c["clopper_pearson_90"][0] <= NOMINAL <= c["clopper_pearson_90"][1] for c in cov])),
                       "calibrated_reference": calibrated_reference(rows[0]["n_train"], rows[0]["n_test"]),
                       "cells": cov}
    return out


def calibrated_reference(n_cal: int, n_test: int, n_sim: int = 20000, seed: int = 0) -> dict:
    """What an exactly calibrated split-conformal interval would show in this design.

    With G calibration groups the coverage conditional on them is Beta(k, G + 1 - k),
    k = min(ceil(NOMINAL (G + 1)), G) (Vovk 2012; Angelopoulos and Bates 2021, arXiv 2107.07511), and the
    held-out count is Binomial(n_test, coverage). Simulated shares of cells within 5 points of
    the nominal and of cells whose Clopper-Pearson interval contains it: the yardstick for the
    measured shares (perfect calibration does not give 100% at these sizes).
    """
    rng = np.random.default_rng(seed)
    # the predictor caps the quantile level at 1 (the largest score) when G is small
    k = min(int(np.ceil(NOMINAL * (n_cal + 1))), n_cal)
    p = rng.beta(k, n_cal + 1 - k, n_sim)
    cnt = rng.binomial(n_test, p)
    cover = cnt / n_test
    cp = {c: clopper_pearson(int(c), n_test) for c in np.unique(cnt)}
    return {"n_calibration_groups": n_cal, "n_test": n_test, "mean_coverage": float(cover.mean()),
            "share_within_5_points": float(np.mean(np.abs(cover - NOMINAL) <= 0.05 + 1e-12)),
            "share_whose_interval_contains_nominal": float(np.mean([cp[c][0] <= NOMINAL <= cp[c][1] for c in cnt]))}


def figure(rows: list, out: Path, methods) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = sorted({r["scale"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(len(TARGETS), len(scales), figsize=(4.8 * len(scales), 3.4 * len(TARGETS)), squeeze=False)
    for i, tn in enumerate(TARGETS):
        for k, scale in enumerate(scales):
            ax = axes[i, k]
            sub = sorted([r for r in rows if r["scale"] == scale], key=lambda r: r["fraction"])
            x = [100 * r["fraction"] for r in sub]
            for m in methods:
                v = np.array([[d[tn][m]["metrics"]["mae"] for d in r["draws"]] for r in sub])
                ax.errorbar(x, v.mean(axis=1), yerr=np.abs(v.T - v.mean(axis=1)).max(axis=0) if v.shape[1] > 1 else None,
                            marker="o", ms=3, capsize=2, label=m)
            ax.axhline(0.05, color="k", ls="--", lw=0.8)
            ax.set_yscale("log")
            ax.set_xlabel(f"% of {'steps' if scale == 'linear' else 'log-time'} observed")
            ax.set_ylabel(f"MAE of {tn} (bars: range over training draws)")
            ax.set_title(f"width sweep, {tn}", fontsize=9)
            if i == 0 and k == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    name = "width_sweep_error_vs_fraction.png"
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="seconds-long version (CI)")
    ap.add_argument("--out", default=str(ROOT / "analyses" / "results" / "predict_exponents"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=str(ROOT / "out" / "cache" / "width_sweep"),
                    help="folder for generated sweeps (npz); 'none' to switch the cache off")
    args = ap.parse_args(argv)
    if args.seed < 0:
        print("--seed must be a non-negative integer", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = None if args.cache == "none" else Path(args.cache)
    cfg = config(args.quick)
    t0 = time.process_time()
    rows = study(cfg, args.seed, cache, log=lambda s: print(s, file=sys.stderr, flush=True))
    fig = figure(rows, out, cfg["methods"])
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    report = {"question": "a and b from a width sweep observed to its first fraction: error vs fraction, intervals",
              "quick": args.quick, "seed": args.seed, "config": cfg, "methods": list(cfg["methods"]),
              "targets_check": targets_check(rows), "rows": clean, "figures": [fig],
              "cpu_seconds": round(time.process_time() - t0, 1), "provenance": provenance.collect()}
    atomic_write_text(out / "width_sweep.json", json.dumps(report, indent=1, default=str))
    for r in clean:
        for v in r["verdict"]:
            print(f"[{r['fraction']:.0%} {r['scale']}] {v}")
    tc = report["targets_check"]
    print(json.dumps({k: v for k, v in tc.items() if k != "coverage"}, indent=1))
    print(json.dumps({k: v for k, v in tc["coverage"].items() if k != "cells"}, indent=1))
    print(f"wrote {out / 'width_sweep.json'} ({report['cpu_seconds']} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
