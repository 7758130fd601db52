"""Benchmark of generators.networks: default width sweep, NTK exponents, recording overhead, muP.

    .venv/bin/python benchmarks/bench_networks.py [--quick] [--costs-only]

Writes benchmarks/results/networks.json:
* sweep: wall time of the default sweep (MNIST-1D MLP, widths 16..512, seeds 0,1, 5000 steps, muP
  SGD) including the NTK of the widest net at init on 1000 samples; the sweep labels (time exponent,
  width exponents, t_x per width, t_of per run) and the fitted a, b with their ranges; the NTK
  of the default model (width 128) separately.
* overhead: train() (40 records: eval on 500+500 samples, gradient norm, 256-d sketch) vs a bare
  loop of the same model, data and batches with no recording, measured in the same process
  (interleaved, best of 2), at the default width 128 and at 512.
* mup: "wider trains faster" under muP: for each pair of consecutive widths the fraction of grid
  steps >= 10 at which the wider net's seed-mean train loss (and test loss) is lower; the same for
  standard parametrisation (one seed) for contrast.
* kappa: the local width exponent kappa_N(t) behind t_x; online: the same sweep (one seed) in the
  online regime (fresh samples each step).
* costs (``--costs-only`` updates just this key): CPU ms per training step per architecture (MLP,
  CNN, character transformer) and width, and the overhead of records, weight copies and kernels
  (NTK at 4 checkpoints) relative to a bare loop.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from generators import networks as nw
from toptraj.io import atomic_write_text
from toptraj.trajectory import jsonable  # NaN -> "nan" (strict JSON)

OUT = Path(__file__).resolve().parent / "results" / "networks.json"


def _loop_cpu(config: nw.TrainConfig, seed: int) -> tuple[float, float]:
    """(setup CPU s, CPU s per training step) of a bare loop (no records), one thread."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        c0 = time.process_time()
        run = nw._Run(config, seed, "cpu")
        run.model.train()
        c1 = time.process_time()
        for step in range(1, config.steps + 1):
            x, y = run.batch(step)
            run.opt.zero_grad(set_to_none=True)
            run.loss(x, y).backward()
            run.opt.step()
        return c1 - c0, (time.process_time() - c1) / config.steps
    finally:
        torch.set_num_threads(old)


def overhead(config: nw.TrainConfig) -> dict:
    nw.train(replace(config, steps=50), 0)  # warm the data cache and torch
    bare, full = [], []
    for _ in range(2):  # CPU time: robust to other processes sharing the machine
        setup, per_step = _loop_cpu(config, 0)
        bare.append(setup + per_step * config.steps)
        c0 = time.process_time()
        nw.train(config, 0)
        full.append(time.process_time() - c0)
    return {"width": config.width, "steps": config.steps, "bare_cpu_s": min(bare), "recorded_cpu_s": min(full),
            "ratio": min(full) / min(bare), "overhead_fraction": min(full) / min(bare) - 1.0}


def wider_faster(summary: dict, channel_curves: dict, times: np.ndarray) -> dict:
    widths = summary["widths"]
    keep = times >= 10
    out = {}
    for w1, w2 in pairwise(widths):
        a, b = np.asarray(channel_curves[w1]), np.asarray(channel_curves[w2])
        out[f"{w2}<{w1}"] = float(np.mean(b[keep] < a[keep]))
    return out


def mean_curves(ts, channel: str) -> dict:
    by = {}
    for t in ts:
        by.setdefault(int(t.params["width"]), []).append(t.channel(channel))
    return {w: np.mean(v, axis=0) for w, v in by.items()}


def kappa_curves(ts) -> dict:
    """kappa_N(t) of docs/theory/dmft.rst section 6 for each N with 2N < N_max swept (seed-mean test loss)."""
    curves = mean_curves(ts, "test_loss")
    widths = sorted(curves)
    ref = curves[widths[-1]]
    out = {"times": ts[0].times.tolist()}
    for w in widths:
        if 2 * w < widths[-1]:
            out[str(w)] = nw.local_width_exponent(curves[w] - ref, curves[2 * w] - ref).tolist()
    return out


