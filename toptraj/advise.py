"""`toptraj advise`: compute-optimal exponents and what to run next, from runs at three or more widths.

From loss curves L(t, N) at >= 3 widths (partial runs allowed):

- the time exponent r (L ~ t^-r) from the late log-log slope of L(t, inf), extrapolated from the
  sweep (Aitken's three-point extrapolation in N, see :mod:`toptraj.detectors`);
- the width exponent m (L(t, N) - L(t, inf) ~ N^-m late) as the median local width exponent over
  the last 20% of log-time;
- with C = N t and L ~ t^-r + N^-m (docs/theory/study.rst, section 6; Bordelon, Atanasov, Pehlevan
  2024, arXiv 2402.01092): t* ~ C^x, N* ~ C^y, L* ~ C^-z with x = m / (r + m), y = r / (r + m),
  z = r m / (r + m) (for the DMFT model m = min(a-1, b), which gives the study's formulas);
- 90% intervals by a bootstrap over the late points of both fits;
- the empirical frontier min_N L(C / N, N) of the observed runs, its slope, and the predicted frontier
  beyond it (figure ``frontier.png``);
- for PLRF runs (stored with params alpha, beta or source "plrf"; the axis is SGD steps and
  compute f = step x d): the loss-term model fitted to all runs gives (alpha, beta), the phase and the
  table's eta (L* ~ f^-eta) and xi (d* ~ f^xi) (Paquette et al. 2024, arXiv 2405.15074); the exponents
  measured on the loss-vs-flops fronts (IsoFLOP profiles) are reported beside them.

Exit codes: 0 ok; 2 bad input (one line naming the file or argument); 3 numerical failure.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from toptraj.exceptions import InputError
from toptraj.io import atomic_write_text
from toptraj.trajectory import Trajectory

EXIT_BAD_INPUT = 2
EXIT_NUMERICAL = 3


def _read(path: Path) -> Trajectory:
    # Logs go through toptraj.readers, so advise takes the same files as `toptraj analyze`
    # (train_loss/val_loss columns, Lightning, Hugging Face, TensorBoard, ...).
    from toptraj.io import load_trajectory
    from toptraj.readers import read_file

    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir() and not (path / "meta.yaml").is_file():
        raise InputError(f"{path}: is a folder; give one log file per width")
    if path.suffix == ".npz":
        return load_trajectory(path)
    logs = read_file(path)
    if len(logs) != 1:
        raise InputError(f"{path}: holds {len(logs)} runs; give one run per file")
    return logs[0].to_trajectory()


def parse_widths(text: str | None, n: int) -> list[float] | None:
    """'128,256,512' -> [128.0, 256.0, 512.0]; one positive width per file."""
    if text is None:
        return None
    try:
        w = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--widths {text!r}: not a comma-separated list of numbers") from None
    if len(w) != n:
        raise InputError(f"--widths gives {len(w)} widths for {n} files; give one width per file, in file order")
    if any(not (math.isfinite(x) and x > 0) for x in w):
        raise InputError(f"--widths {text!r}: widths must be positive and finite")
    return w


def load_sweep(paths, widths=None) -> tuple[list[Trajectory], np.ndarray]:
    """Read the runs and their widths; check >= 3 distinct widths on one axis."""
    from toptraj.detectors import width_of

    paths = [Path(p) for p in paths]
    if len(paths) < 3:
        raise InputError(f"FILES: {len(paths)} file(s) given; advise needs runs at >= 3 widths")
    runs = [_read(p) for p in paths]
    if widths is None:
        w = np.array([width_of(r, str(p)) for r, p in zip(runs, paths)])
    else:
        w = np.asarray(widths, dtype=np.float64)
    seen = {}
    for p, x in zip(paths, w):
        if x in seen:
            raise InputError(f"{p}: width {x:g} given twice (also {seen[x]}); each width once")
        seen[x] = p
    axes = {r.axis for r in runs}
    if len(axes) > 1:
        pairs = ", ".join(f"{p.name}: {r.axis}" for p, r in zip(paths, runs))
        raise InputError(f"FILES: curves on different axes ({pairs}); all must be steps or all time")
    return runs, w


def _is_plrf(runs) -> bool:
    return all(r.source == "plrf" or {"alpha", "beta"} <= set(r.params) for r in runs)


def exponents_from_rm(r: float, m: float) -> dict:
    """Compute-optimal exponents of L = t^-r + N^-m at C = N t: x, y, z (t* ~ C^x, N* ~ C^y, L* ~ C^-z)."""
    return {"t_star": m / (r + m), "N_star": r / (r + m), "L_star": r * m / (r + m)}


def _late_slope(t, y, last=0.5):
    lt, ly = np.log(t), np.log(y)
    sel = lt >= lt[-1] - last * (lt[-1] - lt[0])
    return lt[sel], ly[sel]


def estimate(runs, widths, n_boot: int = 500, seed: int = 0) -> dict:
    """r, m and the compute-optimal exponents with 90% bootstrap intervals (plain data)."""
    from toptraj.detectors import local_width_exponent_sweep, sweep_arrays

    w, t, L = sweep_arrays(runs, widths, where="FILES")
    kap, Linf = local_width_exponent_sweep(w, L)
    # L(t, inf) is trusted while the width correction of the widest run is below half its loss (later the
    # three-point extrapolation fails: the local exponent still drifts with N); r from its late slope there
    ok = np.isfinite(Linf) & (Linf > 0.5 * L[-1])
    n_ok = int(np.argmin(ok)) if not ok.all() else ok.size
    if n_ok >= 6:
        x, yv = _late_slope(t[:n_ok], Linf[:n_ok])
    else:  # no usable extrapolation: the widest run's late slope (biased low by its plateau)
        x, yv = _late_slope(t, L[-1])
    if x.size < 3:
        raise RuntimeError("fewer than 3 late points for the time exponent")
    slope, icpt = np.polyfit(x, yv, 1)
    r = -float(slope)
    resid = yv - (icpt + slope * x)
    lt = np.log(t)
    late = (lt >= lt[-1] - 0.2 * (lt[-1] - lt[0])) & np.isfinite(kap)
    if late.sum() < 2:
        raise RuntimeError("the width exponent could not be extrapolated at late times (losses not decreasing in width)")
    kl = kap[late]
    m = float(np.median(kl))
    if not (r > 0 and m > 0):
        raise RuntimeError(f"non-positive exponents (r = {r:.3g}, m = {m:.3g}): the curves do not follow power laws")
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(int(n_boot)):
        yb = icpt + slope * x + rng.choice(resid, resid.size, replace=True)
        rb = -float(np.polyfit(x, yb, 1)[0])
        mb = float(np.median(rng.choice(kl, kl.size, replace=True)))
        if rb > 0 and mb > 0:
            e = exponents_from_rm(rb, mb)
            boot.append([rb, mb, e["t_star"], e["N_star"], e["L_star"]])
    boot = np.array(boot)
    ex = exponents_from_rm(r, m)
    names = ["r", "m", "t_star", "N_star", "L_star"]
    point = [r, m, ex["t_star"], ex["N_star"], ex["L_star"]]
    out = {}
    for j, nme in enumerate(names):
        lo, hi = (np.quantile(boot[:, j], [0.05, 0.95]) if boot.size else (math.nan, math.nan))
        out[nme] = {"estimate": point[j], "low": float(min(lo, point[j])), "high": float(max(hi, point[j]))}
    # empirical frontier of the observed runs
    lC = np.linspace(np.log(w[0] * t[0]), np.log(w[-1] * t[-1]), 60)
    env, best = [], []
    for c in lC:
        vals = []
        for j in range(w.size):
            lt_j = c - math.log(w[j])
            vals.append(np.interp(lt_j, lt, np.log(L[j])) if lt[0] <= lt_j <= lt[-1] else np.inf)
        j = int(np.argmin(vals))
        env.append(vals[j])
        best.append(w[j] if np.isfinite(vals[j]) else np.nan)
    env, best = np.array(env), np.array(best)
    fin = np.isfinite(env)
    emp = -float(np.polyfit(lC[fin], env[fin], 1)[0]) if fin.sum() >= 3 else math.nan
    return {"widths": w.tolist(), "times": t.tolist(), "losses": L.tolist(), "L_inf": Linf.tolist(),
            "kappa": kap.tolist(), "exponents": out, "frontier": {"log_C": lC[fin].tolist(), "log_L": env[fin].tolist(),
                                                                  "best_width": best[fin].tolist(),
                                                                  "empirical_L_star_exponent": emp}}


def isoflop_fit(ds, f, L) -> tuple[float, float, int]:
    """eta, xi by IsoFLOP profiles (Hoffmann et al. 2022, approach 2) and the number of compute levels used.

    At each compute level whose best d is inside the grid, a parabola in log d through the three sizes
    around the minimum of log L gives (d_opt, L_opt); eta and xi are the slopes of log L_opt and log d_opt
    against log f. NaN with fewer than 3 levels.
    """
    ld = np.log(ds)
    fo, do, lo_ = [], [], []
    for j in range(f.size):
        col = np.log(L[:, j])
        if np.sum(np.isfinite(col)) < 3:
            continue
        i = int(np.nanargmin(np.where(np.isfinite(col), col, np.inf)))
        if i == 0 or i == ds.size - 1 or not np.all(np.isfinite(col[i - 1:i + 2])):
            continue
        c2, c1, c0 = np.polyfit(ld[i - 1:i + 2], col[i - 1:i + 2], 2)
        if c2 <= 0:
            continue
        x = -c1 / (2 * c2)
        fo.append(math.log(f[j]))
        do.append(x)
        lo_.append(c0 + c1 * x + c2 * x * x)
    if len(fo) < 3:
        return math.nan, math.nan, len(fo)
    return -float(np.polyfit(fo, lo_, 1)[0]), float(np.polyfit(fo, do, 1)[0]), len(fo)


def plrf_estimate(runs) -> dict:
    """eta, xi of PLRF runs at several d: from the fitted loss-term model, and as measured on the fronts.

    Model (the advice): the term model of docs/theory/plrf.rst (section 3) fitted to all runs' losses
    vs step and d (:func:`toptraj.phase.fit_term_exponents`) gives (alpha, beta); eta and xi are the phase
    table's (Paquette et al. 2024, arXiv 2405.15074). Measured: IsoFLOP profiles when at least 3 compute
    levels have their optimum inside the d grid, else the lower envelope (eta) and its minimiser on the grid
    (xi); at small d these sit 5-30% off the asymptotic values (the front has not reached its asymptote),
    which is why the model is the advice.
    """
    from toptraj.phase import fit_term_exponents, front_arrays, front_baseline_features, loss_curve, transient_cut

    ds, f, L = front_arrays(runs, where="FILES")
    eta_m, xi_m, n_levels = isoflop_fit(ds, f, L)
    how = f"IsoFLOP profiles ({n_levels} compute levels)"
    if not (math.isfinite(eta_m) and math.isfinite(xi_m)):
        eta_m, xi_m = (float(v) for v in front_baseline_features(ds, f, L)[:2])
        how = "lower envelope and its minimiser on the d grid"
    r_all, d_all, l_all = [], [], []
    for j, run in enumerate(runs):
        t, y = loss_curve(run, f"FILES[{j}]")
        keep = transient_cut(t, y)  # past the early transient (see fit_term_exponents)
        r_all.append(t[keep] * float(run.params.get("batch", 1) or 1))
        d_all.append(np.full(int(keep.sum()), float(run.params.get("d", run.params.get("N")))))
        l_all.append(y[keep])
    r_all, d_all, l_all = (np.concatenate(v) for v in (r_all, d_all, l_all))
    if r_all.size < 6:
        raise InputError("FILES: the PLRF runs have fewer than 6 points past their early transient "
                         "(loss below 0.3 of its first value); train longer")
    alpha, beta, misfit = fit_term_exponents(r_all, d_all, l_all)
    from toptraj.registry import get_generator

    theory = get_generator("plrf").theory
    eta, xi = theory["compute_optimal_exponents"](alpha, beta)
    return {"eta": float(eta), "xi": float(xi), "alpha": alpha, "beta": beta, "term_misfit": misfit,
            "phase": theory["phase"](alpha, beta),
            "method": "loss-term model fitted to all runs (alpha, beta), then the phase table",
            "measured": {"eta": eta_m, "xi": xi_m, "method": how},
            "d": ds.tolist(), "flops": f.tolist(),
            "losses": [[float(v) if np.isfinite(v) else None for v in row] for row in L],  # JSON null outside a run
            "note": "the measured front exponents at small d sit 5-30% off the asymptotic ones (Paquette et al. 2024)"}


def next_run_sentence(res: dict) -> str:
    """One sentence on what to run next, from the estimate's intervals and the frontier."""
    ex = res["exponents"]
    w = res["widths"]
    m_lo, m_hi = ex["m"]["low"], ex["m"]["high"]
    if m_hi - m_lo > 0.3 * ex["m"]["estimate"]:
        return (f"The width exponent is uncertain (m in [{m_lo:.2f}, {m_hi:.2f}]): train the widest run (N = {w[-1]:g}) "
                "longer, until its loss has clearly separated from the narrower ones' plateaus.")
    best = res["frontier"]["best_width"]
    if best and best[-1] >= w[-1]:
        y = ex["N_star"]["estimate"]
        return (f"The compute-optimal width at your largest budget is your widest run: for 10x that compute, "
                f"train N = {w[-1] * 10**y:.3g} (N* ~ C^{y:.2f}) for {10 ** ex['t_star']['estimate']:.2g}x its steps.")
    return (f"The optimum already lies inside your widths (N* ~ {best[-1]:g} at the largest budget): to confirm the "
            f"exponents, add a width {2 * w[-1]:g} and train it for 10x longer than the others.")


