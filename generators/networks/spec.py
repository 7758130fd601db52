"""The declaration of the network generator for toptraj's registry (``toptraj generate network``, sweeps)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import toptraj
from generators.networks.config import TrainConfig
from generators.networks.sweep import train_widths
from generators.networks.training import train
from toptraj.registry import GeneratorSpec, RunFunction
from toptraj.validation import check_number


@dataclass(frozen=True)
class WidthsOptions:
    """Extra arguments of :func:`train_widths`.

    Parameters
    ----------
    widths : tuple of int
        Widths to train, strictly increasing (the config's width is replaced by each).
    ntk_samples : int
        Samples for the empirical NTK of the widest net at initialisation (labels a, b); 0 skips it.
    threads : int
        torch CPU threads.
    run_dir : str or None
        Folder of resumable runs (``toptraj generate`` uses OUT/_runs).
    """

    widths: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    ntk_samples: int = 1000
    threads: int = 1
    run_dir: str | None = None

    def __post_init__(self) -> None:
        if not self.widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in self.widths):
            raise ValueError(f"widths must be a non-empty list of positive integers, got {list(self.widths)}")
        if any(b <= a for a, b in pairwise(self.widths)):
            raise ValueError(f"widths must be strictly increasing, got {list(self.widths)}")
        check_number("ntk_samples", self.ntk_samples, low=0, integer=True)
        check_number("threads", self.threads, low=1, integer=True)


@dataclass(frozen=True)
class TrainOptions:
    """Extra arguments of :func:`train` (defaults as there).

    Parameters
    ----------
    run_dir : str or None
        Folder for the checkpoint and the finished trajectory (resumable); None: no files.
    checkpoint_every : int
        Steps between checkpoints.
    num_threads : int
        torch CPU threads.
    """

    run_dir: str | None = None
    checkpoint_every: int = 500
    num_threads: int = 1


SPEC = GeneratorSpec(
    name="network",
    params=TrainConfig,
    functions=(
        RunFunction("train", train, seed="seed", options=TrainOptions, flag="single-run", cli_seeds=(0,),
                    progress="progress", help="one run per seed at --width (no width sweep)"),
        RunFunction("train_widths", train_widths, seed="seeds", options=WidthsOptions, cli_seeds=(0,),
                    work_dir="run_dir", progress="progress",
                    help="a width sweep (--widths) with measured labels; one width: one run per seed"),
    ),
    labels=("N", "P", "t_of", "t_x", "time_exponent", "width_exponent_early", "width_exponent_late", "a", "b"),
    version=toptraj.__version__,
    description="Real training runs (torch; MLP, CNN, transformer on MNIST-1D, digits, stdlib text).",
)
