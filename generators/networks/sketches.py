"""The weight-space path: a sparse sign projection of the flattened parameters, and the record grid.

:class:`SparseSketch` has ``_SKETCH_NNZ`` nonzeros per parameter, generated in blocks of ``_SKETCH_BLOCK``
parameters from the projection seed, so no dense d x n_params matrix is ever held.
"""

from __future__ import annotations

import math

import numpy as np

from toptraj.validation import check_number

_SKETCH_NNZ = 4  # nonzeros per parameter column of the sparse sign projection
_SKETCH_BLOCK = 1 << 20  # parameters per generated block (bounds generation memory)


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


def record_grid(steps: int, n_record: int) -> np.ndarray:
    """Distinct integer steps, log-spaced from 1 to ``steps`` (at most n_record), shape (n,)."""
    steps = check_number("steps", steps, low=1, integer=True)
    n_record = check_number("n_record", n_record, low=2, integer=True)
    return np.unique(np.round(np.geomspace(1, steps, n_record)).astype(np.int64))
