"""Mode-sum model: the infinite-width, infinite-data limit of the random-feature model.

    L(t) = A * sum_k k^-a exp(-2 k^-b c t),      H_k(t) = exp(-k^-b c t)

(the time-bottleneck limit N, P -> inf of Bordelon, Atanasov, Pehlevan, arXiv:2402.01092;
docs/theory/modesum.rst), with an amplitude ``A`` and a time-scale
(learning-rate) factor ``c`` that real runs never reveal, and optional multiplicative log-normal
observation noise. In the power-law regime L ~ t^-(a-1)/b.

Cost model: O(M_exact * n_times) for the explicit modes; with ``M=None`` the modes above
``M_exact`` are summed by a midpoint-rule integral in closed form (incomplete gamma), O(n_times),
with relative error far below 1e-8 for M_exact = 20000.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

import toptraj
from toptraj import provenance
from toptraj.registry import Axis, GeneratorSpec, RunFunction
from toptraj.trajectory import Trajectory
from toptraj.validation import check_increasing, check_number, check_seed

SOURCE = "modesum"
_M_EXACT = 20_000  # modes summed explicitly before the integral tail when M is None
_CHUNK = 200_000  # modes per chunk for large finite M (bounds memory at n_times * _CHUNK)
_MAX_NOISE = 20.0  # exp(20 z) stays finite for |z| < 35 (a log-normal sigma of 20 is already absurd)
_MAX_LOSS = 1e300  # largest L(0) = A sum_k k^-a we accept, so noise and sums cannot overflow


@dataclass(frozen=True)
class ModesumParams:
    """Parameters of the mode-sum model.

    Parameters
    ----------
    a : float
        Task-power exponent, > 1 (lambda_k w_k^2 = k^-a).
    b : float
        Spectral exponent, > 0 (lambda_k = k^-b).
    M : int or None
        Number of modes; None: infinitely many (explicit sum plus exact integral tail).
    amplitude : float
        A > 0, multiplies the loss.
    time_scale : float
        c > 0, multiplies time (a learning-rate factor).
    noise : float
        sigma >= 0 of multiplicative log-normal observation noise (then a seed is needed).
    """

    a: float
    b: float
    M: int | None = None
    amplitude: float = 1.0
    time_scale: float = 1.0
    noise: float = 0.0

    def __post_init__(self) -> None:
        check_number("a", self.a, low=1.0, low_open=True)
        check_number("b", self.b, low=0.0, low_open=True)
        if self.M is not None:
            check_number("M", self.M, low=1, integer=True)
        check_number("amplitude", self.amplitude, low=0.0, low_open=True)
        check_number("time_scale", self.time_scale, low=0.0, low_open=True)
        check_number("noise", self.noise, low=0.0, high=_MAX_NOISE)
        _check_representable(self)


def _check_representable(params: ModesumParams) -> None:
    """Refuse parameters whose loss would be NaN or overflow in float64, naming them."""
    # L(0) = A sum_{k<=M} k^-a <= A zeta(a): keep it (and the noise factor) finite.
    zeta = float(special.zeta(params.a, 1))
    if params.M is not None:
        zeta = min(zeta, float(np.sum(np.arange(1, min(int(params.M), 10_000) + 1, dtype=np.float64) ** -params.a))
                   + (max(int(params.M) - 10_000, 0) * 10_000.0**-params.a))
    if not params.amplitude * zeta <= _MAX_LOSS:
        raise ValueError(
            f"amplitude={params.amplitude}: the initial loss A * sum_k k^-a = {params.amplitude * zeta:.3g} "
            f"exceeds {_MAX_LOSS:g} (float64 overflows); use a smaller amplitude"
        )


def estimate_memory_bytes(params: ModesumParams, n_times, function: str | None = None) -> int:
    """Peak memory (bytes) of :func:`solve` for ``n_times`` times (int, or the times array).

    The explicit mode sum works on chunks of at most 200 000 modes: an (n_times, chunk) float64
    matrix and its exponential (two copies), plus O(n_times) vectors.
    """
    n = int(np.size(n_times)) if not np.isscalar(n_times) else int(n_times)
    modes = _M_EXACT if params.M is None else min(int(params.M), _CHUNK)
    return 8 * (2 * n * modes + 2 * modes + 8 * n) + 1_000_000


def time_exponent(a: float, b: float) -> float:
    """Predicted exponent r of L(t) ~ t^-r: (a - 1) / b."""
    return (a - 1.0) / b


def _mode_sum(a: float, b: float, t: np.ndarray, k_lo: int, k_hi: int) -> np.ndarray:
    """sum_{k_lo <= k <= k_hi} k^-a exp(-2 k^-b t) for each t, shape (n_times,)."""
    out = np.zeros_like(t)
    for start in range(k_lo, k_hi + 1, _CHUNK):
        k = np.arange(start, min(start + _CHUNK, k_hi + 1), dtype=np.float64)
        out += np.exp(-2.0 * np.outer(t, k**-b)) @ (k**-a)
    return out


def _integral_tail(a: float, b: float, t: np.ndarray, k_from: float) -> np.ndarray:
    """int_{k_from}^inf x^-a exp(-2 x^-b t) dx in closed form, shape (n_times,).

    Substituting u = 2 t x^-b gives (1/b) (2t)^((1-a)/b) * lower_gamma((a-1)/b, 2 t k_from^-b),
    evaluated in log space (Gamma((a-1)/b) alone overflows for (a-1)/b > 171). Where the
    regularized lower_gamma(s, x) underflows (x << s) the same integral is written as
    k_from^(1-a)/(a-1) e^-x 1F1(1; s+1; x) (series of lower_gamma), which is O(1) there.
    At t = 0 it is k_from^(1-a)/(a-1).
    """
    s = (a - 1.0) / b
    bound = k_from ** (1.0 - a) / (a - 1.0)  # the t = 0 value, also an upper bound
    out = np.empty_like(t)
    zero = t <= 0
    out[zero] = bound
    tt = t[~zero]
    x = 2.0 * tt * k_from**-b
    with np.errstate(divide="ignore", under="ignore", over="ignore", invalid="ignore"):
        g = special.gammainc(s, x)
        log_val = -s * np.log(2.0 * tt) - np.log(b) + special.gammaln(s) + np.log(g)
        val = np.exp(log_val)
        series = g < 1e-250
        val[series] = bound * np.exp(-x[series]) * special.hyp1f1(1.0, s + 1.0, x[series])
    out[~zero] = np.minimum(val, bound)
    return out


def loss_curve(params: ModesumParams, times) -> np.ndarray:
    """Noise-free L(t) at ``times`` (shape (n_times,)), including amplitude and time scale."""
    t = check_increasing("times", times) * params.time_scale
    if t[0] < 0:
        raise ValueError(f"times must be >= 0, got {times[0]}")
    if params.M is None:
        total = _mode_sum(params.a, params.b, t, 1, _M_EXACT)
        # Midpoint rule: sum_{k > K} f(k) ~ int_{K+1/2}^inf f; error O(f'') ~ K^-(a+2), negligible.
        total += _integral_tail(params.a, params.b, t, _M_EXACT + 0.5)
    else:
        total = _mode_sum(params.a, params.b, t, 1, int(params.M))
    return params.amplitude * total


def transfer(params: ModesumParams, times, modes) -> np.ndarray:
    """H_k(t) = exp(-k^-b c t), shape (n_times, n_modes)."""
    t = check_increasing("times", times) * params.time_scale
    k = np.asarray(modes, dtype=np.float64)
    if k.ndim != 1 or np.any(k < 1) or np.any(k != np.round(k)):
        raise ValueError(f"modes must be a 1-D list of positive integers, got {modes!r}")
    return np.exp(-np.outer(t, k**-params.b))


def solve(params: ModesumParams, times, seed: int | None = None, modes=()) -> Trajectory:
    """One loss curve (with noise if ``params.noise > 0``; the seed fixes the noise).

    Returns a Trajectory with channels ``test_loss`` and ``H_{k}`` for each requested mode k;
    labels a, b and time_exponent.

    Examples
    --------
    The infinite-mode curve of docs/theory/modesum.rst at the reference point (a, b) = (1.5, 1.25):

    >>> run = solve(ModesumParams(a=1.5, b=1.25), [1, 10, 100, 1000])
    >>> run.channel("test_loss").round(5)
    array([1.3582 , 0.53539, 0.21314, 0.08485])
    >>> run.labels["time_exponent"]  # (a - 1) / b
    0.4
    """
    seed = check_seed("seed", seed)
    if params.noise > 0 and seed is None:
        raise ValueError("seed must be given when noise > 0 (same seed, same numbers)")
    loss = loss_curve(params, times)
    if params.noise > 0:
        rng = np.random.default_rng(seed)
        loss = loss * np.exp(params.noise * rng.standard_normal(loss.shape))
    cols, names = [loss], ["test_loss"]
    if len(modes):
        h = transfer(params, times, modes)
        cols.extend(h.T)
        names.extend(f"H_{int(k)}" for k in modes)
    return Trajectory(
        times=np.asarray(times, dtype=np.float64),
        values=np.column_stack(cols),
        channels=tuple(names),
        source=SOURCE,
        params=asdict(params),
        seed=seed,
        labels={"a": params.a, "b": params.b, "time_exponent": time_exponent(params.a, params.b)},
        provenance=provenance.collect(),
    )


# -- declaration for toptraj's registry ---------------------------------------------------------
@dataclass(frozen=True)
class SolveOptions:
    """Extra arguments of :func:`solve`.

    Parameters
    ----------
    modes : tuple of int
        Modes k whose transfer function H_k(t) becomes a channel ``H_{k}``, e.g. 1,10,100.
    """

    modes: tuple[int, ...] = ()


SPEC = GeneratorSpec(
    name="modesum",
    params=ModesumParams,
    functions=(
        RunFunction("solve", solve, seed="seed", options=SolveOptions,
                    help="one loss curve per seed (the seed fixes the noise; none needed without noise)"),
    ),
    axis=Axis("times", default="1:1e4:64", help="times t > 0"),
    labels=("a", "b", "time_exponent"),
    version=toptraj.__version__,
    description="Mode-sum model: infinite width and data, L(t) = A sum_k k^-a exp(-2 k^-b c t).",
)
