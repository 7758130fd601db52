"""Finite DMFT simulation: one realisation of the random-feature model trained by flow, GD, momentum or SGD.

The same channels as the theory plus the mode residuals v0_k and a fixed random projection of the
weight-space path (docs/theory/dmft.rst; arXiv:2402.01092).
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from generators.dmft.ground_truth import labels
from generators.dmft.params import SOURCE, DMFTParams, _check_modes, _check_params, _check_times, _step_times
from generators.dmft.theory import _one_blas_thread
from toptraj.exceptions import UnstableStepError
from toptraj.validation import check_choice, check_number

PROJ_SEED = 20240201  # fixed seed of the random projection shared by every run (independent of the run seed)
_SIM_MAX = 20_000  # largest finite N or P (and M) a simulation accepts: memory O(M max(N, P))


def projection_matrix(M: int, n_proj: int) -> np.ndarray:
    """The fixed random projection of weight space, shape (n_proj, M), entries N(0, 1/M).

    Drawn from ``PROJ_SEED`` (not the run seed) so all runs of one M share it.
    """
    check_number("M", M, low=1, integer=True)
    check_number("n_proj", n_proj, low=0, integer=True)
    return np.random.default_rng(PROJ_SEED).standard_normal((int(n_proj), int(M))) / math.sqrt(M)


def _decay(e: np.ndarray, times: np.ndarray, params: DMFTParams) -> np.ndarray:
    """g_i(t): the decay of an eigenmode with eigenvalue e_i of F F^T, shape (n_times, n_eig).

    flow: exp(-e t); gd: (1 - lr e)^step; momentum (beta g'' + g' = -e g, g(0) = 1, g'(0) = 0):
    exp(-t/2beta) [cosh(w t) + sinh(w t)/(2 beta w)], w = sqrt(1 - 4 beta e)/(2 beta) (complex when
    underdamped), evaluated without overflow.
    """
    t = times[:, None]
    if params.optimizer == "flow":
        return np.exp(-e[None, :] * t)
    if params.optimizer == "gd":
        return (1.0 - params.lr * e[None, :]) ** np.rint(t / params.lr)
    beta = params.momentum
    a = 1.0 / (2.0 * beta)
    w = np.sqrt((1.0 - 4.0 * beta * e).astype(np.complex128)) / (2.0 * beta)
    w = np.where(np.abs(w) < 1e-12, 1e-12, w)[None, :]
    ep, em = np.exp((w - a) * t), np.exp(-(w + a) * t)
    return (0.5 * (ep + em) + a * 0.5 * (ep - em) / w).real


def simulate(params: DMFTParams, times, seed: int, modes=(), n_v0: int = 16, n_proj: int = 8,
             backend: str | None = None):
    """One finite realisation: draw A and Psi (and label noise), train from w = 0 (spec 1).

    Parameters
    ----------
    params : DMFTParams
        N and P finite (<= 20000) or math.inf (N = inf: A^T A/N -> I; P = inf: Psi^T Psi/P -> Lambda,
        train loss = test loss). ensemble E > 1: E models with independent A on the same data, whose
        predictions are averaged (the channels describe the averaged predictor).
    times : array, shape (n_times,), positive, increasing (gd/sgd: rounded to whole steps lr * step).
    seed : int
        Same seed, same numbers (on CPU; a GPU gives the same up to float rounding).
    modes : sequence of int
        Mode numbers whose realised transfer v0_k(t)/w*_k become channels ``H_{k}``.
    n_v0 : int
        Residual components v0_k(t), k = 1..min(M, n_v0) (the largest-eigenvalue modes), as ``v0_{k}``.
    n_proj : int
        Random projections ``proj_{j}`` (j = 0..n_proj-1) of v0(t) by :func:`projection_matrix`.
    backend : None, "numpy" or "torch"
        None: torch on a GPU when one is available, else numpy. "torch" without a GPU runs torch on CPU.

    Returns
    -------
    Trajectory
        Channels test_loss (sum lambda_k v0_k^2 + sigma^2), train_loss ((1/P)|Psi v0 + sigma eps|^2; the
        test loss when P = inf or for one-pass SGD), bias (= test loss: a single realisation has no
        separate bias), H_{k}, v0_{k}, proj_{j}; labels as :func:`solve`.

    Notes
    -----
    flow / gd / momentum: with u = (Psi v0 + sigma eps)/sqrt(P) the dynamics close on F F^T,
    F = (Psi/sqrt P)(A^T/sqrt N) (P' x N'), and v0(t) = w* - (A^T/sqrt N) V diag((1 - g_i(t))/s_i) U^T u(0)
    from the thin SVD F = U S V^T (g_i the mode decay, see _decay). Cost O(M N' P') for F,
    O(min(N', P')^2 max(N', P')) for the SVD, O(n_times M min(N', P')) for the path (N' = N or M, P' = P or M),
    per ensemble member. sgd: explicit one-pass steps, O(n_steps (B M + N M)).
    """
    from toptraj import provenance
    from toptraj.trajectory import Trajectory
    from toptraj.validation import check_seed

    params = _check_params(params)
    seed = check_seed("seed", seed)
    if seed is None:
        raise ValueError("seed must be a non-negative integer (a simulation is one random realisation), got None")
    t = _check_times(times)
    k = _check_modes(modes, params.M) if len(modes) else np.zeros(0, dtype=np.int64)
    check_number("n_v0", n_v0, low=0, integer=True)
    check_number("n_proj", n_proj, low=0, integer=True)
    if backend is not None:
        check_choice("backend", backend, ("numpy", "torch"))
    M = int(params.M)
    if M > _SIM_MAX:
        raise ValueError(f"M must be <= {_SIM_MAX} for a simulation, got {M}")
    for name in ("N", "P"):
        v = getattr(params, name)
        if not math.isinf(v) and (v != int(v) or v > _SIM_MAX):
            raise ValueError(f"{name} must be a whole number <= {_SIM_MAX} or inf for a simulation, got {v}")
    if params.optimizer in ("gd", "sgd"):
        t = _step_times(t, params.lr)
    device = "cpu"
    use_torch = backend == "torch"
    if backend is None:
        try:
            import torch

            use_torch = bool(torch.cuda.is_available())
        except ImportError:  # pragma: no cover
            use_torch = False
    if use_torch:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"

    lam, lam_w2 = params.spectrum()
    wstar = np.sqrt(lam_w2 / lam)
    rng = np.random.default_rng(seed)
    with _one_blas_thread() if not use_torch else _nullcontext():
        if params.optimizer == "sgd":
            v0, train = _simulate_sgd(params, lam, wstar, t, rng)
        else:
            v0, train = _simulate_linear(params, lam, wstar, t, rng, use_torch, device)
    test = (v0**2) @ lam + params.sigma**2
    if train is None:
        train = test.copy()
    cols = [test, train, test.copy()]
    names = ["test_loss", "train_loss", "bias"]
    cols += list((v0[:, k - 1] / wstar[k - 1]).T)
    names += [f"H_{int(m)}" for m in k]
    nv = min(M, int(n_v0))
    cols += list(v0[:, :nv].T)
    names += [f"v0_{i + 1}" for i in range(nv)]
    if n_proj:
        cols += list((v0 @ projection_matrix(M, n_proj).T).T)
        names += [f"proj_{j}" for j in range(int(n_proj))]
    values = np.column_stack(cols)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"the simulation diverged for {params} (non-finite loss); reduce lr")
    return Trajectory(times=t, values=values, channels=tuple(names), axis="time", source=SOURCE,
                      params=asdict(params), seed=seed, labels=labels(params),
                      provenance=provenance.collect(device=device))


def _nullcontext():
    import contextlib

    return contextlib.nullcontext()


def _draws(params: DMFTParams, lam: np.ndarray, rng):
    """Psi (P x M, rows ~ N(0, Lambda)) or None, eps (P,) or None, and E matrices A (N x M) or None.

    Draw order is fixed (Psi, eps, then A_1..A_E) so that the same seed gives the same numbers.
    """
    M = lam.size
    Psi = None if math.isinf(params.P) else rng.standard_normal((int(params.P), M)) * np.sqrt(lam)
    eps = None if (Psi is None or params.sigma == 0) else rng.standard_normal(int(params.P))
    As = [None if math.isinf(params.N) else rng.standard_normal((int(params.N), M)) for _ in range(int(params.ensemble))]
    return Psi, eps, As


def _simulate_linear(params, lam, wstar, t, rng, use_torch, device):
    """v0(t) (n_times, M) and train loss (n_times,) or None, for flow / gd / momentum (see simulate)."""
    Psi, eps, As = _draws(params, lam, rng)
    M = lam.size
    if Psi is not None:
        B = Psi / math.sqrt(params.P)
        u0 = B @ wstar + (0.0 if eps is None else params.sigma * eps / math.sqrt(params.P))
    else:
        B = None
        u0 = np.sqrt(lam) * wstar
    v0 = np.zeros((t.size, M))
    u_sum = np.zeros((t.size, u0.size)) if B is not None else None
    for A in As:
        At = np.eye(M) if A is None else A.T / math.sqrt(params.N)  # A'^T, M x N'
        F = (np.sqrt(lam)[:, None] * At) if B is None else B @ At  # P' x N'
        if use_torch:
            import torch

            Ft = torch.as_tensor(F, device=device)
            U, S, Vh = torch.linalg.svd(Ft, full_matrices=False)
            U, S, V = U.cpu().numpy(), S.cpu().numpy(), Vh.T.cpu().numpy()
        else:
            U, S, Vh = np.linalg.svd(F, full_matrices=False)
            V = Vh.T
        keep = S > S.max() * 1e-12
        U, S, V = U[:, keep], S[keep], V[:, keep]
        e = S**2
        if params.optimizer == "gd" and params.lr * e.max() >= 2.0:
            raise UnstableStepError(f"lr={params.lr} is unstable for this draw: lr * largest eigenvalue = "
                             f"{params.lr * e.max():.4g} >= 2 (need lr < {2.0 / e.max():.4g})")
        c = U.T @ u0
        g = _decay(e, t, params)  # (n_times, r)
        Z = At @ V  # M x r
        if use_torch:
            import torch

            Zt = torch.as_tensor(Z, device=device)
            v0 += wstar[None, :] - (torch.as_tensor((1.0 - g) * (c / S)[None, :], device=device) @ Zt.T).cpu().numpy()
        else:
            v0 += wstar[None, :] - ((1.0 - g) * (c / S)[None, :]) @ Z.T
        if u_sum is not None:
            u_sum += u0[None, :] - ((1.0 - g) * c[None, :]) @ U.T
    E = len(As)
    v0 /= E
    train = None if u_sum is None else np.sum((u_sum / E) ** 2, axis=1)
    return v0, train


def _simulate_sgd(params, lam, wstar, t, rng):
    """One-pass SGD: each step a fresh batch Psi_t (B x M) and noise; v0 <- v0 - (lr/B) G Psi_t^T (Psi_t v0 + sigma eps).

    G = A^T A/N (I at N = inf). Returns v0 at the requested steps, (n_times, M), and None (train = test).
    Cost O(n_steps (B M + N M)).
    """
    M = lam.size
    As = [None if math.isinf(params.N) else rng.standard_normal((int(params.N), M)) / math.sqrt(params.N)
          for _ in range(int(params.ensemble))]
    steps = np.rint(t / params.lr).astype(np.int64)
    Bsz, lr, sig = int(params.batch), float(params.lr), float(params.sigma)
    V = np.tile(wstar, (len(As), 1))  # (E, M)
    out = np.empty((t.size, M))
    sq = np.sqrt(lam)
    j = 0
    for n in range(int(steps[-1]) + 1):
        while j < steps.size and steps[j] == n:
            out[j] = V.mean(axis=0)
            j += 1
        X = rng.standard_normal((Bsz, M)) * sq
        noise = sig * rng.standard_normal(Bsz) if sig > 0 else 0.0
        for e_, A in enumerate(As):
            grad = X.T @ (X @ V[e_] + noise) / Bsz
            if A is not None:
                grad = A.T @ (A @ grad)
            V[e_] -= lr * grad
        if not np.all(np.isfinite(V)):
            raise ValueError(f"one-pass SGD diverged at step {n} with lr={lr}; reduce lr")
    return out, None
