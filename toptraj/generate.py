"""``toptraj generate NAME``: run a generator from the command line into a store folder.

The options are derived from the generator's :class:`toptraj.registry.GeneratorSpec`, so a
generator (built-in or a plug-in) contains no command-line code:

- one option per field of the parameters dataclass (``time_scale`` -> ``--time-scale``), with
  the help text of the dataclass docstring's Parameters section; fields without a default are
  required unless the spec or the chosen run function gives one;
- ``--NAME`` for the axis (``START:STOP:N``: N log-spaced values; or a comma list), and
  ``--axis FIELD`` when the axis sweeps a parameter field;
- a flag per non-default run function (e.g. ``--simulate``), ``--seeds`` (``0:20``, ``0,3,7``)
  when a function takes seeds, and one option per field of the functions' options dataclasses;
- ``--out DIR`` (required).

Python::

    from toptraj.generate import generate
    runs = generate("dmft", ["--a", "1.5", "--b", "1.25", "--N", "256", "--times", "1:1e4:64"])
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toptraj.cli_args import parse_axis, parse_seeds
from toptraj.exceptions import EXIT_BAD_INPUT, InputError, NumericalError
from toptraj.parameters import FieldInfo, describe, instantiate, parse_text
from toptraj.registry import GeneratorSpec, RunFunction, available_generators, get_generator
from toptraj.trajectory import Trajectory

__all__ = ["build_parser", "generate", "add_cli_arguments", "run_cli"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _help(info: FieldInfo, default: Any = dataclasses.MISSING) -> str:
    text = info.help or info.name
    extra = info.type_text
    if default is not dataclasses.MISSING:
        extra += f"; default {default}"
    return f"{text} [{extra}]".replace("%", "%%")


def _add_field(group, info: FieldInfo, *, required: bool, default: Any = dataclasses.MISSING) -> None:
    if info.kind == "bool" and not info.optional:
        group.add_argument(info.option, dest=info.name, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=_help(info, default))
        return
    metavar = "{" + ",".join(map(str, info.choices)) + "}" if info.choices else info.name.upper()
    group.add_argument(info.option, dest=info.name, metavar=metavar, required=required,
                       default=argparse.SUPPRESS, help=_help(info, default))


def _option_fields(spec: GeneratorSpec) -> dict[str, FieldInfo]:
    out: dict[str, FieldInfo] = {}
    for fn in spec.functions:
        if fn.options is not None:
            for name, info in describe(fn.options).items():
                out.setdefault(name, info)
    return out


def _default_function(spec: GeneratorSpec) -> RunFunction:
    return next(fn for fn in spec.functions if fn.flag is None)


def build_parser(spec: str | GeneratorSpec) -> argparse.ArgumentParser:
    """The argument parser of ``toptraj generate NAME``, derived from the generator's spec."""
    spec = get_generator(spec)
    default_fn = _default_function(spec)
    lines = [spec.description] if spec.description else []
    lines += [f"{'--' + fn.flag if fn.flag else '(default)'}: {fn.qualname}" + (f" - {fn.help}" if fn.help else "")
              for fn in spec.functions]
    parser = _Parser(prog=f"toptraj generate {spec.name}", description="\n".join(lines),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(_function=default_fn.name)
    flagged = [fn for fn in spec.functions if fn.flag]
    if flagged:
        group = parser.add_mutually_exclusive_group()
        for fn in flagged:
            group.add_argument(f"--{fn.flag}", dest="_function", action="store_const", const=fn.name,
                               help=fn.help or f"run {fn.qualname}")
    fields = describe(spec.params)
    per_function = {fn.name: dict(fn.defaults) for fn in spec.functions}
    group = parser.add_argument_group(f"parameters ({spec.params.__name__})")
    select = spec.axis.select if spec.axis is not None else ()
    for name, info in fields.items():
        if info.kind == "any" and info.has_default:
            continue  # not expressible as text; sweeps can still set it
        if info.has_default:
            default: Any = info.default
        elif name in spec.defaults:
            default = spec.defaults[name]
        elif all(name in d for d in per_function.values()) or (name in per_function[default_fn.name]):
            default = ", ".join(f"{d[name]} ({fn})" for fn, d in per_function.items() if name in d)
        else:
            default = dataclasses.MISSING
        required = default is dataclasses.MISSING and name not in select
        _add_field(group, info, required=required, default=default)
    if spec.axis is not None:
        axis = spec.axis
        if axis.select:
            parser.add_argument("--axis", choices=axis.select, default=axis.select[0],
                                help=f"parameter swept along the axis (default {axis.select[0]})")
        form = "START:STOP:N (N log-spaced values" + (", rounded to distinct integers" if axis.integer else "") + \
            ") or a comma list"
        parser.add_argument(f"--{axis.name}", dest="_axis_values", metavar="VALUES", default=axis.default,
                            required=axis.default is None,
                            help=f"{axis.help or axis.name}: {form}" + (f" (default {axis.default})" if axis.default else ""))
    if any(fn.seed != "none" for fn in spec.functions):
        seeded = [fn for fn in spec.functions if fn.seed != "none"]
        where = "" if len(seeded) == len(spec.functions) else " (with " + " or ".join(
            f"--{fn.flag}" if fn.flag else "the default function" for fn in seeded) + ")"
        parser.add_argument("--seeds", default=None, help=f"seeds, e.g. 0:20 (0..19) or 0,3,7{where}")
    options = _option_fields(spec)
    if options:
        group = parser.add_argument_group("options of the run functions")
        for info in options.values():
            if info.kind != "any":
                _add_field(group, info, required=False,
                           default=info.default if info.has_default else dataclasses.MISSING)
    parser.add_argument("--out", required=True, help="store folder to write into")
    policy = parser.add_mutually_exclusive_group()
    policy.add_argument("--append", action="store_true", help="add new files beside the runs already in --out")
    policy.add_argument("--overwrite", action="store_true", help="replace the runs already in --out")
    parser.add_argument("--force-size", action="store_true", help="skip the memory guard (estimate vs available memory)")
    return parser


def _build(cls: type, values: dict, fields: dict[str, FieldInfo], where: str) -> Any:
    """``cls(**values)``; a message that starts with a field name gets its option name instead."""
    try:
        return instantiate(cls, values, where=where)
    except ValueError as exc:
        msg = str(exc)
        for info in fields.values():
            if msg.startswith(info.name) and msg[len(info.name):][:1] in (" ", ":", "[", "="):
                raise InputError(info.option + msg[len(info.name):]) from None
        raise


def _describe_params(params: Any) -> str:
    fields = describe(type(params))
    shown = []
    for name, info in fields.items():
        value = getattr(params, name)
        if not info.has_default or value != info.default:
            shown.append(f"{name}={value}")
    return ", ".join(shown)


def generate(spec: str | GeneratorSpec, argv: Sequence[str] | argparse.Namespace,
             out: str | Path | None = None) -> list[Trajectory]:
    """Run a generator as ``toptraj generate`` would, without writing anything.

    Parameters
    ----------
    spec : str or GeneratorSpec
        Generator name or spec.
    argv : list of str or argparse.Namespace
        The arguments after ``toptraj generate NAME`` (``--out`` may be omitted here), or the
        namespace :func:`build_parser` produced.
    out : path or None
        Output folder; only used for a run function's ``work_dir`` option (``OUT/_runs``).

    Returns
    -------
    list of Trajectory

    Raises
    ------
    InputError
        A bad argument (named); NumericalError from the generator, with a note naming the
        generator, function, parameters and seed.
    """
    spec = get_generator(spec)
    if isinstance(argv, argparse.Namespace):
        args = argv
    else:
        argv = list(argv)
        if "--out" not in argv and not any(a.startswith("--out=") for a in argv):
            argv += ["--out", str(out) if out is not None else "."]
        args = build_parser(spec).parse_args(argv)
    given = vars(args)
    out = Path(out if out is not None else given.get("out", "."))
    fn = spec.function(given.get("_function"))
    fields = describe(spec.params)
    values = spec.param_defaults(fn)
    for name, info in fields.items():
        if name in given:
            value = given[name]
            values[name] = value if isinstance(value, bool) else parse_text(info, value)
    axis_args: list[Any] = []
    if spec.axis is not None:
        axis = spec.axis
        vals = parse_axis(f"--{axis.name}", given["_axis_values"], integer=axis.integer)
        if axis.select:
            chosen = given["axis"]
            for other in axis.select:
                if other != chosen and other not in values and not fields[other].has_default:
                    raise InputError(f"{fields[other].option} is required when --axis {chosen}")
            values.setdefault(chosen, int(vals[0]) if axis.integer else float(vals[0]))  # replaced along the axis
            axis_args = [chosen, vals]
        else:
            axis_args = [vals]
    params = _build(spec.params, values, fields, f"generator {spec.name}")

    own = describe(fn.options) if fn.options is not None else {}
    option_values: dict[str, Any] = {}
    for name, info in _option_fields(spec).items():
        if name not in given:
            continue
        if name not in own:
            users = [f"--{f.flag}" if f.flag else "the default function" for f in spec.functions
                     if f.options is not None and name in describe(f.options)]
            raise InputError(f"{info.option} applies only with {' or '.join(users)}")
        value = given[name]
        option_values[name] = value if isinstance(value, bool) else parse_text(own[name], value)
    if fn.work_dir is not None and option_values.get(fn.work_dir) is None:
        option_values[fn.work_dir] = str(out / "_runs")
    options = {}
    if fn.options is not None:
        options = dataclasses.asdict(_build(fn.options, option_values, own, "options"))

    seeds_text = given.get("seeds")
    if fn.seed == "none":
        if seeds_text is not None:
            seeded = [f"--{f.flag}" for f in spec.functions if f.seed != "none" and f.flag]
            hint = f"; seeds go with {' or '.join(seeded)}" if seeded else ""
            raise InputError(f"--seeds: {fn.qualname} is deterministic and takes no seed{hint}")
        seeds: list = [None]
    elif seeds_text is not None:
        seeds = parse_seeds("--seeds", seeds_text)
    else:
        seeds = list(fn.cli_seeds) or [None]

    bar = None
    if fn.progress is not None:
        from tqdm import tqdm

        bar = tqdm(desc=spec.name, unit="step", file=sys.stderr)

        def progress(n: int = 1, total: int | None = None) -> None:
            if total is not None:
                bar.total = total
                bar.refresh()
            bar.update(n)

        options[fn.progress] = progress
    from toptraj import guards

    axis_name = axis_args[0] if len(axis_args) == 2 else None
    estimate = guards.params_memory_estimate(params, axis_args[-1] if axis_args else None, fn.name, axis_name)
    if estimate is not None:
        guards.check_memory(estimate, f"{spec.name} {fn.name} with {_describe_params(params)}",
                            force=bool(given.get("force_size", False)))
    try:
        return fn.call(params, axis_args, None if seeds == [None] else seeds, options)
    except ValueError as exc:
        if seeds == [None] and fn.seed != "none" and "seed" in str(exc):  # e.g. noise without a seed
            raise InputError(f"{exc}; give --seeds") from None
        raise
    except NumericalError as exc:
        seed_text = "" if seeds == [None] else f", seeds {seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f", seed {seeds[0]}"
        note = f"{spec.name} {fn.name} with {_describe_params(params)}{seed_text}"
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]
        raise
    finally:
        if bar is not None:
            bar.close()


# -- the `toptraj generate` subcommand -----------------------------------------------------------------
def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``toptraj generate``: the generator's name, then its own arguments."""
    names = ", ".join(available_generators())
    parser.add_argument("generator", metavar="NAME", nargs="?", help=f"generator: {names} (toptraj generate NAME --help)")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the generator's arguments and --out DIR")


def run_cli(args: argparse.Namespace) -> int:
    """Run ``toptraj generate NAME ...``: parse the generator's arguments, run it, write the runs."""
    from toptraj.io import check_set_target, save_set

    if args.generator is None:
        raise InputError(f"give a generator NAME: one of {list(available_generators())}")
    spec = get_generator(args.generator)
    gargs = build_parser(spec).parse_args(args.arguments)
    out = Path(gargs.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder; give a folder path")
    mode = "append" if gargs.append else "overwrite" if gargs.overwrite else "refuse"
    check_set_target(out, mode)  # refuse before any work
    trajectories = generate(spec, gargs, out=out)
    paths = save_set(trajectories, out, prefix=spec.name, mode=mode)
    print(f"wrote {len(paths)} trajectories to {out}")
    return 0
