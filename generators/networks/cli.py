"""Command line of the network generator: `toptraj generate network ...`."""

from __future__ import annotations

import argparse
from pathlib import Path

from generators.networks.config import ARCHS, TrainConfig
from generators.networks.data import DATASETS
from generators.networks.sweep import width_sweep
from generators.networks.training import train
from toptraj.trajectory import Trajectory


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
    parser.add_argument("--precision", default="auto",
                        help="auto (fp32 on CPU, bf16/fp16 autocast on CUDA), fp32, bf16 or fp16 (CUDA only)")
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
        device=args.device, precision=args.precision,
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
