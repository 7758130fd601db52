"""Latent-space solvable model of scaling laws (Maloney, Roberts, Sully 2022): theory and simulation.

Theory: docs/theory/maloney.rst (Maloney, Roberts, Sully, arXiv:2210.16859); the ridge case uses the
static 2x2 system of docs/theory/dmft.rst through :func:`generators.dmft.static_loss_spectrum`.

Model (maloney.rst, Model)
    latent x in R^M, Gaussian, covariance diag(lambda_I), lambda_I = lambda_+ I^-(1+alpha), lambda_+ = 1;
    teacher y = w . x + eps, w_I ~ N(0, sigma_w^2 / M), eps ~ N(0, noise^2);
    N random features phi = U x (linear map) or phi = sigma(U x / s) (relu, tanh), U_jI ~ N(0, 1/M)
    (sigma_u = 1), s^2 = sum_I lambda_I / M the mean pre-activation variance (so that the
    nonlinearity acts on O(1) inputs; irrelevant for the homogeneous relu up to the ridge scale);
    z = theta . phi fitted on T samples by ridge regression with ridge gamma:

        minimise (1/T) sum_mu (z(x_mu) - y_mu)^2 + gamma (N / M) norm(theta)^2.

    The factor N/M is the DMFT normalisation: with U = A / sqrt(M) (A iid N(0, 1)) the readout
    w_dmft = theta sqrt(N/M) gives z = w_dmft . A x / sqrt(N), the student of dmft.rst, and the
    penalty gamma norm(w_dmft)^2; so gamma here is the Laplace variable s = gamma of dmft.rst (Response functions).
    gamma = 0 means the minimum-norm least-squares fit (ridgeless).
    Test loss L = E (z - y)^2 over a fresh x and eps: no factor 1/2, the label noise of the test
    point included (L >= noise^2).

Mapping onto the DMFT notation (lam, lam_w2 of :func:`generators.dmft.static_loss_spectrum`)
    lam_k = lambda_+ k^-(1+alpha) (lambda_+ = 1), lam_w2_k = lambda_k <w_k^2> = (sigma_w^2 / M) lambda_k,
    P = T, so b = 1 + alpha and a = 1 + alpha with the task amplitude sigma_w^2 / M (isotropic
    teacher, averaged over w). Losses are averages over teacher, features and training set.

Finite latent dimension (maloney.rst, "Finite latent dimension")
    The power law of the loss ends when min(N, T) approaches M. Once N >= M (and T > M) the linear
    features span the whole latent space and the fit is ordinary least squares in M dimensions:
    L = noise^2 / (1 - M/T) for every N >= M (zero without label noise); symmetrically for T >= M
    with N >= M. The ridgeless peak N = T < M (and T = M <= N) is +inf.
    The reference checks (maloney.rst, Validation) use w_I^2 = 1 per mode, i.e. sigma_w^2 = M (or :func:`ridgeless_loss` with w2 = 1).

Cost model
    theory_loss: O(M) per Newton iteration (about 10-40 iterations) per (N, T).
    simulate: O(T M N) for the features, O(min(N, T)^2 max(N, T)) for the fit, O(M N) for the exact
    population loss of the linear map (O(n_test M N) with a Monte Carlo test set for nonlinear maps);
    the teacher average adds O(min(N, T) (N + T) M).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Literal

import numpy as np

import toptraj
from toptraj import provenance
from toptraj.registry import Axis, GeneratorSpec, RunFunction
from toptraj.trajectory import Trajectory
from toptraj.validation import check_choice, check_finite_array, check_increasing, check_number, check_seed

SOURCE = "maloney"
FEATURE_MAPS = ("linear", "relu", "tanh")
AXES = ("N", "T")

_NEWTON_TOL = 1e-14  # relative step at which the Newton solve for Delta counts as converged
_NEWTON_MAXITER = 200
_NONLINEAR_N_TEST = 8192  # default Monte Carlo test-set size for nonlinear maps
_MAX_SCALE = 1e100  # sigma_w and noise: their squares (and sums of them) stay finite in float64
_MAX_LOG_SPREAD = 690.0  # ln(1e300): eigenvalues down to 1e-300 stay normal floats


@dataclass(frozen=True)
class MaloneyParams:
    """Parameters of the latent-space model (spec 1; conventions in the module docstring).

    Parameters
    ----------
    alpha : float
        Spectral exponent, > 0 (lambda_I = I^-(1+alpha)).
    M : int
        Latent dimension, positive integer.
    N : float
        Number of random features, positive integer (inf allowed for the theory).
    T : float
        Number of training samples, positive integer (inf allowed for the theory).
    ridge : float
        gamma >= 0 in the DMFT normalisation (0: minimum-norm least squares).
    feature_map : {"linear", "relu", "tanh"}
        The random feature map.
    sigma_w : float
        Teacher scale > 0, w_I ~ N(0, sigma_w^2 / M).
    noise : float
        Label-noise standard deviation >= 0.
    """

    alpha: float
    M: int
    N: float
    T: float
    ridge: float = 0.0
    feature_map: Literal["linear", "relu", "tanh"] = "linear"
    sigma_w: float = 1.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        check_number("alpha", self.alpha, low=0.0, low_open=True)
        check_number("M", self.M, low=1, integer=True)
        check_number("N", self.N, low=1, integer=True, allow_inf=True)
        check_number("T", self.T, low=1, integer=True, allow_inf=True)
        check_number("ridge", self.ridge, low=0.0)
        check_choice("feature_map", self.feature_map, FEATURE_MAPS)
        check_number("sigma_w", self.sigma_w, low=0.0, low_open=True, high=_MAX_SCALE)
        check_number("noise", self.noise, low=0.0, high=_MAX_SCALE)
        # lambda_M = M^-(1+alpha) must stay a normal float64, or the spectrum underflows to 0.
        if (1.0 + float(self.alpha)) * math.log(int(self.M)) > _MAX_LOG_SPREAD:
            raise ValueError(
                f"alpha={self.alpha}, M={self.M}: the smallest eigenvalue M^-(1+alpha) = "
                f"exp(-{(1.0 + float(self.alpha)) * math.log(int(self.M)):.4g}) underflows float64 "
                f"(need (1+alpha) ln M <= {_MAX_LOG_SPREAD:g}); use a smaller alpha or M"
            )

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """(lam, lam_w2) in the DMFT notation, each shape (M,): lambda_I and (sigma_w^2/M) lambda_I."""
        lam = latent_spectrum(self.alpha, self.M)
        return lam, lam * (self.sigma_w**2 / self.M)


def latent_spectrum(alpha: float, M: int) -> np.ndarray:
    """lambda_I = I^-(1+alpha) for I = 1..M (lambda_+ = 1), shape (M,)."""
    check_number("alpha", alpha, low=0.0, low_open=True)
    M = check_number("M", M, low=1, integer=True)
    return np.arange(1, M + 1, dtype=np.float64) ** -(1.0 + alpha)


# -- ridgeless closed form (maloney.rst, Ridgeless closed form) ---------------------------------------------------------------
def delta_root(lam, n: float) -> float:
    """Delta > 0 solving n = sum_I lambda_I / (lambda_I + Delta) (maloney.rst, Ridgeless closed form), for 0 < n < M.

    The right side decreases from M (Delta = 0) to 0, so the root is unique; it lies in
    [lambda_min (M - n)/n, sum(lambda)/n] (each term is >= lambda_min/(lambda_min + Delta) and
    <= lambda/Delta). Safeguarded Newton in log Delta (bisection when Newton leaves the bracket).
    Returns 0.0 when n >= M (every latent direction is learned). Cost O(M) per iteration.

    Parameters
    ----------
    lam : array, shape (M,), positive
    n : float, > 0
    """
    lam = check_finite_array("lam", lam, ndim=1)
    if lam.size == 0 or np.any(lam <= 0):
        raise ValueError("lam must be a non-empty array of positive eigenvalues")
    n = check_number("n", n, low=0.0, low_open=True, allow_inf=True)
    M = lam.size
    if n >= M:
        return 0.0
    lo, hi = math.log(lam.min() * (M - n) / n), math.log(lam.sum() / n)
    u = 0.5 * (lo + hi)
    for _ in range(_NEWTON_MAXITER):
        d = math.exp(u)
        q = lam / (lam + d)
        f = q.sum() - n  # decreasing in u
        if f > 0:
            lo = u
        else:
            hi = u
        dfdu = -np.sum(q * (1.0 - q))  # d/du sum lam/(lam + e^u) = -sum q (1 - q)
        new = u - f / dfdu if dfdu != 0 else 0.5 * (lo + hi)
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        if abs(new - u) <= _NEWTON_TOL * max(1.0, abs(new)) or hi - lo <= _NEWTON_TOL:
            return math.exp(new)
        u = new
    raise ValueError(f"Newton solve for Delta did not converge for n={n}, M={M}")  # pragma: no cover


def ridgeless_loss(lam, N: float, T: float, w2: float = 1.0, noise: float = 0.0) -> float:
    """Ridgeless test loss of the isotropic teacher, finite-M sums (maloney.rst, Ridgeless closed form), any spectrum.

    With n = min(N, T), m = max(N, T) and Delta = :func:`delta_root` (lam, n):

        L = w2 n Delta / (1 - n/m) + noise part,

    exactly symmetric under N <-> T when noise = 0, +inf at N = T < inf. Label noise of variance
    noise^2 (test label included): noise^2 / (1 - N/T) for N < T and
    noise^2 [T/(N - T) + 1/(1 - Q2/T)], Q2 = sum lambda^2/(lambda + Delta)^2, for N > T
    (dmft.rst, Closed forms, with an unlearnable zero-eigenvalue mode carrying the noise power).
    When min(N, T) >= M the features span the whole latent space and the fit is ordinary least
    squares in M dimensions: L = noise^2 / (1 - M/T) (+inf at T = M), independent of N.

    Parameters
    ----------
    lam : array, shape (M,)
        Latent eigenvalues lambda_I > 0.
    N, T : float
        Features and samples, > 0, math.inf allowed.
    w2 : float
        Per-mode teacher variance <w_I^2> (sigma_w^2 / M in the model; 1 in the reference checks).
    noise : float
        Label-noise standard deviation.

    Returns
    -------
    float
        The loss averaged over teacher, features and data (large-size limit).

    Examples
    --------
    The model/data duality (maloney.rst, Validation): N and T exchanged, the same loss.

    >>> lam = latent_spectrum(1.0, 200_000)
    >>> round(ridgeless_loss(lam, 100, 400), 7), round(ridgeless_loss(lam, 400, 100), 7)
    (0.0325589, 0.0325589)
    """
    lam = check_finite_array("lam", lam, ndim=1)
    if lam.size == 0 or np.any(lam <= 0):
        raise ValueError("lam must be a non-empty array of positive eigenvalues")
    N = check_number("N", N, low=0.0, low_open=True, allow_inf=True)
    T = check_number("T", T, low=0.0, low_open=True, allow_inf=True)
    w2 = check_number("w2", w2, low=0.0)
    s2 = check_number("noise", noise, low=0.0) ** 2
    M = lam.size
    n, m = min(N, T), max(N, T)
    if n >= M:
        if math.isinf(T):
            return s2
        return math.inf if T <= M else s2 / (1.0 - M / T)
    if n == m:
        return math.inf
    delta = delta_root(lam, n)
    shrink = 1.0 - n / m  # 1 when m is infinite
    loss = w2 * n * delta / shrink
    if s2 > 0:
        if N < T:
            loss += s2 / shrink
        else:
            q2 = np.sum((lam / (lam + delta)) ** 2)
            loss += s2 * ((0.0 if math.isinf(N) else T / (N - T)) + 1.0 / (1.0 - q2 / T))
    return float(loss)


def asymptotic_n_delta(alpha: float, n, lam_plus: float = 1.0):
    """Power-law limit 1 << n << M of n Delta (maloney.rst, Ridgeless closed form): lambda_+ [(pi/s)/sin(pi/s)]^s n^-alpha, s = 1+alpha.

    (pi/s)/sin(pi/s) = Gamma(1 + 1/s) Gamma(1 - 1/s). ``n`` may be an array; same shape returned.
    """
    check_number("alpha", alpha, low=0.0, low_open=True)
    check_number("lam_plus", lam_plus, low=0.0, low_open=True)
    n = check_finite_array("n", n)
    if np.any(n <= 0):
        raise ValueError(f"n must be > 0, got min {n.min()}")
    s = 1.0 + alpha
    c = (math.pi / s) / math.sin(math.pi / s)
    return lam_plus * c**s * n**-alpha


# -- theory entry points --------------------------------------------------------------------------
def _check_params(params) -> MaloneyParams:
    if not isinstance(params, MaloneyParams):
        raise ValueError(f"params must be a MaloneyParams, got {type(params).__name__}")
    return params


def theory_loss(params: MaloneyParams) -> float:
    """Large-size test loss of the linear map: closed form (ridge = 0) or the DMFT 2x2 system (ridge > 0).

    ridge = 0: :func:`ridgeless_loss` with w2 = sigma_w^2/M (maloney.rst, finite-M sums).
    ridge = gamma > 0: :func:`generators.dmft.static_loss_spectrum` (lam, lam_w2, N, P=T, gamma),
    lam_w2 = (sigma_w^2/M) lam (module docstring), with label noise as one extra mode of
    eigenvalue 1e-15 gamma carrying task power noise^2 (unlearnable: its response is 1/gamma up
    to a relative 1e-15), plus nothing else: the test label's noise comes out of the same term.

    Returns +inf at the ridgeless peak N = T. Nonlinear maps have no closed form here: ValueError.
    Cost O(M) per Newton iteration.
    """
    params = _check_params(params)
    if params.feature_map != "linear":
        raise ValueError(f"theory_loss is available for feature_map='linear' only, got {params.feature_map!r}")
    lam, lam_w2 = params.spectrum()
    if params.ridge == 0.0:
        return ridgeless_loss(lam, params.N, params.T, w2=params.sigma_w**2 / params.M, noise=params.noise)
    from generators import dmft  # lazy: the one implementation of the 2x2 system

    if params.noise > 0:
        lam = np.append(lam, 1e-15 * params.ridge)
        lam_w2 = np.append(lam_w2, params.noise**2)
    return float(dmft.static_loss_spectrum(lam, lam_w2, params.N, params.T, ridge=params.ridge))


def optimal_ridge(params: MaloneyParams, bounds: tuple[float, float] = (1e-8, 1e2)) -> tuple[float, float]:
    """The ridge gamma* minimising :func:`theory_loss` over log gamma in ``bounds``, and L(gamma*).

    Bounded Brent search in log gamma (the loss is smooth in gamma); about 30-60 theory solves.
    params.ridge is ignored. Returns (gamma*, L*).
    """
    from scipy.optimize import minimize_scalar

    params = _check_params(params)
    lo = check_number("bounds[0]", bounds[0], low=0.0, low_open=True)
    hi = check_number("bounds[1]", bounds[1], low=lo, low_open=True)

    def f(u: float) -> float:
        return theory_loss(replace(params, ridge=math.exp(u)))

    res = minimize_scalar(f, bounds=(math.log(lo), math.log(hi)), method="bounded",
                          options={"xatol": 1e-6})
    return float(math.exp(res.x)), float(res.fun)


def predicted_exponent(params: MaloneyParams) -> float:
    """The exponent alpha of L ~ N^-alpha (N << T << M) and L ~ T^-alpha (T << N << M) (maloney.rst, Ridgeless closed form)."""
    return float(_check_params(params).alpha)


# -- simulation ------------------------------------------------------------------------------------
def _resolve_device(device: str | None) -> str:
    """'cuda' when torch.cuda.is_available() (device=None), else 'cpu'."""
    if device is not None:
        return check_choice("device", device, ("cpu", "cuda"))
    return _auto_device()


@lru_cache(maxsize=1)
def _auto_device() -> str:
    # Importing torch costs seconds; without an NVIDIA driver torch.cuda.is_available() is False
    # anyway, so torch is imported (lazily, here only) when a driver is present or it is loaded.
    import importlib.util
    import os
    import sys

    if "torch" not in sys.modules:
        if importlib.util.find_spec("torch") is None:
            return "cpu"
        if not (os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidiactl")):
            return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _activation(name: str, h, xp):
    if name == "linear":
        return h
    if name == "relu":
        return xp.maximum(h, 0.0 * h)
    return xp.tanh(h)


def _features(params: MaloneyParams, X, U, xp):
    """Features of samples X (n, M) with projection U (N, M): shape (n, N)."""
    h = X @ U.T
    if params.feature_map == "linear":
        return h
    scale = math.sqrt(float(np.sum(latent_spectrum(params.alpha, params.M))) / params.M)
    return _activation(params.feature_map, h / scale, xp)


_TEST_CHUNK = 1024  # Monte Carlo test samples drawn and evaluated per block (bounds memory)


def _draw(params: MaloneyParams, seed: int):
    """The draws of one realisation from numpy's generator (same numbers on any device).

    Returns (lam, U, w, X, eps, rng); test samples are drawn afterwards from ``rng`` in blocks of
    _TEST_CHUNK rows, so the training draws do not depend on n_test.
    """
    rng = np.random.default_rng(seed)
    N, T, M = int(params.N), int(params.T), int(params.M)
    sqrt_lam = np.sqrt(latent_spectrum(params.alpha, M))
    U = rng.standard_normal((N, M)) / math.sqrt(M)
    w = rng.standard_normal(M) * (params.sigma_w / math.sqrt(M))
    X = rng.standard_normal((T, M)) * sqrt_lam
    eps = params.noise * rng.standard_normal(T)
    return sqrt_lam**2, U, w, X, eps, rng


def _fit(Phi, y, ridge_eff: float, xp, eye):
    """theta minimising |Phi theta - y|^2/T + ridge_eff |theta|^2 (min-norm at ridge_eff = 0).

    Uses the smaller of the two Gram matrices: (Phi^T Phi/T + r I) theta = Phi^T y/T when N <= T,
    theta = Phi^T (Phi Phi^T/T + r I)^-1 y / T otherwise (push-through identity). Cost O(n^2 m).
    """
    T, N = Phi.shape
    if N <= T:
        G = Phi.T @ Phi / T + ridge_eff * eye(N)
        return xp.linalg.solve(G, Phi.T @ y / T)
    K = Phi @ Phi.T / T + ridge_eff * eye(T)
    return Phi.T @ xp.linalg.solve(K, y) / T



def _check_realisation(params: MaloneyParams, seed, what: str) -> tuple[MaloneyParams, int]:
    """Validate params and seed for a finite draw (N and T finite, a seed given)."""
    params = _check_params(params)
    seed = check_seed("seed", seed, allow_none=False)
    for name in ("N", "T"):
        if math.isinf(getattr(params, name)):
            raise ValueError(f"{name} must be finite for {what}, got inf")
    return params, seed

def simulate(params: MaloneyParams, seed: int, n_test: int | None = None, device: str | None = None,
             teacher: str = "draw") -> float:
    """Test loss of one realisation: draw U, w, the T training samples, fit, measure.

    Parameters
    ----------
    params : MaloneyParams
        N, T finite.
    seed : int
        Fixes every draw (numpy generator; the same numbers on CPU and GPU up to round-off).
    n_test : int or None
        None: for the linear map the exact population loss sum_I lambda_I (U^T theta - w)_I^2 + noise^2
        (no test-set noise); for nonlinear maps a Monte Carlo test set of 8192 samples. An integer:
        always a Monte Carlo test set of that size (plus noise^2 for the test label, exactly).
    device : "cpu", "cuda" or None (GPU when torch sees one)
    teacher : "draw" or "average"
        "draw": one teacher w and one label-noise vector from the seed. "average" (linear map,
        n_test None only): the loss averaged analytically over w ~ N(0, sigma_w^2/M) and the label
        noise for the drawn U and X (variance reduction: the theory is such an average), via

            E L = (sigma_w^2/M) [tr Lam - 2 tr(F X Lam U^T) + tr(A X X^T)] + noise^2 (tr A + 1),

        with theta = F y the fit (F shape (N, T)) and A = F^T U Lam U^T F.

    Returns
    -------
    float
        The test loss L = E (z - y)^2.

    Notes
    -----
    Cost O(T M N + min(N,T)^2 max(N,T) + n_test M N); memory O((T + N + 1024) M).
    """
    params, seed = _check_realisation(params, seed, "simulate")
    check_choice("teacher", teacher, ("draw", "average"))
    exact = n_test is None and params.feature_map == "linear"
    if teacher == "average" and not exact:
        raise ValueError(f"teacher='average' needs feature_map='linear' and n_test=None, got "
                         f"feature_map={params.feature_map!r}, n_test={n_test!r}")
    if n_test is None:
        n_test = 0 if exact else _NONLINEAR_N_TEST
    else:
        n_test = check_number("n_test", n_test, low=1, integer=True)
    lam, U, w, X, eps, rng = _draw(params, seed)
    sqrt_lam = np.sqrt(lam)
    ridge_eff = params.ridge * params.N / params.M  # DMFT normalisation (module docstring)
    dev = _resolve_device(device)
    if dev == "cuda":  # pragma: no cover - no GPU in the test environment
        import torch

        def to(a):
            return None if a is None else torch.as_tensor(a, dtype=torch.float64, device="cuda")

        lam, U, w, X, eps = map(to, (lam, U, w, X, eps))
        xp = torch

        def eye(k):
            return torch.eye(k, dtype=torch.float64, device="cuda")
    else:
        xp, eye = np, np.eye

        def to(a):
            return a
    if teacher == "average":
        F = _fit(X @ U.T, eye(X.shape[0]), ridge_eff, xp, eye)  # theta = F y, shape (N, T)
        C = F @ X  # (N, M): U^T C is the fitted beta per unit teacher
        UL = U * lam
        cross = (C * UL).sum()  # tr(F X Lam U^T)
        if U.shape[0] <= X.shape[0]:  # tr(A X X^T) and tr A, the cheaper way: O(N^2 M) here
            ULU = UL @ U.T
            quad, trA = ((ULU @ C) * C).sum(), ((ULU @ F) * F).sum()
        else:  # O(T N M + T^2 M)
            B = F.T @ (U * lam**0.5)
            A = B @ B.T
            quad, trA = (A * (X @ X.T)).sum(), xp.trace(A)
        loss = params.sigma_w**2 / params.M * (lam.sum() - 2.0 * cross + quad) + params.noise**2 * trA
        return float(loss) + params.noise**2
    y = X @ w + eps
    theta = _fit(_features(params, X, U, xp), y, ridge_eff, xp, eye)
    if exact:
        r = U.T @ theta - w
        loss = (lam * r * r).sum()
    else:
        loss = 0.0
        for start in range(0, n_test, _TEST_CHUNK):
            X_test = to(rng.standard_normal((min(_TEST_CHUNK, n_test - start), params.M)) * sqrt_lam)
            err = _features(params, X_test, U, xp) @ theta - X_test @ w
            loss += float((err * err).sum())
        loss /= n_test
    return float(loss) + params.noise**2


def simulate_many(params: MaloneyParams, seeds, n_test: int | None = None, device: str | None = None,
                  teacher: str = "draw") -> np.ndarray:
    """:func:`simulate` for each seed, shape (n_seeds,). Cost: n_seeds times one simulation."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must be a non-empty list of non-negative integers, got []")
    dev = _resolve_device(device)
    return np.array([simulate(params, s, n_test=n_test, device=dev, teacher=teacher) for s in seeds],
                    dtype=np.float64)