def plot_frontier(res: dict, path: Path) -> Path:
    """The runs against compute, the observed frontier and the predicted one beyond it (PLRF: vs flops)."""
    from toptraj import plotting

    fig, (ax,) = plotting.new_axes(size=5.0)
    if "plrf" in res:
        p = res["plrf"]
        f = np.array(p["flops"])
        L = np.array([[np.nan if v is None else v for v in row] for row in p["losses"]], dtype=float)
        for dj, Lj in zip(p["d"], L):
            ax.loglog(f, Lj, lw=1, label=f"d = {dj:g}")
        env = np.nanmin(L, axis=0)
        ax.loglog(f, env, "k-", lw=2.5, alpha=0.5, label="observed envelope")
        F = np.geomspace(f[-1], 100 * f[-1], 20)
        ax.loglog(F, env[-1] * (F / F[0]) ** -p["eta"], "k--", label=f"predicted L* ~ f^-{p['eta']:.3f}")
        ax.set_xlabel("compute f = steps x d")
    else:
        t = np.array(res["times"])
        for wj, Lj in zip(res["widths"], res["losses"]):
            ax.loglog(wj * t, Lj, lw=1, label=f"N = {wj:g}")
        lC = np.array(res["frontier"]["log_C"])
        lL = np.array(res["frontier"]["log_L"])
        if lC.size:
            ax.loglog(np.exp(lC), np.exp(lL), "k-", lw=2.5, alpha=0.5, label="observed frontier")
            z = res["exponents"]["L_star"]
            C = np.geomspace(math.exp(lC[-1]), math.exp(lC[-1]) * 100, 20)
            for key, style in (("estimate", "k--"), ("low", "k:"), ("high", "k:")):
                ax.loglog(C, math.exp(lL[-1]) * (C / C[0]) ** (-z[key]), style,
                          label=f"predicted L* ~ C^-{z['estimate']:.3f}" if key == "estimate" else None)
        ax.set_xlabel("compute C = N t")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    return plotting.save_figure(fig, path)


