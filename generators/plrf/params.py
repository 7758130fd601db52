"""Parameters of the power-law random-feature (PLRF) model trained by one-pass SGD.

Model and conventions: Paquette, Paquette, Xiao, Pennington, arXiv:2405.15074; docs/theory/plrf.rst.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toptraj.validation import check_number

SOURCE = "plrf"


def _trace_d(alpha: float, v: int) -> float:
    return float(np.sum(np.arange(1, v + 1, dtype=np.float64) ** (-2.0 * alpha)))


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
