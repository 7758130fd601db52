"""Volterra solver of the expected PLRF loss: forcing F and kernel K, damped FFT solve, Picard iterations.

P(r) = F(r) + sum_{s<r} K(r-1-s) P(s) (docs/theory/plrf.rst; arXiv:2405.15074), for one draw of W
or, with seed=None, for the deterministic-equivalent measures.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
from scipy import special
from scipy.interpolate import CubicSpline

from generators.plrf import resolvent
from generators.plrf.deterministic import _de_measure
from generators.plrf.params import SOURCE, PLRFParams, _trace_d
from generators.plrf.phases import _labels
from generators.plrf.spectral import DTYPES, Spectrum, _check_stable, _check_steps, check_stability, spectrum
from toptraj import provenance
from toptraj.trajectory import Trajectory
from toptraj.validation import check_choice, check_seed

_EXACT_STEPS = 4096  # F, K summed exactly below this step; spline in log r above
_NODES_PER_DECADE = 200


def _volterra_de(params: PLRFParams, r: np.ndarray) -> Trajectory:
    """volterra(params, steps, seed=None): the Volterra solve on the deterministic-equivalent measures."""
    de = _de_measure(params)
    lr, bsz = params.lr, params.batch
    kn = check_stability(params, de.lambda_max, lambda: np.sum(de.rho_w * lr * de.x / (2.0 - (bsz + 1) * lr * de.x)),
                         where=", deterministic equivalent")
    okf, okk = de.f_w > 0, de.rho_w > 0
    solver = {
        "method": "volterra-deterministic-equivalent",
        "deterministic_equivalent": True,
        "lambda_max": de.lambda_max,
        "kernel_norm": kn,
        "trace_D": _trace_d(params.alpha, params.v),
        "p_inf": de.p_inf,
        "n_lumped": 0,
        "picard_iterations": 0,
        "picard_last_change": 0.0,
        "n_quadrature": int(de.x.shape[0]),
        "quadrature": de.method,
        "dtype": "float64",
    }

    def poles():  # the same exact poles and residues as for one W, on the measures' atoms
        return resolvent.poles_of_measure(params, de.x, np.where(okf, de.f_w, 0.0), de.p_inf, de.rho_w)

    def forcing_kernel(n):
        return _forcing_kernel_measure(params, de.x[okf], de.f_w[okf], de.p_inf, de.x[okk], de.rho_w[okk], n)

    return _solve(params, r, de.x.shape[0], poles if np.all(okk) else None, forcing_kernel, de.p_inf, None, solver)


def _solve(params: PLRFParams, r: np.ndarray, n_modes: int, poles, forcing_kernel, p_inf: float,
           seed: int | None, solver: dict) -> Trajectory:
    """The loss at steps r: exact poles and residues (``poles()``, O(d^2 + len(r) d)) while that is cheaper
    than the FFT route and the poles are found, else F and K on 0..R (``forcing_kernel(R + 1)``) solved by
    FFT + Picard, O(R log R). ``solver["method"]`` is the route's prefix; the suffix names the route taken."""
    n = int(r[-1]) + 1
    if poles is not None and r.shape[0] * n_modes <= max(resolvent.RESOLVENT_MAX_WORK, 20 * n):
        found = poles()
        if found is not None:
            p_r, f_r = resolvent.loss_at(found, r)
            solver["method"] += "-resolvent"
            return _volterra_trajectory(params, r, p_r, f_r, p_inf, seed, solver, sampled=True)
    f, k = forcing_kernel(n)
    p, solver["picard_iterations"], solver["picard_last_change"] = _picard(f, k)
    solver["method"] += "-picard-fft"
    return _volterra_trajectory(params, r, p, f, p_inf, seed, solver)


