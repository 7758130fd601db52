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
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


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
    precision : {"auto", "fp32", "bf16", "fp16"}
        Training-step arithmetic: "auto" (fp32 on CPU; on CUDA bf16 where supported, else fp16),
        "fp32", "bf16" (torch.autocast) or "fp16" (autocast with a GradScaler; CUDA only). Records
        (losses, norms, sketch) are always evaluated in fp32.
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
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"

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
        check_choice("precision", self.precision, PRECISIONS)

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


_INPUT_DIM = {"mnist1d": 40, "digits": 64, "text": 1}  # features per sample (text: token ids)
_N_OUT = {"mnist1d": 10, "digits": 10, "text": 128}  # classes (text: an upper bound on the vocabulary)


def estimate_memory_bytes(config: TrainConfig, n_times=None, function: str | None = None) -> int:
    """Peak memory (bytes) of one :func:`~generators.networks.train` run on the CPU; an estimate (factor ~2).

    Parameters
    ----------
    config : TrainConfig
    n_times : int, array or None
        Unused (the record grid is ``config.n_record``); accepted for a uniform signature.
    function : str or None
        Unused (one run function).

    Notes
    -----
    Parameters: depth width^2 (mlp), 5 depth width^2 (cnn, kernel 5) or 12 depth width^2
    (transformer) plus the input and output layers; float32, five copies (weights, gradients,
    two Adam moments, one spare). The parameter sketch stores 4 (int64 row, float32 sign) pairs per
    parameter (48 bytes). Activations: batch x width x depth (x context for the transformer),
    times 4 for the backward pass. Data: n_train + n_test samples.
    """
    w, depth = int(config.width), int(config.depth)
    d_in, d_out = _INPUT_DIM[config.dataset], _N_OUT[config.dataset]
    per_layer = {"mlp": 1, "cnn": 5, "transformer": 12}[config.arch]
    n_params = depth * per_layer * w * w + w * (d_in + d_out + (config.context if config.arch == "transformer" else 0))
    if config.arch == "cnn":
        n_params += w * d_in * d_out  # flattened conv features into the classifier
    weights = 4 * 5 * n_params
    sketch = 48 * n_params if config.projection_dim > 0 else 0
    ctx = config.context if config.arch == "transformer" else (d_in if config.arch == "cnn" else 1)
    acts = 16 * config.batch_size * w * depth * ctx
    if config.arch == "transformer":  # attention scores, batch x heads x context^2 per block
        acts += 16 * config.batch_size * config.n_heads * ctx * ctx * depth
    n_train, n_test = config.sizes
    data = 4 * (n_train + n_test) * max(d_in, config.context if config.arch == "transformer" else 0) * 2
    records = 8 * int(config.n_record) * (int(config.projection_dim) + 16)
    return int(weights + sketch + acts + data + records + 200_000_000)  # + torch's own footprint


def select_precision(precision: str, device: str) -> tuple[str, bool]:
    """The autocast dtype name for a run ('fp32' = no autocast) and whether a GradScaler is used.

    'auto' is fp32 on CPU (the tested path: bit-reproducible) and bf16 on a CUDA device that
    supports it, else fp16. fp16 needs CUDA (a loss scaler guards its small exponent range).
    """
    check_choice("precision", precision, PRECISIONS)
    check_choice("device", device, ("cpu", "cuda"))
    if precision == "auto":
        if device == "cpu":
            return "fp32", False
        import torch

        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp16" and device != "cuda":
        raise ValueError("precision='fp16' needs device='cuda' (a GradScaler); use 'bf16' or 'fp32' on CPU")
    return precision, precision == "fp16"
