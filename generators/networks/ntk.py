"""Empirical neural tangent kernel at a given set of weights, its spectrum and the task power.

For a scalar readout f(x) = u . model(x) (u: the binary split of the classes, +1/sqrt(C) for the
first half of the classes and -1/sqrt(C) for the rest, as Bordelon et al. split CIFAR into animate
vs inanimate), the NTK on n samples is K_ij = J_i . J_j with J_i = df(x_i)/dtheta. With
K/n = sum_k lambda_k v_k v_k^T (lambda descending) and the +-1 target y of the same split,
the task power is 1 - C(k) with C(k) = sum_{l <= k} (v_l . y)^2 / norm(y)^2 (Eq. 20 of the DMFT paper).
In the model's language lambda_k ~ k^-b and 1 - C(k) ~ k^-(a - 1); both exponents are least-squares
slopes in log-log coordinates over a stated range of k.

Requires a model whose outputs for different samples are independent (no batch norm): rows of the
Jacobian of the batched outputs are then the per-sample gradients.

Products are in the model's dtype (float32: relative error ~1e-6, far below the spread of the
eigenvalues fitted) and accumulated into a float64 kernel. Memory is bounded: per-sample gradients (rows of J) are made in chunks of ``c`` samples with
``torch.func.jacrev`` of the batched scalar outputs (5x faster here than vmap of grad), and each block K[I, J] is one chunk pair. Peak memory is
2 c n_params floats; ``max_bytes`` sets c. Cost: (n/c)(n/c + 1)/2 chunk pairs, i.e. about
n^2 / (2c) per-sample gradients when the Jacobian does not fit, n when it does.

:func:`ntk_at_init` measures the spectrum of a :class:`~generators.networks.TrainConfig` network at
initialisation (the ground-truth exponents a and b of a width sweep).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.networks.config import TrainConfig, select_device
from generators.networks.data import load_dataset
from generators.networks.models import build_model
from toptraj.validation import check_number


@dataclass(frozen=True)
class NTKSpectrum:
    """Result of :func:`empirical_ntk_spectrum`.

    eigenvalues : (n,) eigenvalues of K / n, descending
    task_power : (n,) 1 - C(k) for k = 1..n (last entry 0 up to rounding)
    b, a : fitted exponents (lambda_k ~ k^-b, 1 - C(k) ~ k^-(a - 1))
    b_range, a_range : (k_min, k_max) inclusive ranges of k used by the fits
    n_samples, n_params : sizes; chunk : samples per Jacobian chunk
    """

    eigenvalues: np.ndarray
    task_power: np.ndarray
    b: float
    a: float
    b_range: tuple[int, int]
    a_range: tuple[int, int]
    n_samples: int
    n_params: int
    chunk: int

    def to_dict(self) -> dict:
        """Scalars only (JSON), for provenance."""
        return {
            "a": self.a, "b": self.b, "a_range": list(self.a_range), "b_range": list(self.b_range),
            "n_samples": self.n_samples, "n_params": self.n_params, "chunk": self.chunk,
            "eigenvalues_head": self.eigenvalues[:16].tolist(),
        }


def power_law_slope(k: np.ndarray, y: np.ndarray, k_range: tuple[int, int]) -> float:
    """Least-squares slope s of log y = c - s log k over k_min <= k <= k_max (positive y only).

    k, y : (n,) arrays. Returns NaN if fewer than 3 usable points.
    """
    lo, hi = k_range
    keep = (k >= lo) & (k <= hi) & (y > 0) & np.isfinite(y)
    if keep.sum() < 3:
        return float("nan")
    slope = np.polyfit(np.log(k[keep]), np.log(y[keep]), 1)[0]
    return float(-slope)


def default_fit_range(n: int) -> tuple[int, int]:
    """Range of k for the exponent fits on n samples: [2, n // 10].

    k = 1 is excluded (the top NTK mode is the mean-output direction, an outlier), and the tail
    above n/10 is excluded (finite-n estimates of small eigenvalues flatten out).
    """
    return 2, max(5, n // 10)


def binary_split(n_classes: int) -> np.ndarray:
    """Readout vector u, shape (n_classes,): +1/sqrt(C) for classes < C/2, -1/sqrt(C) otherwise."""
    u = np.where(np.arange(n_classes) < n_classes / 2, 1.0, -1.0)
    return u / np.sqrt(n_classes)


def ntk_matrix(model, x, readout, max_bytes: int = 256 * 2**20) -> tuple[np.ndarray, int]:
    """Empirical NTK of the scalar readout, K (n, n) float64, and the chunk size used.

    model : torch.nn.Module mapping ``(n, *input_shape)`` to (n, C) or (n, T, C) (last position used)
    x : tensor ``(n, *input_shape)`` on the model's device
    readout : tensor (C,)
    max_bytes : bound on the memory of two Jacobian chunks
    """
    import torch
    from torch.func import functional_call, jacrev

    params = {k: v.detach() for k, v in model.named_parameters()}
    n_params = sum(v.numel() for v in params.values())
    n = int(x.shape[0])
    chunk = int(max(1, min(n, max_bytes // (2 * 4 * max(n_params, 1)))))

    def f_batch(p, xb):
        out = functional_call(model, p, (xb,))
        if out.ndim == 3:
            out = out[:, -1]
        return out @ readout  # (c,): samples are independent, so row i of the Jacobian is J_i

    def jac(sl):
        g = jacrev(f_batch)(params, x[sl])
        return torch.cat([g[k].reshape(g[k].shape[0], -1) for k in params], dim=1)

    starts = list(range(0, n, chunk))
    kernel = np.zeros((n, n), dtype=np.float64)
    with torch.no_grad():
        if len(starts) == 1:
            j = jac(slice(0, n))
            kernel[:] = (j @ j.T).double().cpu().numpy()
        else:
            for ii, i0 in enumerate(starts):
                si = slice(i0, min(n, i0 + chunk))
                ji = jac(si)
                for j0 in starts[ii:]:
                    sj = slice(j0, min(n, j0 + chunk))
                    jj = ji if j0 == i0 else jac(sj)
                    block = (ji @ jj.T).double().cpu().numpy()
                    kernel[si, sj] = block
                    kernel[sj, si] = block.T
    return kernel, chunk


def spectrum_from_kernel(
    kernel: np.ndarray, y: np.ndarray, b_range: tuple[int, int] | None = None, a_range: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, float, float, tuple[int, int], tuple[int, int]]:
    """Eigenvalues of K/n (descending), task power 1 - C(k), and the fitted b and a.

    kernel : (n, n) symmetric; y : (n,) scalar targets (not all zero).
    """
    n = kernel.shape[0]
    evals, evecs = np.linalg.eigh(kernel / n)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    power = (evecs.T @ y) ** 2
    total = float(y @ y)
    if total <= 0:
        raise ValueError("targets y must not be all zero")
    # 1 - C(k) as a tail sum (no cancellation for large k).
    tail = np.cumsum(power[::-1])[::-1] / total
    task_power = np.append(tail[1:], 0.0)
    k = np.arange(1, n + 1, dtype=np.float64)
    b_range = b_range or default_fit_range(n)
    a_range = a_range or default_fit_range(n)
    b = power_law_slope(k, evals, b_range)
    a = power_law_slope(k, task_power, a_range) + 1.0
    return evals, task_power, b, a, tuple(b_range), tuple(a_range)


def empirical_ntk_spectrum(
    model,
    data,
    *,
    b_range: tuple[int, int] | None = None,
    a_range: tuple[int, int] | None = None,
    max_bytes: int = 256 * 2**20,
) -> NTKSpectrum:
    """NTK spectrum and task-power curve of ``model`` (at its current weights) on ``data``.

    Parameters
    ----------
    model : torch.nn.Module with C outputs (classification) or (T, C) outputs (language model,
        last position used).
    data : tuple (x, y): x array/tensor ``(n, *input_shape)``; y (n,) integer classes in [0, C)
        (the binary split of the classes is the scalar task), or (n, T) tokens for a language model
        (last token's class).
    b_range, a_range : (k_min, k_max) fit ranges; default :func:`default_fit_range` (n).
    max_bytes : memory bound for the Jacobian chunks (default 256 MiB).

    Returns
    -------
    NTKSpectrum
    """
    import torch

    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"data must be a tuple (x, y), got {type(data).__name__}")
    max_bytes = check_number("max_bytes", max_bytes, low=1, integer=True)
    x, y = data
    device = next(model.parameters()).device
    x = x.to(device) if torch.is_tensor(x) else torch.as_tensor(np.array(x), device=device)
    y = np.asarray(y.cpu() if torch.is_tensor(y) else y)
    if y.ndim == 2:
        y = y[:, -1]
    n = int(x.shape[0])
    if n < 8 or y.shape[0] != n:
        raise ValueError(f"data must have at least 8 samples and matching x and y, got x {tuple(x.shape)}, y {y.shape}")
    with torch.no_grad():
        out = model(x[:1])
    n_classes = int(out.shape[-1])
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y must hold classes in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    for name, rng in (("b_range", b_range), ("a_range", a_range)):
        if rng is not None and not (len(rng) == 2 and 1 <= rng[0] < rng[1] <= n):
            raise ValueError(f"{name} must be (k_min, k_max) with 1 <= k_min < k_max <= {n}, got {rng!r}")
    u = binary_split(n_classes)
    readout = torch.as_tensor(u, dtype=out.dtype, device=device)
    target = np.sqrt(n_classes) * u[y]  # +-1
    was_training = model.training
    model.eval()
    try:
        kernel, chunk = ntk_matrix(model, x, readout, max_bytes=max_bytes)
    finally:
        model.train(was_training)
    evals, task_power, b, a, br, ar = spectrum_from_kernel(kernel, target, b_range, a_range)
    n_params = sum(p.numel() for p in model.parameters())
    return NTKSpectrum(evals, task_power, b, a, br, ar, n, int(n_params), chunk)


def ntk_at_init(config: TrainConfig, seed: int, n_samples: int, *, num_threads: int = 1, **kwargs) -> NTKSpectrum:
    """Empirical NTK spectrum of ``config``'s network at initialisation on ``n_samples`` training inputs."""
    import torch

    n_samples = check_number("n_samples", n_samples, low=8, integer=True)
    device = select_device(config.device)
    old = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        n_train, n_test = config.sizes
        data = load_dataset(config.dataset, n_train, n_test, config.data_seed, online=config.online,
                            n_online=config.steps * config.batch_size, context=config.context)
        init_seed, _ = np.random.SeedSequence(seed).generate_state(2)
        model, _ = build_model(config, data.input_shape, data.n_classes, int(init_seed))
        model.to(device)
        if config.dataset == "text":
            src = data.x_test if data.online else data.x_train
            win = src[:n_samples]
            x, y = win[:, :-1], win[:, 1:]
        else:
            x, y = data.x_train[:n_samples], data.y_train[:n_samples]
        if x.shape[0] < n_samples:
            raise ValueError(f"n_samples={n_samples} exceeds the {x.shape[0]} training samples available")
        return empirical_ntk_spectrum(model, (x, y), **kwargs)
    finally:
        torch.set_num_threads(old)
