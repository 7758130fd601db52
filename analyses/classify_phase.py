"""Can the PLRF compute-optimal phase be read from loss curves?

Paquette et al. 2024 (arXiv 2405.15074): seven phases of the (alpha, beta) plane. Volterra loss
curves of one-pass SGD (one W draw per curve), each with a random amplitude A in [0.1, 10] and time
scale tau in [0.3, 3] (L_obs(t) = A L(round(tau t))). Training and test (alpha, beta) are drawn
independently (held-out parameter points). Two inputs: one curve at one d (the first ``--fraction``
of log-steps) and fronts from three d. For each: the topological classifier, the baseline classifier
on plain fits, the majority-class and uniform chance rates; accuracy per phase, overall, and away
from phase boundaries (distance >= 0.05 in (alpha, beta)).

    python analyses/classify_phase.py [--quick] [--out DIR] [--seed 0]
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
from toptraj.phase import PHASE_NAMES, PhaseClassifier, boundary_distance
from toptraj.trajectory import Trajectory


def draw_points(n, rng):
    out = []
    while len(out) < n:
        a, b = float(rng.uniform(0.1, 1.6)), float(rng.uniform(0.0, 1.6))
        if 2 * (a + b) > 1.1:
            out.append((round(a, 4), round(b, 4)))
    return out


def observed_curve(a, b, d, steps_obs, rng, seed):
    A = float(np.exp(rng.uniform(math.log(0.1), math.log(10.0))))
    tau = float(np.exp(rng.uniform(math.log(0.3), math.log(3.0))))
    r = np.unique(np.maximum(np.rint(tau * steps_obs), 1)).astype(int)
    tr = plrf.volterra(plrf.PLRFParams(a, b, d), r, seed=seed)
    return Trajectory(times=r / tau, values=A * tr.channel("loss")[:, None], channels=("loss",), axis="step",
                      source="plrf", params={"alpha": a, "beta": b, "d": d, "batch": 1}, labels=tr.labels)


def accuracy_table(y_true, y_pred, dist) -> dict:
    y_true, y_pred, dist = np.asarray(y_true), np.asarray(y_pred), np.asarray(dist)
    ok = y_true == y_pred
    far = dist >= 0.05
    per = {p: {"n": int(np.sum(y_true == p)), "accuracy": float(ok[y_true == p].mean()) if np.any(y_true == p) else None}
           for p in PHASE_NAMES}
    return {"overall": float(ok.mean()), "away_from_boundaries": float(ok[far].mean()) if far.any() else None,
            "n_away": int(far.sum()), "n": int(ok.size), "per_phase": per}


def run_input(kind, train_pts, test_pts, d_list, steps_obs, fraction, seed, n_trees) -> dict:
    def build(pts, base_seed):
        X = []
        rng = np.random.default_rng(base_seed)
        for i, (a, b) in enumerate(pts):
            runs = [observed_curve(a, b, d, steps_obs, rng, base_seed + i).truncate(fraction, "log") for d in d_list]
            X.append(runs[0] if kind == "curve" else runs)
        return X

    Xtr, Xte = build(train_pts, seed), build(test_pts, seed + 100000)
    ytr = [plrf.phase(a, b) for a, b in train_pts]
    yte = [plrf.phase(a, b) for a, b in test_pts]
    dist = [boundary_distance(a, b) for a, b in test_pts]
    out = {}
    preds = {}
    for feats in ("topology", "baseline"):
        clf = PhaseClassifier(input=kind, features=feats, n_estimators=n_trees, seed=seed).fit(Xtr, ytr)
        preds[feats] = clf.predict(Xte)
        out[feats] = accuracy_table(yte, preds[feats], dist)
        out["chance_majority"] = clf.chance_rate_
        out["chance_uniform"] = clf.uniform_rate_
    # majority class of the training labels applied to the test set
    vals, counts = np.unique(ytr, return_counts=True)
    out["majority_class_on_test"] = float(np.mean(np.asarray(yte) == vals[np.argmax(counts)]))
    out["d"] = list(d_list)
    return out, preds, yte


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
    parser.add_argument("--fraction", type=float, default=0.5, help="fraction of log-steps observed (default 0.5)")
    parser.add_argument("--sizes", default=None, help="TRAIN,TEST,TRAIN_FRONT,TEST_FRONT (default 400,200,150,100)")
    parser.add_argument("--d", default=None, help="D_CURVE:D1,D2,D3 (default 128:64,128,256; quick 48:24,48,96)")
    args = parser.parse_args(argv)
    n_tr, n_te, n_tr_f, n_te_f = (60, 40, 30, 20) if args.quick else (400, 200, 150, 100)
    d_curve, d_front = (48,) if args.quick else (128,), (24, 48, 96) if args.quick else (64, 128, 256)
    if args.sizes:
        n_tr, n_te, n_tr_f, n_te_f = (int(x) for x in args.sizes.split(","))
    if args.d:
        c, f = args.d.split(":")
        d_curve, d_front = (int(c),), tuple(int(x) for x in f.split(","))
    steps = np.unique(np.geomspace(1, 1e5, 64).astype(int))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    train_pts, test_pts = draw_points(n_tr, rng), draw_points(n_te, rng)
    c0 = time.process_time()
    curve, preds, yte = run_input("curve", train_pts, test_pts, d_curve, steps, args.fraction, args.seed, 300)
    c1 = time.process_time()
    front, _, _ = run_input("front", train_pts[:n_tr_f], test_pts[:n_te_f], d_front, steps, args.fraction,
                            args.seed + 7, 300)
    c2 = time.process_time()
    figure(test_pts, preds["topology"], yte, out)
    report = {"question": "PLRF phase from early loss curves (one d) and from fronts (three d)",
              "target": "accuracy >= 0.9 away from boundaries", "fraction_of_log_steps": args.fraction,
              "curve": curve, "front": front, "cpu_seconds": {"curve": c1 - c0, "front": c2 - c1},
              "sizes": {"train": n_tr, "test": n_te, "train_front": n_tr_f, "test_front": n_te_f},
              "quick": bool(args.quick), "seed": args.seed, "provenance": provenance.collect()}
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    print(json.dumps({"curve": curve, "front": front}, indent=1, default=float))
    return report


if __name__ == "__main__":
    main()