# -- scaling curves --------------------------------------------------------------------------------
def scaling_curve(params: MaloneyParams, axis: str, values, seeds=None, n_test: int | None = None,
                  teacher: str = "draw") -> Trajectory:
    """The loss along N or T (the other fixed at params' value): theory and optional simulation.

    Parameters
    ----------
    params : MaloneyParams
        The swept field is replaced by each value.
    axis : "N" or "T"
    values : array, shape (n_points,)
        Strictly increasing positive integers.
    seeds : list of int or None
        When given, channels ``sim_loss`` (mean over seeds) and ``sim_loss_std`` are added.
    n_test, teacher : as in :func:`simulate`

    Returns
    -------
    Trajectory
        axis = ``axis``, times = values; channels ``theory_loss`` (linear map only) and, with seeds,
        ``sim_loss``, ``sim_loss_std`` (std over seeds, ddof=1); params = asdict(params) minus the
        swept field, plus "axis"; the seeds go to provenance["seeds"]; labels alpha and
        ``model_exponent`` (axis N) or ``data_exponent`` (axis T), both alpha.

    Raises ValueError when a ridgeless linear curve hits N = T (the theory is infinite there) or
    a nonlinear map is asked for without seeds (no theory channel).
    """
    params = _check_params(params)
    axis = check_choice("axis", axis, AXES)
    vals = check_increasing("values", values, positive=True)
    if np.any(vals != np.round(vals)):
        raise ValueError(f"values must be whole numbers (sizes), got {values!r}")
    has_theory = params.feature_map == "linear"
    if not has_theory and seeds is None:
        raise ValueError(f"feature_map={params.feature_map!r} has no theory channel: give seeds to simulate")
    cols, names = [], []
    point_params = [replace(params, **{axis: int(v)}) for v in vals]
    if has_theory:
        theory = np.array([theory_loss(p) for p in point_params])
        if not np.all(np.isfinite(theory)):
            bad = vals[~np.isfinite(theory)]
            raise ValueError(f"values contains {axis} = {bad.tolist()} where the ridgeless loss is infinite "
                             f"(N = T or T <= M <= N); drop those points or use ridge > 0")
        cols.append(theory)
        names.append("theory_loss")
    device = "cpu"
    if seeds is not None:
        device = _resolve_device(None)
        sims = np.array([simulate_many(p, seeds, n_test=n_test, device=device, teacher=teacher)
                         for p in point_params])
        cols += [sims.mean(axis=1), sims.std(axis=1, ddof=1) if sims.shape[1] > 1 else np.zeros(len(vals))]
        names += ["sim_loss", "sim_loss_std"]
    meta = asdict(params)
    meta.pop(axis)
    meta["axis"] = axis
    extra = {} if seeds is None else {"seeds": [int(s) for s in seeds], "teacher": teacher}
    label = "model_exponent" if axis == "N" else "data_exponent"
    return Trajectory(
        times=vals,
        values=np.column_stack(cols),
        channels=tuple(names),
        axis=axis,
        source=SOURCE,
        params=meta,
        seed=None,
        labels={"alpha": params.alpha, label: predicted_exponent(params)},
        provenance=provenance.collect(device=device, **extra),
    )


