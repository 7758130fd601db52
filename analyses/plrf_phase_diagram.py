"""Reproduce the PLRF compute-optimal exponents (Paquette et al. 2024) with the Volterra solver.

(1) At (alpha, beta) = (0.7, 0.7): eta and xi by Hoffmann et al.'s Approaches 0, 1 and 2 with d
    from 200 to --dmax (sqrt 2 steps), beside the paper's 0.648 / 0.508 / 0.525 and theory 9/14, 1/2.
(2) eta (Approach 0) on a grid of (alpha, beta) covering all seven phases, measured vs theory,
    drawn on the (alpha, beta) plane with the phase boundaries.
(3) The measured exponents of (1) as the largest d included grows.

    python analyses/plrf_phase_diagram.py [--quick] [--out DIR] [--dmax 12800] [--seed 0]

Writes results.json and three PNG figures to --out (default analyses/results/plrf_phase_diagram/).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from generators import plrf

PAPER = {"eta_approach0": 0.648, "xi_approach1": 0.508, "xi_approach2": 0.525}
#: (alpha, beta) points covering every phase (two for the larger phases).
PHASE_POINTS = [
    (0.75, 0.25), (1.0, 0.3),  # Ia
    (0.4, 0.3),  # Ib
    (0.2, 0.7),  # Ic
    (0.7, 0.6), (1.0, 0.75),  # II
    (0.7, 1.2), (1.0, 2.0),  # III
    (0.4, 0.8),  # IVa
    (0.27, 0.8),  # IVb
]


def _n_seeds(d_grid: np.ndarray, base: int) -> np.ndarray:
    """W draws averaged per size: W-to-W fluctuations (5-20% at d ~ 100) shrink like d^-1/2."""
    return np.maximum(1, np.round(base * np.sqrt(200.0 / d_grid))).astype(int)


def study_07(d_max: int, d_min: int, seed: int, per_decade: int, cap_mult: float, base_seeds: int) -> dict:
    """Part (1) and (3): frontier at (0.7, 0.7) and its dependence on the largest d."""
    n = int(round(2 * math.log2(d_max / d_min))) + 1
    d_grid = np.unique(np.round(d_min * np.sqrt(2.0) ** np.arange(n)).astype(int))
    # the optimum sits near r ~ d (f ~ d^2 / lr'); f up to 8 d_max^2 covers every IsoFLOP valley
    f_grid = np.geomspace(float(d_min), 8.0 * d_max**2, int(per_decade * math.log10(8.0 * d_max**2 / d_min)) + 1)
    caps = np.maximum(1e4, cap_mult * d_grid)
    t0 = time.time()
    n_seeds = _n_seeds(d_grid, base_seeds)
    losses = plrf.loss_grid(0.7, 0.7, d_grid, f_grid, seed=seed, max_steps=caps, n_seeds=n_seeds)
    elapsed = time.time() - t0
    fits = {}
    for ap in (0, 1, 2):
        r = plrf.compute_optimal_frontier(0.7, 0.7, d_grid, f_grid, ap, losses=losses)
        fits[ap] = r
    by_dmax = []
    for k in range(5, d_grid.shape[0] + 1):  # at least 5 sizes (IsoFLOP parabolas need 5 points)
        row = {"d_max": int(d_grid[k - 1])}
        for ap in (0, 1, 2):
            try:
                r = plrf.compute_optimal_frontier(0.7, 0.7, d_grid[:k], f_grid, ap, losses=losses[:k])
                row[f"eta_{ap}"], row[f"xi_{ap}"] = r.eta, r.xi
            except ValueError:
                row[f"eta_{ap}"], row[f"xi_{ap}"] = math.nan, math.nan
        by_dmax.append(row)
    eta_th, xi_th = plrf.compute_optimal_exponents(0.7, 0.7)
    return {
        "d_grid": d_grid.tolist(),
        "flops_range": [float(f_grid[0]), float(f_grid[-1])],
        "n_flops": int(f_grid.shape[0]),
        "step_caps": caps.tolist(),
        "n_seeds": n_seeds.tolist(),
        "v_factor": 4.0,
        "lr": "0.25 / Tr(D)",
        "seconds": elapsed,
        "theory": {"eta": eta_th, "xi": xi_th},
        "paper": PAPER,
        "fits": {
            str(ap): {"eta": r.eta, "xi": r.xi, "window": list(r.window), "n_points": int(r.opt_flops.shape[0])}
            for ap, r in fits.items()
        },
        "by_dmax": by_dmax,
        "_results": fits,
    }


def study_phases(d_grid: np.ndarray, seed: int, per_decade: int, max_steps: int, base_seeds: int) -> list[dict]:
    """Part (2): Approach-0 eta at every point of PHASE_POINTS."""
    out = []
    f_grid = np.geomspace(float(d_grid[0]), float(d_grid[-1]) * max_steps, per_decade * 8 + 1)
    for a, b in PHASE_POINTS:
        eta_th, xi_th = plrf.compute_optimal_exponents(a, b)
        row = {"alpha": a, "beta": b, "phase": plrf.phase(a, b), "eta_theory": eta_th, "xi_theory": xi_th}
        t0 = time.time()
        losses = plrf.loss_grid(a, b, d_grid, f_grid, seed=seed, max_steps=max_steps,
                                n_seeds=_n_seeds(d_grid, base_seeds))
        for ap in (0, 2):
            try:
                r = plrf.compute_optimal_frontier(a, b, d_grid, f_grid, ap, losses=losses)
                row[f"eta_{ap}"], row[f"xi_{ap}"], row[f"window_{ap}"] = r.eta, r.xi, list(r.window)
            except ValueError as exc:
                row[f"eta_{ap}"], row[f"xi_{ap}"], row[f"window_{ap}"] = math.nan, math.nan, str(exc)
        row["seconds"] = time.time() - t0
        out.append(row)
        print(f"  phase {row['phase']:>3} ({a}, {b}): eta {row['eta_0']:.3f} (theory {eta_th:.3f})", flush=True)
    return out


def _boundaries(ax) -> None:
    """Phase boundaries of the spec's table on the (alpha, beta) plane."""
    kw = {"color": "k", "lw": 0.8}
    ax.plot([0.5, 2.0], [0.5, 0.5], **kw)  # 2 beta = 1 (I | II), alpha > 1/2
    ax.plot([0.0, 0.5], [0.5, 0.5], **kw)  # 2 beta = 1 (Ib | IV, Ic)
    ax.plot([0.5, 0.5], [0.0, 2.5], **kw)  # 2 alpha = 1
    ax.plot([0.5, 2.0], [0.5, 2.0], **kw)  # beta = alpha (II | III)
    ax.plot([0.25, 0.25], [0.5, 2.5], **kw)  # Ic | IVb
    ax.plot([plrf.ALPHA_IV] * 2, [0.5, 2.5], **kw)  # IVb | IVa
    a = np.linspace(0.0, 0.5, 50)
    ax.plot(a, 0.5 - a, color="k", lw=0.8, ls="--")  # 2(alpha + beta) = 1: no power law below
    for name, (x, y) in {
        "Ia": (1.2, 0.25), "Ib": (0.35, 0.3), "Ic": (0.1, 1.5), "II": (1.5, 1.0), "III": (0.9, 1.8),
        "IVa": (0.38, 1.8), "IVb": (0.26, 2.2),
    }.items():
        ax.text(x, y, name, fontsize=9, color="0.3")


