"""What a parameters dataclass declares, read once: fields, types, defaults and help text.

The command line (``toptraj generate NAME``) and the sweep config (``[params]``, ``[grid]``,
``[options]``) are both derived from a generator's frozen parameters dataclass and the dataclass of
extra options of its run functions, through this module: :func:`describe` reads the fields, their
resolved type hints and the numpydoc ``Parameters`` section of the class docstring;
:func:`convert` brings a TOML or Python value to the field's type; :func:`parse_text` does the same
for command-line text.

Supported field types: ``float`` (``inf`` accepted on the command line), ``int``, ``str``,
``bool``, ``typing.Literal[...]`` (choices), ``tuple[int, ...]`` / ``tuple[float, ...]`` /
``tuple[str, ...]`` (comma lists on the command line), each optionally ``| None``. Other types are
passed through unchanged (sweep configs only; not offered on the command line).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from toptraj.exceptions import InputError

__all__ = ["FieldInfo", "convert", "describe", "docstring_parameters", "parse_text"]

_KINDS = ("float", "int", "str", "bool", "tuple", "any")


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One field of a parameters dataclass.

    Parameters
    ----------
    name : str
        Field name (``time_scale``); the command-line option is ``--time-scale``.
    kind : {"float", "int", "str", "bool", "tuple", "any"}
        Base type; for ``"tuple"`` the element type is ``item``.
    item : str or None
        Element kind of a tuple field ("float", "int" or "str").
    optional : bool
        None is allowed (``X | None``).
    choices : tuple or None
        Allowed values of a ``Literal[...]`` field.
    has_default : bool
        The dataclass gives a default.
    default : object
        That default (None when there is none).
    help : str
        The field's description from the docstring's Parameters section ('' if absent).
    """

    name: str
    kind: str
    item: str | None
    optional: bool
    choices: tuple | None
    has_default: bool
    default: Any
    help: str

    @property
    def option(self) -> str:
        """The command-line option, e.g. ``--time-scale``."""
        return "--" + self.name.replace("_", "-")

    @property
    def type_text(self) -> str:
        """Human-readable type, e.g. ``int or None``, ``one of ['flow', 'gd']``."""
        if self.choices is not None:
            text = f"one of {list(self.choices)}"
        elif self.kind == "tuple":
            text = f"comma list of {self.item}"
        else:
            text = self.kind
        return text + (" or None" if self.optional else "")


def docstring_parameters(doc: str | None) -> dict[str, str]:
    """Descriptions of the numpydoc ``Parameters`` section: ``{name: text}``.

    ``a, b : float`` gives both names the same text; the description is the indented block
    below the ``name : type`` line, joined into one line.
    """
    if not doc:
        return {}
    lines = [line.rstrip() for line in doc.expandtabs().splitlines()]
    out: dict[str, str] = {}
    i = 0
    while i < len(lines) - 1:
        if lines[i].strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"}:
            break
        i += 1
    else:
        return {}
    base = len(lines[i]) - len(lines[i].lstrip())
    i += 2
    names: list[str] = []
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent <= base:
            if i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"} and lines[i + 1].strip():
                break  # the next section starts
            names = [n.strip() for n in line.split(":")[0].split(",") if n.strip()]
            for n in names:
                out[n] = ""
        elif line.strip() and names:
            for n in names:
                out[n] = (out[n] + " " + line.strip()).strip()
        i += 1
    return out


def _kind(tp: Any) -> tuple[str, str | None, tuple | None]:
    if tp is bool:
        return "bool", None, None
    if tp in (float, int, str):
        return tp.__name__, None, None
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        kinds = {type(c) for c in choices}
        kind = kinds.pop().__name__ if len(kinds) == 1 and kinds <= {int, float, str, bool} else "any"
        return kind, None, tuple(choices)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in (int, float, str):
            return "tuple", args[0].__name__, None
    return "any", None, None


