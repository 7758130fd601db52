"""DMFT theory curves: static and ridge losses, the time-domain curves, transfer functions and solve.

The losses follow docs/theory/dmft.rst (sections 3-4; arXiv:2402.01092): the 2x2 system at s = gamma for
the static loss, a double Talbot sum for the time curves, the exact N = inf mode recursion for one-pass SGD.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from generators.dmft.laplace import _kappa_contour, _nodes_gd, _nodes_momentum, _talbot
from generators.dmft.params import (
    DEFAULT_EXACT_MODES,
    DEFAULT_NODES,
    SOURCE,
    ConvergenceError,
    DMFTParams,
    _check_modes,
    _check_params,
    _check_times,
    _step_times,
    compute_exponent,
    data_exponent,
    model_exponent,
    time_exponent,
)
from generators.dmft.spectrum import (
    _check_spectrum,
    _inv,
    _kappa_real,
    _r_root,
    _spectral_edge,
    _two_by_two,
    theory_spectrum,
)
from toptraj.validation import check_number


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
    from generators.dmft.ground_truth import labels  # here, not at the top: ground_truth builds on _curves
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
