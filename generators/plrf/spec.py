"""The declaration of the PLRF generator for toptraj's registry (``toptraj generate plrf``, sweeps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import toptraj
from generators.plrf.params import PLRFParams
from generators.plrf.phases import compute_optimal_exponents, phase
from generators.plrf.sgd import simulate_sgd
from generators.plrf.solver import volterra
from toptraj.registry import Axis, GeneratorSpec, RunFunction


@dataclass(frozen=True)
class VolterraOptions:
    """Extra arguments of :func:`volterra`.

    Parameters
    ----------
    dtype : {"float64", "float32"}
        Type of the O(v d^2 + d^3) spectrum stage (float32: ~1.2x faster there, loss within ~1e-3).
    """

    dtype: Literal["float64", "float32"] = "float64"


@dataclass(frozen=True)
class SGDOptions:
    """Extra arguments of :func:`simulate_sgd` (defaults as there).

    Parameters
    ----------
    n_runs : int
        Independent SGD runs on the same W, averaged.
    n_proj : int
        Fixed random projections ``proj_j`` of theta recorded.
    method : {"eigen", "data"}
        Sample in the eigenbasis of W^T D W (O(B d) per step) or draw x in R^v (O(B v d)).
    backend : {"auto", "numpy", "torch"}
        "auto": torch on a GPU when available, else numpy.
    """

    n_runs: int = 1
    n_proj: int = 8
    method: Literal["eigen", "data"] = "eigen"
    backend: Literal["auto", "numpy", "torch"] = "auto"


SPEC = GeneratorSpec(
    name="plrf",
    params=PLRFParams,
    functions=(
        RunFunction("volterra", volterra, seed="seed", options=VolterraOptions, cli_seeds=(0,),
                    help="expected loss from the Volterra equation for the W of each seed"),
        RunFunction("simulate_sgd", simulate_sgd, seed="seed", options=SGDOptions, flag="sgd", cli_seeds=(0,),
                    help="simulate one-pass SGD instead of solving the Volterra equation"),
    ),
    axis=Axis("steps", default="1:1e5:64", integer=True, help="SGD steps r >= 0"),
    labels=("alpha", "beta", "phase", "eta", "xi"),
    version=toptraj.__version__,
    description="Power-law random features under one-pass SGD (Paquette et al., arXiv:2405.15074).",
    theory={"phase": phase, "compute_optimal_exponents": compute_optimal_exponents},
)
