"""Configuration of one training run (TrainConfig), the allowed values, and the device choice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from generators.networks.data import DATASETS, DEFAULT_SIZES
from toptraj.validation import check_choice, check_number, check_seed

SOURCE = "network"
ARCHS = ("mlp", "cnn", "transformer")
PARAMETRIZATIONS = ("standard", "mup")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """Configuration of one training run (the seed is separate).

    Parameters
    ----------
    dataset : {"mnist1d", "digits", "text"}
        Training data (made offline, see :mod:`generators.networks.data`).
    arch : {"mlp", "cnn", "transformer"}
        mlp or cnn for image data, transformer for text.
    width : int
        Hidden units / channels / model dimension (> 0); the swept parameter.
    depth : int
        Hidden layers (mlp), conv layers (cnn) or blocks (transformer), 1..8.
    parametrization : {"standard", "mup"}
        See the module docstring.
    base_width : int
        muP reference width.
    optimizer : {"sgd", "adam"}
        The optimiser.
    lr : float
        Learning rate, > 0.
    momentum : float
        In [0, 1) (SGD only).
    batch_size : int
        Minibatch size, > 0.
    steps : int
        Training steps, > 0.
    n_train : int or None
        Training samples (None: the data set's default).
    n_test : int or None
        Test samples (None: the data set's default).
    online : bool
        Fresh samples every step (mnist1d, text) instead of n_train reused samples.
    n_eval : int
        Training samples evaluated for train_loss/train_acc (a fixed subset); the test loss uses
        min(n_eval, n_test) test samples.
    n_record : int
        Points of the log-spaced step grid (1..steps) that are recorded.
    context : int
        Transformer window length.
    n_heads : int
        Transformer attention heads.
    data_seed : int
        Fixes the data (independent of the run seed, which fixes init and batch order).
    projection_dim : int
        Dimension of the parameter sketch (0 disables it).
    projection_seed : int
        Seed of the parameter sketch.
    device : {"auto", "cpu", "cuda"}
        "auto": cuda if available.
    """

    dataset: Literal["mnist1d", "digits", "text"] = "mnist1d"
    arch: Literal["mlp", "cnn", "transformer"] = "mlp"
    width: int = 128
    depth: int = 2
    parametrization: Literal["standard", "mup"] = "mup"
    base_width: int = 128
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    batch_size: int = 32
    steps: int = 5000
    n_train: int | None = None
    n_test: int | None = None
    online: bool = False
    n_eval: int = 500
    n_record: int = 40
    context: int = 32
    n_heads: int = 2
    data_seed: int = 0
    projection_dim: int = 256
    projection_seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        check_choice("arch", self.arch, ARCHS)
        if (self.arch == "transformer") != (self.dataset == "text"):
            raise ValueError(
                f"arch={self.arch!r} does not fit dataset={self.dataset!r}: use 'transformer' with 'text' "
                "and 'mlp' or 'cnn' with 'mnist1d' or 'digits'"
            )
        check_number("width", self.width, low=1, integer=True)
        check_number("depth", self.depth, low=1, high=8, integer=True)
        check_choice("parametrization", self.parametrization, PARAMETRIZATIONS)
        check_number("base_width", self.base_width, low=1, integer=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_number("lr", self.lr, low=0.0, low_open=True)
        check_number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_number("batch_size", self.batch_size, low=1, integer=True)
        check_number("steps", self.steps, low=1, integer=True)
        if self.n_train is not None:
            check_number("n_train", self.n_train, low=1, integer=True)
        if self.n_test is not None:
            check_number("n_test", self.n_test, low=1, integer=True)
        if not isinstance(self.online, bool):
            raise ValueError(f"online must be True or False, got {self.online!r}")
        if self.online and self.dataset == "digits":
            raise ValueError("online=True is not available for dataset='digits' (1797 samples); use online=False")
        check_number("n_eval", self.n_eval, low=1, integer=True)
        check_number("n_record", self.n_record, low=2, integer=True)
        check_number("context", self.context, low=2, integer=True)
        check_number("n_heads", self.n_heads, low=1, integer=True)
        if self.arch == "transformer" and self.width % self.n_heads:
            raise ValueError(f"width must be a multiple of n_heads={self.n_heads} for arch='transformer', got {self.width}")
        check_seed("data_seed", self.data_seed)
        check_number("projection_dim", self.projection_dim, low=0, integer=True)
        check_seed("projection_seed", self.projection_seed)
        check_choice("device", self.device, DEVICES)

    @property
    def sizes(self) -> tuple[int, int]:
        """(n_train, n_test) with the data set's defaults filled in."""
        d_train, d_test = DEFAULT_SIZES[self.dataset]
        return (self.n_train or d_train, self.n_test or d_test)


def select_device(preference: str = "auto") -> str:
    """'cuda' when a GPU is available (for 'auto'), else 'cpu'; 'cuda' without a GPU is an error."""
    check_choice("preference", preference, DEVICES)
    import torch

    available = bool(torch.cuda.is_available())
    if preference == "cuda" and not available:
        raise ValueError("device='cuda' was requested but torch.cuda.is_available() is False; use 'auto' or 'cpu'")
    if preference == "cpu":
        return "cpu"
    return "cuda" if available else "cpu"
