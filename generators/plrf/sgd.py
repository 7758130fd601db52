"""One-pass SGD simulation of the PLRF model (in the eigenbasis of W^T D W or on sampled data).

See docs/theory/plrf.rst; the same seed gives the same W as :func:`generators.plrf.volterra`.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from generators.plrf.params import SOURCE, PLRFParams
from generators.plrf.phases import _labels
from generators.plrf.spectral import _ROW_CHUNK_BYTES, Spectrum, _check_stable, _check_steps, _seed_streams, spectrum
from toptraj import provenance
from toptraj.trajectory import Trajectory
from toptraj.validation import check_choice, check_number, check_seed

#: d at or below which simulate_sgd records every coordinate theta_i of the parameter path.
THETA_CHANNELS_MAX_D = 64
#: Seed of the fixed random projection proj_j of the parameter path (shared by every run and seed).
PROJECTION_SEED = 20240515


def projection_matrix(d: int, n_proj: int) -> np.ndarray:
    """Fixed random projection (n_proj, d), rows N(0, 1/d), from PROJECTION_SEED (run-independent)."""
    rng = np.random.default_rng([PROJECTION_SEED, d])
    return rng.standard_normal((n_proj, d)) / math.sqrt(d)


def simulate_sgd(
    params: PLRFParams,
    steps,
    seed: int,
    n_runs: int = 1,
    *,
    n_proj: int = 8,
    method: str = "eigen",
    backend: str = "auto",
) -> Trajectory:
    """Streaming one-pass SGD on fresh Gaussian samples; loss and parameter path at ``steps``.

    Parameters
    ----------
    params : PLRFParams
    steps : array of int, shape (n_steps,)
        Strictly increasing steps r >= 0 at which theta_r (after r updates) is recorded.
    seed : int
        Fixes W (same W as :func:`volterra`) and, through a separate child stream, the samples.
        Same seed, n_runs, method and backend: same numbers.
    n_runs : int
        Independent SGD runs on the same W (vectorised together).
    n_proj : int
        Number of fixed random projections ``proj_j`` of theta (matrix :func:`projection_matrix`).
    method : "eigen" or "data"
        "eigen" (default) samples the Gaussian pair (features W^T x, target <x, b>) directly in the
        eigenbasis of W^T D W: psi = sqrt(lambda) xi, y = sum_k (gproj_k / sqrt(lambda_k)) xi_k +
        sqrt(P_inf) zeta, which has exactly the law of (V^T W^T x, <x, b>); cost O(n_runs B d) per
        step. "data" draws x ~ N(0, D) in R^v and forms W^T x, cost O(n_runs B v d) per step (a
        reference for small sizes).
    backend : "auto", "numpy" or "torch"
        "auto" is torch on a GPU when torch.cuda.is_available(), numpy otherwise. "torch" uses
        torch on the GPU if present else the CPU. Different backends draw different (equally
        distributed) samples.

    Returns
    -------
    Trajectory
        axis "step"; channels ``loss`` (population loss P(theta_r), mean over runs), ``loss_sem``
        (its standard error, only when n_runs > 1), ``theta_{i}`` for i < d (only when d <= 64)
        and ``proj_{j}`` for j < n_proj: the parameter path of run 0 in the original coordinates.
    """
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    r = _check_steps(steps)
    seed = check_seed("seed", seed)
    if seed is None:
        raise ValueError("seed must be a non-negative integer (it fixes W and the samples)")
    n_runs = check_number("n_runs", n_runs, low=1, integer=True)
    n_proj = check_number("n_proj", n_proj, low=0, integer=True)
    check_choice("method", method, ("eigen", "data"))
    check_choice("backend", backend, ("auto", "numpy", "torch"))
    spec = spectrum(params, seed, vectors=True)
    _check_stable(params, spec)
    use_torch = backend == "torch"
    if backend == "auto":
        try:
            import torch

            use_torch = bool(torch.cuda.is_available())
        except ImportError:
            use_torch = False
    rng_seed = _seed_streams(seed)[1]
    if method == "data":
        losses, path, device = _sgd_data(params, spec, r, rng_seed, n_runs, seed)
    elif use_torch:
        losses, path, device = _sgd_eigen_torch(params, spec, r, rng_seed, n_runs)
    else:
        losses, path, device = _sgd_eigen_numpy(params, spec, r, rng_seed, n_runs)
    # losses (n_steps, n_runs); path (n_steps, d) = theta of run 0 in the original coordinates
    cols = [losses.mean(axis=1)]
    names = ["loss"]
    if n_runs > 1:
        cols.append(losses.std(axis=1, ddof=1) / math.sqrt(n_runs))
        names.append("loss_sem")
    if params.d <= THETA_CHANNELS_MAX_D:
        cols.extend(path.T)
        names.extend(f"theta_{i}" for i in range(params.d))
    if n_proj:
        cols.extend((path @ projection_matrix(params.d, n_proj).T).T)
        names.extend(f"proj_{j}" for j in range(n_proj))
    return Trajectory(
        times=r.astype(np.float64),
        values=np.column_stack(cols),
        channels=tuple(names),
        axis="step",
        source=SOURCE,
        params=asdict(params),
        seed=seed,
        labels=_labels(params),
        provenance=provenance.collect(
            device=device, solver={"method": f"sgd-{method}", "n_runs": n_runs, "n_proj": n_proj}
        ),
    )


def _eigen_setup(spec: Spectrum) -> tuple[np.ndarray, np.ndarray, float]:
    """(sqrt(lambda), target coefficients s_k, noise std) of the eigenbasis sampler."""
    lam = np.clip(spec.lam, 0.0, None)
    sl = np.sqrt(lam)
    s = np.where(spec.reliable, spec.gproj / np.where(spec.reliable, sl, 1.0), 0.0)
    return sl, s, math.sqrt(spec.p_frozen)


def _eigen_loss(theta_e: np.ndarray, sl: np.ndarray, s: np.ndarray, p_frozen: float) -> np.ndarray:
    """P(theta) in the eigenbasis: sum_k (sqrt(lam_k) theta_k - s_k)^2 + P_frozen, shape (n_runs,)."""
    return np.sum((theta_e * sl - s) ** 2, axis=-1) + p_frozen


def _sgd_eigen_numpy(params, spec, r, seed_seq, n_runs):
    rng = np.random.default_rng(seed_seq)
    sl, s, noise = _eigen_setup(spec)
    d, bsz, lr = params.d, params.batch, params.lr
    theta = np.zeros((n_runs, d))
    losses = np.empty((r.shape[0], n_runs))
    path = np.empty((r.shape[0], d))
    block = max(1, min(256, (4 * 2**20) // (n_runs * bsz * (d + 1))))  # steps per RNG call
    i_out, step, total = 0, 0, int(r[-1])
    while True:
        # record every requested step reached so far
        while i_out < r.shape[0] and r[i_out] == step:
            losses[i_out] = _eigen_loss(theta, sl, s, spec.p_frozen)
            path[i_out] = spec.vecs @ theta[0]
            i_out += 1
        if step >= total:
            break
        nb = min(block, total - step)
        z = rng.standard_normal((nb, n_runs, bsz, d + 1))
        xi = np.ascontiguousarray(z[..., :d])
        psi_blk = xi * sl
        y_blk = xi @ s + noise * z[..., d]
        for b in range(nb):
            if i_out < r.shape[0] and r[i_out] == step:
                losses[i_out] = _eigen_loss(theta, sl, s, spec.p_frozen)
                path[i_out] = spec.vecs @ theta[0]
                i_out += 1
            psi = psi_blk[b]  # (n_runs, B, d)
            resid = np.einsum("nbd,nd->nb", psi, theta) - y_blk[b]  # (n_runs, B)
            theta -= lr * np.einsum("nbd,nb->nd", psi, resid)
            step += 1
    return losses, path, "cpu"


def _sgd_eigen_torch(params, spec, r, seed_seq, n_runs):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed_seq.generate_state(1, dtype=np.uint64)[0] % (2**63)))
    sl_np, s_np, noise = _eigen_setup(spec)
    kw = {"dtype": torch.float64, "device": device}
    sl, s = torch.as_tensor(sl_np, **kw), torch.as_tensor(s_np, **kw)
    d, bsz, lr = params.d, params.batch, params.lr
    theta = torch.zeros((n_runs, d), **kw)
    losses = np.empty((r.shape[0], n_runs))
    thetas = np.empty((r.shape[0], d))
    todo = set(int(x) for x in r)
    out_index = {int(x): i for i, x in enumerate(r)}
    for step in range(int(r[-1]) + 1):
        if step in todo:
            i = out_index[step]
            losses[i] = (((theta * sl - s) ** 2).sum(dim=-1) + spec.p_frozen).cpu().numpy()
            thetas[i] = theta[0].cpu().numpy()
        if step == int(r[-1]):
            break
        z = torch.randn((n_runs, bsz, d + 1), generator=gen, **kw)
        psi = z[..., :d] * sl
        y = z[..., :d] @ s + noise * z[..., d]
        resid = torch.einsum("nbd,nd->nb", psi, theta) - y
        theta -= lr * torch.einsum("nbd,nb->nd", psi, resid)
    return losses, thetas @ spec.vecs.T, device


def _sgd_data(params, spec, r, seed_seq, n_runs, seed):
    """Reference SGD in the data space: x ~ N(0, D) in R^v, features W^T x. O(n_runs B v d) per step."""
    d, v, bsz, lr = params.d, params.v, params.batch, params.lr
    rng_w = np.random.default_rng(_seed_streams(seed)[0])
    j = np.arange(1, v + 1, dtype=np.float64)
    sqrt_d = j ** (-params.alpha)
    rows = max(1, _ROW_CHUNK_BYTES // (8 * d))
    a = np.concatenate(  # D^1/2 W, drawn exactly as in spectrum()
        [rng_w.standard_normal((min(v, s0 + rows) - s0, d)) for s0 in range(0, v, rows)]
    ) * (sqrt_d[:, None] / math.sqrt(d))
    c = j ** (-params.alpha - params.beta)
    m = a.T @ a
    g = a.T @ c
    rng = np.random.default_rng(seed_seq)
    theta = np.zeros((n_runs, d))
    losses = np.empty((r.shape[0], n_runs))
    path = np.empty((r.shape[0], d))
    i_out = 0
    for step in range(int(r[-1]) + 1):
        if r[i_out] == step:
            losses[i_out] = np.einsum("nd,nd->n", theta @ m, theta) - 2 * theta @ g + spec.p0
            path[i_out] = theta[0]
            i_out += 1
        if i_out == r.shape[0]:
            break
        z = rng.standard_normal((n_runs, bsz, v))  # x = D^1/2 z
        feats = z @ a  # (n_runs, B, d) = W^T x
        y = z @ c
        resid = np.einsum("nbd,nd->nb", feats, theta) - y
        theta -= lr * np.einsum("nbd,nb->nd", feats, resid)
    return losses, path, "cpu"