def local_exponents(values, losses) -> np.ndarray:
    """-d log L / d log x between consecutive points, shape (n_points - 1,)."""
    x = check_increasing("values", values, positive=True)
    y = check_finite_array("losses", losses, ndim=1)
    if y.shape != x.shape or np.any(y <= 0):
        raise ValueError("losses must be positive with the shape of values")
    return -np.diff(np.log(y)) / np.diff(np.log(x))


# -- feature spectrum (the paper's Fig. 4 effect) --------------------------------------------------
def feature_spectrum(params: MaloneyParams, seed: int) -> np.ndarray:
    """Eigenvalues of the empirical feature covariance from params.T samples, largest first.

    Features phi (T, N) as in :func:`simulate` (same seed, same U and X), centred per feature;
    eigenvalues of Phi^T Phi / T computed from the smaller Gram matrix, clipped at 0.
    Returns shape (min(N, T),). The linear map has rank <= M (the data's power law ends at M);
    nonlinear maps continue it towards min(N, T): see :func:`spectrum_extent`.
    Cost O(T M N + min(N,T)^2 max(N,T)).
    """
    params, seed = _check_realisation(params, seed, "feature_spectrum")
    _, U, _, X, _, _ = _draw(params, seed)
    Phi = _features(params, X, U, np)
    Phi = Phi - Phi.mean(axis=0)
    T, N = Phi.shape
    G = Phi.T @ Phi / T if N <= T else Phi @ Phi.T / T
    ev = np.linalg.eigvalsh(G)[::-1]
    return np.clip(ev, 0.0, None)


