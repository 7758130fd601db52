"""The declaration of the DMFT generator for toptraj's registry (``toptraj generate dmft``, sweeps)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import toptraj
from generators.dmft.ground_truth import overfitting_onset, width_crossover
from generators.dmft.params import DEFAULT_EXACT_MODES, DEFAULT_NODES, DMFTParams, time_exponent
from generators.dmft.simulation import simulate
from generators.dmft.theory import solve
from toptraj.registry import Axis, GeneratorSpec, RunFunction


@dataclass(frozen=True)
class SolveOptions:
    """Extra arguments of :func:`solve` (defaults as there).

    Parameters
    ----------
    modes : tuple of int
        Mode numbers k in [1, M] whose transfer functions H_k(t) become channels ``H_{k}``.
    n_nodes : int
        Upper-half fixed-Talbot nodes of the Laplace inversion.
    with_labels : bool
        Compute the labels t_x and t_of (three extra solves, cached per parameter point).
    exact_modes : int or None
        Modes summed one by one (the tail by quadrature); None: all M modes exact.
    """

    modes: tuple[int, ...] = ()
    n_nodes: int = DEFAULT_NODES
    with_labels: bool = True
    exact_modes: int | None = DEFAULT_EXACT_MODES


@dataclass(frozen=True)
class SimulateOptions:
    """Extra arguments of :func:`simulate` (defaults as there).

    Parameters
    ----------
    modes : tuple of int
        Mode numbers whose realised transfer v0_k(t)/w*_k become channels ``H_{k}``.
    n_v0 : int
        Residual components v0_k(t) of the largest-eigenvalue modes recorded as ``v0_{k}``.
    n_proj : int
        Random projections ``proj_{j}`` of v0(t).
    backend : {"numpy", "torch"} or None
        None: torch on a GPU when one is available, else numpy.
    """

    modes: tuple[int, ...] = ()
    n_v0: int = 16
    n_proj: int = 8
    backend: Literal["numpy", "torch"] | None = None


def study_single(*args, **kwargs):
    """:func:`generators.exponent_sets.make_single` (imported at call time: it imports this package)."""
    from generators import exponent_sets

    return exponent_sets.make_single(*args, **kwargs)


def study_sweeps(*args, **kwargs):
    """:func:`generators.exponent_sets.make_sweeps` (imported at call time: it imports this package)."""
    from generators import exponent_sets

    return exponent_sets.make_sweeps(*args, **kwargs)


SPEC = GeneratorSpec(
    name="dmft",
    params=DMFTParams,
    functions=(
        RunFunction("solve", solve, seed="none", options=SolveOptions, defaults={"M": 10000},
                    help="the DMFT theory (Laplace inversion by the fixed Talbot method)"),
        RunFunction("simulate", simulate, seed="seed", options=SimulateOptions, flag="simulate", cli_seeds=(0,),
                    defaults={"M": 2000}, help="finite simulations instead of the theory, one run per seed"),
    ),
    axis=Axis("times", default="1:1e4:64", help="times t > 0 (gd, sgd: rounded to whole steps lr * step)"),
    labels=("a", "b", "time_exponent", "model_exponent", "data_exponent", "compute_exponent", "t_x", "t_of"),
    version=toptraj.__version__,
    description="Random-feature model: DMFT theory (Bordelon, Atanasov, Pehlevan, arXiv:2402.01092) and simulation.",
    defaults={"P": math.inf},
    theory={"time_exponent": time_exponent, "overfitting_onset": overfitting_onset, "width_crossover": width_crossover,
            "study_single": study_single, "study_sweeps": study_sweeps},
)