def _mode_sums_log(log_amp: np.ndarray, log_a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """log sum_k exp(log_amp_k + r log_a_k) for each r, shape (n_r,), chunked over r."""
    out = np.empty(r.shape[0])
    rows = max(1, (8 * 2**20) // max(1, log_a.shape[0]))
    for start in range(0, r.shape[0], rows):
        rr = r[start : start + rows, None].astype(np.float64)
        out[start : start + rows] = special.logsumexp(log_amp[None, :] + rr * log_a[None, :], axis=1)
    return out


def _mode_sums(log_amp: np.ndarray, log_a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """sum_k exp(log_amp_k + r log_a_k) for each r (small r: no overflow, underflow harmless)."""
    amp = np.exp(log_amp)
    out = np.empty(r.shape[0])
    rows = max(1, (8 * 2**20) // max(1, log_a.shape[0]))
    for start in range(0, r.shape[0], rows):
        out[start : start + rows] = np.exp(np.outer(r[start : start + rows], log_a)) @ amp
    return out


def _mode_sums_pair(log_amp1: np.ndarray, log_amp2: np.ndarray, log_a: np.ndarray, r: np.ndarray):
    """(sum_k exp(log_amp1_k + r log_a_k), sum_k exp(log_amp2_k + r log_a_k)) sharing one exp table."""
    amp = np.exp(np.column_stack([log_amp1, log_amp2]))
    out = np.empty((r.shape[0], 2))
    rows = max(1, (8 * 2**20) // max(1, log_a.shape[0]))
    for start in range(0, r.shape[0], rows):
        out[start : start + rows] = np.exp(np.outer(r[start : start + rows], log_a)) @ amp
    return out[:, 0].copy(), out[:, 1].copy()


def _forcing_kernel(params: PLRFParams, spec: Spectrum, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """F(r) and K(r) for r = 0 .. n_steps-1, shapes (n_steps,), (n_steps,).

    Exact mode sums (in log space, no underflow) below ``_EXACT_STEPS`` and at log-spaced nodes
    beyond, joined by a cubic spline of log F, log K in log r (smooth: sums of exp(-c e^s)).
    """
    pos = spec.lam > 0
    w_f = np.where(spec.reliable, spec.weights, 0.0)[pos]  # lumped modes: weight 0 (they sit in p_frozen)
    x = spec.lam[pos]
    return _forcing_kernel_measure(params, x, w_f, spec.p_frozen, x, np.ones(x.shape[0]), n_steps)


def _forcing_kernel_measure(
    params: PLRFParams,
    x_f: np.ndarray,
    w_f: np.ndarray,
    p_frozen: float,
    x_k: np.ndarray,
    m_k: np.ndarray,
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """F(r) = p_frozen + sum_i w_f_i a(x_f_i)^r and K(r) = lr^2 B sum_i m_k_i x_k_i^2 a(x_k_i)^r, r < n_steps.

    Atoms (x > 0, weights > 0) of the forcing measure and of the eigenvalue measure (multiplicities
    m_k: 1 per eigenvalue for one W, quadrature weights for the deterministic equivalent).
    """
    lr, bsz = params.lr, params.batch

    def log_contraction(x):
        # a(x) > 0 always (its discriminant is < 0)
        return np.log(1.0 - 2.0 * lr * bsz * x + lr**2 * bsz * (bsz + 1) * x**2)

    # forcing: the atoms plus the frozen part as a mode with a = 1
    with np.errstate(divide="ignore"):  # weight 0 -> log amplitude -inf: the atom adds exactly 0
        lf_amp = np.concatenate([np.log(w_f), [math.log(p_frozen) if p_frozen > 0 else -np.inf]])
    lf_a = np.concatenate([log_contraction(x_f), [0.0]])
    lk_amp = np.log(lr**2 * bsz * m_k * x_k**2)
    lk_a = log_contraction(x_k)
    n_exact = min(n_steps, _EXACT_STEPS)
    r_exact = np.arange(n_exact)
    if x_f.shape == x_k.shape and np.array_equal(x_f, x_k):
        # same atoms (always for one W and for the deterministic equivalent): one exp table for both
        f_exact, k_exact = _mode_sums_pair(lf_amp[:-1], lk_amp, lk_a, r_exact)
        f_exact += p_frozen
    else:
        f_exact = _mode_sums(lf_amp, lf_a, r_exact)
        k_exact = _mode_sums(lk_amp, lk_a, r_exact)
    if n_steps <= n_exact:
        return f_exact, k_exact
    lo, hi = math.log(n_exact - 64), math.log(n_steps)
    n_nodes = max(8, int(math.ceil((hi - lo) / math.log(10.0) * _NODES_PER_DECADE)) + 1)
    nodes = np.exp(np.linspace(lo, hi, n_nodes))
    nf = _mode_sums_log(lf_amp, lf_a, nodes)
    nk = _mode_sums_log(lk_amp, lk_a, nodes)
    s = np.log(np.arange(n_exact, n_steps, dtype=np.float64))
    f = np.empty(n_steps)
    k = np.empty(n_steps)
    f[:n_exact], k[:n_exact] = f_exact, k_exact
    both = np.exp(CubicSpline(np.log(nodes), np.column_stack([nf, nk]))(s))  # one interval search for both
    f[n_exact:], k[n_exact:] = both[:, 0], both[:, 1]
    return f, k


def _damped_fft_solve(f: np.ndarray, k: np.ndarray) -> np.ndarray:
    """One-shot FFT solution of the Volterra equation on [0, n), used as Picard's starting point.

    With rho^r damping, P~ = rho^r P solves P~ = F~ + (rho K~) * P~ whose z-transform is
    F~(z) / (1 - rho z K~(z)). A circular solve of length N ~ 3n aliases P~(r + N) onto r, a
    relative error <= eps = rho^N at every r (P decreases); the FFT's rounding, ~1e-16 P(0) / rho^r,
    is largest relative to P at the last step, where P(n) >= F(n). eps minimises the sum of the two
    there: eps = (q c)^(1 / (1 + q)), q = n / N, c = 1e-16 F(0) / F(n-1) (e.g. ~5e-11 relative at
    alpha = beta = 0.7, d = 400, n = 1e6). Causality makes the truncation of F, K at n exact.
    (Length 3n with this eps is as accurate as length 4n with a fixed eps = 1e-13, and 25% cheaper.)
    """
    from scipy import fft as sfft

    n = f.shape[0]
    nfft = sfft.next_fast_len(3 * n, real=True)
    q = n / nfft
    c = 1e-16 * f[0] / max(f[-1], 1e-300)
    log_rho = min(math.log(1e-6), math.log(q * c) / (1.0 + q)) / nfft
    damp = np.exp(log_rho * np.arange(n))
    f_hat = sfft.rfft(f * damp, nfft)
    kd = np.empty(n)  # rho z K~(z) is the transform of rho^r K(r - 1): the one-step delay in time
    kd[0] = 0.0
    np.multiply(k[:-1], damp[1:], out=kd[1:])
    kd_hat = sfft.rfft(kd, nfft)
    np.subtract(1.0, kd_hat, out=kd_hat)
    np.divide(f_hat, kd_hat, out=f_hat)
    p = sfft.irfft(f_hat, nfft)[:n]
    p /= damp
    return np.maximum(p, f)


def _picard(f: np.ndarray, k: np.ndarray, tol: float = 1e-12, max_iter: int = 2000) -> tuple[np.ndarray, int, float]:
    """Solve P(r) = F(r) + sum_{s<r} K(r-1-s) P(s) by Picard iteration with FFT convolution.

    Starts from :func:`_damped_fft_solve` (~1e-10 relative), so 1-3 iterations usually reach
    ``tol``. Returns (P, iterations, last pointwise relative change). Picard contracts absolute
    errors by ||K||_1 < 1 (checked by the caller) per iteration. Accuracy: ``tol`` relative where
    P > 1e-13 P(0); below that the FFT's absolute rounding (~1e-16 P(0)) dominates. When the loss
    spans so many decades that this rounding keeps the change above ``tol`` (seen at alpha = 2,
    1e6 steps: ~6e-12), the iteration stops once the change is below 1e-9 and has stopped
    shrinking (not halved in 3 iterations); the change reached is returned.
    """
    from scipy import fft as sfft

    n = f.shape[0]
    nfft = sfft.next_fast_len(2 * n, real=True)
    k_hat = sfft.rfft(k, nfft)
    p = _damped_fft_solve(f, k) if n > 1 else f.copy()
    history = []
    for it in range(1, max_iter + 1):
        conv = sfft.irfft(sfft.rfft(p, nfft) * k_hat, nfft)[: n - 1]
        new = f.copy()
        new[1:] += conv
        np.maximum(new, f, out=new)  # the convolution term is >= 0; clip FFT rounding noise
        # pointwise relative change; below ~1e-13 P(0) FFT rounding (~1e-16 P(0)) is the floor
        err = float(np.max(np.abs(new - p) / (new + 1e-13 * f[0])))
        p = new
        history.append(err)
        if err < tol or (it >= 4 and err < 1e-9 and err > 0.5 * history[-4]):
            return p, it, err
    raise RuntimeError(f"Picard iteration did not converge in {max_iter} iterations (last relative change {err:.3g})")


def volterra(params: PLRFParams, steps, seed: int | None = 0, *, dtype: str = "float64") -> Trajectory:
    """Expected loss P(r) of one-pass SGD at the given steps, from the Volterra equation for one W.

    Parameters
    ----------
    params : PLRFParams
    steps : array of int, shape (n_steps,)
        Strictly increasing SGD steps r >= 0 (r = 0 is the initial loss P(0) = norm(D^1/2 b)^2).
    seed : int or None
        Fixes W (the same W as :func:`simulate_sgd` with this seed). ``None``: the deterministic
        equivalent (no random W; approximates the average over W, error O(1/d)): F and K are
        integrals of a(x)^r against the deterministic-equivalent spectral measures (see
        :func:`_de_measure`), then the same Volterra solve. Needs d >= 32 and v > d (else
        ValueError). Measured against the mean of the one-W curves over seeds 0..199 (v = 4d,
        r in [1, 1e5]): max 2.1% at (0.7, 0.7), d = 200 and 3.1% at (1.0, 0.75), d = 200 (the
        averages' own standard errors ~1-1.5%); the DE sits ~1% below the W-average.
    dtype : "float64" or "float32"
        Type of the O(v d^2 + d^3) part of :func:`spectrum` (forming and reducing W^T D W); the
        solve is float64 either way. Ignored for seed=None (the deterministic equivalent is
        float64 throughout); provenance["solver"]["dtype"] records the type used.

    Returns
    -------
    Trajectory
        axis "step", channels ``loss`` P(r), ``forcing`` F(r), ``forcing_0`` (P_inf, plus the
        weight of the modes lumped because lambda < 1e-10 lambda_max, constant in r) and
        ``kernel_term`` (sum_{s<r} K(r-1-s) P(s) = P - F); labels alpha, beta, phase, eta, xi;
        provenance["solver"] holds lambda_max, kernel_norm, trace_D, p_inf, n_lumped, iterations.

    Cost: spectrum O(v d^2 + d^3) (cached per W, shared by every lr and batch size), then the exact
    poles and residues of the solution, O(d^2), and O(d) per requested step
    (:mod:`generators.plrf.resolvent`); when len(steps) d exceeds max(2e7, 20 R), or the poles
    cannot be found (equal eigenvalues), O(d (4096 + 200 log10 R)) for F, K and O(R log R) per
    Picard iteration (FFT), R = steps[-1] + 1. provenance["solver"]["method"] names the route.
    seed=None: the spectrum is replaced by the deterministic equivalent, O(n_newton n_x v) with
    n_x ~ 500-2000 atoms on a grid fitted to the support (cached), and F, K cost
    O(n_x (4096 + 200 log10 R)). Measured CPU seconds: benchmarks/results/plrf.json.
    """
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    r = _check_steps(steps)
    seed = check_seed("seed", seed)
    check_choice("dtype", dtype, DTYPES)
    if seed is None:
        return _volterra_de(params, r)
    spec = spectrum(params, seed, dtype=dtype)
    kn = _check_stable(params, spec)
    solver = {
        "method": "volterra-eigen",
        "lambda_max": spec.lambda_max,
        "kernel_norm": kn,
        "trace_D": _trace_d(params.alpha, params.v),
        "p_inf": spec.p_frozen,
        "n_lumped": int(np.sum(~spec.reliable)),
        "picard_iterations": 0,
        "picard_last_change": 0.0,
        "dtype": spec.dtype,
    }
    return _solve(params, r, spec.lam.shape[0], lambda: resolvent.poles(params, spec),
                  lambda n: _forcing_kernel(params, spec, n), spec.p_frozen, seed, solver)


def _volterra_trajectory(params: PLRFParams, r: np.ndarray, p: np.ndarray, f: np.ndarray, p_frozen: float,
                         seed: int | None, solver: dict, sampled: bool = False) -> Trajectory:
    """Package a Volterra solution (loss p and forcing f on 0..R, or at r if ``sampled``) at the steps r."""
    if not sampled:
        p, f = p[r], f[r]
    values = np.column_stack([p, f, np.full(r.shape[0], p_frozen), p - f])
    return Trajectory(
        times=r.astype(np.float64),
        values=values,
        channels=("loss", "forcing", "forcing_0", "kernel_term"),
        axis="step",
        source=SOURCE,
        params=asdict(params),
        seed=seed,
        labels=_labels(params),
        provenance=provenance.collect(device="cpu", solver=solver),
    )
