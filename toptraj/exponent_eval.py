"""Held-out evaluation of exponent predictors: methods side by side, metrics with intervals, verdicts.

Methods (one row each, all fitted on the same training runs and scored on the same held-out runs):
``topology``, ``baseline``, ``both`` (:class:`toptraj.predictor.ExponentPredictor` with that
feature set), ``null`` (the topology predictor trained and tested on time-shuffled runs: values
kept, order destroyed), ``direct`` (the untrained fit of the input type) and ``mean`` (the training
mean). Metrics (docs/theory/study.rst section 3): MAE, median relative error ``|x_hat/x - 1|``, share
within 5%, coverage of the 90% conformal intervals; each with a bootstrap interval over resampled
held-out parameter points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from toptraj.predictor import ExponentPredictor, time_shuffled

METHODS = ("topology", "baseline", "both", "null", "direct", "mean")
TRAINED = ("topology", "baseline", "both", "null")


def metrics(y: np.ndarray, pred: np.ndarray, interval: np.ndarray | None = None) -> dict:
    """MAE, median relative error, share within 5% (and coverage) of one target, y shape (n,)."""
    ok = np.isfinite(pred)
    rel = np.where(ok, np.abs(pred / y - 1.0), np.inf)
    out = {"mae": float(np.mean(np.abs(pred[ok] - y[ok]))) if ok.any() else math.nan,
           "median_rel": float(np.median(rel)), "within_5pct": float(np.mean(rel <= 0.05)),
           "n_failed": int((~ok).sum())}
    if interval is not None:
        out["coverage"] = float(np.mean((y >= interval[:, 0]) & (y <= interval[:, 1])))
        out["mean_width"] = float(np.mean(interval[:, 1] - interval[:, 0]))
    return out


def bootstrap(y, pred, interval=None, n_boot: int = 200, seed: int = 0, level: float = 0.9) -> dict:
    """{metric: [low, high]}: percentile interval of each metric over resampled held-out runs."""
    rng = np.random.default_rng(seed)
    n = len(y)
    draws: dict[str, list] = {}
    for _ in range(n_boot):
        i = rng.integers(0, n, n)
        m = metrics(y[i], pred[i], None if interval is None else interval[i])
        for k, v in m.items():
            draws.setdefault(k, []).append(v)
    q = [(1 - level) / 2, (1 + level) / 2]
    return {k: [float(x) for x in np.nanquantile(np.asarray(v, dtype=float), q)] for k, v in draws.items()
            if k != "n_failed"}


def paired_mae_gain(y, p_ref, p_new, n_boot: int = 500, seed: int = 0) -> dict:
    """MAE(ref) - MAE(new) with a 90% bootstrap interval (positive: ``new`` is more accurate)."""
    rng = np.random.default_rng(seed)
    e_ref, e_new = np.abs(p_ref - y), np.abs(p_new - y)
    ok = np.isfinite(e_ref) & np.isfinite(e_new)
    e_ref, e_new = e_ref[ok], e_new[ok]
    d = e_ref - e_new
    boots = [d[rng.integers(0, d.size, d.size)].mean() for _ in range(n_boot)]
    return {"gain": float(d.mean()), "interval": [float(np.quantile(boots, 0.05)), float(np.quantile(boots, 0.95))],
            "relative": float(d.mean() / max(e_ref.mean(), 1e-300))}


def run_methods(train: Sequence, y_train: np.ndarray, groups: np.ndarray, test: Sequence, input_type: str,
                fraction: float, scale: str, methods=METHODS, seed: int = 0, n_points: int = 48,
                coverage: float = 0.9, estimator_params: Mapping | None = None,
                variants: Mapping[str, tuple[str, Mapping]] | None = None) -> dict[str, dict]:
    """Fit every method on ``train`` and predict ``test``.

    ``estimator_params`` are further :class:`ExponentPredictor` parameters for every method (e.g.
    ``target_transform``, ``n_splits``); ``variants`` names extra methods as (a method of
    ``METHODS``, parameters overriding ``estimator_params``), e.g. ``{"both_identity": ("both",
    {"target_transform": "identity"})}``.

    Returns
    -------
    dict method -> {"pred": array (n_test,) or (n_test, k), "interval": array (n_test, [k,] 2) or None}
    """
    out: dict[str, dict] = {}
    shuffled = None
    for name in methods:
        m, overrides = (variants or {}).get(name, (name, {}))
        if m == "mean":
            p = np.broadcast_to(np.mean(y_train, axis=0), (len(test), *np.shape(y_train)[1:])).copy()
            out[name] = {"pred": p, "interval": None}
            continue
        feats = "topology" if m == "null" else m
        est = ExponentPredictor(input_type=input_type, features=feats if m != "direct" else "baseline",
                                fraction=fraction, scale=scale, n_points=n_points, seed=seed, coverage=coverage,
                                **{**(estimator_params or {}), **overrides})
        if m == "direct":
            out[name] = {"pred": est.direct(test), "interval": None}
            continue
        tr, te = train, test
        if m == "null":
            if shuffled is None:
                # shuffle the observed part only, so the null keeps exactly the values a method sees
                from toptraj.predictor import observe

                shuffled = (time_shuffled(observe(train, fraction, scale), seed + 1),
                            time_shuffled(observe(test, fraction, scale), seed + 2))
            tr, te = shuffled
            est.set_params(fraction=1.0)
        est.fit(tr, y_train, groups=groups)
        out[name] = {"pred": est.predict(te), "interval": est.predict_interval(te)}
    return out


def score(results: dict[str, dict], y_test: np.ndarray, target_names: Sequence[str], seed: int = 0) -> dict:
    """{target: {method: {"metrics": ..., "interval": bootstrap intervals}}} for each target column."""
    Y = y_test[:, None] if y_test.ndim == 1 else y_test
    table: dict = {}
    for j, name in enumerate(target_names):
        table[name] = {}
        for m, r in results.items():
            P = r["pred"][:, None] if r["pred"].ndim == 1 else r["pred"]
            iv = r["interval"]
            if iv is not None:
                iv = iv if iv.ndim == 3 else iv[:, None, :]
                iv = iv[:, j, :]
            table[name][m] = {"metrics": metrics(Y[:, j], P[:, j], iv),
                              "bootstrap_90": bootstrap(Y[:, j], P[:, j], iv, seed=seed)}
    return table


def verdict(per_draw: list[dict], target: str) -> str:
    """A sentence: does topology add over the baselines (both vs baseline), by how much, how sure.

    ``per_draw``: one dict per independent training draw with keys ``y`` (n,), ``both``,
    ``baseline``, ``topology`` (predictions of this target).
    """
    gains = [paired_mae_gain(d["y"], d["baseline"], d["both"], seed=i) for i, d in enumerate(per_draw)]
    topo = [paired_mae_gain(d["y"], d["baseline"], d["topology"], seed=i) for i, d in enumerate(per_draw)]
    lo = [g["interval"][0] for g in gains]
    hi = [g["interval"][1] for g in gains]
    rel = ", ".join(f"{100 * g['relative']:+.0f}%" for g in gains)
    if all(v > 0 for v in lo):
        head = f"{target}: topology ADDS over the baselines in every training draw (MAE change {rel}; 90% intervals exclude 0)"
    elif all(v < 0 for v in hi):
        head = f"{target}: topology HURTS: adding it to the baselines raises the MAE in every draw ({rel}; intervals exclude 0)"
    else:
        head = f"{target}: no clear effect of adding topology to the baselines (MAE change {rel}; an interval includes 0)"
    alone = ", ".join(f"{100 * g['relative']:+.0f}%" for g in topo)
    return head + f"; topology alone vs baseline: {alone}."


def demo_dmft(quick: bool = True, seed: int = 0, fraction: float = 0.2, progress=None) -> dict:
    """The exponent demo on DMFT theory runs, as plain data (for ``toptraj demo``).

    (1) r = (a-1)/b from one curve, first ``fraction`` of steps and of log-time: every method of
    :data:`METHODS`, trained on one parameter draw and scored on an independent one.
    (2) a and b from width sweeps (4 widths, first ``fraction`` of steps) by the shipped
    width-sweep predictor and by the direct (r, m) inversion (docs/theory/study.rst section 5).

    quick: 16 training and 10 evaluation curves, 2 sweeps (a few CPU seconds); otherwise 60 and
    40 curves and 6 sweeps (under a minute of CPU). ``progress(message)`` is called per phase.

    Returns
    -------
    dict with ``curve`` {scale: {method: metrics}}, ``curve_predictions`` {scale: {method: list}},
    ``y_test`` (n_test,), ``width_sweep`` {method: {target: metrics}, "true", "predicted",
    "interval"}, ``examples`` (two observed test trajectories), ``config``, ``cpu_seconds``;
    metrics as :func:`metrics`.
    """
    import time

    from toptraj.predictor import load_shipped
    from toptraj.registry import get_generator

    say = progress or (lambda message: None)
    theory = get_generator("dmft").theory
    make_single, make_sweeps = theory["study_single"], theory["study_sweeps"]
    t0 = time.process_time()
    n_train, n_test, n_sweeps = (16, 10, 2) if quick else (60, 40, 6)
    say(f"DMFT theory: {n_train} training and {n_test} held-out curves (independent parameter draws)")
    X, y, g = make_single("curve", n_train, seed=seed + 1)
    Xt, yt, _ = make_single("curve", n_test, seed=seed + 2)
    out: dict = {"config": {"quick": quick, "seed": seed, "n_train": n_train, "n_test": n_test,
                            "n_sweeps": n_sweeps, "fraction": fraction, "data": "DMFT theory, N = P = inf"}}
    out["curve"], out["curve_predictions"] = {}, {}
    for scale in ("linear", "log"):
        say(f"fitting {len(METHODS)} methods on the first {fraction:.0%} of {'steps' if scale == 'linear' else 'log-time'}")
        res = run_methods(X, y, g, Xt, "curve", fraction, scale, seed=seed)
        out["curve"][scale] = {m: metrics(yt, r["pred"], r["interval"]) for m, r in res.items()}
        out["curve_predictions"][scale] = {m: np.asarray(r["pred"]).tolist() for m, r in res.items()}
    out["y_test"] = np.asarray(yt).tolist()
    out["examples"] = [Xt[0], Xt[-1]]
    say(f"width sweeps: {n_sweeps} sweeps of 4 widths (shipped predictor)")
    sweeps, yab, _ = make_sweeps("width_sweep", n_sweeps, seed=seed + 3, n_sizes=4, times=np.geomspace(1.0, 1e4, 48))
    ws = load_shipped("width_sweep")  # trained at its own observed fraction (ws.fraction)
    pred, iv, direct = ws.predict(sweeps), ws.predict_interval(sweeps), ws.direct(sweeps)
    out["width_sweep"] = {
        "shipped": {t: metrics(yab[:, j], pred[:, j], iv[:, j, :]) for j, t in enumerate(("a", "b"))},
        "direct": {t: metrics(yab[:, j], direct[:, j]) for j, t in enumerate(("a", "b"))},
        "true": yab.tolist(), "predicted": pred.tolist(), "interval": iv.tolist(), "direct_predicted": direct.tolist(),
        "fraction": ws.fraction, "scale": ws.scale}
    out["cpu_seconds"] = round(time.process_time() - t0, 2)
    return out
