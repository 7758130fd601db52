"""The trained networks: MLP, small CNN and small transformer, standard or muP parametrisation.

Built by :func:`build_model`; torch is imported inside the functions (importing this module does not
import it). The muP multipliers follow Yang & Hu, Tensor Programs V, Table 3 (see the package docstring).
"""

from __future__ import annotations

import math

import numpy as np

from generators.networks.config import TrainConfig


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
