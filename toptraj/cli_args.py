"""Parsers for the command line's compact argument forms (ranges, seed lists, inf).

Each raises :class:`toptraj.exceptions.InputError` (a ValueError) naming the option, the text
given and the accepted form; the CLI turns
that into one line on stderr and exit status 2.
"""

from __future__ import annotations

import math

import numpy as np

from toptraj.exceptions import InputError


def parse_float(option: str, text: str) -> float:
    """A float; 'inf' accepted (for N, P = infinity)."""
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a number (use e.g. 256, 1e3 or inf)") from None


def parse_logspace(option: str, text: str) -> np.ndarray:
    """'START:STOP:N' -> N log-spaced values from START to STOP (0 < START < STOP, N >= 2)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise InputError(f"{option}: {text!r} must have the form START:STOP:N, e.g. 1:1e4:64")
    start, stop = (parse_float(option, p) for p in parts[:2])
    try:
        n = int(parts[2])
    except ValueError:
        raise InputError(f"{option}: N in {text!r} must be a whole number") from None
    if not (0 < start < stop) or not math.isfinite(stop):
        raise InputError(f"{option}: need 0 < START < STOP < inf, got {text!r}")
    if n < 2:
        raise InputError(f"{option}: N must be >= 2, got {n}")
    return np.geomspace(start, stop, n)


def parse_int_logspace(option: str, text: str) -> np.ndarray:
    """'START:STOP:N' -> up to N distinct log-spaced integers from START to STOP."""
    vals = np.unique(np.round(parse_logspace(option, text)).astype(np.int64))
    return vals


def parse_seeds(option: str, text: str) -> list[int]:
    """'0:20' (0..19), '0,3,7' or '5' -> list of non-negative ints."""
    text = text.strip()
    try:
        if ":" in text:
            lo, hi = (int(p) for p in text.split(":"))
            seeds = list(range(lo, hi))
        else:
            seeds = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"{option}: {text!r} must be START:STOP or a comma list of integers") from None
    if not seeds:
        raise InputError(f"{option}: {text!r} gives no seeds")
    if any(s < 0 for s in seeds):
        raise InputError(f"{option}: seeds must be >= 0, got {text!r}")
    return seeds


def parse_int_list(option: str, text: str) -> list[int]:
    """'16,32,64' -> [16, 32, 64] (positive ints)."""
    try:
        vals = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"{option}: {text!r} must be a comma list of positive integers") from None
    if not vals or any(v <= 0 for v in vals):
        raise InputError(f"{option}: {text!r} must be a non-empty comma list of positive integers")
    return vals


def parse_axis(option: str, text: str, integer: bool = False) -> np.ndarray:
    """An axis: 'START:STOP:N' (log-spaced; integers rounded and de-duplicated when ``integer``)
    or a comma list of strictly increasing values, e.g. '1,10,100'.

    Returns
    -------
    ndarray of shape (n,), float64 (int64 when ``integer``)
    """
    if ":" in text:
        return parse_int_logspace(option, text) if integer else parse_logspace(option, text)
    values = [parse_float(option, p) for p in text.split(",") if p.strip()]
    if not values:
        raise InputError(f"{option}: {text!r} gives no values (use START:STOP:N or a comma list)")
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
        raise InputError(f"{option}: {text!r} must be finite and strictly increasing")
    if integer:
        if np.any(arr != np.round(arr)) or arr[0] < 0:
            raise InputError(f"{option}: {text!r} must be non-negative whole numbers")
        return arr.astype(np.int64)
    return arr