def run_advise(paths, widths=None, out: str | Path | None = "out/advise", n_boot: int = 500, seed: int = 0,
               overwrite: bool = False) -> int:
    """Read runs, print the advice, write ``advice.json`` and ``frontier.png`` into ``out``; exit code.

    An earlier ``advice.json`` or ``frontier.png`` in ``out`` is replaced only with ``overwrite=True``.
    """
    from toptraj import provenance
    from toptraj.analyze import check_out_free

    try:
        runs, w = load_sweep(paths, widths)
        check_out_free(out, ("advice.json", "frontier.png"), overwrite)
        plrf_like = _is_plrf(runs)
        try:
            res = estimate(runs, w, n_boot=n_boot, seed=seed)
        except RuntimeError as exc:
            if not plrf_like:
                raise
            res = {"widths": sorted(w.tolist()), "exponents": None, "two_power_law": f"not applicable: {exc}"}
        if plrf_like:
            res["plrf"] = plrf_estimate(runs)
    except (InputError, ValueError) as exc:
        print(f"toptraj advise: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RuntimeError, FloatingPointError, np.linalg.LinAlgError) as exc:
        print(f"toptraj advise: numerical failure: {exc}", file=sys.stderr)
        return EXIT_NUMERICAL
    ex = res["exponents"]
    res["next"] = next_run_sentence(res) if ex is not None else ""
    if "plrf" in res:
        p = res["plrf"]
        res["next"] = (f"For 10x your largest compute, take d = {res['widths'][-1] * 10 ** p['xi']:.3g} (d* ~ f^{p['xi']:.2f}, "
                       f"phase {p['phase']} of the loss-term fit); add a larger d to check it on the front.")
        print(f"PLRF runs (compute f = steps x d): L* ~ f^-eta, eta = {p['eta']:.3f}; d* ~ f^xi, xi = {p['xi']:.3f} "
              f"(alpha = {p['alpha']:.2f}, beta = {p['beta']:.2f} from the loss-term fit, phase {p['phase']}); measured on "
              f"the fronts: eta = {p['measured']['eta']:.3f}, xi = {p['measured']['xi']:.3f} ({p['measured']['method']}; "
              f"{p['note']})")
        print("the two-power-law model L = t^-r + N^-m (DMFT) for comparison:")
    if ex is None:
        print(f"  two-power-law model {res['two_power_law']}")
    else:
        print("compute-optimal exponents (C = N t; 90% bootstrap intervals):")
        for key, label in (("r", "time exponent r (L ~ t^-r)"), ("m", "width exponent m (L ~ N^-m)"),
                           ("t_star", "t* ~ C^x"), ("N_star", "N* ~ C^y"), ("L_star", "L* ~ C^-z")):
            e = ex[key]
            print(f"  {label:<30} {e['estimate']:.3f}  [{e['low']:.3f}, {e['high']:.3f}]")
        emp = res["frontier"]["empirical_L_star_exponent"]
        print(f"  observed frontier slope (over the runs' own compute range): {emp:.3f}")
    print(res["next"])
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            print(f"toptraj advise: error: --out {out}: exists and is not a folder", file=sys.stderr)
            return EXIT_BAD_INPUT
        res["input"] = [str(p) for p in paths]
        res["provenance"] = provenance.collect()
        atomic_write_text(out / "advice.json", json.dumps(res, indent=1, default=float))
        plot_frontier(res, out / "frontier.png")
        print(f"wrote {out / 'advice.json'} and {out / 'frontier.png'}")
    return 0


def add_cli_arguments(parser) -> None:
    """Arguments of `toptraj advise`."""
    parser.add_argument("files", nargs="+", help="loss curves at >= 3 widths, one run per file: any log `toptraj analyze` reads, or stored .npz")
    parser.add_argument("--widths", default=None, help="comma-separated widths in file order (default: stored params N)")
    parser.add_argument("--out", default="out/advise", help="folder for advice.json and frontier.png (default out/advise)")
    parser.add_argument("--overwrite", action="store_true", help="replace advice.json and frontier.png of an earlier run")


def run_cli(args) -> int:
    try:
        widths = parse_widths(args.widths, len(args.files))
    except InputError as exc:
        print(f"toptraj advise: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return run_advise(args.files, widths=widths, out=args.out, overwrite=args.overwrite)
