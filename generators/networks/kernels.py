"""Kernels of a trained network and the exponents they predict: NTK at init and after training.

The DMFT / kernel-regression picture (docs/theory/networks.rst; Bordelon & Pehlevan,
arXiv:2409.17858) predicts the time exponent of the loss from the spectrum of a fixed kernel:
eigenvalues lambda_k ~ k^-b and the target's tail power 1 - C(k) ~ k^-(a-1) give r = (a-1)/b.
A network is not a fixed kernel: with feature learning the empirical NTK moves during training.
This module measures that: the empirical NTK at initialisation and at saved checkpoints, in two
forms,

* ``binary``: the scalar readout u . f(x) of the binary class split (:mod:`generators._ntk`);
* ``trace``: the trace over outputs, K_ij = sum_c J_ic . J_jc (the kernel of the C-output
  linearised model under squared loss), with the centred one-hot target Y (n, C) and the power
  of the target in eigendirection k, ||v_k^T Y||^2 / ||Y||_F^2. For C <= ``max_exact_outputs``
  the sum is exact (C scalar kernels); above it (the 128-character vocabulary) it is the
  unbiased Gaussian-probe estimate (1/p) sum_j (J r_j)(J r_j)^T, r_j ~ N(0, I_C), p = ``probes``.

Both exponent fits use k in :func:`generators._ntk.default_fit_range` (2..n/10). The prediction
(a-1)/b is a squared-loss, fixed-kernel statement; the runs use cross-entropy. Any mismatch is
reported, not tuned away.

Also: :func:`kernel_change` (relative Frobenius change of the trace-normalised kernel and the
kernel-target alignment, Cristianini et al. 2001) and :func:`kernels_through_training`, which
trains one run with weight checkpoints and measures every kernel.

Cost: one scalar kernel on n samples is n per-sample gradients (n^2/(2c) when chunked, see
:mod:`generators._ntk`) plus an n x n eigendecomposition; the trace kernel is C (or p) of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from generators.networks.ntk import binary_split, default_fit_range, ntk_matrix, power_law_slope
from toptraj.validation import check_choice, check_number

__all__ = [
    "KernelSpectrum", "KINDS", "trace_ntk", "kernel_spectrum", "network_kernel", "kernel_change",
    "kernels_through_training", "ntk_samples",
]

KINDS = ("binary", "trace")


@dataclass(frozen=True)
class KernelSpectrum:
    """Spectrum of one empirical kernel and its predicted time exponent.

    kind : 'binary' or 'trace'; step : training step of the weights (0 = initialisation)
    eigenvalues : (n,) of K/n, descending; task_power : (n,) 1 - C(k)
    a, b : fitted exponents; predicted_exponent : (a - 1)/b
    a_range, b_range : fit ranges of k; n_samples, n_params; exact : trace computed exactly
    (False: Gaussian probes)
    """

    kind: str
    step: int
    eigenvalues: np.ndarray
    task_power: np.ndarray
    a: float
    b: float
    a_range: tuple[int, int]
    b_range: tuple[int, int]
    n_samples: int
    n_params: int
    exact: bool = True

    @property
    def predicted_exponent(self) -> float:
        return (self.a - 1.0) / self.b if self.b > 0 else math.nan

    def to_dict(self, head: int = 16) -> dict:
        return {"kind": self.kind, "step": self.step, "a": self.a, "b": self.b,
                "predicted_exponent": self.predicted_exponent, "a_range": list(self.a_range),
                "b_range": list(self.b_range), "n_samples": self.n_samples, "n_params": self.n_params,
                "exact": self.exact, "eigenvalues_head": self.eigenvalues[:head].tolist(),
                "task_power_head": self.task_power[:head].tolist()}


def trace_ntk(model, x, n_outputs: int, *, max_exact_outputs: int = 16, probes: int = 16, seed: int = 0,
              max_bytes: int = 256 * 2**20) -> tuple[np.ndarray, bool]:
    """Trace-over-outputs NTK, shape (n, n) float64, and whether it is exact.

    model : torch module ``(n, *input) -> (n, C)`` or ``(n, T, C)`` (last position); x : tensor on its device
    n_outputs : C; exact (C one-hot readouts) when C <= max_exact_outputs, else ``probes``
    Gaussian readouts drawn from ``seed`` (unbiased for the trace).
    """
    import torch

    n_outputs = check_number("n_outputs", n_outputs, low=1, integer=True)
    probes = check_number("probes", probes, low=1, integer=True)
    p = next(model.parameters())
    exact = n_outputs <= max_exact_outputs
    if exact:
        readouts = torch.eye(n_outputs, dtype=p.dtype, device=p.device)
    else:
        gen = torch.Generator().manual_seed(int(seed))
        readouts = torch.randn(probes, n_outputs, generator=gen, dtype=p.dtype).to(p.device)
    kernel = np.zeros((int(x.shape[0]),) * 2)
    for r in readouts:
        kernel += ntk_matrix(model, x, r, max_bytes=max_bytes)[0]
    if not exact:
        kernel /= probes
    return kernel, exact


def kernel_spectrum(kernel, targets, b_range=None, a_range=None):
    """Eigenvalues of K/n (descending), target tail power 1 - C(k), fitted b and a.

    kernel : (n, n) symmetric; targets : (n,) or (n, C) (power summed over columns).
    Returns (eigenvalues (n,), task_power (n,), b, a, b_range, a_range).
    """
    k_mat = np.asarray(kernel, float)
    n = k_mat.shape[0]
    if k_mat.shape != (n, n):
        raise ValueError(f"kernel must be square, got shape {k_mat.shape}")
    y = np.asarray(targets, float).reshape(n, -1)
    total = float((y**2).sum())
    if total <= 0:
        raise ValueError("targets must not be all zero")
    evals, evecs = np.linalg.eigh(k_mat / n)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    power = ((evecs.T @ y) ** 2).sum(1)
    tail = np.cumsum(power[::-1])[::-1] / total
    task_power = np.append(tail[1:], 0.0)
    k = np.arange(1, n + 1, dtype=float)
    b_range = tuple(b_range or default_fit_range(n))
    a_range = tuple(a_range or default_fit_range(n))
    b = power_law_slope(k, evals, b_range)
    a = power_law_slope(k, task_power, a_range) + 1.0
    return evals, task_power, b, a, b_range, a_range


def _targets(y: np.ndarray, n_classes: int, kind: str) -> np.ndarray:
    if kind == "binary":
        return np.sqrt(n_classes) * binary_split(n_classes)[y]  # +-1
    onehot = np.zeros((y.size, n_classes))
    onehot[np.arange(y.size), y] = 1.0
    return onehot - onehot.mean(0)  # centred: the constant direction is not target power


def network_kernel(model, x, y, kind: str = "binary", *, step: int = 0, probes: int = 16, seed: int = 0,
                   max_bytes: int = 256 * 2**20) -> tuple[KernelSpectrum, np.ndarray]:
    """Empirical kernel of ``model`` at its current weights on (x, y) and its spectrum.

    x : tensor ``(n, *input_shape)``; y : (n,) int classes; kind : 'binary' or 'trace'.
    Returns (KernelSpectrum, kernel (n, n)).
    """
    import torch

    check_choice("kind", kind, KINDS)
    device = next(model.parameters()).device
    x = x.to(device) if torch.is_tensor(x) else torch.as_tensor(np.asarray(x), device=device)
    y = np.asarray(y.cpu() if torch.is_tensor(y) else y).astype(np.int64)
    n = int(x.shape[0])
    if n < 8 or y.shape != (n,):
        raise ValueError(f"x and y must hold the same n >= 8 samples, got x {tuple(x.shape)} and y {y.shape}")
    with torch.no_grad():
        n_classes = int(model(x[:1]).shape[-1])
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y must hold classes in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    was = model.training
    model.eval()
    try:
        if kind == "binary":
            u = torch.as_tensor(binary_split(n_classes), dtype=next(model.parameters()).dtype, device=device)
            kernel, exact = ntk_matrix(model, x, u, max_bytes=max_bytes)[0], True
        else:
            kernel, exact = trace_ntk(model, x, n_classes, probes=probes, seed=seed, max_bytes=max_bytes)
    finally:
        model.train(was)
    evals, power, b, a, br, ar = kernel_spectrum(kernel, _targets(y, n_classes, kind))
    n_params = int(sum(p.numel() for p in model.parameters()))
    return KernelSpectrum(kind, int(step), evals, power, a, b, br, ar, n, n_params, exact), kernel


def kernel_change(k0, k1, targets=None) -> dict:
    """How much a kernel moved: relative Frobenius change raw and of K / tr K; alignments.

    k0, k1 : (n, n); targets : optional (n,) or (n, C) for the kernel-target alignment
    A(K) = <K, Y Y^T>_F / (||K||_F ||Y Y^T||_F).
    """
    a, b = np.asarray(k0, float), np.asarray(k1, float)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"k0 and k1 must be square arrays of one shape, got {a.shape} and {b.shape}")
    na, nb = a / np.trace(a), b / np.trace(b)
    out = {"relative_change": float(np.linalg.norm(b - a) / np.linalg.norm(a)),
           "relative_change_normalised": float(np.linalg.norm(nb - na) / np.linalg.norm(na)),
           "trace_ratio": float(np.trace(b) / np.trace(a))}
    if targets is not None:
        y = np.asarray(targets, float).reshape(a.shape[0], -1)
        yy = y @ y.T
        for name, k in (("alignment_before", a), ("alignment_after", b)):
            out[name] = float((k * yy).sum() / (np.linalg.norm(k) * np.linalg.norm(yy)))
    return out


def ntk_samples(config, n_samples: int) -> tuple:
    """The first ``n_samples`` training inputs of ``config``'s data and their classes.

    Returns (x ``(n, *input_shape)``, y (n,), the DataSet); for text, x are windows of ``context``
    tokens and y the next token after the last position.
    """
    from generators.networks.data import load_dataset

    n_samples = check_number("n_samples", n_samples, low=8, integer=True)
    n_train, n_test = config.sizes
    data = load_dataset(config.dataset, n_train, n_test, config.data_seed, online=config.online,
                        n_online=config.steps * config.batch_size, context=config.context)
    if config.dataset == "text":
        src = data.x_test if data.online else data.x_train
        win = np.asarray(src[:n_samples])
        x, y = win[:, :-1], win[:, -1]
    else:
        x, y = np.asarray(data.x_train[:n_samples]), np.asarray(data.y_train[:n_samples])
    if x.shape[0] < n_samples:
        raise ValueError(f"n_samples={n_samples} exceeds the {x.shape[0]} training samples available")
    return x, y, data


def kernels_through_training(config, seed: int, steps: Sequence[int], run_dir: str | Path, *, n_samples: int = 300,
                             kinds: Sequence[str] = KINDS, probes: int = 16, num_threads: int = 1) -> dict:
    """Train one run keeping weights at ``steps`` and measure every kernel at init and at each step.

    Parameters
    ----------
    config : generators.networks.TrainConfig; seed : run seed
    steps : checkpoint steps in [1, config.steps]; run_dir : folder of the resumable run and its
        ``params_{step}.pt`` files (kept: a rerun reuses them)
    n_samples : kernel samples (the first training inputs); kinds : subset of :data:`KINDS`

    Returns
    -------
    dict: ``trajectory`` (the run), ``spectra`` {kind: [KernelSpectrum at 0, steps...]},
    ``change`` {kind: [kernel_change(K_0, K_s) for each step]}, ``steps`` ``[0, *steps]``.
    """
    import torch

    from generators import networks as nw

    for k in kinds:
        check_choice("kinds", k, KINDS)
    steps = sorted({check_number("steps", s, low=1, high=config.steps, integer=True) for s in steps})
    run_dir = Path(run_dir)
    need = [s for s in steps if not (run_dir / f"params_{s:08d}.pt").exists()]
    if need and (run_dir / "trajectory.npz").exists():
        raise ValueError(f"{run_dir}: finished run without the weights of steps {need}; use a fresh run_dir")
    traj = nw.train(config, seed, run_dir=run_dir, save_steps=steps, num_threads=num_threads)
    x, y, data = ntk_samples(config, n_samples)
    init_seed, _ = np.random.SeedSequence(seed).generate_state(2)
    old = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    spectra: dict = {k: [] for k in kinds}
    change: dict = {k: [] for k in kinds}
    try:
        model, _ = nw.build_model(config, data.input_shape, data.n_classes, int(init_seed))
        kernels0 = {}
        for s in [0, *steps]:
            if s:
                model.load_state_dict(torch.load(run_dir / f"params_{s:08d}.pt", weights_only=True))
            for k in kinds:
                spec, kern = network_kernel(model, torch.as_tensor(np.array(x)), y, k, step=s, probes=probes, seed=seed)
                spectra[k].append(spec)
                if s == 0:
                    kernels0[k] = kern
                else:
                    change[k].append(kernel_change(kernels0[k], kern, _targets(y, data.n_classes, k)))
    finally:
        torch.set_num_threads(old)
    return {"trajectory": traj, "spectra": spectra, "change": change, "steps": [0, *steps],
            "config": replace(config)}
