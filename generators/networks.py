"""Real neural-network training runs (torch): trajectories, width sweeps and measured ground truth.

A run trains an MLP, a small CNN (image tasks) or a small transformer (character-level text) of a
given width with SGD or Adam, and records on a log-spaced step grid: train/test loss, train/test
accuracy, the norm of the last minibatch gradient, the parameter norm and a fixed random sketch of
the flattened parameters (``proj_0..proj_{d-1}``, the weight-space path). Data are made offline
(see :mod:`generators._datasets`). Ground truth: the empirical NTK at initialisation
(:func:`empirical_ntk_spectrum`, exponents a and b) and, from width sweeps, the time exponent,
the early/late width exponents, the crossover t_x and the overfitting onset t_of with the
definitions of ../shared/specs/dmft.md section 6 (the widest model stands in for infinite width).

Parametrisations (``parametrization``):

* ``standard``: every weight N(0, g/fan_in) (g = 2 after a ReLU, else 1), one learning rate.
* ``mup``: maximal-update parametrisation (Yang & Hu, Tensor Programs V, Table 3) relative to
  ``base_width`` (m = width / base_width; at m = 1 it equals ``standard``): output weights have
  init variance g/(fan_in m); SGD learning rates are lr*m for input weights and biases, lr for hidden
  weights, lr/m for output weights; Adam: lr for input weights and biases, lr/m for hidden and output
  weights. Attention logits are scaled by sqrt(d0)/d instead of 1/sqrt(d). Under muP wider nets
  train faster (lower train loss at every recorded step >= 10 in benchmarks/bench_networks.py).

Threads: :func:`train` sets ``torch.set_num_threads(num_threads)`` (default 1) for its duration and
restores it after. One thread makes the runs reproducible bit for bit on a given CPU and leaves the
second core free (the machine this was built on has two).

Interrupted runs resume from ``run_dir`` (an atomically replaced ``checkpoint.pt`` and, when done,
``trajectory.npz``). A non-finite loss stops the run: the returned trajectory holds every finite row
recorded so far, ``params["stopped"]`` is the step, ``provenance["stopped"]`` has the step and the
reason, and a :class:`RuntimeWarning` is issued; if nothing was recorded yet,
:class:`TrainingDivergedError` is raised.

Cost model: training is about 6 B n_params flops per step; each of the n_record records evaluates
2 n_eval samples (2 n_eval n_params flops) and sketches the parameters in O(4 n_params). The
default sketch is a sparse sign projection (4 nonzeros per parameter, generated block-wise from
``projection_seed``), so it never holds a dense d x n_params matrix.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from generators._datasets import DATASETS, DEFAULT_SIZES, DataSet, load_dataset
from generators._ntk import NTKSpectrum, empirical_ntk_spectrum
from toptraj import provenance
from toptraj._validation import check_choice, check_number, check_seed
from toptraj.trajectory import Trajectory, TrajectorySet
from toptraj.transitions import local_width_exponent, overfitting_onset
from toptraj.transitions import width_crossover_time as crossover_time

__all__ = [
    "TrainConfig", "train", "width_sweep", "empirical_ntk_spectrum", "NTKSpectrum", "select_device",
    "build_model", "CheckpointError", "TrainingDivergedError", "sweep_labels", "local_width_exponent",
    "crossover_time", "width_exponent", "time_exponent_fit", "overfitting_onset", "record_grid",
    "SparseSketch", "ntk_at_init", "add_cli_arguments", "run_cli", "SOURCE",
]

SOURCE = "network"
ARCHS = ("mlp", "cnn", "transformer")
PARAMETRIZATIONS = ("standard", "mup")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda")
_SKETCH_NNZ = 4  # nonzeros per parameter column of the sparse sign projection
_SKETCH_BLOCK = 1 << 20  # parameters per generated block (bounds generation memory)
_EVAL_CHUNK = 1024
_CKPT_FORMAT = "toptraj.network.checkpoint"


class CheckpointError(ValueError):
    """A checkpoint in a run folder is unreadable or belongs to another run (the file is kept)."""


class TrainingDivergedError(ValueError):
    """The loss became non-finite before the first record; nothing was recorded.

    Attributes: ``step`` (the step whose loss was non-finite) and ``reason``.
    """

    def __init__(self, message: str, step: int, reason: str):
        super().__init__(message)
        self.step = step
        self.reason = reason


@dataclass(frozen=True)
class TrainConfig:
    """Configuration of one training run (the seed is separate).

    Parameters
    ----------
    dataset : 'mnist1d' (default), 'digits' or 'text'
    arch : 'mlp' or 'cnn' (image data), 'transformer' (text)
    width : hidden units / channels / model dimension (> 0); the swept parameter
    depth : hidden layers (mlp), conv layers (cnn) or blocks (transformer), 1..8
    parametrization : 'standard' or 'mup' (see module docstring); base_width : muP reference width
    optimizer : 'sgd' or 'adam'; lr > 0; momentum in [0, 1) (SGD only)
    batch_size, steps : positive integers
    n_train, n_test : data sizes (None: the data set's default, see generators._datasets)
    online : fresh samples every step (mnist1d, text) instead of n_train reused samples
    n_eval : training samples evaluated for train_loss/train_acc (a fixed subset); the test loss
        uses min(n_eval, n_test) test samples
    n_record : points of the log-spaced step grid (1..steps)
    context, n_heads : transformer window length and heads
    data_seed : fixes the data (independent of the run seed, which fixes init and batch order)
    projection_dim, projection_seed : the parameter sketch (0 disables it)
    device : 'auto' (cuda if available), 'cpu' or 'cuda'
    """

    dataset: str = "mnist1d"
    arch: str = "mlp"
    width: int = 128
    depth: int = 2
    parametrization: str = "mup"
    base_width: int = 128
    optimizer: str = "sgd"
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
    device: str = "auto"

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


# -- device --------------------------------------------------------------------------------------
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


# -- models --------------------------------------------------------------------------------------
def _role_multipliers(config: TrainConfig) -> dict[str, float]:
    """Learning-rate multiplier per parameter role (see module docstring)."""
    if config.parametrization == "standard":
        return dict.fromkeys(("input", "bias", "hidden", "output", "output_bias"), 1.0)
    m = config.width / config.base_width
    if config.optimizer == "sgd":
        return {"input": m, "bias": m, "hidden": 1.0, "output": 1.0 / m, "output_bias": 1.0}
    return {"input": 1.0, "bias": 1.0, "hidden": 1.0 / m, "output": 1.0 / m, "output_bias": 1.0}


def build_model(config: TrainConfig, input_shape: tuple[int, ...], n_classes: int, seed: int):
    """The network of ``config`` with its initialisation drawn from ``seed``.

    Returns (model, roles): roles maps parameter names to 'input', 'hidden', 'output',
    'bias' or 'output_bias'. Weight init is N(0, gain / fan_in), times 1/m for muP output weights.
    """
    import torch
    from torch import nn

    width, depth = int(config.width), int(config.depth)
    roles: dict[str, str] = {}
    gains: dict[str, tuple[float, int]] = {}  # name -> (gain, fan_in)

    if config.arch == "mlp":
        d_in = int(np.prod(input_shape))
        dims = [d_in] + [width] * depth
        layers: list = [nn.Flatten()]
        for i in range(depth):
            layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU()]
        layers.append(nn.Linear(width, n_classes))
        model = nn.Sequential(*layers)
        linears = [n for n, mod in model.named_modules() if isinstance(mod, nn.Linear)]
        for j, name in enumerate(linears):
            kind = "input" if j == 0 else ("output" if j == len(linears) - 1 else "hidden")
            mod = model.get_submodule(name)
            roles[f"{name}.weight"] = kind
            roles[f"{name}.bias"] = "output_bias" if kind == "output" else "bias"
            gains[f"{name}.weight"] = (1.0 if j == 0 else 2.0, mod.in_features)
    elif config.arch == "cnn":
        model = _CNN(input_shape, width, depth, n_classes)
        for name, p in model.named_parameters():
            if name.startswith("head"):
                roles[name] = "output" if name.endswith("weight") else "output_bias"
            elif name.endswith("bias"):
                roles[name] = "bias"
            else:
                roles[name] = "input" if name.startswith("convs.0.") else "hidden"
            if name.endswith("weight"):
                fan_in = int(np.prod(p.shape[1:]))
                gains[name] = (1.0 if name.startswith("convs.0.") else 2.0, fan_in)
    else:
        model = _Transformer(config, n_classes)
        for name, p in model.named_parameters():
            if name.startswith("unembed"):
                roles[name] = "output" if name.endswith("weight") else "output_bias"
            elif name in ("embed.weight", "pos"):
                roles[name] = "input"
            elif p.ndim == 1:
                roles[name] = "bias"  # biases and LayerNorm gains: vector-like
            else:
                roles[name] = "hidden"
            if p.ndim >= 2:
                gains[name] = (1.0, 1 if roles[name] == "input" else int(p.shape[1]))

    m = config.width / config.base_width if config.parametrization == "mup" else 1.0
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in gains:
                gain, fan_in = gains[name]
                var = gain / fan_in / (m if roles[name] == "output" else 1.0)
                p.copy_(torch.randn(p.shape, generator=gen) * math.sqrt(var))
            elif name.endswith("weight") and name.split(".")[-2].startswith("ln"):  # LayerNorm gain
                p.fill_(1.0)
            else:
                p.zero_()
    return model, roles


def _cnn_class():
    from torch import nn

    class CNN(nn.Module):
        """depth conv layers (kernel 5 then 3, ReLU) -> global average pool -> linear head."""

        def __init__(self, input_shape, width, depth, n_classes):
            super().__init__()
            conv = nn.Conv1d if len(input_shape) == 1 else nn.Conv2d
            self.spatial = len(input_shape)
            chans = [1] + [width] * depth
            self.convs = nn.ModuleList(
                conv(chans[i], chans[i + 1], 5 if i == 0 else 3, padding=2 if i == 0 else 1) for i in range(depth)
            )
            self.head = nn.Linear(width, n_classes)

        def forward(self, x):
            h = x.unsqueeze(1)
            for c in self.convs:
                h = c(h).relu()
            return self.head(h.flatten(2).mean(-1))

    return CNN


def _CNN(input_shape, width, depth, n_classes):
    return _cnn_class()(input_shape, width, depth, n_classes)


def _transformer_class():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, d, heads, scale):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.heads, self.scale = heads, scale

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-1, -2)) * self.scale
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            att = att.masked_fill(mask, float("-inf")).softmax(-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(self.fc1(self.ln2(x)).relu())

    class Transformer(nn.Module):
        """Token + position embeddings, pre-LN causal blocks, final LN, unembedding."""

        def __init__(self, config, vocab):
            super().__init__()
            d, heads = config.width, config.n_heads
            dh, dh0 = d / heads, config.base_width / heads
            scale = math.sqrt(dh0) / dh if config.parametrization == "mup" else 1.0 / math.sqrt(dh)
            self.embed = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.zeros(config.context, d))
            self.blocks = nn.ModuleList(Block(d, heads, scale) for _ in range(config.depth))
            self.ln_f = nn.LayerNorm(d)
            self.unembed = nn.Linear(d, vocab)

        def forward(self, tokens):
            h = self.embed(tokens) + self.pos[: tokens.shape[1]]
            for blk in self.blocks:
                h = blk(h)
            return self.unembed(self.ln_f(h))

    return Transformer


def _Transformer(config, vocab):
    return _transformer_class()(config, vocab)


# -- parameter sketch ----------------------------------------------------------------------------
class SparseSketch:
    """Fixed sparse sign projection R^n_params -> R^dim (a CountSketch with ``nnz`` rows per column).

    Column i has ``nnz`` entries +-1/sqrt(nnz) in rows drawn uniformly (with replacement), so
    E[S^T S] = I: squared norms and inner products are preserved in expectation. Rows and signs
    are generated in blocks of parameters from ``seed`` (the same seed and n_params give the same
    projection on any device). Memory: 12 nnz bytes per parameter; cost per call O(nnz n_params).
    """

    def __init__(self, n_params: int, dim: int, seed: int, device="cpu", nnz: int = _SKETCH_NNZ):
        import torch

        check_number("n_params", n_params, low=1, integer=True)
        check_number("dim", dim, low=1, integer=True)
        self.n_params, self.dim, self.nnz = int(n_params), int(dim), int(nnz)
        rows, signs = [], []
        for b, start in enumerate(range(0, self.n_params, _SKETCH_BLOCK)):
            size = min(_SKETCH_BLOCK, self.n_params - start)
            gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + b)
            rows.append(torch.randint(0, self.dim, (self.nnz, size), generator=gen))
            signs.append(torch.randint(0, 2, (self.nnz, size), generator=gen).float() * 2 - 1)
        self.rows = torch.cat(rows, dim=1).reshape(-1).to(device)
        self.signs = (torch.cat(signs, dim=1) / math.sqrt(self.nnz)).reshape(-1).to(device)

    def __call__(self, theta):
        """Sketch of a flat parameter vector ``theta`` (n_params,) -> (dim,) float64."""
        import torch

        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {tuple(theta.shape)}")
        vals = theta.to(self.signs.dtype).repeat(self.nnz) * self.signs
        out = torch.zeros(self.dim, dtype=vals.dtype, device=vals.device).index_add_(0, self.rows, vals)
        return out.double()


# -- training --------------------------------------------------------------------------------------
def record_grid(steps: int, n_record: int) -> np.ndarray:
    """Distinct integer steps, log-spaced from 1 to ``steps`` (at most n_record), shape (n,)."""
    steps = check_number("steps", steps, low=1, integer=True)
    n_record = check_number("n_record", n_record, low=2, integer=True)
    return np.unique(np.round(np.geomspace(1, steps, n_record)).astype(np.int64))


def _channels(config: TrainConfig) -> tuple[str, ...]:
    base = ("train_loss", "test_loss", "train_acc", "test_acc", "grad_norm", "param_norm")
    return base + tuple(f"proj_{j}" for j in range(config.projection_dim))


class _Run:
    """Tensors and closures of one run (data on device, model, optimizer, batch sampler)."""

    def __init__(self, config: TrainConfig, seed: int, device: str):
        import torch

        self.config, self.seed, self.device = config, seed, device
        n_train, n_test = config.sizes
        data: DataSet = load_dataset(
            config.dataset, n_train, n_test, config.data_seed, online=config.online,
            n_online=config.steps * config.batch_size, context=config.context,
        )
        self.data = data
        self.text = config.dataset == "text"
        init_seed, batch_seed = np.random.SeedSequence(seed).generate_state(2)
        self.model, self.roles = build_model(config, data.input_shape, data.n_classes, int(init_seed))
        self.model.to(device)
        self.names = [n for n, _ in self.model.named_parameters()]
        self.params = [p for _, p in self.model.named_parameters()]
        self.n_params = int(sum(p.numel() for p in self.params))
        mult = _role_multipliers(config)
        # one optimizer group per role (fewer groups, fewer per-step Python loops)
        by_role: dict[str, list] = {}
        for n, p in zip(self.names, self.params, strict=True):
            by_role.setdefault(self.roles[n], []).append(p)
        groups = [{"params": ps, "lr": config.lr * mult[r]} for r, ps in by_role.items()]
        if config.optimizer == "sgd":
            self.opt = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
        else:
            self.opt = torch.optim.Adam(groups, lr=config.lr)
        self.batch_gen = torch.Generator().manual_seed(int(batch_seed))
        as_t = lambda a: None if a is None else torch.as_tensor(np.array(a)).to(device)  # noqa: E731
        self.x_train, self.y_train = as_t(data.x_train), as_t(data.y_train)
        self.x_test, self.y_test = as_t(data.x_test), as_t(data.y_test)
        n_eval = min(config.n_eval, data.n_train if not (self.text and config.online) else config.n_eval)
        if self.text and config.online:
            # the online text stream has no sample list: evaluate fixed windows of it
            rng = np.random.default_rng(config.data_seed + 1)
            starts = rng.integers(0, data.x_train.size - config.context - 1, size=n_eval)
            self.x_eval = as_t(data.x_train[starts[:, None] + np.arange(config.context + 1)])
            self.y_eval = None
        else:
            self.x_eval = self.x_train[:n_eval]
            self.y_eval = None if self.y_train is None else self.y_train[:n_eval]
        n_te = min(config.n_eval, data.x_test.shape[0])
        self.x_te, self.y_te = self.x_test[:n_te], (None if self.y_test is None else self.y_test[:n_te])
        if config.online and not self.text:
            # each pool sample used once, in a seed-dependent order
            self.pool_order = torch.randperm(data.n_train, generator=torch.Generator().manual_seed(int(batch_seed)))
        self.sketch = (
            SparseSketch(self.n_params, config.projection_dim, config.projection_seed, device)
            if config.projection_dim
            else None
        )

    def batch(self, step: int):
        """Minibatch for update number ``step`` (1-based): (inputs, targets)."""
        import torch

        c = self.config
        b = c.batch_size
        if self.text:
            if c.online:
                starts = torch.randint(0, self.x_train.numel() - c.context - 1, (b,), generator=self.batch_gen)
                win = self.x_train[(starts[:, None] + torch.arange(c.context + 1)).to(self.device)]
            else:
                win = self.x_train[torch.randint(0, self.x_train.shape[0], (b,), generator=self.batch_gen).to(self.device)]
            return win[:, :-1], win[:, 1:]
        if c.online:
            idx = self.pool_order[(step - 1) * b : step * b].to(self.device)
        else:
            idx = torch.randint(0, self.x_train.shape[0], (b,), generator=self.batch_gen).to(self.device)
        return self.x_train[idx], self.y_train[idx]

    def loss(self, x, y):
        import torch.nn.functional as F

        out = self.model(x)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))

    def evaluate(self, x, y) -> tuple[float, float]:
        """(mean loss, accuracy) over a fixed sample set, chunked."""
        import torch
        import torch.nn.functional as F

        total, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for i in range(0, x.shape[0], _EVAL_CHUNK):
                xb = x[i : i + _EVAL_CHUNK]
                if y is None:
                    xb, yb = xb[:, :-1], xb[:, 1:]
                else:
                    yb = y[i : i + _EVAL_CHUNK]
                out = self.model(xb)
                out, yb = out.reshape(-1, out.shape[-1]), yb.reshape(-1)
                total += float(F.cross_entropy(out, yb, reduction="sum"))
                correct += int((out.argmax(-1) == yb).sum())
                count += int(yb.numel())
        return total / count, correct / count

    def record(self, grad_norm: float) -> np.ndarray:
        import torch

        tr_loss, tr_acc = self.evaluate(self.x_eval, self.y_eval)
        te_loss, te_acc = self.evaluate(self.x_te, self.y_te)
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in self.params])
            pnorm = float(flat.double().norm())
            proj = self.sketch(flat).cpu().numpy() if self.sketch is not None else np.zeros(0)
        return np.concatenate([[tr_loss, te_loss, tr_acc, te_acc, grad_norm, pnorm], proj])


def _config_json(config: TrainConfig) -> str:
    return json.dumps(asdict(config), sort_keys=True)


def _load_checkpoint(path: Path, config: TrainConfig, seed: int, device: str) -> dict:
    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle opcode, wrong type: all "corrupt"
        raise CheckpointError(
            f"{path}: corrupt or unreadable checkpoint ({type(exc).__name__}); the file was left in place. "
            "Move it away to restart the run from scratch."
        ) from None
    if not isinstance(state, dict) or state.get("format") != _CKPT_FORMAT:
        raise CheckpointError(f"{path}: not a toptraj network checkpoint; the file was left in place")
    if state.get("config") != _config_json(config) or state.get("seed") != seed:
        raise CheckpointError(
            f"{path}: checkpoint belongs to another run (config or seed differ); use another run_dir"
        )
    return state


def train(
    config: TrainConfig,
    seed: int,
    *,
    run_dir: str | Path | None = None,
    checkpoint_every: int = 500,
    save_steps: Sequence[int] = (),
    num_threads: int = 1,
    progress: Callable[[int], None] | None = None,
    callback: Callable[[int, np.ndarray], None] | None = None,
) -> Trajectory:
    """Train one network and return its trajectory on the log-spaced step grid.

    Parameters
    ----------
    config : TrainConfig
    seed : non-negative int; fixes initialisation and batch order (same seed, same numbers on CPU)
    run_dir : folder for resumable state: ``checkpoint.pt`` (replaced atomically at record steps at
        least ``checkpoint_every`` steps apart), ``params_{step}.pt`` for ``save_steps`` and
        ``trajectory.npz`` when finished. A later call with the same folder resumes (or returns the
        finished trajectory).
    checkpoint_every : minimum steps between checkpoints (> 0)
    save_steps : steps at which to keep a full copy of the weights (state dict)
    num_threads : torch CPU threads during the run (restored afterwards)
    progress : called with the number of steps advanced (for a progress bar)
    callback : called as callback(step, row) after each record (and its checkpoint)

    Returns
    -------
    Trajectory
        axis 'step', times (n_record,) steps; channels train_loss, test_loss, train_acc, test_acc,
        grad_norm (norm of the minibatch gradient of the last update), param_norm, proj_0..; params
        asdict(config) plus 'stopped'; labels N (width), P (n_train; inf online), t_of.
    """
    import torch

    from toptraj.io import StoreError, atomic_write, load_trajectory, save_trajectory

    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    seed = check_seed("seed", seed)
    if seed is None:
        raise ValueError("seed must be a non-negative integer, got None")
    checkpoint_every = check_number("checkpoint_every", checkpoint_every, low=1, integer=True)
    num_threads = check_number("num_threads", num_threads, low=1, integer=True)
    save_set = {check_number("save_steps", s, low=1, high=config.steps, integer=True) for s in save_steps}
    device = select_device(config.device)
    run_path = Path(run_dir) if run_dir is not None else None
    if run_path is not None and (run_path / "trajectory.npz").exists():
        try:
            done = load_trajectory(run_path / "trajectory.npz")
        except StoreError as exc:
            raise CheckpointError(f"{exc}; the file was left in place") from None
        if {k: done.params.get(k) for k in asdict(config)} != asdict(config) or done.seed != seed:
            raise CheckpointError(f"{run_path / 'trajectory.npz'}: finished run of another config or seed")
        return done

    old_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    t_start = time.perf_counter()
    try:
        run = _Run(config, seed, device)
        grid = record_grid(config.steps, config.n_record)
        rows: list[np.ndarray] = []
        start_step, resumed_from = 0, None
        ckpt = run_path / "checkpoint.pt" if run_path is not None else None
        if ckpt is not None and ckpt.exists():
            state = _load_checkpoint(ckpt, config, seed, device)
            run.model.load_state_dict(state["model"])
            run.opt.load_state_dict(state["optimizer"])
            run.batch_gen.set_state(state["batch_rng"].cpu())
            start_step = resumed_from = int(state["step"])
            rows = list(state["rows"].cpu().numpy())
            if progress is not None:
                progress(start_step)
        last_ckpt = start_step
        stopped: dict | None = None
        next_rec = int(np.searchsorted(grid, start_step, side="right"))
        run.model.train()
        for step in range(start_step + 1, config.steps + 1):
            x, y = run.batch(step)
            run.opt.zero_grad(set_to_none=True)
            loss = run.loss(x, y)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                stopped = {"step": step, "reason": f"non-finite training loss ({loss_value}) at step {step}"}
                break
            loss.backward()
            recording = next_rec < len(grid) and grid[next_rec] == step
            if recording:
                grad_norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in run.params)))
            run.opt.step()
            if step in save_set and run_path is not None:
                weights = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
                atomic_write(run_path / f"params_{step:08d}.pt", lambda fh, w=weights: torch.save(w, fh))
            if recording:
                next_rec += 1
                row = run.record(grad_norm)
                if not np.all(np.isfinite(row)):
                    bad = [c for c, v in zip(_channels(config), row, strict=True) if not np.isfinite(v)]
                    stopped = {"step": step, "reason": f"non-finite recorded value(s) {bad[:4]} at step {step}"}
                    break
                rows.append(row)
                if ckpt is not None and (step - last_ckpt >= checkpoint_every or step == config.steps):
                    state = {
                        "format": _CKPT_FORMAT, "config": _config_json(config), "seed": seed, "step": step,
                        "model": run.model.state_dict(), "optimizer": run.opt.state_dict(),
                        "batch_rng": run.batch_gen.get_state(), "rows": torch.as_tensor(np.array(rows)),
                    }
                    atomic_write(ckpt, lambda fh, s=state: torch.save(s, fh))
                    last_ckpt = step
                if callback is not None:
                    callback(step, row)
            if progress is not None:
                progress(1)
    finally:
        torch.set_num_threads(old_threads)
    elapsed = time.perf_counter() - t_start

    if stopped is not None:
        warnings.warn(f"training stopped: {stopped['reason']}; {len(rows)} recorded rows kept", RuntimeWarning, stacklevel=2)
        if not rows:
            raise TrainingDivergedError(
                f"training diverged before the first record: {stopped['reason']} (lr={config.lr})",
                stopped["step"], stopped["reason"],
            )
    values = np.array(rows)
    times = grid[: len(rows)].astype(np.float64)
    n_train, n_test = config.sizes
    labels = {"N": float(config.width), "P": math.inf if config.online else float(n_train)}
    labels["t_of"] = overfitting_onset(times, values[:, 0], values[:, 1])
    params = {**asdict(config), "stopped": None if stopped is None else stopped["step"]}
    traj = Trajectory(
        times=times, values=values, channels=_channels(config), axis="step", source=SOURCE, params=params,
        seed=seed, labels=labels,
        provenance=provenance.collect(
            device=device, num_threads=num_threads, n_params=run.n_params, n_train=run.data.n_train,
            n_test=int(run.x_te.shape[0]), n_eval=int(run.x_eval.shape[0]), seconds=round(elapsed, 3),
            resumed_from=resumed_from, stopped=stopped,
            sketch={"kind": "sparse_sign", "nnz": _SKETCH_NNZ, "dim": config.projection_dim},
        ),
    )
    if run_path is not None and stopped is None:
        save_trajectory(traj, run_path / "trajectory.npz")
    return traj


# -- sweep analysis (dmft.md section 6; the label definitions live in toptraj.transitions) ---------
def _log_window(times: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Mask of times whose log-time fraction between times[0] and times[-1] lies in ``window``."""
    lo, hi = window
    if not (0 <= lo < hi <= 1):
        raise ValueError(f"window must be (lo, hi) with 0 <= lo < hi <= 1, got {window!r}")
    u = (np.log(times) - np.log(times[0])) / (np.log(times[-1]) - np.log(times[0]))
    return (u >= lo - 1e-12) & (u <= hi + 1e-12)


def time_exponent_fit(times, loss, window: tuple[float, float] = (0.3, 1.0)) -> float:
    """r of L ~ t^-r: least-squares slope of log L vs log t over a log-time ``window`` (fractions)."""
    t, y = np.asarray(times, float), np.asarray(loss, float)
    keep = _log_window(t, window) & (y > 0)
    if keep.sum() < 3:
        return math.nan
    return float(-np.polyfit(np.log(t[keep]), np.log(y[keep]), 1)[0])


def width_exponent(widths, dl_by_width: np.ndarray, times, window: tuple[float, float]) -> float:
    """Exponent k of dL ~ N^-k: slope of mean log dL over a log-time window vs log N.

    widths : (n_w,); dl_by_width : (n_w, n_times); widths with dL <= 0 anywhere in the window skipped.
    """
    keep_t = _log_window(np.asarray(times, float), window)
    xs, ys = [], []
    for n, dl in zip(widths, np.asarray(dl_by_width, float), strict=True):
        d = dl[keep_t]
        if len(d) and np.all(d > 0):
            xs.append(math.log(n))
            ys.append(float(np.mean(np.log(d))))
    if len(xs) < 2:
        return math.nan
    return float(-np.polyfit(xs, ys, 1)[0])


def sweep_labels(
    trajectories: Sequence[Trajectory],
    *,
    channel: str = "test_loss",
    early: tuple[float, float] = (0.2, 0.45),
    late: tuple[float, float] = (0.8, 1.0),
    time_window: tuple[float, float] = (0.3, 1.0),
) -> dict:
    """Sweep-level ground truth from runs of several widths (seeds averaged per width).

    The widest width stands in for N = inf; dL(t, N) = L(t, N) - L(t, N_max) on the common step
    grid (runs that stopped early shorten it). Returns a dict: time_exponent (widest model's
    ``channel`` over ``time_window``), width_exponent_early/late (over the ``early``/``late``
    log-time windows), t_x per width (kappa_N uses N and 2N; defined when 2N < N_max is swept),
    the windows, the widths and the seed-mean curves (lists, JSON-ready).
    """
    by_width: dict[int, list[Trajectory]] = {}
    for t in trajectories:
        by_width.setdefault(int(t.params["width"]), []).append(t)
    widths = sorted(by_width)
    if len(widths) < 2:
        raise ValueError(f"a width sweep needs at least 2 widths, got {widths}")
    n = min(t.n_steps for t in trajectories)
    times = trajectories[0].times[:n]
    mean = {w: np.mean([t.channel(channel)[:n] for t in by_width[w]], axis=0) for w in widths}
    n_max = widths[-1]
    dl = {w: mean[w] - mean[n_max] for w in widths[:-1]}
    dl_arr = np.array([dl[w] for w in widths[:-1]])
    early_k = width_exponent(widths[:-1], dl_arr, times, early)
    late_k = width_exponent(widths[:-1], dl_arr, times, late)
    t_x = {}
    for w in widths[:-1]:
        if 2 * w in dl:
            t_x[w] = crossover_time(times, local_width_exponent(dl[w], dl[2 * w]), late_k)
        else:
            t_x[w] = math.nan
    return {
        "time_exponent": time_exponent_fit(times, mean[n_max], time_window),
        "width_exponent_early": early_k,
        "width_exponent_late": late_k,
        "t_x": t_x,
        "widths": widths,
        "windows": {"early": list(early), "late": list(late), "time": list(time_window), "channel": channel},
        "times": times.tolist(),
        "mean_curves": {str(w): mean[w].tolist() for w in widths},
    }


def width_sweep(
    config: TrainConfig,
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    out_dir: str | Path | None = None,
    ntk_samples: int = 1000,
    num_threads: int = 1,
    progress: Callable[[int], None] | None = None,
) -> TrajectorySet:
    """Train ``config`` at every width and seed; attach measured ground truth to every run.

    Parameters
    ----------
    config : TrainConfig (its width is replaced by each of ``widths``)
    widths : increasing positive ints (>= 2); seeds : non-negative ints
    out_dir : folder for resumable runs (one subfolder per width and seed); a killed sweep resumes
    ntk_samples : training samples for the empirical NTK of the widest net at initialisation
        (first seed); 0 skips it (no a, b labels)
    num_threads, progress : as in :func:`train`

    Returns
    -------
    TrajectorySet in width-major order. Labels: N, P, t_of (per run), t_x (per width, NaN where
    undefined), time_exponent, width_exponent_early/late, a and b (if ntk_samples > 0). The
    provenance holds ``sweep`` (windows, fit ranges, NTK summary).
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    widths = [check_number("widths", w, low=1, integer=True) for w in widths]
    if len(widths) < 2 or any(b <= a for a, b in pairwise(widths)):
        raise ValueError(f"widths must be at least 2 strictly increasing positive integers, got {widths}")
    seeds = [check_seed("seeds", s) for s in seeds]
    if not seeds or any(s is None for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds}")
    ntk_samples = check_number("ntk_samples", ntk_samples, low=0, integer=True)
    runs = []
    for w in widths:
        cfg = replace(config, width=w)
        for s in seeds:
            run_dir = None if out_dir is None else Path(out_dir) / f"w{w}_s{s}"
            runs.append(train(cfg, s, run_dir=run_dir, num_threads=num_threads, progress=progress))
    summary = sweep_labels(runs)
    ntk = None
    if ntk_samples:
        ntk = ntk_at_init(replace(config, width=widths[-1]), seeds[0], ntk_samples, num_threads=num_threads)
    shared = {k: summary[k] for k in ("time_exponent", "width_exponent_early", "width_exponent_late")}
    if ntk is not None:
        shared.update(a=ntk.a, b=ntk.b)
    sweep_info = {k: summary[k] for k in ("windows", "widths")}
    sweep_info["ntk"] = None if ntk is None else {**ntk.to_dict(), "width": widths[-1], "seed": seeds[0]}
    out = []
    for t in runs:
        labels = {**t.labels, **shared, "t_x": summary["t_x"].get(int(t.params["width"]), math.nan)}
        out.append(replace(t, labels=labels, provenance={**t.provenance, "sweep": sweep_info}))
    return TrajectorySet(out)


def ntk_at_init(config: TrainConfig, seed: int, n_samples: int, *, num_threads: int = 1, **kwargs) -> NTKSpectrum:
    """Empirical NTK spectrum of ``config``'s network at initialisation on ``n_samples`` training inputs."""
    import torch

    n_samples = check_number("n_samples", n_samples, low=8, integer=True)
    device = select_device(config.device)
    old = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        n_train, n_test = config.sizes
        data = load_dataset(config.dataset, n_train, n_test, config.data_seed, online=config.online,
                            n_online=config.steps * config.batch_size, context=config.context)
        init_seed, _ = np.random.SeedSequence(seed).generate_state(2)
        model, _ = build_model(config, data.input_shape, data.n_classes, int(init_seed))
        model.to(device)
        if config.dataset == "text":
            src = data.x_test if data.online else data.x_train
            win = src[:n_samples]
            x, y = win[:, :-1], win[:, 1:]
        else:
            x, y = data.x_train[:n_samples], data.y_train[:n_samples]
        if x.shape[0] < n_samples:
            raise ValueError(f"n_samples={n_samples} exceeds the {x.shape[0]} training samples available")
        return empirical_ntk_spectrum(model, (x, y), **kwargs)
    finally:
        torch.set_num_threads(old)


# -- command line: `toptraj generate network ...` ---------------------------------------------------
def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `toptraj generate network` (no torch import here)."""
    d = TrainConfig()
    parser.add_argument("--dataset", default=d.dataset, help=f"one of {', '.join(DATASETS)} (default {d.dataset})")
    parser.add_argument("--arch", default=d.arch, help=f"one of {', '.join(ARCHS)} (default {d.arch})")
    parser.add_argument("--widths", default="16,32,64,128,256,512", help="comma list (default 16,...,512)")
    parser.add_argument("--depth", type=int, default=d.depth)
    parser.add_argument("--parametrization", default=d.parametrization, help="standard or mup (default mup)")
    parser.add_argument("--base-width", type=int, default=d.base_width)
    parser.add_argument("--optimizer", default=d.optimizer, help="sgd or adam")
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--momentum", type=float, default=d.momentum)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--n-train", type=int, default=None, help="training samples (default per data set)")
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--online", action="store_true", help="fresh samples every step (mnist1d, text)")
    parser.add_argument("--n-record", type=int, default=d.n_record)
    parser.add_argument("--projection-dim", type=int, default=d.projection_dim)
    parser.add_argument("--seeds", default="0", help="seeds, e.g. 0,1 or 0:4")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda")
    parser.add_argument("--ntk-samples", type=int, default=1000, help="NTK samples for a, b (0: skip)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--run-dir", default=None, help="resumable run folder (default OUT/_runs)")


def run_cli(args: argparse.Namespace) -> list[Trajectory]:
    """Run the width sweep of parsed `toptraj generate network` arguments, with a progress bar."""
    from tqdm import tqdm

    from toptraj.cli_args import parse_int_list, parse_seeds

    widths = parse_int_list("--widths", args.widths)
    seeds = parse_seeds("--seeds", args.seeds)
    config = TrainConfig(
        dataset=args.dataset, arch=args.arch, width=widths[0], depth=args.depth,
        parametrization=args.parametrization, base_width=args.base_width, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, batch_size=args.batch_size, steps=args.steps, n_train=args.n_train,
        n_test=args.n_test, online=args.online, n_record=args.n_record, projection_dim=args.projection_dim,
        device=args.device,
    )
    run_dir = Path(args.run_dir) if args.run_dir else Path(args.out) / "_runs"
    with tqdm(total=len(widths) * len(seeds) * config.steps, desc="network", unit="step") as bar:
        if len(widths) == 1:
            return [
                train(config, s, run_dir=run_dir / f"w{widths[0]}_s{s}", num_threads=args.threads, progress=bar.update)
                for s in seeds
            ]
        return list(
            width_sweep(config, widths, seeds, out_dir=run_dir, ntk_samples=args.ntk_samples,
                        num_threads=args.threads, progress=bar.update)
        )
