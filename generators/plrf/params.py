"""Parameters of the power-law random-feature (PLRF) model trained by one-pass SGD.

Model and conventions: Paquette, Paquette, Xiao, Pennington, arXiv:2405.15074; docs/theory/plrf.rst.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toptraj.validation import check_number

SOURCE = "plrf"


_TRACE_EXACT = 1_000_000  # terms of Tr D summed explicitly; the rest by Euler-Maclaurin (error < 1e-15 rel.)
_BYTES_PER_STEP = 150  # Volterra solve: F, K, P and FFT buffers of length 4R (see spectral._MAX_STEPS)
_ROW_CHUNK = 64 * 2**20  # bytes of W drawn at a time (spectral._ROW_CHUNK_BYTES)


def _trace_d(alpha: float, v: int) -> float:
    """Tr D = sum_{j=1}^v j^-2 alpha in O(min(v, 10^6)) time and memory (v may be 10^12)."""
    s = 2.0 * alpha
    k = min(int(v), _TRACE_EXACT)
    total = float(np.sum(np.arange(1, k + 1, dtype=np.float64) ** (-s)))
    if v > k:  # Euler-Maclaurin for sum_{j=k+1}^{v} f(j), f(x) = x^-s
        f = lambda x: x ** (-s)  # noqa: E731
        df = lambda x: -s * x ** (-s - 1.0)  # noqa: E731
        integral = np.log(v / k) if s == 1.0 else (float(v) ** (1.0 - s) - float(k) ** (1.0 - s)) / (1.0 - s)
        total += integral + (f(float(v)) - f(float(k))) / 2.0 + (df(float(v)) - df(float(k))) / 12.0
    return float(total)


@dataclass(frozen=True)
class PLRFParams:
    """Parameters of one PLRF + SGD problem.

    ``v`` and ``lr`` are resolved at construction, so ``asdict(params)`` holds the numbers used.

    Parameters
    ----------
    alpha : float
        Data exponent, > 0 (D_jj = j^-2 alpha).
    beta : float
        Target exponent, with 2 (alpha + beta) > 1 (b_j = j^-beta).
    d : int
        Number of parameters (features), >= 1.
    v : int or None
        Data dimension, >= d; None: 4 d (the spec: v = 4d..10d; for 2 alpha < 1 the ratio v/d
        must stay fixed as d grows, which the default does).
    lr : float or None
        Learning rate gamma; None: 0.25 / Tr(D) (the paper's c = 0.25).
    batch : int
        Batch size B >= 1 (gradient summed over the batch).
    """

    alpha: float
    beta: float
    d: int
    v: int | None = None
    lr: float | None = None
    batch: int = 1

    def __post_init__(self) -> None:
        check_number("alpha", self.alpha, low=0.0, low_open=True)
        check_number("beta", self.beta)
        if 2.0 * (self.alpha + self.beta) <= 1.0:
            raise ValueError(
                f"alpha + beta must be > 1/2 (2(alpha+beta) > 1, else the loss has no power law), "
                f"got alpha={self.alpha}, beta={self.beta}"
            )
        d = check_number("d", self.d, low=1, integer=True)
        v = 4 * d if self.v is None else check_number("v", self.v, low=1, integer=True)
        if v < d:
            raise ValueError(f"v must be >= d = {d} (the spec needs v >= d), got v={v}")
        batch = check_number("batch", self.batch, low=1, integer=True)
        lr = 0.25 / _trace_d(float(self.alpha), v) if self.lr is None else check_number(
            "lr", self.lr, low=0.0, low_open=True
        )
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "beta", float(self.beta))
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "lr", float(lr))
        object.__setattr__(self, "batch", batch)


def estimate_memory_bytes(params: PLRFParams, n_times, function: str | None = None) -> int:
    """Peak memory (bytes) of a PLRF run, from d, v, batch and the number of steps; an estimate (factor ~2).

    Parameters
    ----------
    params : PLRFParams
    n_times : int or array of int
        Number of SGD steps solved, or the ``steps`` array itself (its last entry + 1 is used: the
        Volterra solve and the SGD loop run over every step up to the last recorded one).
    function : {"volterra", "simulate_sgd", None}
        None gives the larger of the two.

    Notes
    -----
    One draw of W builds the d x d matrix W^T D W, its eigenvectors and the eigh workspace
    (about 3 d^2 float64), O(v) vectors and 64 MiB chunks of rows; the Volterra solve keeps about
    150 bytes per step; SGD in the eigenbasis (the default) O(d) per run. SGD in the data space
    (``method="data"``, a reference check) also holds D^1/2 W (v x d), not counted here.
    """
    if np.isscalar(n_times):
        n_steps = int(n_times)
    else:
        arr = np.asarray(n_times)
        n_steps = int(arr.max()) + 1 if arr.size else 0
    d, v = int(params.d), int(params.v)
    base = 8 * (3 * d * d + 4 * v) + 2 * min(_ROW_CHUNK, 8 * v * d)  # a chunk of rows and its scaled copy
    volterra = base + _BYTES_PER_STEP * n_steps
    sgd = base + 8 * 8 * d  # the default "eigen" method (method="data" adds 8 v d for D^1/2 W)
    if function == "volterra":
        return int(volterra)
    if function == "simulate_sgd":
        return int(sgd)
    return int(max(volterra, sgd))
