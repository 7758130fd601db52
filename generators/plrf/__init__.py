"""Power-law random features (PLRF) trained by one-pass SGD: Volterra solver, SGD simulation, phases.

The model of Paquette, Paquette, Xiao and Pennington, "4+3 Phases of Compute-Optimal Neural Scaling
Laws" (NeurIPS 2024), arXiv:2405.15074; the equations and conventions implemented here are written out
in docs/theory/plrf.rst:

    x ~ N(0, D) in R^v, D = diag(j^-2 alpha);  y = <x, b>, b_j = j^-beta;
    features W^T x in R^d, W_ij ~ N(0, 1/d);   P(theta) = norm(D^1/2 (W theta - b))^2;
    theta_{r+1} = theta_r - lr * sum_{i<=B} W^T x_i (<W^T x_i, theta_r> - <x_i, b>),  theta_0 = 0.

Public API
----------
PLRFParams, phase, compute_optimal_exponents, spectrum, volterra, simulate_sgd, loss_grid,
compute_optimal_frontier, FrontierResult, and SPEC (the declaration toptraj's registry reads).

The expected loss given W solves the Volterra equation P(r) = F(r) + sum_{s<r} K(r-1-s) P(s) with
F(r) = P_inf + sum_k w_k a_k^r and K(r) = lr^2 B sum_k lambda_k^2 a_k^r, a_k = 1 - 2 lr B lambda_k +
lr^2 B (B+1) lambda_k^2, built from the eigen-decomposition of the d x d matrix W^T D W.

Cost model (one curve to R steps)
---------------------------------
* spectrum: O(v d^2) to form W^T D W (a syrk, in row chunks of W) + 4/3 d^3 to reduce it to
  tridiagonal form; the eigenvalues and the target's projections then cost O(d^2) (no
  eigenvectors are formed unless simulate_sgd needs them); memory O(d^2) (W is never held whole).
  ``dtype="float32"`` forms and reduces the matrix in float32 (~1.5x faster, loss error ~1e-4 to
  1e-3). Cached per W (alpha, beta, d, v, seed, dtype): every lr and batch size reuses it.
* F and K: exact O(d) sums at r < 4096 and at 200 log-spaced nodes per decade beyond, then a cubic
  spline in log r of log F and log K evaluated at every integer r < R: O(d (4096 + 90 log10 R) + R).
  Interpolation error measured at d = 400..1600, R = 1e6: <= 1e-9 relative for F, <= 1.1e-7 for K
  (at large r where K is negligible); the loss matches an exact O(d R) recursion to 1e-8 (tests).
* convolution: a damped one-shot FFT solve of length 4R (z-transform, absolute error ~1e-13 P(0)),
  then Picard iterations P <- F + K * P with FFT convolution, O(R log R) each, which contract the
  error by the kernel norm ||K|| (~0.13 at lr = 0.25 / Tr D): 2-4 iterations reach 1e-12
  relative. Memory ~ 150 R bytes (steps capped at 2e7).
* SGD: O(n_runs B d) per step in the eigenbasis of W^T D W (see :func:`simulate_sgd`).

* seed=None (deterministic equivalent, no W): the support of the spectrum (bulk and outlier bumps)
  exactly from the critical points of the inverse Stieltjes map, then O(n_newton n_x v) Newton
  iterations on n_x ~ 500-2000 quadrature atoms fitted to it (d = 400: ~0.1 s, d = 1600, v = 6400:
  ~0.5 s), then F, K as above with n_x atoms.

Measured CPU seconds and ratios (GEMM rate, previous implementations, the authors' solver):
benchmarks/bench_plrf.py and benchmarks/results/plrf.json.

Seeds: ``seed`` fixes W (same seed, same W in :func:`volterra` and :func:`simulate_sgd`); the SGD
sample stream is a separate child stream of the same seed.

"The spec" in this package's docstrings and comments is docs/theory/plrf.rst (its section numbers and
phase table).

Package layout (every name is re-exported here, so ``from generators.plrf import X`` is unchanged)
--------------------------------------------------------------------------------------------------
params         PLRFParams
phases         phase, compute_optimal_exponents, the phase labels of a run
spectral       Spectrum and spectrum (one draw of W, LRU-cached, float64/float32), kernel_norm, checks
deterministic  the deterministic-equivalent spectral measures on a support-fitted grid (seed=None, cached)
solver         volterra (seed=None through the deterministic equivalent): forcing, kernel, FFT solve, Picard
sgd            simulate_sgd, projection_matrix
frontier       loss_grid, compute_optimal_frontier, FrontierResult
spec           SPEC, SGDOptions: the declaration for ``toptraj generate plrf`` and sweeps
"""

from generators.plrf.deterministic import (  # noqa: F401
    _DE_CACHE,
    _DE_CHUNK_BYTES,
    _DE_ETAS,
    _DE_GRID_CACHE,
    _DE_MASS_TOL,
    _DE_MIN_D,
    _DE_POINTS_PER_DECADE,
    _de_measure,
    _de_measure_loggrid,
    _de_solve_s,
    _de_support,
    _DEMeasure,
)
from generators.plrf.frontier import (  # noqa: F401
    FrontierResult,
    compute_optimal_frontier,
    loss_grid,
)
from generators.plrf.params import (  # noqa: F401
    SOURCE,
    PLRFParams,
    _trace_d,
    estimate_memory_bytes,
)
from generators.plrf.phases import (  # noqa: F401
    ALPHA_IV,
    PHASES,
    _check_ab,
    _labels,
    compute_optimal_exponents,
    phase,
)
from generators.plrf.sgd import (  # noqa: F401
    PROJECTION_SEED,
    THETA_CHANNELS_MAX_D,
    _eigen_loss,
    _eigen_setup,
    _sgd_data,
    _sgd_eigen_numpy,
    _sgd_eigen_torch,
    projection_matrix,
    simulate_sgd,
)
from generators.plrf.solver import (  # noqa: F401
    _EXACT_STEPS,
    _NODES_PER_DECADE,
    _damped_fft_solve,
    _forcing_kernel,
    _forcing_kernel_measure,
    _mode_sums,
    _mode_sums_log,
    _picard,
    _volterra_de,
    _volterra_trajectory,
    volterra,
)
from generators.plrf.spec import SPEC, SGDOptions  # noqa: F401
from generators.plrf.spectral import (  # noqa: F401
    _LUMP_REL,
    _MAX_STEPS,
    _ROW_CHUNK_BYTES,
    _SPECTRUM_CACHE,
    _SPECTRUM_CACHE_SIZE,
    _VECTORS_CACHE,
    DTYPES,
    Spectrum,
    _check_stable,
    _check_steps,
    _eig_projection,
    _lru_get,
    _lru_put,
    _seed_streams,
    kernel_norm,
    spectrum,
)
