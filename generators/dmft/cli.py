"""Command line of the DMFT generator: `toptraj generate dmft ...`."""

from __future__ import annotations

import math

from generators.dmft.params import OPTIMIZERS, DMFTParams
from generators.dmft.simulation import simulate
from generators.dmft.theory import solve


def add_cli_arguments(parser) -> None:
    """Arguments of `toptraj generate dmft`."""
    from toptraj.cli_args import parse_float

    def num(option):
        return lambda text: parse_float(option, text)

    parser.add_argument("--a", type=num("--a"), required=True, help="task-power exponent (> 1)")
    parser.add_argument("--b", type=num("--b"), required=True, help="spectral exponent (> 0)")
    parser.add_argument("--N", type=num("--N"), required=True, help="model size (or inf)")
    parser.add_argument("--P", type=num("--P"), default=math.inf, help="samples (default inf)")
    parser.add_argument("--M", type=int, default=None,
                        help="modes (default: 10000 for the theory, 2000 with --simulate)")
    parser.add_argument("--sigma", type=num("--sigma"), default=0.0, help="label-noise std (default 0)")
    parser.add_argument("--optimizer", default="flow", choices=list(OPTIMIZERS))
    parser.add_argument("--lr", type=num("--lr"), default=None, help="step size (gd, sgd)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (sgd)")
    parser.add_argument("--momentum", type=num("--momentum"), default=0.0, help="heavy-ball mass (momentum)")
    parser.add_argument("--ensemble", type=int, default=1, help="ensemble size E (default 1)")
    parser.add_argument("--times", default="1:1e4:64", help="START:STOP:N log-spaced (default 1:1e4:64)")
    parser.add_argument("--modes", default="", help="modes k whose H_k become channels, e.g. 1,5,20")
    parser.add_argument("--simulate", action="store_true", help="finite simulations instead of the theory")
    parser.add_argument("--seeds", default="0", help="simulation seeds, e.g. 0:20 or 0,3,7 (with --simulate)")


def run_cli(args) -> list:
    """Build trajectories from parsed `toptraj generate dmft` arguments (theory, or one per seed)."""
    from toptraj.cli_args import parse_int_list, parse_logspace, parse_seeds

    M = args.M if args.M is not None else (2000 if args.simulate else 10000)
    params = DMFTParams(a=args.a, b=args.b, M=M, N=args.N, P=args.P, sigma=args.sigma, optimizer=args.optimizer,
                        lr=args.lr, batch=args.batch, momentum=args.momentum, ensemble=args.ensemble)
    times = parse_logspace("--times", args.times)
    modes = parse_int_list("--modes", args.modes) if args.modes.strip() else []
    if args.simulate:
        return [simulate(params, times, seed=s, modes=modes) for s in parse_seeds("--seeds", args.seeds)]
    return [solve(params, times, modes=modes)]
