"""The `toptraj` command line.

    toptraj demo [--out DIR] [--quick]          the main job (predict exponents from early training)
    toptraj analyze FILE.csv|FOLDER [--out DIR] a user's own loss curves
    toptraj generate NAME [model args] --out DIR  write generated trajectories to the store
    toptraj sweep CONFIG.toml [--out STORE] ...    a resumable grid of runs (see toptraj.sweeps)

Bad input gives exit status 2 and one line on stderr (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _generator_module(name: str):
    return importlib.import_module(f"generators.{name}")


def _requested_generator(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "generate":
        return args[1]
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    from generators import GENERATORS

    parser = _Parser(prog="toptraj", description="Topological analysis of training trajectories.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="predict the time exponent from early training (main job)")
    demo.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    demo.add_argument("--quick", action="store_true", help="small grid, runs in seconds")
    demo.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    demo.add_argument("--fraction", type=float, default=0.2, help="fraction of training observed (default 0.2)")
    demo.add_argument("--scale", choices=("linear", "log"), default="linear",
                      help="axis on which the fraction is counted (default linear steps)")

    analyze = sub.add_parser("analyze", help="analyse your own loss curve(s) from CSV")
    analyze.add_argument("path", help="CSV file (columns step, loss[, test_loss][, run]), folder of CSVs, "
                         "or stored trajectories (.npz file or folder)")
    analyze.add_argument("--out", default="out/analyze", help="folder for the plot and summary JSON (default out/analyze)")

    if importlib.util.find_spec("toptraj.sweeps") is not None:
        from toptraj import sweeps

        sweep = sub.add_parser("sweep", help="run a grid of generator runs into a resumable store")
        sweeps.add_cli_arguments(sweep)

    gen = sub.add_parser("generate", help="generate trajectories into a store folder")
    gsub = gen.add_subparsers(dest="generator", required=True, parser_class=_Parser)
    # Only the requested generator's module is imported (its arguments are needed); the others
    # are listed by name, so one generator's heavy or broken import never affects another command.
    requested = _requested_generator(argv)
    for name in GENERATORS:
        if importlib.util.find_spec(f"generators.{name}") is None:
            continue  # generator not present in this installation
        p = gsub.add_parser(name, help=f"{name} model (toptraj generate {name} --help)")
        if name == requested:
            _generator_module(name).add_cli_arguments(p)
            p.add_argument("--out", required=True, help="store folder to write into")
            policy = p.add_mutually_exclusive_group()
            policy.add_argument("--append", action="store_true", help="add new files beside runs already in --out")
            policy.add_argument("--overwrite", action="store_true", help="replace the runs already in --out")
    return parser


def _cmd_generate(args: argparse.Namespace) -> int:
    from toptraj.io import check_set_target, save_set

    out = Path(args.out)
    mode = "append" if args.append else "overwrite" if args.overwrite else "refuse"
    check_set_target(out, mode)  # refuse before any work
    module = _generator_module(args.generator)
    trajectories = module.run_cli(args)
    paths = save_set(trajectories, out, prefix=args.generator, mode=mode)
    print(f"wrote {len(paths)} trajectories to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        out = getattr(args, "out", None)
        if out is not None and Path(out).exists() and not Path(out).is_dir():
            raise ValueError(f"--out {out}: exists and is not a folder; give a folder path")
        if args.command == "generate":
            return _cmd_generate(args)
        if args.command == "sweep":
            from toptraj import sweeps

            return sweeps.run_cli(args)
        if args.command == "demo":
            from toptraj.demo import run_demo

            return run_demo(out=args.out, quick=args.quick, seed=args.seed, fraction=args.fraction, scale=args.scale)
        if args.command == "analyze":
            from toptraj.analyze import run_analyze

            return run_analyze(args.path, out=args.out)
    except ValueError as exc:  # includes InputError, StoreError: the user's input broke a rule
        print(f"toptraj {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. --out names an existing file, or a folder that cannot be written
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"toptraj {args.command}: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"toptraj {args.command}: interrupted; files already written are complete", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
