"""Train the exponent predictors that ship in toptraj/data/ (bit for bit from the seed).

    python analyses/train_shipped_predictor.py [--input-type curve|width_sweep|all] [--seed 0]
        [--out toptraj/data] [--check]

curve: 160 DMFT theory curves (gradient flow, N = P = inf, M log-uniform in [1e5, 1e8], a in
[1.1, 3], b in [1.05, 2.5]) on t in [1, 1e4], each with a random amplitude (x0.1-10) and time scale
(x0.3-3), each cut to a random 20-100% of its log-time (so that any observed window is in the
training distribution; the predictor takes a user's file as the observed part, fraction 1.0).
Target r = (a-1)/b; features "both".
width_sweep: 40 sweeps of 4 widths N = n0 2^i (n0 in [32, 512], P = inf), 48 log-spaced times in
[1, 1e4], observed to the first 20% of steps; targets (a, b) regressed in log space
(``target_transform="log"``); features "baseline" (better than "both" in grouped CV on the
training draws; they include the DMFT finite-size signatures of
``toptraj.path_features.sweep_physics``).

--check retrains and compares the arrays with the shipped file (exit 1 if any differs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from generators import exponent_sets
from toptraj.predictor import SHIPPED, ExponentPredictor

ROOT = Path(__file__).resolve().parents[1]


def train(input_type: str, seed: int) -> ExponentPredictor:
    if input_type == "curve":
        X, y, groups = exponent_sets.make_single("curve", 160, seed=seed, prior="time")
        rng = np.random.default_rng(seed + 1)
        X = [t.truncate(float(rng.uniform(0.2, 1.0)), "log") for t in X]
        est = ExponentPredictor(input_type="curve", features="both", fraction=1.0, seed=seed)
    else:
        X, y, groups = exponent_sets.make_sweeps("width_sweep", 40, seed=seed, n_sizes=4,
                                                 times=exponent_sets.default_times(48))
        est = ExponentPredictor(input_type="width_sweep", features="baseline", fraction=0.2, scale="linear", seed=seed,
                                target_transform="log")
    return est.fit(X, y, groups=groups)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input-type", default="all", choices=["all", *SHIPPED])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "toptraj" / "data"))
    ap.add_argument("--check", action="store_true", help="retrain and compare with the shipped file")
    args = ap.parse_args(argv)
    kinds = list(SHIPPED) if args.input_type == "all" else [args.input_type]
    status = 0
    for kind in kinds:
        est = train(kind, args.seed)
        path = Path(args.out) / SHIPPED[kind]
        if args.check:
            old = ExponentPredictor.load(path)
            same = all(np.array_equal(getattr(old, k), getattr(est, k)) for k in ExponentPredictor._ARRAYS)
            print(f"{kind}: {'identical' if same else 'DIFFERENT'} arrays ({path})")
            status |= 0 if same else 1
            continue
        prov = {"script": "analyses/train_shipped_predictor.py", "seed": args.seed, "input_type": kind,
                "data": "DMFT theory (generators.exponent_sets), random amplitude and time scale"}
        est.save(path, overwrite=True, provenance=prov)
        print(f"{kind}: wrote {path} ({est.n_train_} runs, {est.n_groups_} points, conformal q {est.conformal_q_})")
    return status


if __name__ == "__main__":
    sys.exit(main())
