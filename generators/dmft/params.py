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
_MAX_SIGMA = 1e150  # sigma^2 enters every loss: keep it below 1e300
_THEORY_TIME_CHUNK = 4  # theory._TIME_CHUNK


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
        check_number("sigma", self.sigma, low=0.0, high=_MAX_SIGMA)  # sigma^2 finite
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


def estimate_memory_bytes(params: DMFTParams, n_times, function: str | None = None) -> int:
    """Peak memory (bytes) of :func:`~generators.dmft.solve` or :func:`~generators.dmft.simulate`; an estimate.

    Parameters
    ----------
    params : DMFTParams
    n_times : int or array
        Number of times (or the times array).
    function : {"solve", "simulate", None}
        None gives the larger of the two.

    Notes
    -----
    solve: the double Talbot sum works on blocks of 4 times, each holding about 6 complex
    (2 n_nodes) x n_nodes x M' matrices, M' = M or, beyond 2 * 4096 modes, 4096 exact modes plus a
    quadrature of a few hundred nodes. simulate: the data Psi (P x M), E feature matrices A
    (N x M), F (P x N) and its SVD, the residual path (n_times x M), and an M x M identity when
    N = inf; simulate also computes the labels (t_x, t_of) with the theory, so it needs at least
    what solve needs.
    """
    n = int(np.size(n_times)) if not np.isscalar(n_times) else int(n_times)
    M = int(params.M)
    m_eff = M if M <= 2 * DEFAULT_EXACT_MODES else DEFAULT_EXACT_MODES + 1024
    theory = 16 * 8 * (2 * DEFAULT_NODES) * m_eff * _THEORY_TIME_CHUNK  # ~8 complex node-pair blocks
    theory += 8 * (8 * m_eff + 8 * n)
    N = None if np.isinf(params.N) else int(params.N)
    P = None if np.isinf(params.P) else int(params.P)
    sim = 8 * (3 * n * M + 4 * M)  # the residual path and its update temporaries
    if P is not None and params.optimizer != "sgd":
        sim += 8 * (2 * P * M + 2 * n * P)  # Psi (drawn, then scaled: two copies) and the train path
    if N is not None:
        sim += 8 * (int(params.ensemble) + 2) * N * M  # E feature matrices, A^T/sqrt(N) and Z = A^T V
    else:
        sim += 8 * 2 * M * M  # the identity in place of A^T, and Z
    if N is not None and P is not None:
        sim += 8 * 4 * N * P  # F, U and the SVD's workspace
    sim = max(sim, theory)  # simulate also computes the labels with the theory
    if function == "solve":
        return int(theory)
    return int(sim)