#: (arch, config overrides, widths) of the per-step cost table: the study's three architectures.
COST_CASES = (
    ("mlp", {}, (16, 64, 256)),
    ("cnn", {"arch": "cnn", "base_width": 16}, (8, 32, 64)),
    ("transformer", {"dataset": "text", "arch": "transformer", "depth": 1, "online": True, "optimizer": "adam",
                     "lr": 3e-3, "base_width": 32, "n_test": 1000}, (16, 32, 64)),
)


def costs(steps: int, overhead_steps: int, kernel_n: int) -> dict:
    """Per-step CPU cost per architecture and width, and the recording overhead by component.

    Overheads are CPU-time ratios against a bare loop of the same model, data and batches:
    records (40 log-spaced records: eval of 500 + 500 samples, gradient norm, 256-d sketch),
    weights (5 full state-dict copies), kernels (binary + trace-over-outputs NTK on ``kernel_n``
    samples at init and 3 checkpoints, as in analyses/network_truth.py).
    """
    import tempfile

    from generators.networks import kernels as nk

    out: dict = {"per_step": {}, "steps": steps, "overhead_steps": overhead_steps}
    for arch, over, widths in COST_CASES:
        for w in widths:
            cfg = replace(nw.TrainConfig(steps=steps, device="cpu", **over), width=w)
            _loop_cpu(replace(cfg, steps=5), 0)  # warm data cache and torch
            setup, per_step = _loop_cpu(cfg, 0)
            n_params = nw._Run(replace(cfg, steps=1), 0, "cpu").n_params
            out["per_step"][f"{arch}_w{w}"] = {"arch": arch, "width": w, "n_params": n_params,
                                               "cpu_ms_per_step": 1e3 * per_step, "setup_cpu_s": setup}
    steps = overhead_steps
    base = nw.TrainConfig(steps=steps, device="cpu")
    _, per_step = _loop_cpu(base, 0)
    bare = per_step * steps
    c0 = time.process_time()
    nw.train(base, 0)
    recorded = time.process_time() - c0
    with tempfile.TemporaryDirectory() as tmp:
        save = [int(s) for s in np.geomspace(10, steps, 5).round()]
        c0 = time.process_time()
        nw.train(base, 0, run_dir=Path(tmp) / "w", save_steps=save, checkpoint_every=steps)
        weights = time.process_time() - c0
        ck = [int(s) for s in np.geomspace(max(10, steps // 100), steps, 3).round()]
        c0 = time.process_time()
        nk.kernels_through_training(base, 0, ck, Path(tmp) / "k", n_samples=kernel_n)
        kernels = time.process_time() - c0 - recorded  # minus the (recorded) training it includes
    out["overhead"] = {
        "config": "mnist1d mlp width 128, depth 2, batch 32, muP SGD (the default TrainConfig)",
        "bare_cpu_s": bare, "recorded_cpu_s": recorded, "records_fraction": recorded / bare - 1.0,
        "records_plus_weights_fraction": weights / bare - 1.0,
        "kernels_cpu_s": kernels, "kernels_fraction": kernels / bare, "kernel_samples": kernel_n,
        "kernel_checkpoints": [0, *ck],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test of the script)")
    parser.add_argument("--costs-only", action="store_true",
                        help="only the per-step cost table and the overhead by component (merged into the file)")
    args = parser.parse_args()
    if args.costs_only:
        c0 = time.process_time()
        res = costs(200 if args.quick else 1000, 200 if args.quick else 5000, 40 if args.quick else 200)
        res["cpu_seconds"] = time.process_time() - c0
        text = json.dumps(jsonable(res), indent=1)
        print(text)
        if not args.quick:
            old = json.loads(OUT.read_text()) if OUT.exists() else {}
            old["costs"] = json.loads(text)
            atomic_write_text(OUT, json.dumps(old, indent=1))
        return
    steps = 300 if args.quick else 5000
    widths = [16, 32, 64, 128, 256, 512]
    seeds = [0, 1]
    base = nw.TrainConfig(steps=steps)
    result: dict = {"config": asdict(base), "widths": widths, "seeds": seeds}

    # the machine is shared: wall time depends on other load; process (CPU) time of this
    # single-threaded process is what the sweep costs on an idle core
    t0, c0 = time.perf_counter(), time.process_time()
    ts = nw.width_sweep(base, widths, seeds, ntk_samples=1000)
    result["sweep_seconds"] = time.perf_counter() - t0
    result["sweep_cpu_seconds"] = time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    ntk_default = nw.ntk_at_init(base, seeds[0], 1000)  # the default model (width 128)
    result["ntk_default_width_seconds"] = time.perf_counter() - t1
    result["ntk_default_width_cpu_seconds"] = time.process_time() - c1
    result["ntk_default_width"] = ntk_default.to_dict()
    result["run_seconds"] = {f"w{t.params['width']}_s{t.seed}": t.provenance["seconds"] for t in ts}
    summary = nw.sweep_labels(ts)
    result["ntk_widest"] = ts[0].provenance["sweep"]["ntk"]
    result["labels"] = {
        k: ts[0].labels[k] for k in ("a", "b", "time_exponent", "width_exponent_early", "width_exponent_late")
    }
    result["windows"] = summary["windows"]
    result["t_x"] = {str(k): v for k, v in summary["t_x"].items()}
    result["t_of"] = {f"w{t.params['width']}_s{t.seed}": t.labels["t_of"] for t in ts}
    times = ts[0].times
    result["final"] = {
        str(w): {c: float(mean_curves(ts, c)[w][-1]) for c in ("train_loss", "test_loss", "train_acc", "test_acc")}
        for w in widths
    }
    result["mup_wider_faster"] = {
        "train_loss": wider_faster(summary, mean_curves(ts, "train_loss"), times),
        "test_loss": wider_faster(summary, mean_curves(ts, "test_loss"), times),
    }
    std = nw.width_sweep(replace(base, parametrization="standard"), widths, [0], ntk_samples=0)
    result["standard_wider_faster"] = {
        "train_loss": wider_faster(summary, mean_curves(std, "train_loss"), times),
        "test_loss": wider_faster(summary, mean_curves(std, "test_loss"), times),
    }
    result["standard_final"] = {
        str(w): {c: float(mean_curves(std, c)[w][-1]) for c in ("train_loss", "test_loss")} for w in widths
    }
    result["kappa"] = kappa_curves(ts)
    # online regime (fresh samples every step, no overfitting): width corrections without the
    # train/test gap; one seed
    c0 = time.process_time()
    online = nw.width_sweep(replace(base, online=True), widths, [0], ntk_samples=0)
    s_on = nw.sweep_labels(online)
    result["online"] = {
        "cpu_seconds": time.process_time() - c0,
        "labels": {k: s_on[k] for k in ("time_exponent", "width_exponent_early", "width_exponent_late")},
        "t_x": {str(k): v for k, v in s_on["t_x"].items()},
        "t_of": {f"w{t.params['width']}": t.labels["t_of"] for t in online},
        "final_test_loss": {str(w): float(mean_curves(online, "test_loss")[w][-1]) for w in widths},
        "wider_faster_test_loss": wider_faster(s_on, mean_curves(online, "test_loss"), times),
        "kappa": kappa_curves(online),
    }
    result["overhead"] = [overhead(replace(base, width=w)) for w in (128, 512)]
    text = json.dumps(jsonable(result), indent=1)
    if args.quick:
        print(text)
        return
    atomic_write_text(OUT, text)
    print(text)


if __name__ == "__main__":
    main()
