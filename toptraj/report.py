"""Figures and the one-file HTML report of ``toptraj analyze`` / ``toptraj predict``.

Figures (PNG, matplotlib Agg; axes in log10 units so that any loss scale, 1e-300 or 1e300, plots):

- ``overview.png``: every run's loss curve (a colour map by run beyond 10 runs: no legend to overflow)
  beside a forest plot of the exponents with their intervals (one row per run; refused runs marked).
- ``runs.png``: small multiples for up to ``MAX_PANELS`` runs, two panels each: the curve with the fit
  overlaid on its window (shaded), and the local slope d log L / d log t with its 95% band and the
  fitted model's slope over the window (what a physicist looks at first).

``write_html`` embeds the figures (base64) and the table into one self-contained file.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

#: Runs shown one by one in runs.png (the overview and the table hold all of them).
MAX_PANELS = 12


def _log10(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), np.nan)


def _short(name: str, n: int = 28) -> str:
    return name if len(name) <= n else "…" + name[-(n - 1):]


def overview_figure(items, path: Path, title: str = "") -> Path:
    """items: list of dicts with keys name, t, y (raw curve), binned (optional), r, lo, hi, status, true."""
    from toptraj import plotting

    plt = plotting._plt()
    n = len(items)
    height = max(3.5, min(0.22 * n + 1.5, 24))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, height), gridspec_kw={"width_ratios": [1.3, 1]})
    cmap = plt.get_cmap("viridis")
    for i, it in enumerate(items):
        colour = cmap(i / max(n - 1, 1)) if n > 10 else f"C{i}"
        b = it.get("binned")  # the log-binned curve: readable for noisy runs, and 1e6 points draw fast
        x, y = (b.log_t / math.log(10), b.log_y / math.log(10)) if b is not None else (_log10(it["t"]), _log10(it["y"]))
        a1.plot(x, y, lw=0.9, color=colour, label=_short(it["name"]) if n <= 10 else None)
    a1.set_xlabel("log10 step")
    a1.set_ylabel("log10 loss (log-binned)")
    if n <= 10:
        a1.legend(fontsize=7, loc="best", framealpha=0.6)
    else:
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, n - 1))
        fig.colorbar(sm, ax=a1, label="run index (order of the table)")
    ys = np.arange(n)[::-1]
    for y, it in zip(ys, items):
        if it["status"] == "refused" or not math.isfinite(it.get("r", math.nan)):
            a2.plot([0], [y], marker="x", color="grey")
            continue
        colour = "tab:orange" if it["status"] == "pre-asymptotic" else "tab:blue"
        a2.plot([it["lo"], it["hi"]], [y, y], color=colour, lw=2)
        a2.plot([it["r"]], [y], "o", color=colour, ms=3)
        if math.isfinite(it.get("true", math.nan)):
            a2.plot([it["true"]], [y], "|", color="k", ms=8)
    a2.set_yticks(ys)
    a2.set_yticklabels([_short(it["name"], 24) for it in items] if n <= 40 else [str(i) for i in range(n)],
                       fontsize=6 if n > 20 else 8)
    a2.set_xlabel("time exponent r, 95% interval\n(orange: not yet power law; x: refused; |: known)", fontsize=8)
    a2.set_ylim(-1, n)
    if title:
        fig.suptitle(title, fontsize=10)
    plotting.save_figure(fig, path)
    return path


def runs_figure(items, path: Path) -> Path:
    """items: dicts with name, t, y, binned (BinnedCurve), fit (ExponentFit), slope (t, s, lo, hi),
    optional horizon (t, point, lo, hi) for predict."""
    from toptraj import plotting

    plt = plotting._plt()
    items = items[:MAX_PANELS]
    n = len(items)
    fig, axes = plt.subplots(n, 2, figsize=(10, 2.4 * n + 0.4), squeeze=False)
    for (a1, a2), it in zip(axes, items):
        fit = it["fit"]
        b = it["binned"]
        lt, ly = _log10(it["t"]), _log10(it["y"])
        stride = max(1, lt.size // 4000)  # a 1e6-point curve is drawn from 4000 points
        a1.plot(lt[::stride], ly[::stride], ".", ms=1.5, color="0.7", label="logged")
        a1.plot(b.log_t / math.log(10), b.log_y / math.log(10), "-", lw=1, color="k", label="log-binned")
        if fit.ok:
            w0, w1 = fit.window
            a1.axvspan(math.log10(w0), math.log10(w1), color="tab:blue", alpha=0.08)
            tt = np.geomspace(w0, w1, 100)
            a1.plot(np.log10(tt), fit.log_model(tt) / math.log(10), "--", color="tab:red", lw=1.4,
                    label=f"fit r={fit.r:.3g} [{fit.r_low:.3g}, {fit.r_high:.3g}]")
        hz = it.get("horizon")
        if hz is not None and math.isfinite(hz[1]):
            tt = np.geomspace(fit.window[0], hz[0], 100)
            pt, lo, hi = fit.forecast(tt)
            a1.fill_between(np.log10(tt), _log10(lo), _log10(hi), color="tab:red", alpha=0.15, label="forecast 95%")
            if it.get("hidden") is not None:
                th, yh = it["hidden"]
                a1.plot(_log10(th)[::max(1, th.size // 2000)], _log10(yh)[::max(1, th.size // 2000)], ".", ms=1.5,
                        color="tab:green", label="hidden (check)")
        a1.set_title(_short(it["name"], 60) + ("" if fit.ok else f" — {fit.status}"), fontsize=8)
        a1.set_xlabel("log10 step", fontsize=7)
        a1.set_ylabel("log10 loss", fontsize=7)
        a1.legend(fontsize=6, loc="best", framealpha=0.6)
        ts, s, lo, hi = it["slope"]
        a2.fill_between(np.log10(ts), lo, hi, color="0.8", label="local slope 95%")
        a2.plot(np.log10(ts), s, color="k", lw=1, label="d log L / d log t")
        if fit.ok:
            tt = np.geomspace(*fit.window, 60)
            lm = fit.log_model(tt)
            a2.plot(np.log10(tt), np.gradient(lm, np.log(tt)), "--", color="tab:red", lw=1.4, label="fitted model")
            a2.axhline(-fit.r, color="tab:red", lw=0.6, ls=":")
        a2.axhline(0, color="0.5", lw=0.5)
        a2.set_xlabel("log10 step", fontsize=7)
        a2.set_ylabel("d log L / d log t", fontsize=7)
        a2.legend(fontsize=6, loc="best", framealpha=0.6)
    plotting.save_figure(fig, path)
    return path


def write_html(path: Path, title: str, intro: str, header: list[str], rows: list[list[str]],
               figures: list[Path], notes: list[str]) -> Path:
    """One self-contained HTML file: title, intro, the table, notes and the figures (base64)."""
    from toptraj.io import atomic_write_text

    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;"
             "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}img{max-width:100%}"
             "</style></head><body>", f"<h1>{esc(title)}</h1>", f"<p>{esc(intro)}</p>", "<table><tr>"]
    parts += [f"<th>{esc(h)}</th>" for h in header] + ["</tr>"]
    for r in rows:
        parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>")
    parts.append("</table>")
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    for f in figures:
        data = base64.b64encode(Path(f).read_bytes()).decode()
        parts.append(f"<h2>{esc(Path(f).stem)}</h2><img alt='{esc(Path(f).name)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))