def make_figures(out: Path, s07: dict, phases: list[dict]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    # (1) loss vs flops with the envelope and the three fits
    res = s07["_results"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    r0, r2 = res[0], res[2]
    cmap = plt.get_cmap("viridis")
    for i, d in enumerate(r0.d_grid):
        axes[0].loglog(r0.flops, r0.loss[i], color=cmap(i / max(1, len(r0.d_grid) - 1)), lw=0.8, label=f"d={int(d)}")
    axes[0].loglog(r0.flops, r0.envelope, "k--", lw=1.2, label="envelope")
    axes[0].axvspan(*r0.window, color="0.9", zorder=0)
    axes[0].set(xlabel="flops f = r d", ylabel="loss P", title=f"(0.7, 0.7): eta0 = {r0.eta:.3f} (theory {9 / 14:.3f})")
    axes[0].legend(fontsize=6, ncol=2)
    axes[1].loglog(res[1].opt_flops, res[1].opt_d, "o", ms=3, label=f"approach 1: xi = {res[1].xi:.3f}")
    axes[1].loglog(r2.opt_flops, r2.opt_d, "s", ms=3, label=f"approach 2: xi = {r2.xi:.3f}")
    axes[1].set(xlabel="flops f", ylabel="d*(f)", title="compute-optimal size (theory xi = 0.5)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    p = out / "frontier_07_07.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    files.append(p.name)

    # (2) phase plane
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    _boundaries(axes[0])
    al = np.array([r["alpha"] for r in phases])
    be = np.array([r["beta"] for r in phases])
    meas = np.array([r["eta_0"] for r in phases])
    theo = np.array([r["eta_theory"] for r in phases])
    sc = axes[0].scatter(al, be, c=meas, cmap="plasma", vmin=0, vmax=1, s=60, edgecolor="k")
    for a, b, m, t in zip(al, be, meas, theo, strict=True):
        axes[0].annotate(f"{m:.2f}/{t:.2f}", (a, b), textcoords="offset points", xytext=(4, 4), fontsize=7)
    fig.colorbar(sc, ax=axes[0], label="measured eta (approach 0)")
    axes[0].set(xlim=(0, 2.0), ylim=(0, 2.5), xlabel="alpha", ylabel="beta", title="measured / theoretical eta")
    axes[1].plot([0, 1], [0, 1], "k:", lw=0.8)
    for r in phases:
        axes[1].plot(r["eta_theory"], r["eta_0"], "o", ms=5)
        axes[1].annotate(r["phase"], (r["eta_theory"], r["eta_0"]), textcoords="offset points", xytext=(4, -8), fontsize=7)
    axes[1].set(xlabel="theory eta", ylabel="measured eta", title="approach 0, d in " + str(phases[0].get("d_range")))
    fig.tight_layout()
    p = out / "phase_plane_eta.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    files.append(p.name)

    # (3) exponents vs largest d
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = s07["by_dmax"]
    dm = [r["d_max"] for r in rows]
    ax.semilogx(dm, [r["eta_0"] for r in rows], "o-", label="eta (approach 0)")
    ax.semilogx(dm, [r["xi_1"] for r in rows], "s-", label="xi (approach 1)")
    ax.semilogx(dm, [r["xi_2"] for r in rows], "^-", label="xi (approach 2)")
    ax.axhline(9 / 14, color="C0", ls=":", lw=1)
    ax.axhline(0.5, color="C1", ls=":", lw=1)
    ax.set(xlabel="largest d in the grid", ylabel="measured exponent", title="(0.7, 0.7): approach to theory")
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = out / "exponents_vs_dmax.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    files.append(p.name)
    return files


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="analyses/results/plrf_phase_diagram", help="output folder")
    parser.add_argument("--quick", action="store_true", help="small sizes, runs in seconds")
    parser.add_argument("--dmax", type=int, default=None, help="largest d of part (1) (default 12800; quick 400)")
    parser.add_argument("--seed", type=int, default=0, help="first seed of W (default 0)")
    parser.add_argument(
        "--seeds", type=int, default=4, help="W draws averaged at d = 200 (scaled as sqrt(200/d), >= 1; default 4)"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if args.quick:
        d_max = args.dmax or 400
        s07 = study_07(d_max, 50, args.seed, per_decade=16, cap_mult=64, base_seeds=2)
        phase_d = np.array([50, 71, 100, 141, 200])
        phases = study_phases(phase_d, args.seed, per_decade=8, max_steps=20_000, base_seeds=1)
    else:
        d_max = args.dmax or 12800
        s07 = study_07(d_max, 200, args.seed, per_decade=24, cap_mult=64, base_seeds=args.seeds)
        print(f"part 1 done in {s07['seconds']:.0f} s: {json.dumps(s07['fits'])}", flush=True)
        phase_d = np.array([100, 200, 400, 800, 1600])
        phases = study_phases(phase_d, args.seed, per_decade=16, max_steps=1_000_000, base_seeds=2)
    for r in phases:
        r["d_range"] = [int(phase_d[0]), int(phase_d[-1])]
    files = make_figures(out, s07, phases)
    s07.pop("_results")
    result = {
        "quick": bool(args.quick),
        "seed": args.seed,
        "alpha_beta_07": s07,
        "phases": phases,
        "figures": files,
        "seconds_total": time.time() - t0,
    }
    (out / "results.json").write_text(json.dumps(result, indent=2, default=float))
    f = s07["fits"]
    print(
        f"(0.7, 0.7), d {s07['d_grid'][0]}..{s07['d_grid'][-1]}: eta0 {f['0']['eta']:.3f} (paper 0.648, theory 0.643), "
        f"xi1 {f['1']['xi']:.3f} (paper 0.508), xi2 {f['2']['xi']:.3f} (paper 0.525), eta2 {f['2']['eta']:.3f}"
    )
    print(f"wrote {out} in {result['seconds_total']:.0f} s")
    return result


if __name__ == "__main__":
    main()
