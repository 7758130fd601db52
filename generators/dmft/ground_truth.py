"""Ground-truth labels of the DMFT model: the width crossover t_x and the overfitting onset t_of.

Definitions of docs/theory/dmft.rst, section 6 (measured on theory curves on :func:`label_grid`, with the
label rules of :mod:`toptraj.transitions`). Results are cached per parameter set in ``_LABEL_CACHE``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from generators.dmft.params import (
    DEFAULT_EXACT_MODES,
    DEFAULT_NODES,
    DMFTParams,
    _check_params,
    compute_exponent,
    data_exponent,
    model_exponent,
    time_exponent,
)
from generators.dmft.theory import _curves
from toptraj import transitions


def label_grid(params: DMFTParams) -> np.ndarray:
    """Log-time grid on which t_x and t_of are measured: 8 points per decade, 1e-2 .. 1e2 max(N, P)^b."""
    n = min(params.N, params.P)
    n = max(params.N if math.isinf(n) else n, 1.0)
    scale = params.M if math.isinf(n) else n
    hi = max(1e2 * scale ** params.b, 1e3)
    return np.geomspace(1e-2, hi, int(round(8 * math.log10(hi / 1e-2))) + 1)


def width_crossover(params: DMFTParams, n_nodes: int = DEFAULT_NODES,
                    exact_modes: int | None = DEFAULT_EXACT_MODES) -> tuple[float, np.ndarray, np.ndarray]:
    """The label t_x of spec 6, with the local width exponent it is read from.

    kappa_N(t) = -log(dL(t, 2N)/dL(t, N))/log 2, dL(t, N) = L(t, N) - L(t, inf) (same P, gradient flow);
    t_x is the first time kappa_N crosses (1 + m_late)/2 with m_late = min(a - 1, b) (the late width
    exponent of the full static loss, spec 5; it equals the paper's a - 1 when a - 1 < b).
    NaN when N = inf, when abs(m_late - 1) < 0.1, or when no crossing occurs on :func:`label_grid`.

    Returns
    -------
    t_x : float
    times : array, shape (n_grid,)
    kappa_N : array, shape (n_grid,) (NaN where dL(t, N) or dL(t, 2N) is not positive)

    Notes
    -----
    Cost: three theory solves on the label grid (about 60 times), O(60 n_nodes^2 M) each.
    """
    params = _check_params(params)
    grid = label_grid(params)
    m_late = model_exponent(params.a, params.b)
    if math.isinf(params.N) or abs(m_late - 1.0) < transitions.CROSSOVER_MIN_CONTRAST:
        return math.nan, grid, np.full(grid.size, math.nan)
    flow = DMFTParams(params.a, params.b, params.M, params.N, params.P, params.sigma)
    L1 = _curves(flow, grid, (), n_nodes, exact_modes)[1]
    L2 = _curves(replace(flow, N=2 * params.N), grid, (), n_nodes, exact_modes)[1]
    Linf = _curves(replace(flow, N=math.inf), grid, (), n_nodes, exact_modes)[1]
    kap = transitions.local_width_exponent(L1 - Linf, L2 - Linf)
    return transitions.width_crossover_time(grid, kap, m_late), grid, kap


#: The theory's test loss below this fraction of its first value on the label grid is rounding noise of
#: the Talbot inversion (it reaches ~1e-16 absolute, and turns negative, once every mode is learned, which
#: happens when min(N, P) >= M); the gap ratio is only read where the loss is above it.
_RESOLVED_LOSS = 1e-9


def overfitting_onset(params: DMFTParams, n_nodes: int = DEFAULT_NODES,
                      exact_modes: int | None = DEFAULT_EXACT_MODES, return_reason: bool = False):
    """The label t_of of spec 6: first time (L - Lhat)/L reaches 0.1 on :func:`label_grid` (gradient flow).

    The gap ratio is read only while the test loss is resolved (L > 1e-9 L(first grid time)): when
    min(N, P) >= M every mode is eventually learned and the loss decays to rounding noise, where the
    ratio means nothing. NaN when P = inf, or when the gap never reaches 0.1 while the loss is resolved
    on the grid. Cost: one theory solve on the grid.

    Returns
    -------
    float, or (float, str) with ``return_reason``: t_of and why it is NaN ("" when finite).
    """
    params = _check_params(params)
    if math.isinf(params.P):
        t_of, reason = math.nan, "P = inf: no train/test gap (train loss = test loss)"
    else:
        grid = label_grid(params)
        flow = DMFTParams(params.a, params.b, params.M, params.N, params.P, params.sigma)
        _, L, Lhat, _, _ = _curves(flow, grid, (), n_nodes, exact_modes)
        bad = ~(L > _RESOLVED_LOSS * L[0])
        n = int(np.argmax(bad)) if bad.any() else L.size  # resolved prefix
        if n < 2:
            t_of, reason = math.nan, "the test loss is not resolved on the label grid"
        else:
            t_of = transitions.overfitting_onset(grid[:n], Lhat[:n], L[:n])
            if math.isnan(t_of):
                end = "the loss reaches rounding level" if n < L.size else "the end of the label grid"
                reason = (f"the gap ratio stays below {transitions.GAP_THRESHOLD} up to t = {grid[n - 1]:.4g} "
                          f"({end})")
            else:
                reason = ""
    return (t_of, reason) if return_reason else t_of


_LABEL_CACHE: dict = {}


def labels(params: DMFTParams, n_nodes: int = DEFAULT_NODES, exact_modes: int | None = DEFAULT_EXACT_MODES) -> dict:
    """Ground-truth labels of a parameter point (spec 5, 6); cached per (a, b, M, N, P, sigma, optimizer).

    t_x and t_of are properties of the gradient-flow dynamics of (a, b, M, N, P, sigma) in time units
    (for gd, sgd and momentum the time axis is lr * step or the flow time, so they carry over to
    leading order); t_of is NaN for one-pass SGD (no reuse of data).
    """
    params = _check_params(params)
    key = (params.a, params.b, params.M, params.N, params.P, params.sigma, params.optimizer == "sgd", n_nodes,
           exact_modes)
    if key not in _LABEL_CACHE:
        a, b = params.a, params.b
        t_x = width_crossover(params, n_nodes, exact_modes)[0]
        t_of = math.nan if params.optimizer == "sgd" else overfitting_onset(params, n_nodes, exact_modes)
        _LABEL_CACHE[key] = {
            "a": a, "b": b,
            "time_exponent": time_exponent(a, b),
            "model_exponent": model_exponent(a, b),
            "data_exponent": data_exponent(a, b),
            "compute_exponent": compute_exponent(a, b),
            "t_x": t_x, "t_of": t_of,
        }
    return dict(_LABEL_CACHE[key])
