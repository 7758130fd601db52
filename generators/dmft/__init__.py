"""DMFT random-feature model (Bordelon, Atanasov, Pehlevan 2024): theory solver and finite simulation.

Reference: B. Bordelon, A. Atanasov, C. Pehlevan, "A Dynamical Model of Neural Scaling Laws",
arXiv:2402.01092; the equations and conventions implemented here are written out in
docs/theory/dmft.rst. Section references below (``spec 3``) are to that page's numbered sections.

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

Package layout (every name is re-exported here, so ``from generators.dmft import X`` is unchanged)
--------------------------------------------------------------------------------------------------
params        DMFTParams, the predicted exponents, argument checks (ConvergenceError: toptraj.exceptions)
spectrum      the spectral core: kappa(s) on the real axis, r, the 2x2 system, theory_spectrum, spectral edge
laplace       fixed-Talbot inversion, kappa(s) on the complex contour, GD and momentum contour nodes
theory        static and ridge losses, the theory curves, the one-pass SGD recursion, transfer, solve
ground_truth  the labels t_x and t_of: label_grid, width_crossover, overfitting_onset, labels
simulation    simulate (finite realisations) and its projection
frontier      compute_optimal
spec          SPEC: the declaration toptraj's registry reads (``toptraj generate dmft``, sweeps)
"""

from generators.dmft.frontier import (  # noqa: F401
    compute_optimal,
)
from generators.dmft.ground_truth import (  # noqa: F401
    _LABEL_CACHE,
    label_grid,
    labels,
    overfitting_onset,
    width_crossover,
)
from generators.dmft.laplace import (  # noqa: F401
    _NEWTON_MAXITER_COMPLEX,
    _kappa_contour,
    _newton_complex,
    _nodes_gd,
    _nodes_momentum,
    _talbot,
)
from generators.dmft.params import (  # noqa: F401
    DEFAULT_EXACT_MODES,
    DEFAULT_NODES,
    OPTIMIZERS,
    SOURCE,
    ConvergenceError,
    DMFTParams,
    _check_modes,
    _check_params,
    _check_times,
    _step_times,
    compute_exponent,
    data_exponent,
    estimate_memory_bytes,
    model_exponent,
    time_exponent,
)
from generators.dmft.simulation import (  # noqa: F401
    _SIM_MAX,
    PROJ_SEED,
    _decay,
    _draws,
    _nullcontext,
    _simulate_linear,
    _simulate_sgd,
    projection_matrix,
    simulate,
)
from generators.dmft.spec import SPEC, SimulateOptions, SolveOptions  # noqa: F401
from generators.dmft.spectrum import (  # noqa: F401
    _GL_NODES,
    _GL_PANEL,
    _NEWTON_MAXITER,
    _NEWTON_TOL,
    _check_spectrum,
    _inv,
    _kappa_real,
    _r_root,
    _spectral_edge,
    _two_by_two,
    theory_spectrum,
)
from generators.dmft.theory import (  # noqa: F401
    _TIME_CHUNK,
    _curves,
    _curves_impl,
    _one_blas_thread,
    _ridge_loss,
    _ridgeless_loss,
    _sgd_recursion,
    _theory_curves,
    solve,
    static_loss,
    static_loss_spectrum,
    transfer,
)
