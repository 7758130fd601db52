"""Command line of the PLRF generator: `toptraj generate plrf ...`."""

from __future__ import annotations

import argparse

from generators.plrf.params import PLRFParams
from generators.plrf.sgd import simulate_sgd
from generators.plrf.solver import volterra
from toptraj.trajectory import Trajectory


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `toptraj generate plrf`."""
    parser.add_argument("--alpha", type=float, required=True, help="data exponent (> 0)")
    parser.add_argument("--beta", type=float, required=True, help="target exponent (2(alpha+beta) > 1)")
    parser.add_argument("--d", type=int, required=True, help="number of parameters")
    parser.add_argument("--v", type=int, default=None, help="data dimension (default 4 d)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default 0.25 / Tr D)")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument(
        "--steps", default="1:1e5:64", help="START:STOP:N log-spaced, rounded to distinct integers (default 1:1e5:64)"
    )
    parser.add_argument("--sgd", action="store_true", help="simulate SGD instead of solving the Volterra equation")
    parser.add_argument("--n-runs", type=int, default=1, help="SGD runs averaged per seed (with --sgd)")
    parser.add_argument("--seeds", default="0", help="seeds (each fixes W), e.g. 0:10 or 0,3,7 (default 0)")


def run_cli(args: argparse.Namespace) -> list[Trajectory]:
    """Build trajectories from parsed `toptraj generate plrf` arguments."""
    from toptraj.cli_args import parse_int_logspace, parse_seeds

    params = PLRFParams(args.alpha, args.beta, args.d, v=args.v, lr=args.lr, batch=args.batch)
    steps = parse_int_logspace("--steps", args.steps)
    seeds = parse_seeds("--seeds", args.seeds)
    if args.sgd:
        return [simulate_sgd(params, steps, seed=s, n_runs=args.n_runs) for s in seeds]
    return [volterra(params, steps, seed=s) for s in seeds]
