"""Figures: loss curves, persistence diagrams, predicted vs true. matplotlib is imported here only.

Every function takes an optional ``ax`` and returns the Axes; ``save_figure`` writes PNGs with the
non-interactive Agg backend so that it works on machines without a screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from toptraj.diagrams import Diagram
from toptraj.trajectory import Trajectory


def _plt():
    import matplotlib

    # Keep Agg and the notebook backends (matplotlib >= 3.9 names the inline one "inline"), so
    # that figures show in Jupyter; anything else (a GUI backend on a headless machine) -> Agg.
    backend = matplotlib.get_backend().lower()
    if backend != "agg" and not any(k in backend for k in ("inline", "ipympl", "widget", "nbagg")):
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def new_axes(ncols: int = 1, nrows: int = 1, size: float = 4.0):
    """A figure with a grid of axes (flattened array when more than one)."""
    plt = _plt()
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * 0.8 * nrows), squeeze=False)
    return fig, axes.ravel()


def plot_loss_curves(trajectories: Sequence[Trajectory], channel: str = "test_loss", ax=None, cut: float | None = None, label_key: str | None = "time_exponent"):
    """Log-log loss curves; ``cut`` draws a vertical line at the end of the observed window."""
    if ax is None:
        _, (ax,) = new_axes()
    for t in trajectories:
        lab = None
        if label_key and label_key in t.labels:
            lab = f"{label_key}={t.labels[label_key]:.2f}"
        ax.loglog(t.times, t.channel(channel), lw=1.2, label=lab)
    if cut is not None:
        ax.axvline(cut, color="k", ls="--", lw=0.8)
    ax.set_xlabel(trajectories[0].axis if trajectories else "time")
    ax.set_ylabel(channel)
    if label_key:
        ax.legend(fontsize=7)
    return ax


def plot_diagram(diagram: Diagram, ax=None, title: str = ""):
    """Birth-death scatter per dimension; infinite bars drawn on a line above the finite ones."""
    if ax is None:
        _, (ax,) = new_axes()
    finite_all = np.concatenate([diagram.finite(q).ravel() for q in diagram.dims] + [np.zeros(1)])
    top = float(finite_all.max()) * 1.1 + 1e-12
    lo = float(min(0.0, finite_all.min()))
    for q in diagram.dims:
        f = diagram.finite(q)
        ax.scatter(f[:, 0], f[:, 1], s=12, label=f"H{q}")
        e = diagram.essential(q)
        if len(e):
            ax.scatter(e, np.full(len(e), top), marker="^", s=30, label=f"H{q} (inf)")
    ax.plot([lo, top], [lo, top], color="grey", lw=0.6)
    ax.axhline(top, color="grey", ls=":", lw=0.6)
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax


def plot_predicted_vs_true(y_true, y_pred, ax=None, title: str = ""):
    """Scatter of held-out predictions against the truth with the identity line."""
    if ax is None:
        _, (ax,) = new_axes()
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    ax.scatter(y_true, y_pred, s=10)
    lo, hi = float(np.nanmin([y_true.min(), np.nanmin(y_pred)])), float(np.nanmax([y_true.max(), np.nanmax(y_pred)]))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(title, fontsize=9)
    return ax


def save_figure(fig, path: str | Path) -> Path:
    """Save and close a figure (PNG, 120 dpi)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path
