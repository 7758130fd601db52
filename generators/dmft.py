"""DMFT random-feature model (Bordelon, Atanasov, Pehlevan 2024): theory solver and finite simulation.

Spec: ../shared/specs/dmft.md. Sections referenced below (``spec 3``) are that file's.

Model: teacher features with lambda_k = k^-b, task power lambda_k w_k^2 = k^-a (k = 1..M), a
student f = w . A psi / sqrt(N) with A (N x M) Gaussian, P training samples, gradient flow from
w = 0. The residual v0 = w* - A^T w / sqrt(N) obeys d/dt v0 = -(A^T A/N)(Psi^T Psi/P) v0.

Public API
----------
DMFTParams             frozen parameters (a, b, M, N, P, sigma, optimizer, lr, batch, momentum, ensemble)
static_loss_spectrum   t -> inf (ridgeless) or ridge test loss for any spectrum, via the 2x2 system at s = gamma
static_loss            the same for the power-law spectrum of a DMFTParams (label noise included)
solve                  theory curves as a Trajectory: test_loss, train_loss, bias, H_k; labels
simulate               one finite realisation: the same channels plus v0_k and proj_j (weight-space path)
transfer               H_k(t) from the theory
compute_optimal        the compute-optimal frontier C = N t from theory curves, fitted exponents
width_crossover, overfitting_onset, labels   the ground-truth labels t_x and t_of of spec 6
time_exponent, model_exponent, data_exponent, compute_exponent   the predictions of spec 5

Theory route: kappa(s) by Newton along a fixed-Talbot contour, the mode sums S1, S2, W1, W2 on all
node pairs, the 2x2 system of spec 3 (one implementation, shared with the static/ridge loss),
and a double Talbot sum for C0(t, t). Optimizer variants are exact substitutions of the Laplace
variable (per realisation): GD via the Z-transform, heavy-ball via s -> s + beta s^2; one-pass SGD
uses the exact N = inf mode recursion of spec 4. Label noise is an unlearnable tail of modes (it adds
sigma^2 / (s s') to W1), so test losses include sigma^2. Large M: the tail of the spectrum beyond
``exact_modes`` is summed by quadrature (theory_spectrum), which makes M = 1e12 as cheap as M = 5000.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from toptraj import transitions
from toptraj._validation import check_choice, check_finite_array, check_increasing, check_number

SOURCE = "dmft"
OPTIMIZERS = ("flow", "gd", "sgd", "momentum")

_NEWTON_TOL = 1e-13  # relative step size at which a Newton solve for kappa counts as converged
_NEWTON_MAXITER = 200
_NEWTON_MAXITER_COMPLEX = 60  # per contour node; a node that needs more is approached in substeps
DEFAULT_NODES = 20  # upper-half Talbot nodes; 12..28 agree to ~1e-8 on the spec's checks
DEFAULT_EXACT_MODES: int | None = 4096  # modes beyond are summed by quadrature (theory_spectrum)


class ConvergenceError(ValueError):
    """A Newton solve for kappa(s) (or r) did not converge; names the argument and its value."""


@dataclass(frozen=True)
class DMFTParams:
    """Parameters of the random-feature model (spec 1).

    a : task-power exponent, > 1 (lambda_k w_k^2 = k^-a)
    b : spectral exponent, > 0 (lambda_k = k^-b)
    M : number of modes, positive integer (the theory is meant for M >> N, P)
    N : model size, > 0 or math.inf
    P : number of training samples, > 0 or math.inf (ignored by one-pass "sgd": fresh data)
    sigma : label-noise standard deviation, >= 0
    optimizer : "flow" (gradient flow), "gd" (gradient descent, step lr; time = lr * step),
        "sgd" (one-pass SGD, step lr, batch size batch; time = lr * step),
        "momentum" (heavy-ball flow  momentum * v'' + v' = -K v, spec 4: s -> s + momentum s^2)
    lr : step size, > 0 (required for "gd" and "sgd")
    batch : batch size, positive integer (required for "sgd")
    momentum : heavy-ball mass beta >= 0 (> 0 for "momentum")
    ensemble : number E of models (independent A, shared data) whose outputs are averaged
    """

    a: float
    b: float
    M: int
    N: float
    P: float
    sigma: float = 0.0
    optimizer: str = "flow"
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


# -- spectral core: df, kappa(s), R1, R3, the 2x2 system -------------------------------------------
def _inv(x: float) -> float:
    """1/x with 1/inf = 0 (N or P infinite)."""
    return 0.0 if math.isinf(x) else 1.0 / x


def _kappa_real(s: np.ndarray, lam: np.ndarray, N: float, P: float, mult=None) -> np.ndarray:
    """kappa(s) for real s > 0: the root kappa > kappa0 of kappa (1 - df/N)(1 - df/P) = s.

    On kappa > kappa0 (df(kappa0) = min(N, P), or kappa0 = 0 if min(N, P) >= M) both factors are
    positive and increasing, so g(kappa) = kappa R3 R1 increases from 0 to infinity and the root is
    unique. It lies in [kappa0, s + sum(lam) (1/N + 1/P)] because g(kappa) >= kappa - sum(lam)(1/N + 1/P).
    Safeguarded Newton (bisection when Newton leaves the bracket). Cost O(M) per iteration per s.

    Parameters
    ----------
    s : array, shape (n,), positive
    lam : array, shape (M,), positive
    mult : array, shape (M,), or None
        Multiplicity of each entry of lam (quadrature weights of a compressed spectrum); None = ones.

    Returns
    -------
    kappa : array, shape (n,)
    """
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    iN, iP = _inv(N), _inv(P)
    if iN == 0.0 and iP == 0.0:
        return s.copy()
    wl = lam if mult is None else lam * mult
    n = min(N, P)
    r0 = _r_root(lam, n, mult)
    kappa0 = 0.0 if math.isinf(r0) else 1.0 / r0
    lo = np.full_like(s, kappa0)
    hi = s + wl.sum() * (iN + iP)
    k = hi.copy()
    for _ in range(_NEWTON_MAXITER):
        q = 1.0 / (lam[None, :] + k[:, None])
        df = q @ wl
        ddf = -((q * q) @ wl)  # d df / d kappa
        r3, r1 = 1.0 - df * iN, 1.0 - df * iP
        g = k * r3 * r1 - s
        dg = r3 * r1 - k * ddf * (iN * r1 + iP * r3)
        lo = np.where(g < 0, k, lo)
        hi = np.where(g > 0, k, hi)
        step = g / dg
        new = k - step
        out = (new <= lo) | (new >= hi) | ~np.isfinite(new)
        new = np.where(out, 0.5 * (lo + hi), new)
        done = np.abs(new - k) <= _NEWTON_TOL * np.abs(new)
        k = new
        if np.all(done):
            return k
    raise ConvergenceError(f"Newton solve for kappa(s) did not converge for s in [{s.min()}, {s.max()}] "
                           f"(N={N}, P={P}, M={lam.size}); allowed: s > 0 with a finite positive spectrum")


def _r_root(lam: np.ndarray, n: float, mult=None) -> float:
    """r > 0 solving n = sum_k lam_k r / (1 + lam_k r) (spec 4), for 0 < n < M; inf if n >= M.

    The right side increases from 0 to M in r, so the root is unique; Newton in log r from a
    bracket, with bisection safeguard. Cost O(M) per iteration.
    """
    m_ = np.ones_like(lam) if mult is None else mult
    M = float(m_.sum())
    if n >= M:
        return math.inf
    lo, hi = 0.0, 1.0
    while np.sum(m_ * lam * hi / (1.0 + lam * hi)) < n:
        hi *= 2.0
        if hi > 1e300:
            raise ConvergenceError(f"no root r for n={n} with M={M} modes")
    r = hi
    for _ in range(_NEWTON_MAXITER):
        x = lam * r
        f = np.sum(m_ * x / (1.0 + x)) - n
        df = np.sum(m_ * lam / (1.0 + x) ** 2)
        if f < 0:
            lo = r
        else:
            hi = r
        new = r - f / df
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        if abs(new - r) <= _NEWTON_TOL * new:
            return float(new)
        r = new
    raise ConvergenceError(f"Newton solve for r did not converge for n={n}, M={M}")


def _two_by_two(s, s2, R1, R1p, R3, R3p, S1, S2, W1, W2, N: float, P: float):
    """Solve the 2x2 system of spec 3 for (C0, C2) at the pair (s, s'); broadcasting, real or complex.

        [1 - (R1R1'R3R3'/P) S2] C0 - (R3R3'/N) S1 C2            = W1
        -(s s' R1R1'/P) S1 C0    + [1 - (R1R1'R3R3'/N) S2] C2   = R1R1' W2

    This is the only implementation of the system: the ridge/static loss and the time-domain
    (double Talbot) solver both call it. Cost O(1) per pair (the mode sums S1..W2 are inputs).
    """
    iN, iP = _inv(N), _inv(P)
    r11 = R1 * R1p
    r33 = R3 * R3p
    q = r11 * r33 * S2
    a11 = 1.0 - q * iP
    a12 = -r33 * S1 * iN
    a21 = -s * s2 * r11 * S1 * iP
    a22 = 1.0 - q * iN
    b2 = r11 * W2
    det = a11 * a22 - a12 * a21
    C0 = (W1 * a22 - a12 * b2) / det
    C2 = (a11 * b2 - a21 * W1) / det
    return C0, C2


def _check_spectrum(lam, lam_w2, N, P):
    lam = check_finite_array("lam", lam, ndim=1)
    lam_w2 = check_finite_array("lam_w2", lam_w2, ndim=1)
    if lam.size == 0 or np.any(lam <= 0):
        raise ValueError(f"lam must be a non-empty array of positive eigenvalues, got min {lam.min() if lam.size else None}")
    if lam_w2.shape != lam.shape:
        raise ValueError(f"lam_w2 must have the shape of lam {lam.shape}, got {lam_w2.shape}")
    if np.any(lam_w2 < 0):
        raise ValueError(f"lam_w2 must be >= 0 (it is lambda_k w_k^2), got min {lam_w2.min()}")
    N = check_number("N", N, low=0.0, low_open=True, allow_inf=True)
    P = check_number("P", P, low=0.0, low_open=True, allow_inf=True)
    return lam, lam_w2, N, P


def _ridge_loss(lam: np.ndarray, lam_w2: np.ndarray, N: float, P: float, gamma: float, noise2: float = 0.0,
                mult=None) -> float:
    """Ridge test loss gamma^2 C0(gamma, gamma) from the 2x2 system at s = s' = gamma > 0 (spec 2, 3).

    Label noise of variance noise2 enters as an unlearnable tail of modes (lambda -> 0 with total
    power noise2): H = 1/s there, so it adds noise2/(s s') to W1 and nothing else.
    """
    kappa = float(_kappa_real(np.array([gamma]), lam, N, P, mult)[0])
    m_ = 1.0 if mult is None else mult
    df = float(np.sum(m_ * lam / (lam + kappa)))
    R1, R3 = 1.0 - df * _inv(P), 1.0 - df * _inv(N)
    H = 1.0 / (gamma + lam * R1 * R3)
    h = m_ * H * H
    S1, S2 = np.sum(lam * h), np.sum(lam * lam * h)
    W1, W2 = np.sum(lam_w2 * h) + noise2 / gamma**2, np.sum(lam * lam_w2 * h)
    C0, _ = _two_by_two(gamma, gamma, R1, R1, R3, R3, S1, S2, W1, W2, N, P)
    return float(gamma * gamma * C0)


def _ridgeless_loss(lam: np.ndarray, lam_w2: np.ndarray, N: float, P: float, noise2: float = 0.0,
                    mult=None) -> float:
    """t -> infinity gradient-flow loss, the gamma -> 0 limit of gamma^2 C0 (closed forms of spec 4).

    With n = min(N, P), r solving n = sum lam r/(1 + lam r) and Ht_k = 1/(1 + lam_k r):
    N < P: [sum lam w^2 Ht] / (1 - N/P); N > P: P/(N-P) (W1 + r W2) + W1/(1 - Q2/P).
    N == P (finite): the double-descent peak, +inf. n >= M: every mode is learned, 0 (+ noise).
    Label noise (variance noise2) is an unlearnable tail with Ht = 1 (see _ridge_loss); the result
    then includes the noise of the test label.
    """
    if N == P:
        return noise2 if math.isinf(N) else math.inf
    n = min(N, P)
    r = _r_root(lam, n, mult)
    m_ = 1.0 if mult is None else mult
    if math.isinf(r):
        # every mode learned; with noisy finite data the fitted noise is outside this limit
        if noise2 > 0 and not math.isinf(P):
            raise ValueError(f"min(N, P) = {n} >= M = {np.sum(m_ * np.ones_like(lam)):.0f} with label noise is outside the theory; "
                             "allowed: min(N, P) < M (the theory is meant for M >> N, P)")
        return noise2
    Ht = 1.0 / (1.0 + lam * r)
    if N < P:
        return float((np.sum(m_ * lam_w2 * Ht) + noise2) / (1.0 - N * _inv(P)))
    W1 = np.sum(m_ * lam_w2 * Ht * Ht) + noise2
    W2 = np.sum(m_ * lam * lam_w2 * Ht * Ht)
    Q2 = np.sum(m_ * (lam * r * Ht) ** 2)
    variance = 0.0 if math.isinf(N) else P / (N - P) * (W1 + r * W2)
    return float(variance + W1 / (1.0 - Q2 / P))


def static_loss_spectrum(lam, lam_w2, N: float, P: float, ridge: float = 0.0) -> float:
    """The t -> infinity (ridge = 0) or ridge-regression (ridge = gamma > 0) test loss, any spectrum.

    Ridge regression with ridge gamma is the Laplace transform of gradient flow at s = gamma
    (spec 2): L = gamma^2 C0(gamma, gamma) from the 2x2 system of spec 3 (the same function the
    time-domain solver uses). ridge = 0 is its gamma -> 0 limit in the closed forms of spec 4.
    Noise-free (add sigma^2 for label noise of variance sigma^2).

    Parameters
    ----------
    lam : array, shape (M,)
        Positive eigenvalues lambda_k.
    lam_w2 : array, shape (M,)
        Task power lambda_k w_k^2 (>= 0).
    N, P : float
        Model size and number of samples, > 0; math.inf allowed.
    ridge : float
        gamma >= 0.

    Returns
    -------
    float
        The test loss; +inf at the ridgeless double-descent peak N == P < inf.

    Notes
    -----
    Cost O(M) per Newton iteration (about 10-40 iterations).
    """
    lam, lam_w2, N, P = _check_spectrum(lam, lam_w2, N, P)
    gamma = check_number("ridge", ridge, low=0.0)
    if gamma == 0.0:
        return _ridgeless_loss(lam, lam_w2, N, P)
    return _ridge_loss(lam, lam_w2, N, P, gamma)


def static_loss(params: DMFTParams, ridge: float = 0.0, exact_modes: int | None = DEFAULT_EXACT_MODES) -> float:
    """t -> infinity (ridge = 0) or ridge-regression test loss of the power-law model.

    As :func:`static_loss_spectrum` with lambda_k = k^-b, lambda_k w_k^2 = k^-a, k <= M; label noise
    (params.sigma) is included (test labels noisy too, so the loss is >= sigma^2). ``exact_modes``:
    see :func:`theory_spectrum` (modes beyond it by quadrature when M > 2 exact_modes; None: all exact).
    Cost O(M) per Newton iteration.
    """
    if not isinstance(params, DMFTParams):
        raise ValueError(f"params must be a DMFTParams, got {type(params).__name__}")
    lam, lam_w2, mult = theory_spectrum(params, exact_modes)
    gamma = check_number("ridge", ridge, low=0.0)
    noise2 = params.sigma**2
    if gamma == 0.0:
        return _ridgeless_loss(lam, lam_w2, params.N, params.P, noise2, mult)
    return _ridge_loss(lam, lam_w2, params.N, params.P, gamma, noise2, mult)


# -- time domain: fixed-Talbot inversion (Abate-Valko) -----------------------------------------------
def _talbot(times: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Upper-half fixed-Talbot nodes and weights for each time.

    The contour s(theta) = r theta (cot theta + i), r = 2 n / (5 t), theta_j = j pi / n, j = 0..n-1,
    is conjugate-symmetric, so f(t) = w_0 F(s_0) + 2 Re sum_{j>=1} w_j F(s_j) for a real f.
    w_j = (r / 2n) (1 + i sigma_j) exp(s_j t), sigma = theta + (theta cot theta - 1) cot theta.

    Returns
    -------
    s, w : complex arrays, shape (n_times, n_nodes)
    """
    n = int(n_nodes)
    theta = np.arange(n) * (np.pi / n)
    th = theta[1:]
    cot = 1.0 / np.tan(th)
    shape = np.concatenate([[1.0 + 0j], th * (cot + 1j)])  # s / r
    sig = np.concatenate([[0.0], th + (th * cot - 1.0) * cot])
    r = (2.0 * n / 5.0) / times
    s = r[:, None] * shape[None, :]
    w = (r[:, None] / (2 * n)) * (1.0 + 1j * sig[None, :]) * np.exp(s * times[:, None])
    return s, w


def _newton_complex(s: np.ndarray, k0: np.ndarray, lam: np.ndarray, iN: float, iP: float, wl: np.ndarray):
    """Newton for kappa (1 - df/N)(1 - df/P) = s at complex s from the guesses k0 (shapes (n,)).

    wl = lam * multiplicity. Returns kappa (n,), the number of iterations, and whether every entry converged.
    Cost O(n M) per iteration.
    """
    k = k0.astype(np.complex128)
    for it in range(1, _NEWTON_MAXITER_COMPLEX + 1):
        q = 1.0 / (lam[None, :] + k[:, None])
        df = q @ wl
        dq = (q * q) @ wl  # = -d df / d kappa
        r3, r1 = 1.0 - df * iN, 1.0 - df * iP
        g = k * r3 * r1 - s
        dg = r3 * r1 + k * dq * (iN * r1 + iP * r3)
        step = g / dg
        k = k - step
        if np.all(np.abs(step) <= _NEWTON_TOL * np.abs(k)):
            return k, it, True
    return k, it, False


def _kappa_contour(s: np.ndarray, lam: np.ndarray, N: float, P: float, mult=None) -> np.ndarray:
    """kappa(s) on the upper-half Talbot nodes of every time, shape (n_times, n_nodes).

    Real start at theta = 0 (unique root above kappa0), then continuation along the contour:
    each node starts Newton from the previous node's root or from the large-|s| asymptote
    kappa ~ s + sum(lam)(1/N + 1/P), whichever has the smaller residual; an interval whose Newton
    fails is split in two (up to 6 times) so that the root stays on the principal branch.
    Cost O(n_times n_nodes M) per Newton iteration (about 4-8 iterations per node).
    """
    iN, iP = _inv(N), _inv(P)
    if iN == 0.0 and iP == 0.0:
        return s.copy()
    nt, nn = s.shape
    kappa = np.empty_like(s)
    kappa[:, 0] = _kappa_real(s[:, 0].real, lam, N, P, mult)
    wl = lam if mult is None else lam * mult
    shift = wl.sum() * (iN + iP)

    def residual(k, target):
        df = (1.0 / (lam[None, :] + k[:, None])) @ wl
        return np.abs(k * (1 - df * iN) * (1 - df * iP) - target)

    for j in range(1, nn):
        prev, target = kappa[:, j - 1], s[:, j]
        guess = np.where(residual(prev, target) <= residual(target + shift, target), prev, target + shift)
        k, _, ok = _newton_complex(target, guess, lam, iN, iP, wl)
        if not ok:
            # continuation with substeps from the previous node
            k = prev.copy()
            for sub in (2, 4, 8, 16, 32, 64):
                k = prev.copy()
                good = True
                for frac in np.arange(1, sub + 1) / sub:
                    mid = s[:, j - 1] + frac * (target - s[:, j - 1])
                    k, _, ok = _newton_complex(mid, k, lam, iN, iP, wl)
                    if not ok:
                        good = False
                        break
                if good:
                    break
            else:
                raise ConvergenceError(
                    f"Newton solve for kappa(s) did not converge on the Talbot contour near s={target[0]:.4g} "
                    f"(N={N}, P={P}, M={lam.size}); allowed: a, b, N, P for which kappa(s) is analytic off (-inf, 0]")
        kappa[:, j] = k
    return kappa


_TIME_CHUNK = 4  # times per block in the double Talbot sum (memory ~ 16 * 6 * n_nodes * M bytes per time)


def _theory_curves(lam, lam_w2, N, P, times, nodes, noise2=0.0, mode_lams=(), mult=None):
    """Test loss, train loss, bias and per-mode H_k(t) from the double Talbot sum (spec 2, 3).

    Parameters
    ----------
    lam, lam_w2 : arrays, shape (M,)
    N, P : float (math.inf allowed)
    times : array, shape (n_times,), positive increasing
    nodes : callable, times chunk (n,) -> (s, w), complex arrays of shape (n, n_nodes): upper-half
        contour nodes (node 0 real positive) where the gradient-flow resolvent is evaluated, and
        weights such that f(t) = Re sum_j c_j w_j F(s_j) with c_0 = 1, c_j = 2 (conjugate symmetry).
        Optimizer variants map the contour and fold their Jacobians into w (see _nodes_*).
    noise2 : label-noise variance (an unlearnable tail: adds noise2/(s s') to W1)
    mode_lams : eigenvalues lambda_k of the modes whose H_k(t) are returned
    mult : array, shape (M,), or None: multiplicities (quadrature weights) of the entries of lam

    Returns
    -------
    test, train, bias : arrays, shape (n_times,)
    H : array, shape (n_times, n_modes)

    Notes
    -----
    Cost per time: kappa on n_nodes nodes, O(n_nodes M) per Newton iteration (4-8 iterations); the
    mode sums S1, S2, W1, W2 on the (2 n_nodes - 1) x n_nodes node pairs as one complex matrix
    product, O(8 n_nodes^2 M); the 2x2 solves O(n_nodes^2). Total O(n_times n_nodes^2 M).
    """
    iN, iP = _inv(N), _inv(P)
    mode_lams = np.asarray(mode_lams, dtype=np.float64)
    m_ = np.ones_like(lam) if mult is None else mult
    wl, wlw = lam * m_, lam_w2 * m_
    nt = times.size
    test, train, bias = (np.empty(nt) for _ in range(3))
    Hm = np.empty((nt, mode_lams.size))

    def full(x):  # nodes j >= 1 mirrored by conjugation: the whole contour, axis 1 length 2n - 1
        return np.concatenate([x, np.conj(x[:, 1:])], axis=1)

    for lo in range(0, nt, _TIME_CHUNK):
        t = times[lo:lo + _TIME_CHUNK]
        s, w = nodes(t)
        n = s.shape[1]
        c = np.full(n, 2.0)
        c[0] = 1.0
        kappa = _kappa_contour(s, lam, N, P, mult)
        q = 1.0 / (lam[None, None, :] + kappa[..., None])  # (nt, n, M)
        df = q @ wl
        R1, R3 = 1.0 - df * iP, 1.0 - df * iN
        H = (kappa / s)[..., None] * q  # H_k(s) = kappa / (s (kappa + lam_k))
        Ht = np.einsum("tj,tjm->tm", w * c, H).real  # H_k(t), (nt, M)
        bias[lo:lo + t.size] = Ht**2 @ wlw + noise2
        if mode_lams.size:
            Hk = (kappa / s)[..., None] / (mode_lams[None, None, :] + kappa[..., None])
            Hm[lo:lo + t.size] = np.einsum("tj,tjm->tm", w * c, Hk).real
        right = np.concatenate([H * wl, H * (lam * wl), H * wlw, H * (lam * wlw)], axis=1)  # (nt, 4n, M)
        sums = full(H) @ np.swapaxes(right, 1, 2)  # (nt, 2n-1, 4n): one complex GEMM per time
        S1, S2, W1, W2 = (sums[:, :, i * n:(i + 1) * n] for i in range(4))
        sf, R1f, R3f = full(s), full(R1), full(R3)
        if noise2:
            W1 = W1 + noise2 / (sf[:, :, None] * s[:, None, :])
        C0, _ = _two_by_two(sf[:, :, None], s[:, None, :], R1f[:, :, None], R1[:, None, :],
                            R3f[:, :, None], R3[:, None, :], S1, S2, W1, W2, N, P)
        wpair = full(w)[:, :, None] * (w * c)[:, None, :]
        test[lo:lo + t.size] = np.einsum("tkl,tkl->t", wpair, C0).real
        train[lo:lo + t.size] = np.einsum("tkl,tkl->t", wpair * R1f[:, :, None] * R1[:, None, :], C0).real
    return test, train, bias, Hm


def _nodes_momentum(beta: float, n_nodes: int):
    """Heavy-ball flow: v0 transform (1 + beta s) V_flow(s + beta s^2), exact per realisation."""
    def nodes(t):
        u, w = _talbot(t, n_nodes)
        return u + beta * u * u, w * (1.0 + beta * u)
    return nodes


def _nodes_gd(lr: float, n_nodes: int):
    """Gradient descent, time t = lr * step (integer steps).

    The Z-transform of v0 at step n is (z/lr) V_flow((z - 1)/lr) (exact per realisation), so
    v0(n) = (1/2 pi i) int exp(lr u (n + 1)) V_flow(s(u)) du with z = exp(lr u), s = expm1(lr u)/lr:
    a Laplace inversion in u at time lr n, done on the Talbot contour when it stays inside the
    strip |Im u| < pi/lr (r < 0.9/lr), else (first few steps) on the circle |z| = 2 with 2 n_nodes - 1
    trapezoid nodes (aliasing error 2^-(2 n_nodes - 1), round-off growth 2^(2 step + 2)).
    """
    K = 2 * n_nodes - 1
    m = np.arange(n_nodes)
    z_circle = 2.0 * np.exp(2j * np.pi * m / K)

    def nodes(t):
        steps = np.rint(t / lr)
        u, w = _talbot(t, n_nodes)
        r = (2.0 * n_nodes / 5.0) / t
        s = np.expm1(lr * u) / lr
        w = w * np.exp(lr * u)
        small = r >= 0.9 / lr
        if np.any(small):
            zc = z_circle[None, :]
            s[small] = (zc - 1.0) / lr
            w[small] = zc ** (steps[small, None] + 1.0) / (lr * K)
        return s, w
    return nodes


def _spectral_edge(lam: np.ndarray, N: float, P: float, mult=None) -> float:
    """Largest eigenvalue of (A^T A/N)(Psi^T Psi/P) in the large-size limit (edge of the support).

    For real kappa < -lam_max, g(kappa) = kappa (1 - df/N)(1 - df/P) rises from -inf to a maximum
    and falls back to -inf; kappa(s) has its branch point at that maximum, which is -e_max.
    Golden-section search in log(-kappa - lam_max); cost O(M) per evaluation (about 150).
    """
    iN, iP = _inv(N), _inv(P)
    lmax = float(lam.max())
    wl = lam if mult is None else lam * mult
    if iN == 0.0 and iP == 0.0:
        return lmax

    def g(logx):
        k = -lmax - math.exp(logx)
        df = float(np.sum(wl / (lam + k)))
        return k * (1 - df * iN) * (1 - df * iP)

    grid = np.linspace(-25, 20, 91) + math.log(lmax)  # kappa + lmax from -1e-11 lmax down
    vals = np.array([g(x) for x in grid])
    i = int(np.argmax(vals))
    a_, b_ = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    phi = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        c_, d_ = b_ - phi * (b_ - a_), a_ + phi * (b_ - a_)
        if g(c_) > g(d_):
            b_ = d_
        else:
            a_ = c_
    return -g(0.5 * (a_ + b_))


# -- public theory API ---------------------------------------------------------------------------
_GL_NODES = 10  # Gauss-Legendre nodes per panel of the compressed tail
_GL_PANEL = 0.25  # panel width in log k


def theory_spectrum(params: DMFTParams, exact_modes: int | None = None):
    """The power-law spectrum as (lam, lam_w2, mult) for the theory's mode sums.

    Modes k <= exact_modes are kept one by one (mult = 1). When M > 2 exact_modes the tail
    exact_modes < k <= M is replaced by a quadrature: sum_k f(k) ~ int_{K+1/2}^{M+1/2} f(x) dx (midpoint
    rule, error ~ f'/24 at the ends, below 1e-9 relative for K = 4096), the integral done in log x with
    Gauss-Legendre panels of width 0.25 and 10 nodes. Every mode sum of the theory is of the form
    sum_k f(lambda_k) lambda_k^p w_k^2 with f smooth in k on the tail, so this cuts the cost from O(M)
    to O(exact_modes + 40 log(M/exact_modes)) with relative changes of ~1e-9 (measured in the tests).
    exact_modes None: every mode exact.

    Returns
    -------
    lam, lam_w2, mult : arrays, shape (M_eff,)
    """
    M = int(params.M)
    if exact_modes is None or M <= 2 * int(exact_modes):
        lam, lam_w2 = params.spectrum()
        return lam, lam_w2, np.ones_like(lam)
    K = int(check_number("exact_modes", exact_modes, low=16, integer=True))
    k = np.arange(1, K + 1, dtype=np.float64)
    y0, y1 = math.log(K + 0.5), math.log(M + 0.5)
    n_pan = max(1, int(math.ceil((y1 - y0) / _GL_PANEL)))
    xg, wg = np.polynomial.legendre.leggauss(_GL_NODES)
    edges = np.linspace(y0, y1, n_pan + 1)
    half = 0.5 * (edges[1:] - edges[:-1])
    mid = 0.5 * (edges[1:] + edges[:-1])
    y = (mid[:, None] + half[:, None] * xg[None, :]).ravel()
    wy = (half[:, None] * wg[None, :]).ravel()
    x = np.exp(y)
    kk = np.concatenate([k, x])
    mult = np.concatenate([np.ones(K), wy * x])  # dx = x dy
    return kk**-params.b, kk**-params.a, mult


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


def _sgd_recursion(lam, lam_w2, lr, batch, noise2, times, mult):
    """One-pass SGD at N = inf (spec 4, exact for Gaussian features), plus sigma^2 in the gradient noise.

    C_k(n+1) = (1 - 2 lr lam_k + (B+1)/B lr^2 lam_k^2) C_k(n) + (lr^2/B) lam_k (sum_l lam_l C_l(n) + sigma^2),
    C_k(0) = w_k^2, L = sum lam_k C_k + sigma^2. The mean residual is (1 - lr lam_k)^n w_k, so the
    bias is sum lam_k w_k^2 (1 - lr lam_k)^(2n) + sigma^2. Cost O(M) per step, n_steps = t_max/lr.
    lam_w2 here carries the multiplicities (mult * lambda w^2); mult weights the sum in the noise term.
    Returns test loss and bias, shape (n_times,).
    """
    steps = np.rint(times / lr).astype(np.int64)
    w2 = lam_w2 / lam  # mult * w^2: C_k below is mult_k times the per-mode second moment
    C = w2.copy()
    a_k = 1.0 - 2 * lr * lam + (batch + 1) / batch * lr**2 * lam**2
    b_k = lr**2 / batch * lam
    out = np.empty(steps.size)
    j = 0
    for n in range(int(steps[-1]) + 1):
        while j < steps.size and steps[j] == n:
            out[j] = lam @ C + noise2
            j += 1
        C = a_k * C + b_k * mult * (lam @ C + noise2)
    Ht = (1.0 - lr * lam)[None, :] ** steps[:, None]
    bias = Ht**2 @ lam_w2 + noise2
    return out, bias


def _one_blas_thread():
    """Context limiting BLAS to one thread: the solver's matrix products are small (n_nodes x M), and
    threaded BLAS on a loaded machine was 20-100x slower here than one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _curves(params: DMFTParams, times: np.ndarray, modes=(), n_nodes: int = DEFAULT_NODES,
            exact_modes: int | None = DEFAULT_EXACT_MODES):
    """(times, test, train, bias, H_modes) of the theory for any optimizer (times may be rounded)."""
    with _one_blas_thread():
        return _curves_impl(params, times, modes, n_nodes, exact_modes)


def _curves_impl(params: DMFTParams, times: np.ndarray, modes=(), n_nodes: int = DEFAULT_NODES,
                 exact_modes: int | None = DEFAULT_EXACT_MODES):
    lam, lam_w2, mult = theory_spectrum(params, exact_modes)
    N, P, noise2 = params.N, params.P, params.sigma**2
    mode_lams = np.asarray(modes, dtype=np.float64) ** -params.b
    opt = params.optimizer
    if opt == "sgd":
        if not math.isinf(N):
            raise ValueError(f"N must be inf for the one-pass SGD theory (spec 4 gives it at N = inf), got N={N}; "
                             "use simulate() for finite N")
        if params.lr * float(lam.max()) * (params.batch + 2) / params.batch >= 2:
            raise ValueError(f"lr={params.lr} is unstable for one-pass SGD: need lr * lambda_max * (B+2)/B < 2")
        times = _step_times(times, params.lr)
        test, bias = _sgd_recursion(lam, lam_w2 * mult, params.lr, params.batch, noise2, times, mult)
        Hm = (1.0 - params.lr * mode_lams)[None, :] ** np.rint(times / params.lr)[:, None]
        return times, test, test.copy(), bias, Hm
    if opt == "flow" and math.isinf(N) and math.isinf(P):
        # time bottleneck in closed form (spec 4); O(n_times M)
        test = np.exp(-2.0 * np.outer(times, lam)) @ (lam_w2 * mult) + noise2
        return times, test, test.copy(), test.copy(), np.exp(-np.outer(times, mode_lams))
    if opt == "flow":
        nodes = lambda t: _talbot(t, n_nodes)  # noqa: E731
    elif opt == "momentum":
        edge = _spectral_edge(lam, N, P, mult)
        if 4.0 * params.momentum * edge >= 1.0:
            raise ValueError(f"momentum={params.momentum} is underdamped for the top eigenvalue {edge:.4g}: the "
                             f"theory's contour needs 4 * momentum * e_max < 1 (momentum < {0.25 / edge:.4g}); "
                             "simulate() handles any momentum")
        nodes = _nodes_momentum(params.momentum, n_nodes)
    else:  # gd
        edge = _spectral_edge(lam, N, P, mult)
        if params.lr * edge >= 2.0:
            raise ValueError(f"lr={params.lr} is unstable: lr * largest eigenvalue = {params.lr * edge:.4g} >= 2 "
                             f"(need lr < {2.0 / edge:.4g})")
        if params.lr * edge >= 1.0:
            raise ValueError(f"lr={params.lr}: the GD theory needs lr * largest eigenvalue < 1 (got "
                             f"{params.lr * edge:.4g}; need lr < {1.0 / edge:.4g}); simulate() allows up to 2")
        times = _step_times(times, params.lr)
        nodes = _nodes_gd(params.lr, n_nodes)
    test, train, bias, Hm = _theory_curves(lam, lam_w2, N, P, times, nodes, noise2, mode_lams, mult)
    return times, test, train, bias, Hm


def transfer(params: DMFTParams, times, modes, n_nodes: int = DEFAULT_NODES,
             exact_modes: int | None = DEFAULT_EXACT_MODES) -> np.ndarray:
    """Mode transfer functions H_k(t) (mean residual of mode k relative to w*_k), spec 2.

    Parameters
    ----------
    params : DMFTParams
    times : array, shape (n_times,), positive, increasing (rounded to whole steps for "gd"/"sgd")
    modes : sequence of int, mode numbers k in [1, M]

    Returns
    -------
    H : array, shape (n_times, n_modes)

    Notes
    -----
    Cost O(n_times n_nodes M) per Newton iteration for kappa plus the inversion O(n_times n_nodes M).
    (This routine shares the full solver; use solve() to get losses at the same time.)
    """
    params = _check_params(params)
    t = _check_times(times)
    k = _check_modes(modes, params.M)
    return _curves(params, t, k, n_nodes, exact_modes)[4]


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
    NaN when N = inf, when |m_late - 1| < 0.1, or when no crossing occurs on :func:`label_grid`.

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


def solve(params: DMFTParams, times, modes=(), n_nodes: int = DEFAULT_NODES, with_labels: bool = True,
          exact_modes: int | None = DEFAULT_EXACT_MODES):
    """The DMFT theory curves as a Trajectory (spec 2, 3, 4).

    Parameters
    ----------
    params : DMFTParams
    times : array, shape (n_times,), positive and strictly increasing. For "gd" and "sgd" they are
        rounded to whole steps (t = lr * step) and duplicates dropped.
    modes : sequence of int
        Mode numbers k in [1, M] whose transfer functions H_k(t) become channels ``H_{k}``.
    n_nodes : int
        Upper-half fixed-Talbot nodes (the double sum uses (2 n_nodes - 1) x n_nodes node pairs).
    with_labels : bool
        Compute t_x and t_of (three extra solves on the label grid, cached per parameter point).
    exact_modes : int or None
        Modes summed one by one; the tail beyond (when M > 2 exact_modes) by quadrature
        (:func:`theory_spectrum`, ~1e-8 relative). None: all M modes exact.

    Returns
    -------
    Trajectory
        Channels ``test_loss`` (includes sigma^2), ``train_loss`` (= test for one-pass SGD; left out
        for ensemble > 1, whose train loss the spec does not give), ``bias`` (infinite-ensemble loss,
        Eq. 19), ``H_{k}``. For ensemble E > 1 the test loss is B + (L - B)/E (spec 4).
        axis "time", source "dmft", seed None, labels from :func:`labels`.

    Notes
    -----
    Cost O(n_times n_nodes^2 M_eff) (one complex matrix product of (2n-1) x M_eff by M_eff x 4n per
    time) plus O(n_times n_nodes M_eff) per Newton iteration, M_eff = min(M, exact_modes + 40 log(M /
    exact_modes)); with every mode exact, M = 1e4, 64 times, 20 nodes: about 1.4 s on one core.
    N = P = inf gradient flow and one-pass SGD use closed forms, O(n_times M_eff) and O(n_steps M_eff).
    """
    from toptraj import provenance
    from toptraj.trajectory import Trajectory

    params = _check_params(params)
    t = _check_times(times)
    k = _check_modes(modes, params.M) if len(modes) else np.zeros(0, dtype=np.int64)
    check_number("n_nodes", n_nodes, low=8, high=40, integer=True)
    t, test, train, bias, Hm = _curves(params, t, k, int(n_nodes), exact_modes)
    cols, names = [], []
    E = int(params.ensemble)
    if E > 1:
        cols += [bias + (test - bias) / E, bias]
        names += ["test_loss", "bias"]
    else:
        cols += [test, train, bias]
        names += ["test_loss", "train_loss", "bias"]
    cols += list(Hm.T)
    names += [f"H_{int(m)}" for m in k]
    values = np.column_stack(cols)
    if not np.all(np.isfinite(values)):
        raise ConvergenceError(f"the theory produced non-finite values for {params} (Talbot inversion failed)")
    lab = labels(params, int(n_nodes), exact_modes) if with_labels else {
        "a": params.a, "b": params.b, "time_exponent": time_exponent(params.a, params.b),
        "model_exponent": model_exponent(params.a, params.b), "data_exponent": data_exponent(params.a, params.b),
        "compute_exponent": compute_exponent(params.a, params.b), "t_x": math.nan, "t_of": math.nan}
    return Trajectory(times=t, values=values, channels=tuple(names), axis="time", source=SOURCE,
                      params=asdict(params), seed=None, labels=lab, provenance=provenance.collect())


# -- finite simulation ---------------------------------------------------------------------------
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
    from toptraj._validation import check_seed
    from toptraj.trajectory import Trajectory

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
            raise ValueError(f"lr={params.lr} is unstable for this draw: lr * largest eigenvalue = "
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


def compute_optimal(a: float, b: float, N_grid, t_grid, M: int | None = None, P: float = math.inf,
                    n_C: int = 40, fit_range: tuple[float, float] = (0.25, 1.0), n_nodes: int = DEFAULT_NODES,
                    exact_modes: int | None = DEFAULT_EXACT_MODES) -> dict:
    """The compute-optimal frontier C = N t measured from theory curves, with fitted exponents (spec 5).

    For each N in ``N_grid`` the gradient-flow test loss L(t, N) is solved on ``t_grid``; for each
    compute C on a log grid, L*(C) = min_N L(C/N, N) (log-log interpolation of every curve whose t_grid
    covers C/N), N*(C) the minimising N refined by a parabola in log N through the three best grid
    points, t* = C/N*. Exponents are least-squares slopes of log L*, log N*, log t* against log C
    over the fraction ``fit_range`` of the log C range (the edges of the range are biased by the grids).

    Parameters
    ----------
    a, b : exponents (a > 1, b > 0)
    N_grid : array, shape (n_N,), increasing model sizes
    t_grid : array, shape (n_t,), increasing positive times
    M : number of modes (default 64 max(N_grid), so that M >> N)
    P : samples (default inf: the data is not limiting)
    n_C : number of compute values
    fit_range : (lo, hi) fractions of the log C span used in the fits

    Returns
    -------
    dict with arrays C, L_star, N_star, t_star (shape (n_C,)), fitted exponents ``loss_exponent``
    (L* ~ C^-loss_exponent), ``N_exponent``, ``t_exponent`` and the predicted ones
    ``predicted_loss_exponent`` etc. from spec 5.

    Notes
    -----
    Cost: n_N theory solves, O(n_N n_t n_nodes^2 M).
    """
    check_number("a", a, low=1.0, low_open=True)
    check_number("b", b, low=0.0, low_open=True)
    Ns = check_increasing("N_grid", N_grid, positive=True)
    ts = check_increasing("t_grid", t_grid, positive=True)
    if Ns.size < 3:
        raise ValueError(f"N_grid needs at least 3 sizes, got {Ns.size}")
    M = int(64 * Ns[-1]) if M is None else int(check_number("M", M, low=1, integer=True))
    check_number("n_C", n_C, low=4, integer=True)
    lo_f, hi_f = fit_range
    check_number("fit_range[0]", lo_f, low=0.0, high=1.0)
    check_number("fit_range[1]", hi_f, low=0.0, high=1.0)
    if hi_f <= lo_f:
        raise ValueError(f"fit_range must satisfy lo < hi, got {fit_range}")
    logL = np.array([np.log(_curves(DMFTParams(a, b, M, float(N), P), ts, (), n_nodes, exact_modes)[1]) for N in Ns])
    lt, lN = np.log(ts), np.log(Ns)
    # compute range where every N has its t = C/N inside t_grid ... relaxed: at least 3 N's cover C
    lC = np.linspace(lN[0] + lt[0], lN[-1] + lt[-1], 4 * n_C)
    Lstar, Nstar, keepC = [], [], []
    for c in lC:
        x = c - lN  # log t for each N
        ok = (x >= lt[0]) & (x <= lt[-1])
        if ok.sum() < 3:
            continue
        vals = np.full(Ns.size, np.inf)
        vals[ok] = [np.interp(x[i], lt, logL[i]) for i in np.flatnonzero(ok)]
        i = int(np.argmin(vals))
        if i == 0 or i == Ns.size - 1 or not (ok[i - 1] and ok[i + 1]):
            continue  # minimum at the edge of the N grid: the frontier is not resolved here
        y0, y1, y2 = vals[i - 1], vals[i], vals[i + 1]
        x0, x1, x2 = lN[i - 1], lN[i], lN[i + 1]
        # parabola through three points (non-uniform spacing)
        den = (x0 - x1) * (x0 - x2) * (x1 - x2)
        A_ = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
        B_ = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / den
        C_ = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / den
        if A_ > 0:
            xm = -B_ / (2 * A_)
            ym = A_ * xm**2 + B_ * xm + C_
        else:
            xm, ym = x1, y1
        keepC.append(c)
        Lstar.append(ym)
        Nstar.append(xm)
    if len(keepC) < 4:
        raise ValueError("the N and t grids do not resolve the compute-optimal frontier (minimum at the edge of "
                         "N_grid for almost every C): widen N_grid or t_grid")
    lc, ls, ln = np.array(keepC), np.array(Lstar), np.array(Nstar)
    span = lc[-1] - lc[0]
    sel = (lc >= lc[0] + lo_f * span) & (lc <= lc[0] + hi_f * span)
    if sel.sum() < 3:
        sel = np.ones_like(lc, dtype=bool)
    slope_L = np.polyfit(lc[sel], ls[sel], 1)[0]
    slope_N = np.polyfit(lc[sel], ln[sel], 1)[0]
    m = model_exponent(a, b)
    den = a - 1.0 + b * m
    return {
        "C": np.exp(lc), "L_star": np.exp(ls), "N_star": np.exp(ln), "t_star": np.exp(lc - ln),
        "loss_exponent": float(-slope_L), "N_exponent": float(slope_N), "t_exponent": float(1.0 - slope_N),
        "predicted_loss_exponent": (a - 1.0) * m / den, "predicted_N_exponent": (a - 1.0) / den,
        "predicted_t_exponent": b * m / den, "fit_mask": sel,
    }


# -- command line: `toptraj generate dmft ...` -----------------------------------------------------
def add_cli_arguments(parser) -> None:
    """Arguments of `toptraj generate dmft`."""
    from toptraj.cli_args import parse_float

    def num(option):
        return lambda text: parse_float(option, text)

    parser.add_argument("--a", type=num("--a"), required=True, help="task-power exponent (> 1)")
    parser.add_argument("--b", type=num("--b"), required=True, help="spectral exponent (> 0)")
    parser.add_argument("--N", type=num("--N"), required=True, help="model size (or inf)")
    parser.add_argument("--P", type=num("--P"), default=math.inf, help="samples (default inf)")
    parser.add_argument("--M", type=int, default=None,
                        help="modes (default: 10000 for the theory, 2000 with --simulate)")
    parser.add_argument("--sigma", type=num("--sigma"), default=0.0, help="label-noise std (default 0)")
    parser.add_argument("--optimizer", default="flow", choices=list(OPTIMIZERS))
    parser.add_argument("--lr", type=num("--lr"), default=None, help="step size (gd, sgd)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (sgd)")
    parser.add_argument("--momentum", type=num("--momentum"), default=0.0, help="heavy-ball mass (momentum)")
    parser.add_argument("--ensemble", type=int, default=1, help="ensemble size E (default 1)")
    parser.add_argument("--times", default="1:1e4:64", help="START:STOP:N log-spaced (default 1:1e4:64)")
    parser.add_argument("--modes", default="", help="modes k whose H_k become channels, e.g. 1,5,20")
    parser.add_argument("--simulate", action="store_true", help="finite simulations instead of the theory")
    parser.add_argument("--seeds", default="0", help="simulation seeds, e.g. 0:20 or 0,3,7 (with --simulate)")


def run_cli(args) -> list:
    """Build trajectories from parsed `toptraj generate dmft` arguments (theory, or one per seed)."""
    from toptraj.cli_args import parse_int_list, parse_logspace, parse_seeds

    M = args.M if args.M is not None else (2000 if args.simulate else 10000)
    params = DMFTParams(a=args.a, b=args.b, M=M, N=args.N, P=args.P, sigma=args.sigma, optimizer=args.optimizer,
                        lr=args.lr, batch=args.batch, momentum=args.momentum, ensemble=args.ensemble)
    times = parse_logspace("--times", args.times)
    modes = parse_int_list("--modes", args.modes) if args.modes.strip() else []
    if args.simulate:
        return [simulate(params, times, seed=s, modes=modes) for s in parse_seeds("--seeds", args.seeds)]
    return [solve(params, times, modes=modes)]