def spectrum_extent(eigenvalues, head: tuple[int, int] = (2, 20), drop: float = 10.0) -> tuple[int, float]:
    """Extent of the power law of a spectrum, and its fitted exponent.

    A straight line is fitted to log lambda_i vs log i over the 1-based indices head[0]..head[1];
    the extent is the last index i such that every lambda_j, j <= i, lies within a factor ``drop``
    of the fit at j (above or below): beyond it the spectrum has left the extrapolated power law
    (collapsed below it at the end of the rank, or flattened above it).

    Parameters
    ----------
    eigenvalues : array, shape (n,), non-increasing, >= 0
    head : (first, last) 1-based indices of the fit, 1 <= first < last <= n
    drop : factor > 1

    Returns
    -------
    (extent, exponent) : (int, float)
        extent in 1..n; exponent p of lambda_i ~ i^-p on the head.
    """
    ev = check_finite_array("eigenvalues", eigenvalues, ndim=1)
    n = ev.size
    lo = check_number("head[0]", head[0], low=1, integer=True)
    hi = check_number("head[1]", head[1], low=lo + 1, high=n, integer=True)
    drop = check_number("drop", drop, low=1.0, low_open=True)
    if np.any(ev[lo - 1:hi] <= 0):
        raise ValueError("eigenvalues must be positive on the head range")
    i = np.arange(1, n + 1, dtype=np.float64)
    slope, icpt = np.polyfit(np.log(i[lo - 1:hi]), np.log(ev[lo - 1:hi]), 1)
    fit = np.exp(icpt + slope * np.log(i))
    with np.errstate(divide="ignore"):
        off = np.abs(np.log(ev) - np.log(fit)) > math.log(drop)  # log(0) = -inf counts as off
    bad = np.nonzero(off[lo - 1:])[0] + lo - 1
    extent = n if bad.size == 0 else int(bad[0])  # 0-based first failure = 1-based last good index
    return max(extent, 1), float(-slope)