@functools.cache
def describe(cls: type) -> dict[str, FieldInfo]:
    """The fields of a dataclass, in declaration order.

    Parameters
    ----------
    cls : dataclass type

    Returns
    -------
    dict of str to FieldInfo
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise InputError(f"expected a dataclass type, got {cls!r}")
    try:
        hints = typing.get_type_hints(cls, include_extras=False)
    except Exception as exc:  # an annotation that cannot be resolved in its module
        raise InputError(f"{cls.__qualname__}: cannot resolve the field types ({exc})") from None
    helps = docstring_parameters(cls.__doc__)
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints.get(f.name, Any)
        optional = False
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            optional = len(args) < len(typing.get_args(tp))
            tp = args[0] if len(args) == 1 else Any
        kind, item, choices = _kind(tp)
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        out[f.name] = FieldInfo(f.name, kind, item, optional, choices, has_default, default, helps.get(f.name, ""))
    return out


def convert(info: FieldInfo, value: Any) -> Any:
    """A TOML or Python value in the field's type where that is unambiguous; else unchanged.

    An int given for a float field becomes a float (``a = 2`` and ``a = 2.0`` are one run), an
    integral float for an int field an int (``M = 1e3``), a list a tuple (frozen dataclasses
    keep hashable fields). Anything else is left for the dataclass's own checks to reject.
    """
    if value is None or isinstance(value, bool):
        return value
    kind = info.kind
    if kind == "float" and isinstance(value, int):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        if info.kind == "tuple":
            item = FieldInfo(info.name, info.item or "any", None, False, None, False, None, "")
            return tuple(convert(item, v) for v in value)
        return tuple(value)
    return value


def parse_text(info: FieldInfo, text: str, option: str | None = None) -> Any:
    """Command-line text -> a value of the field's type.

    ``none`` gives None for optional fields; floats accept ``inf``; ints accept ``1e3``; tuple
    fields take a comma list (empty text: the empty tuple). Raises InputError naming ``option``.
    """
    option = option or info.option
    text = text.strip()
    if info.optional and text.lower() == "none":
        return None
    if info.kind == "tuple":
        parts = [p for p in re.split(r"[,\s]+", text) if p]
        item = FieldInfo(info.name, info.item or "str", None, False, None, False, None, "")
        return tuple(parse_text(item, p, option) for p in parts)
    if info.kind == "float":
        try:
            value: Any = float(text)
        except ValueError:
            raise InputError(f"{option}: {text!r} is not a number (use e.g. 256, 1e3 or inf)") from None
    elif info.kind == "int":
        try:
            value = int(text)
        except ValueError:
            try:
                x = float(text)
            except ValueError:
                x = float("nan")
            if not x.is_integer():
                raise InputError(f"{option}: {text!r} is not a whole number") from None
            value = int(x)
    elif info.kind == "bool":
        low = text.lower()
        if low not in ("true", "false", "1", "0", "yes", "no"):
            raise InputError(f"{option}: {text!r} is not true or false")
        value = low in ("true", "1", "yes")
    else:
        value = text
    if info.choices is not None and value not in info.choices:
        raise InputError(f"{option}: {text!r} is not one of {list(info.choices)}")
    return value


def instantiate(cls: type, values: Mapping[str, Any], where: str = "") -> Any:
    """``cls(**values)`` with a TypeError (missing or unknown field) turned into an InputError."""
    try:
        return cls(**values)
    except TypeError as exc:
        missing = [n for n, f in describe(cls).items() if not f.has_default and n not in values]
        unknown = sorted(set(values) - set(describe(cls)))
        if missing:
            msg = f"missing required parameter(s) {missing}"
        elif unknown:
            msg = f"unknown parameter(s) {unknown}; {cls.__qualname__} has {list(describe(cls))}"
        else:
            msg = str(exc)
        raise InputError(f"{where}{': ' if where else ''}{msg}") from None
