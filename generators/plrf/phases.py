"""Phases of the PLRF model and its compute-optimal exponents (docs/theory/plrf.rst, section 4).

The phase diagram in (alpha, beta) and the exponents (eta, xi) of the frontier are those of
Paquette, Paquette, Xiao, Pennington, arXiv:2405.15074.
"""

from __future__ import annotations

import math

from generators.plrf.params import PLRFParams
from toptraj.validation import check_number

PHASES = ("Ia", "Ib", "Ic", "II", "III", "IVa", "IVb")
#: Boundary between phases IVa and IVb (derived, see the spec).
ALPHA_IV = 1.0 - 1.0 / math.sqrt(2.0)


def _check_ab(alpha, beta) -> tuple[float, float]:
    a = check_number("alpha", alpha, low=0.0, low_open=True)
    b = check_number("beta", beta)
    if 2.0 * (a + b) <= 1.0:
        raise ValueError(
            f"alpha + beta must be > 1/2: no power law when 2(alpha+beta) <= 1, got alpha={alpha}, beta={beta}"
        )
    return a, b


def phase(alpha: float, beta: float) -> str:
    """Phase of (alpha, beta): one of ``PHASES``.

    Regions (spec table). Points on a boundary are assigned to one side by the half-open
    conventions 2 beta >= 1 -> II/III/IV/Ic side, 2 alpha >= 1 -> Ia/II/III side, beta >= alpha ->
    III, alpha >= 1/4 -> IV side, alpha >= 1 - 1/sqrt 2 -> IVa; the exponents are continuous across
    every boundary, so the convention changes no number. (0.7, 0.7) (on the II/III line) is "III".

    Raises ValueError for alpha <= 0 or 2 (alpha + beta) <= 1 (no power law there).
    """
    a, b = _check_ab(alpha, beta)
    if 2.0 * b < 1.0:
        return "Ia" if 2.0 * a >= 1.0 else "Ib"
    if 2.0 * a >= 1.0:
        return "III" if b >= a else "II"
    if a < 0.25:
        return "Ic"
    return "IVa" if a >= ALPHA_IV else "IVb"


def compute_optimal_exponents(alpha: float, beta: float) -> tuple[float, float]:
    """(eta, xi) with P*(f) ~ f^-eta and d*(f) ~ f^xi, from the spec's table (section 4)."""
    a, b = _check_ab(alpha, beta)
    p = phase(a, b)
    if p == "Ia":
        return (2 * a + 2 * b - 1) / (2 * a + 1), 1.0 / (2 * a + 1)
    if p == "Ib":
        return a + b - 0.5, 0.5
    if p == "Ic":
        den = 3 * a + 2 * b - 1 - 2 * a * b
        return a * (2 * a + 2 * b - 1) / den, (2 * a + 2 * b - 1) / (2 * den)
    if p == "II":
        return (2 * a + 2 * b - 1) / (2 * (a + b)), b / (a + b)
    if p == "III":
        return 1.0 - 1.0 / (4 * a), 0.5
    if p == "IVa":
        return a, 0.5
    den = 2 * b - a - 2 * a * b  # IVb
    return (1 - 2 * a) * (2 * a + 2 * b - 1) / (2 * den), (b - a) / den


def _labels(params: PLRFParams) -> dict:
    eta, xi = compute_optimal_exponents(params.alpha, params.beta)
    return {"alpha": params.alpha, "beta": params.beta, "phase": phase(params.alpha, params.beta), "eta": eta, "xi": xi}