# -- gradient-flow dynamics via the DMFT model -------------------------------------------------------
def dmft_equivalent(params: MaloneyParams) -> dict:
    """The DMFT parameters of this model (maloney.rst, Ridgeless closed form): a = b = 1 + alpha, M, N, P = T.

    The DMFT model has unit task amplitude (lambda_k w_k^2 = k^-a); this model's is sigma_w^2/M, so
    losses scale by ``loss_scale`` = sigma_w^2/M and the DMFT label noise is
    noise sqrt(M)/sigma_w. Time is the DMFT time (gradient flow on w_dmft = theta sqrt(N/M) with
    the loss (1/T) sum (z-y)^2 / 2; on theta itself it is M/N times slower).
    Returns dict(a, b, M, N, P, sigma, loss_scale, time_exponent=alpha/(1+alpha)).
    """
    params = _check_params(params)
    if params.feature_map != "linear":
        raise ValueError(f"the DMFT mapping holds for feature_map='linear' only, got {params.feature_map!r}")
    s = 1.0 + params.alpha
    return {
        "a": s, "b": s, "M": int(params.M), "N": params.N, "P": params.T,
        "sigma": params.noise * math.sqrt(params.M) / params.sigma_w,
        "loss_scale": params.sigma_w**2 / params.M,
        "time_exponent": params.alpha / s,
    }


