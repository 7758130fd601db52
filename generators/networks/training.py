"""One training run: the SGD/Adam loop, records on the step grid, checkpoints and resumption.

:func:`train` returns a :class:`toptraj.Trajectory`; an interrupted run resumes from its run folder
(``checkpoint.pt``, ``trajectory.npz``); a non-finite loss stops the run (see the package docstring).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from generators.networks.config import SOURCE, TrainConfig, select_device, select_precision
from generators.networks.data import DataSet, load_dataset
from generators.networks.models import _role_multipliers, build_model
from generators.networks.sketches import _SKETCH_NNZ, SparseSketch, record_grid
from toptraj import provenance
from toptraj.exceptions import CheckpointError, TrainingDivergedError
from toptraj.trajectory import Trajectory
from toptraj.transitions import overfitting_onset
from toptraj.validation import check_number, check_seed

_EVAL_CHUNK = 1024
_CKPT_FORMAT = "toptraj.network.checkpoint"


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


def _config_dict(config: TrainConfig) -> dict:
    """asdict(config) without fields added later at their default (old runs stay resumable)."""
    d = asdict(config)
    if d.get("precision") == "auto":
        del d["precision"]
    return d


def _config_json(config: TrainConfig) -> str:
    return json.dumps(_config_dict(config), sort_keys=True)


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
    seed = check_seed("seed", seed, allow_none=False)
    checkpoint_every = check_number("checkpoint_every", checkpoint_every, low=1, integer=True)
    num_threads = check_number("num_threads", num_threads, low=1, integer=True)
    save_set = {check_number("save_steps", s, low=1, high=config.steps, integer=True) for s in save_steps}
    device = select_device(config.device)
    amp, use_scaler = select_precision(config.precision, device)
    amp_dtype = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}[amp]
    run_path = Path(run_dir) if run_dir is not None else None
    if run_path is not None and (run_path / "trajectory.npz").exists():
        try:
            done = load_trajectory(run_path / "trajectory.npz")
        except StoreError as exc:
            raise CheckpointError(f"{exc}; the file was left in place") from None
        want = _config_dict(config)
        if {k: done.params.get(k) for k in want} != want or done.seed != seed:
            raise CheckpointError(f"{run_path / 'trajectory.npz'}: finished run of another config or seed")
        return done

    old_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    t_start = time.perf_counter()
    try:
        run = _Run(config, seed, device)
        scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        autocast = (lambda: torch.autocast(device_type=device, dtype=getattr(torch, amp_dtype))) if amp_dtype else None
        grid = record_grid(config.steps, config.n_record)
        rows: list[np.ndarray] = []
        start_step, resumed_from = 0, None
        ckpt = run_path / "checkpoint.pt" if run_path is not None else None
        if ckpt is not None and ckpt.exists():
            state = _load_checkpoint(ckpt, config, seed, device)
            run.model.load_state_dict(state["model"])
            run.opt.load_state_dict(state["optimizer"])
            run.batch_gen.set_state(state["batch_rng"].cpu())
            if scaler is not None and "scaler" in state:
                scaler.load_state_dict(state["scaler"])
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
            if autocast is None:
                loss = run.loss(x, y)
            else:
                with autocast():
                    loss = run.loss(x, y)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                stopped = {"step": step, "reason": f"non-finite training loss ({loss_value}) at step {step}"}
                break
            (loss if scaler is None else scaler.scale(loss)).backward()
            if scaler is not None:
                scaler.unscale_(run.opt)  # true gradients for the recorded norm
            recording = next_rec < len(grid) and grid[next_rec] == step
            if recording:
                grad_norm = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in run.params)))
            if scaler is None:
                run.opt.step()
            else:
                scaler.step(run.opt)
                scaler.update()
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
                    if scaler is not None:
                        state["scaler"] = scaler.state_dict()
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
            device=device, precision=amp, num_threads=num_threads, n_params=run.n_params, n_train=run.data.n_train,
            n_test=int(run.x_te.shape[0]), n_eval=int(run.x_eval.shape[0]), seconds=round(elapsed, 3),
            resumed_from=resumed_from, stopped=stopped,
            sketch={"kind": "sparse_sign", "nnz": _SKETCH_NNZ, "dim": config.projection_dim},
        ),
    )
    if run_path is not None and stopped is None:
        save_trajectory(traj, run_path / "trajectory.npz")
    return traj
