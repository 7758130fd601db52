"""Argument checks shared by every public entry point, for toptraj and for generator plug-ins.

Each helper raises :class:`toptraj.exceptions.InputError` (a ValueError) whose message names the
argument, the offending value and what is allowed, so that a user never has to read a traceback to
find the mistake (the command line turns it into one line on stderr and exit status 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from toptraj.exceptions import InputError

__all__ = [
    "check_choice", "check_finite_array", "check_fraction", "check_increasing", "check_number", "check_seed",
]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_finite_array(name: str, value: Any, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a float64 array; reject NaN/inf and a wrong number of dimensions."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric, got {_show(value)}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise InputError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(
            f"{name} must be finite (no NaN or inf); found {arr[tuple(bad)]} at index {tuple(bad.tolist())}"
        )
    return arr


def check_increasing(name: str, value: Any, positive: bool = False) -> np.ndarray:
    """Return a finite 1-D float64 array that is strictly increasing (and > 0 if ``positive``)."""
    arr = check_finite_array(name, value, ndim=1)
    if arr.size == 0:
        raise InputError(f"{name} must not be empty")
    if positive and arr[0] <= 0:
        raise InputError(f"{name} must be positive; first value is {arr[0]}")
    steps = np.diff(arr)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise InputError(
            f"{name} must be strictly increasing; {name}[{i + 1}]={arr[i + 1]} <= {name}[{i}]={arr[i]}"
        )
    return arr


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    integer: bool = False,
) -> float:
    """Check a scalar against a range; return it as float (or int when ``integer``).

    ``low_open=True`` means the bound itself is not allowed (``value > low``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number, got {_show(value)}")
    x = float(value)
    if math.isnan(x):
        raise InputError(f"{name} must not be NaN")
    if math.isinf(x) and not allow_inf:
        raise InputError(f"{name} must be finite, got {x}")
    if integer and not math.isinf(x) and x != int(x):
        raise InputError(f"{name} must be a whole number, got {value}")
    lo_txt = "" if low is None else (f"> {low}" if low_open else f">= {low}")
    hi_txt = "" if high is None else (f"< {high}" if high_open else f"<= {high}")
    allowed = " and ".join(t for t in (lo_txt, hi_txt) if t)
    if low is not None and (x < low or (low_open and x == low)):
        raise InputError(f"{name} must be {allowed}, got {value}")
    if high is not None and (x > high or (high_open and x == high)):
        raise InputError(f"{name} must be {allowed}, got {value}")
    if integer and not math.isinf(x):
        return int(x)
    return x


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Reject a value outside ``allowed`` with the full list in the message."""
    allowed = list(allowed)
    if value not in allowed:
        raise InputError(f"{name} must be one of {allowed}, got {_show(value)}")
    return value


def check_fraction(name: str, value: Any) -> float:
    """A fraction in (0, 1]."""
    return check_number(name, value, low=0.0, high=1.0, low_open=True)


def check_seed(name: str, value: Any, allow_none: bool = True) -> int | None:
    """A seed: a non-negative integer, or None when ``allow_none`` (no seed: a deterministic path)."""
    allowed = "a non-negative integer or None" if allow_none else "a non-negative integer"
    if value is None:
        if allow_none:
            return None
        raise InputError(f"{name} must be {allowed}, got None")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be {allowed}, got {_show(value)}")
    if value < 0:
        raise InputError(f"{name} must be {allowed}, got {value}")
    return int(value)