def time_trajectory(params: MaloneyParams, times) -> Trajectory:
    """Gradient-flow loss curves of this model from :func:`generators.dmft.solve` (a = b = 1 + alpha).

    Loss channels of the DMFT trajectory are multiplied by loss_scale = sigma_w^2/M (see
    :func:`dmft_equivalent`); source "maloney", params asdict(params), labels alpha, a = b = 1 + alpha
    and time_exponent alpha/(1+alpha). Cost: that of the DMFT solver (O(n_times n_nodes^2 M)).
    """
    from generators import dmft

    eq = dmft_equivalent(params)
    traj = dmft.solve(dmft.DMFTParams(a=eq["a"], b=eq["b"], M=eq["M"], N=eq["N"], P=eq["P"], sigma=eq["sigma"]),
                      times, with_labels=False)
    values = np.array(traj.values, dtype=np.float64)
    for j, name in enumerate(traj.channels):
        if "loss" in name or name == "bias":
            values[:, j] *= eq["loss_scale"]
    return Trajectory(
        times=traj.times, values=values, channels=traj.channels, axis=traj.axis, source=SOURCE,
        params=asdict(params), seed=None,
        labels={"alpha": params.alpha, "a": eq["a"], "b": eq["b"], "time_exponent": eq["time_exponent"]},
        provenance=provenance.collect(),
    )


