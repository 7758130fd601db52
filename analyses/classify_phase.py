"""Can the PLRF compute-optimal phase be read from loss curves?

Paquette et al. 2024 (arXiv 2405.15074): seven phases of the (alpha, beta) plane. For each parameter
point one sweep of Volterra loss curves of one-pass SGD at three d (one W draw per run), sharing one
random amplitude A in [0.1, 10] and time scale tau in [0.3, 3] (L_obs(t) = A L(round(tau t)); one task
at three model sizes). Two inputs: the middle d's curve alone ("curve") and the sweep read as
loss-vs-flops fronts ("front"), each cut to the first ``--fraction`` of training (``--scale`` linear
steps by default, or log-steps). The test points are an independent draw; the classifiers are trained
on two further independent draws, so the spread over training draws is reported. Feature sets
(toptraj.phase): "baseline" (plain fits), "physics" (plus the estimated exponents of the loss terms:
slope spectrum, term-model fit of (alpha, beta), loss scaling with d) and "topology" (plus persistence
summaries). Accuracy per phase, overall, away from / near phase boundaries (distance >= / < 0.05 in
(alpha, beta)), against the majority-class and uniform chance rates.

    python analyses/classify_phase.py [--quick] [--out DIR] [--seed 0] [--fraction 0.2 --scale linear]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from generators import plrf
from toptraj import provenance
from toptraj.phase import FEATURE_SETS, PHASE_NAMES, PhaseClassifier, boundary_distance, feature_columns
from toptraj.trajectory import Trajectory


def draw_points(n, rng):
    out = []
    while len(out) < n:
        a, b = float(rng.uniform(0.1, 1.6)), float(rng.uniform(0.0, 1.6))
        if 2 * (a + b) > 1.1:
            out.append((round(a, 4), round(b, 4)))
    return out


def _simulate(n, seed, d_list, steps) -> dict:
    rng = np.random.default_rng(seed)
    pts = draw_points(n, rng)
    data = {"pts": np.array(pts)}
    for i, (a, b) in enumerate(pts):
        A = float(np.exp(rng.uniform(math.log(0.1), math.log(10.0))))
        tau = float(np.exp(rng.uniform(math.log(0.3), math.log(3.0))))
        r = np.unique(np.maximum(np.rint(tau * steps), 1)).astype(int)
        data[f"{i}_t"] = r / tau
        for d in d_list:
            data[f"{i}_{d}"] = A * plrf.volterra(plrf.PLRFParams(a, b, d), r, seed=seed * 100000 + i).channel("loss")
    return data


def draw_sweeps(n, seed, d_list, steps, cache: Path | None = None):
    """n parameter points of one draw and a sweep over d_list at each (shared A, tau; W seed per point).

    With ``cache`` the simulated losses are kept in (and read back from) an npz file named by the draw's
    seed, size, d and step grid (plain arrays, no pickle), so a rerun with the same settings skips the
    simulation and gives the same numbers.
    """
    name = f"plrf_sweeps_seed{seed}_n{n}_d{'-'.join(map(str, d_list))}_steps{int(steps[-1])}x{steps.size}.npz"
    if cache is not None and (cache / name).exists():
        with np.load(cache / name, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    else:
        data = _simulate(n, seed, d_list, steps)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(cache / name, **data)
    pts = [tuple(float(v) for v in p) for p in data["pts"]]
    sweeps = [[Trajectory(times=data[f"{i}_t"], values=data[f"{i}_{d}"][:, None], channels=("loss",), axis="step",
                          source="plrf", params={"alpha": a, "beta": b, "d": d, "batch": 1}) for d in d_list]
              for i, (a, b) in enumerate(pts)]
    return pts, sweeps


def accuracy_table(y_true, y_pred, dist) -> dict:
    y_true, y_pred, dist = np.asarray(y_true), np.asarray(y_pred), np.asarray(dist)
    ok = y_true == y_pred
    far = dist >= 0.05
    per = {p: {"n": int(np.sum(y_true == p)), "accuracy": float(ok[y_true == p].mean()) if np.any(y_true == p) else None,
               "n_away": int(np.sum((y_true == p) & far)),
               "accuracy_away": float(ok[(y_true == p) & far].mean()) if np.any((y_true == p) & far) else None}
           for p in PHASE_NAMES}
    return {"overall": float(ok.mean()), "away_from_boundaries": float(ok[far].mean()) if far.any() else None,
            "near_boundaries": float(ok[~far].mean()) if (~far).any() else None,
            "n_away": int(far.sum()), "n": int(ok.size), "per_phase": per}


def features(kind, sweeps, fraction, scale):
    """The full (topology) feature matrix of each sample, computed once; feature sets are column subsets."""
    X = [[r.truncate(fraction, scale) for r in s] for s in sweeps]
    if kind == "curve":
        X = [s[len(s) // 2] for s in X]
    return PhaseClassifier(input=kind, features="topology").featurize(X)


def _features_task(args):
    kind, sweeps, fraction, scale = args
    c0 = time.process_time()
    return features(kind, sweeps, fraction, scale), time.process_time() - c0


def all_features(jobs, sets, fraction, scale) -> tuple[dict, float]:
    """{(kind, name): feature matrix} for every input kind and sample set, on ``jobs`` processes, and the
    CPU seconds of the feature computation summed over the processes."""
    tasks = [(kind, name) for kind in ("curve", "front") for name in sets]
    args = [(kind, sets[name], fraction, scale) for kind, name in tasks]
    if jobs <= 1:
        done = [_features_task(a) for a in args]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(_features_task, args))
    return {t: F for t, (F, _) in zip(tasks, done)}, float(sum(c for _, c in done))


def figure(test_pts, preds, yte, out: Path):
    from toptraj import plotting

    fig, (ax,) = plotting.new_axes(size=5.5)
    a = np.array([p[0] for p in test_pts])
    b = np.array([p[1] for p in test_pts])
    ok = np.asarray(preds) == np.asarray(yte)
    ax.scatter(a[ok], b[ok], c="C2", s=14, label="classified right")
    ax.scatter(a[~ok], b[~ok], c="C3", marker="x", s=20, label="wrong")
    iv = 1 - 1 / math.sqrt(2)
    ax.plot([0, 2], [0.5, 0.5], "k-", lw=0.7)
    ax.plot([0.5, 0.5], [0, 2], "k-", lw=0.7)
    ax.plot([0.5, 1.6], [0.5, 1.6], "k-", lw=0.7)
    ax.plot([0.25, 0.25], [0.5, 1.6], "k-", lw=0.7)
    ax.plot([iv, iv], [0.5, 1.6], "k:", lw=0.7)
    ax.plot([0, 0.5], [0.5, 0], "k--", lw=0.7)
    for name, (x, y) in {"Ia": (1.1, 0.2), "Ib": (0.3, 0.35), "Ic": (0.1, 1.2), "II": (1.2, 0.8), "III": (0.8, 1.4),
                         "IVa": (0.38, 1.4), "IVb": (0.26, 0.6)}.items():
        ax.text(x, y, name, fontsize=9)
    ax.set_xlim(0, 1.6)
    ax.set_ylim(0, 1.6)
    ax.set_xlabel("alpha (data exponent)")
    ax.set_ylabel("beta (target exponent)")
    ax.legend(fontsize=7, loc="upper right")
    return plotting.save_figure(fig, out / "phase_diagram_classified.png")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "classify_phase"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fraction", type=float, default=0.2, help="fraction of training observed (default 0.2)")
    parser.add_argument("--scale", default="linear", choices=("linear", "log"), help="steps or log-steps (default linear)")
    parser.add_argument("--sizes", default=None, help="TRAIN,TEST points (default 220,200; quick 40,30)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the features (default 1)")
    parser.add_argument("--cache", default=None, help="folder for the simulated sweeps (reused when present)")
    parser.add_argument("--d", default=None, help="D1,D2,D3 of the sweep; the curve input is the middle one "
                                                  "(default 64,128,256; quick 24,48,96)")
    args = parser.parse_args(argv)
    n_tr, n_te = (40, 30) if args.quick else (220, 200)
    d_list = (24, 48, 96) if args.quick else (64, 128, 256)
    if args.sizes:
        n_tr, n_te = (int(x) for x in args.sizes.split(","))
    if args.d:
        d_list = tuple(int(x) for x in args.d.split(","))
    steps = np.unique(np.geomspace(1, 1e4 if args.quick else 1e5, 48 if args.quick else 64).astype(int))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c0 = time.process_time()
    # independent draws: the test points and two training sets
    cache = Path(args.cache) if args.cache else None
    test_pts, test_sweeps = draw_sweeps(n_te, args.seed + 2, d_list, steps, cache)
    draws = [draw_sweeps(n_tr, args.seed + 11 + k, d_list, steps, cache) for k in range(2)]
    c1 = time.process_time()
    yte = [plrf.phase(a, b) for a, b in test_pts]
    dist = [boundary_distance(a, b) for a, b in test_pts]
    results, preds = {}, {}
    feats_of, cpu_features = all_features(args.jobs, {"test": test_sweeps, "train0": draws[0][1], "train1": draws[1][1]},
                            args.fraction, args.scale)
    for kind in ("curve", "front"):
        Fte = feats_of[(kind, "test")]
        res = {"d": list(d_list) if kind == "front" else [d_list[len(d_list) // 2]], "draws": []}
        for k, (pts, _) in enumerate(draws):
            Ftr = feats_of[(kind, f"train{k}")]
            ytr = [plrf.phase(a, b) for a, b in pts]
            row = {}
            for feats in FEATURE_SETS:
                cols = feature_columns(kind, feats)
                clf = PhaseClassifier(input=kind, features=feats, n_estimators=300, seed=args.seed)
                clf.fit_features(Ftr[:, cols], ytr)
                p = clf.predict_features(Fte[:, cols])
                preds[(kind, feats, k)] = p
                row[feats] = accuracy_table(yte, p, dist)
                row["chance_majority"] = clf.chance_rate_
                row["chance_uniform"] = clf.uniform_rate_
            vals, counts = np.unique(ytr, return_counts=True)
            row["majority_class_on_test"] = float(np.mean(np.asarray(yte) == vals[np.argmax(counts)]))
            res["draws"].append(row)
        res["summary"] = {f: {key: [r[f][key] for r in res["draws"]]
                              for key in ("overall", "away_from_boundaries", "near_boundaries")} for f in FEATURE_SETS}
        results[kind] = res
    c2 = time.process_time()
    best = max(FEATURE_SETS, key=lambda f: np.mean(results["front"]["summary"][f]["away_from_boundaries"]))
    figure(test_pts, preds[("front", best, 0)], yte, out)
    report = {"question": "PLRF phase from early loss curves (one d) and from fronts (three d)",
              "target": "accuracy >= 0.9 away from boundaries (distance >= 0.05 in (alpha, beta))",
              "observed": {"fraction": args.fraction, "scale": args.scale},
              "curve": results["curve"], "front": results["front"], "figure_feature_set": best,
              "cpu_seconds": {"simulate": c1 - c0, "features_all_processes": cpu_features,
                              "fits_and_rest_main_process": c2 - c1}, "jobs": args.jobs,
              "sizes": {"train_per_draw": n_tr, "test": n_te, "training_draws": 2, "steps_max": int(steps[-1])},
              "quick": bool(args.quick), "seed": args.seed, "provenance": provenance.collect()}
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    print(json.dumps({k: results[k]["summary"] for k in results}, indent=1, default=float))
    return report


if __name__ == "__main__":
    main()
