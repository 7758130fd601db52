"""Parameters of the DMFT random-feature model, its predicted exponents and the argument checks.

The exponents are the predictions of section 5 of docs/theory/dmft.rst (Bordelon, Atanasov, Pehlevan,
arXiv:2402.01092); every other stage of :mod:`generators.dmft` builds on this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from toptraj.exceptions import ConvergenceError  # noqa: F401 (its old home; re-exported)
from toptraj.validation import check_choice, check_increasing, check_number

SOURCE = "dmft"
OPTIMIZERS = ("flow", "gd", "sgd", "momentum")
DEFAULT_NODES = 20  # upper-half Talbot nodes; 12..28 agree to ~1e-8 on the spec's checks
DEFAULT_EXACT_MODES: int | None = 4096  # modes beyond are summed by quadrature (theory_spectrum)


@dataclass(frozen=True)
class DMFTParams:
    """Parameters of the random-feature model (spec 1).

    Parameters
    ----------
    a : float
        Task-power exponent, > 1 (lambda_k w_k^2 = k^-a).
    b : float
        Spectral exponent, > 0 (lambda_k = k^-b).
    M : int
        Number of modes, positive integer (the theory is meant for M >> N, P).
    N : float
        Model size, > 0 or inf.
    P : float
        Number of training samples, > 0 or inf (ignored by one-pass "sgd": fresh data).
    sigma : float
        Label-noise standard deviation, >= 0.
    optimizer : {"flow", "gd", "sgd", "momentum"}
        "flow" (gradient flow), "gd" (gradient descent, step lr; time = lr * step), "sgd"
        (one-pass SGD, step lr, batch size batch; time = lr * step), "momentum" (heavy-ball flow
        momentum * v'' + v' = -K v, spec 4: s -> s + momentum s^2).
    lr : float or None
        Step size, > 0 (required for "gd" and "sgd").
    batch : int or None
        Batch size, positive integer (required for "sgd").
    momentum : float
        Heavy-ball mass beta >= 0 (> 0 for "momentum").
    ensemble : int
        Number E of models (independent A, shared data) whose outputs are averaged.
    """

    a: float
    b: float
    M: int
    N: float
    P: float
    sigma: float = 0.0
    optimizer: Literal["flow", "gd", "sgd", "momentum"] = "flow"
    lr: float | None = None
    batch: int | None = None
    momentum: float = 0.0
    ensemble: int = 1

    def __post_init__(self) -> None:
        check_number("a", self.a, low=1.0, low_open=True)
        check_number("b", self.b, low=0.0, low_open=True)
        check_number("M", self.M, low=1, integer=True)
        check_number("N", self.N, low=0.0, low_open=True, allow_inf=True)
        check_number("P", self.P, low=0.0, low_open=True, allow_inf=True)
        check_number("sigma", self.sigma, low=0.0)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.optimizer in ("gd", "sgd"):
            if self.lr is None:
                raise ValueError(f"lr must be given (> 0) for optimizer={self.optimizer!r}, got None")
        if self.lr is not None:
            check_number("lr", self.lr, low=0.0, low_open=True)
        if self.optimizer == "sgd" and self.batch is None:
            raise ValueError("batch must be given (a positive integer) for optimizer='sgd', got None")
        if self.batch is not None:
            check_number("batch", self.batch, low=1, integer=True)
        check_number("momentum", self.momentum, low=0.0)
        if self.optimizer == "momentum" and self.momentum <= 0:
            raise ValueError(f"momentum must be > 0 for optimizer='momentum', got {self.momentum}")
        check_number("ensemble", self.ensemble, low=1, integer=True)

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """(lambda_k, lambda_k w_k^2) for k = 1..M, each shape (M,)."""
        k = np.arange(1, int(self.M) + 1, dtype=np.float64)
        return k**-self.b, k**-self.a


def time_exponent(a: float, b: float) -> float:
    """Exponent of L ~ t^-(a-1)/b (spec 5)."""
    return (a - 1.0) / b


def model_exponent(a: float, b: float) -> float:
    """Exponent of the full static loss L ~ N^-min(a-1, b) at P = inf (spec 5, variance kept)."""
    return min(a - 1.0, b)


def data_exponent(a: float, b: float) -> float:
    """Exponent of L ~ P^-min(a-1, 2b) at N = inf (spec 5)."""
    return min(a - 1.0, 2.0 * b)


def compute_exponent(a: float, b: float) -> float:
    """Compute-optimal loss exponent: L* ~ C^-(a-1) m/(a-1+b m), m = model exponent (spec 5)."""
    m = model_exponent(a, b)
    return (a - 1.0) * m / (a - 1.0 + b * m)


def _check_params(params) -> DMFTParams:
    if not isinstance(params, DMFTParams):
        raise ValueError(f"params must be a DMFTParams, got {type(params).__name__}")
    return params


def _check_times(times) -> np.ndarray:
    return check_increasing("times", times, positive=True)


def _check_modes(modes, M: int) -> np.ndarray:
    k = np.asarray(modes, dtype=np.float64).reshape(-1)
    if np.any(k != np.round(k)) or np.any(k < 1) or np.any(k > M):
        raise ValueError(f"modes must be integers in [1, M={M}], got {modes!r}")
    return k.astype(np.int64)


def _step_times(times: np.ndarray, lr: float) -> np.ndarray:
    """Times rounded to whole steps of size lr (t = lr * step, step >= 1), duplicates dropped."""
    steps = np.unique(np.maximum(np.rint(times / lr), 1.0))
    return steps * lr
