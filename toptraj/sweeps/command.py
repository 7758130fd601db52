"""``toptraj sweep CONFIG.toml [--out STORE] [--workers N | --scheduler ADDRESS] [--resume] [--driver-writes]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toptraj.exceptions import EXIT_OK, EXIT_RUNS_FAILED, InputError
from toptraj.store import Store
from toptraj.sweeps.cluster import run_with_dask
from toptraj.sweeps.config import load_config
from toptraj.sweeps.runner import run_sweep
from toptraj.validation import check_number


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `toptraj sweep`."""
    parser.add_argument("config", metavar="CONFIG", help="sweep config (TOML; format: pydoc toptraj.sweeps)")
    parser.add_argument("--out", metavar="STORE", default=None, help="store folder (default out/<CONFIG name>)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", metavar="N", type=int, default=None, help="start a Dask LocalCluster with N worker processes"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", default=None, help="address of a running Dask scheduler, e.g. tcp://host:8786"
    )
    parser.add_argument("--resume", action="store_true", help="complete a store that already holds runs of this sweep")
    parser.add_argument(
        "--driver-writes", action="store_true", help="workers return results and this process writes the store (no shared disk)"
    )
    parser.add_argument("--force-size", action="store_true",
                        help="skip the size guards (run count, range lengths, memory estimate)")


def run_cli(args: argparse.Namespace) -> int:
    """Run `toptraj sweep`; exit status 0 if every run is done, 1 if some failed (InputError: bad config)."""
    cfg = load_config(args.config, force_size=args.force_size)
    if args.workers is not None:
        check_number("--workers", args.workers, low=1, integer=True)
    out = Path(args.out) if args.out else Path("out") / Path(args.config).stem
    with Store(out) as st:
        if not args.resume:
            n_known = len(st.rows(cfg.keys))
            if n_known:
                raise InputError(
                    f"{out} already holds {n_known} of {len(cfg)} runs of this sweep; "
                    "pass --resume to run only the missing and failed ones"
                )
        print(f"sweep {cfg.sweep_id}: {len(cfg)} runs of {cfg.generator}.{cfg.function} into {out}", flush=True)
        if args.workers is None and args.scheduler is None:
            result = run_sweep(cfg, st)
        else:
            result = run_with_dask(cfg, st, args.workers, args.scheduler, not args.driver_writes)
    print(result.summary())
    if result.n_failed:
        for key, params, seed, error in result.failures[:5]:
            print(f"  {key[:12]} params={params} seed={seed}: {error}")
        # the one stderr line of exit status 1 (details above and in the catalog)
        print(f"toptraj sweep: {result.n_failed} of {result.n_runs} run(s) failed; errors are in the catalog "
              f"({out / 'catalog.sqlite'}, table runs)", file=sys.stderr)
        return EXIT_RUNS_FAILED
    return EXIT_OK

