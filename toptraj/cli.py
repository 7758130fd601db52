"""The `toptraj` command line.

    toptraj demo [--out DIR] [--quick]            the main job (predict exponents from early training)
    toptraj analyze FILE|FOLDER... [--out DIR]    a user's own runs (toptraj.readers formats)
    toptraj predict FILE... [--N W --P S] [--horizon STEPS] [--fraction f]  runs still going
    toptraj advise FILE... [--widths 128,256,...]  compute-optimal advice from >= 3 widths
    toptraj generate NAME [model args] --out DIR  write generated trajectories to the store
    toptraj sweep CONFIG.toml [--out STORE] ...   a resumable grid of runs (see toptraj.sweeps)

Exit status: 0 success; 1 some runs of a sweep failed; 2 bad input (InputError, any ValueError or
OSError: one stderr line naming the argument or file and the rule); 3 numerical failure
(NumericalError: one line naming the cause and the parameters) or an unexpected internal error
(one line; ``TOPTRAJ_DEBUG=1`` re-raises it with its traceback); 130 interrupted. Never a traceback.

Adding a command: write ``add_cli_arguments(parser)`` and ``run_cli(args) -> int`` in its module
and add one :class:`Command` line to :data:`COMMANDS`, e.g.
``Command("predict", "one line of help", "toptraj.predict:add_cli_arguments", "toptraj.predict:run_cli")``.
Both modules are imported when the parser is built, so keep their top-level imports light
(`import toptraj.cli` must not load torch, dask, giotto-tda or matplotlib.pyplot); raise
InputError / NumericalError and return 0 or 1: the exit codes and the one-line messages follow.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from toptraj.exceptions import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_NUMERICAL, NumericalError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: where its argument definitions and its run function live.

    ``arguments`` and ``run`` are ``"module:function"`` strings, imported when the parser is
    built and when the command runs: ``arguments(parser)`` adds the options, ``run(args)``
    returns the exit status.
    """

    name: str
    help: str
    arguments: str
    run: str

    @staticmethod
    def resolve(target: str) -> Callable:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--quick", action="store_true", help="small grid, runs in seconds")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--fraction", type=float, default=0.2, help="fraction of training observed (default 0.2)")
    p.add_argument("--scale", choices=("linear", "log"), default="linear",
                   help="axis on which the fraction is counted (default linear steps)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier demo's outputs in --out (default: keep them, write to --out-2, ...)")


def _run_demo(args: argparse.Namespace) -> int:
    from toptraj.demo import run_demo

    return run_demo(out=args.out, quick=args.quick, seed=args.seed, fraction=args.fraction, scale=args.scale,
                    overwrite=args.overwrite)


def _run_analyze(args: argparse.Namespace) -> int:
    from toptraj.analyze import run_analyze

    return run_analyze(args.paths, out=args.out, columns=args.columns, window=args.window, seed=args.seed,
                       plots=not args.no_plots, force_size=args.force_size, overwrite=args.overwrite)


def _run_predict(args: argparse.Namespace) -> int:
    from toptraj.predict import run_predict

    return run_predict(args.paths, N=args.N, P=args.P, horizon=args.horizon, fraction=args.fraction,
                       out=args.out, columns=args.columns, window=args.window, seed=args.seed,
                       plots=not args.no_plots, force_size=args.force_size, overwrite=args.overwrite)


#: The subcommands, in the order ``toptraj --help`` lists them.
COMMANDS: tuple[Command, ...] = (
    Command("demo", "predict the time exponent from early training (main job)",
            "toptraj.cli:_demo_arguments", "toptraj.cli:_run_demo"),
    Command("analyze", "exponents, intervals and onsets of your own runs",
            "toptraj.analyze:add_cli_arguments", "toptraj.cli:_run_analyze"),
    Command("predict", "forecast runs still going from their logs so far",
            "toptraj.predict:add_cli_arguments", "toptraj.cli:_run_predict"),
    Command("advise", "compute-optimal exponents and what to run next, from runs at >= 3 widths",
            "toptraj.advise:add_cli_arguments", "toptraj.advise:run_cli"),
    Command("generate", "generate trajectories into a store folder",
            "toptraj.generate:add_cli_arguments", "toptraj.generate:run_cli"),
    Command("sweep", "run a grid of generator runs into a resumable store",
            "toptraj.sweeps.command:add_cli_arguments", "toptraj.sweeps.command:run_cli"),
)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser (``argv`` is accepted for compatibility and ignored)."""
    import toptraj

    parser = _Parser(prog="toptraj", description="Topological analysis of training trajectories.")
    parser.add_argument("--version", action="version", version=f"toptraj {toptraj.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for cmd in COMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help)
        Command.resolve(cmd.arguments)(p)
        p.set_defaults(_run=cmd.run)
    return parser


def _report(command: str, exc: BaseException) -> int:
    """Print one stderr line for ``exc``; return the exit status."""
    if isinstance(exc, NumericalError):
        notes = "; ".join(getattr(exc, "__notes__", []) or [])
        print(f"toptraj {command}: numerical failure ({type(exc).__name__}): {exc}" + (f" [{notes}]" if notes else ""),
              file=sys.stderr)
        return EXIT_NUMERICAL
    if isinstance(exc, ValueError):  # InputError, StoreError and checks that raise ValueError
        print(f"toptraj {command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, OSError):  # e.g. --out names an existing file, or a folder that cannot be written
        where = f" {exc.filename}:" if getattr(exc, "filename", None) else ""
        print(f"toptraj {command}: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    text = " ".join(str(exc).split())
    print(f"toptraj {command}: internal error ({type(exc).__name__}): {text} "
          "(a bug: please report it; TOPTRAJ_DEBUG=1 shows the traceback)", file=sys.stderr)
    return EXIT_NUMERICAL


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, its one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    command = args.command
    try:
        out = getattr(args, "out", None)
        if out is not None and Path(out).exists() and not Path(out).is_dir():
            raise ValueError(f"--out {out}: exists and is not a folder; give a folder path")
        return int(Command.resolve(args._run)(args))
    except SystemExit as exc:  # a generator's own parser: --help (0) or a usage error (2, already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"toptraj {command}: interrupted; files already written are complete", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("TOPTRAJ_DEBUG") and not isinstance(exc, (ValueError, OSError, NumericalError)):
            raise
        return _report(command, exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