# -- declaration for toptraj's registry ---------------------------------------------------------
@dataclass(frozen=True)
class ScalingCurveOptions:
    """Extra arguments of :func:`scaling_curve`.

    Parameters
    ----------
    n_test : int or None
        Monte Carlo test-set size of the simulations (None: the exact loss for the linear map,
        8192 samples otherwise).
    teacher : {"draw", "average"}
        Draw one teacher per seed, or average over teachers analytically (linear map).
    """

    n_test: int | None = None
    teacher: Literal["draw", "average"] = "draw"


SPEC = GeneratorSpec(
    name="maloney",
    params=MaloneyParams,
    functions=(
        RunFunction("scaling_curve", scaling_curve, seed="seeds", options=ScalingCurveOptions,
                    help="the loss along N or T: theory, plus simulations averaged over the seeds if given"),
    ),
    axis=Axis("values", integer=True, select=AXES, help="sizes along the swept axis (positive integers)"),
    labels=("alpha", "model_exponent", "data_exponent"),
    version=toptraj.__version__,
    description="Latent-space model of Maloney, Roberts and Sully (arXiv:2210.16859): loss along N or T.",
)


def estimate_memory_bytes(params: MaloneyParams, n_times, function: str | None = None, axis: str | None = None) -> int:
    """Peak memory (bytes) of :func:`scaling_curve` / :func:`simulate`; an estimate (factor ~2).

    Parameters
    ----------
    params : MaloneyParams
    n_times : int or array of int
        The sizes along the swept axis (an array), or their number (an int: the sizes are then
        those of ``params``).
    function : str or None
        Unused (one run function); accepted for a uniform signature.
    axis : {"N", "T", None}
        Which size the values replace; None replaces both (an upper bound).

    Notes
    -----
    Theory O(M) per size. A simulation (finite N and T) holds U (N x M), the training inputs
    (T x M), the features (T x N), the fit's Gram matrix min(N, T)^2 and test chunks of 1024 x M.
    """
    N, T = params.N, params.T
    if not np.isscalar(n_times):
        arr = np.asarray(n_times, dtype=np.float64)
        top = float(arr.max()) if arr.size else 1.0
        if axis in (None, "N"):
            N = top
        if axis in (None, "T"):
            T = top
    M = int(params.M)
    theory = 8 * 16 * M
    if math.isinf(N) or math.isinf(T):
        return int(theory)
    N, T = int(N), int(T)
    sim = 8 * (N * M + T * M + 2 * T * N + min(N, T) ** 2 + 1024 * M + M)
    return int(max(theory, sim))
