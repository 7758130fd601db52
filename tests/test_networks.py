"""Tests of generators.networks (torch training runs), generators._ntk and generators._datasets.

Small sizes throughout (widths 4-16, <= 80 steps); hand-computed answers where possible.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generators import networks as nw
from generators._ntk import binary_split, spectrum_from_kernel

TINY = nw.TrainConfig(
    width=8, steps=60, n_record=8, n_train=200, n_test=100, n_eval=100, batch_size=16, projection_dim=16, lr=0.1,
    base_width=8,
)


# -- no torch at import ---------------------------------------------------------------------------
def test_cli_parser_and_module_do_not_import_torch():
    code = (
        "import sys, toptraj, toptraj.cli, generators.networks;"
        "toptraj.cli.build_parser(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- config validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [("dataset", "cifar"), ("arch", "resnet"), ("width", 0), ("width", -3), ("steps", 0), ("lr", 0.0),
     ("batch_size", 0), ("optimizer", "lbfgs"), ("parametrization", "ntk"), ("device", "tpu"), ("depth", 0)],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        replace(TINY, **{field: value})


@settings(max_examples=25, deadline=None)
@given(width=st.integers(max_value=0), steps=st.integers(max_value=0))
def test_config_rejects_non_positive_width_and_steps(width, steps):
    with pytest.raises(ValueError, match="width"):
        nw.TrainConfig(width=width)
    with pytest.raises(ValueError, match="steps"):
        nw.TrainConfig(steps=steps)


def test_config_rejects_arch_dataset_mismatch_and_online_digits():
    with pytest.raises(ValueError, match="transformer"):
        nw.TrainConfig(dataset="text", arch="mlp")
    with pytest.raises(ValueError, match="online"):
        nw.TrainConfig(dataset="digits", online=True)


def test_train_rejects_bad_seed():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="seed"):
        nw.train(TINY, -1)


# -- device selection -----------------------------------------------------------------------------
def test_select_device_with_mocked_cuda(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert nw.select_device("auto") == "cuda"
    assert nw.select_device("cuda") == "cuda"
    assert nw.select_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert nw.select_device("auto") == "cpu"
    with pytest.raises(ValueError, match="cuda"):
        nw.select_device("cuda")
    with pytest.raises(ValueError, match="preference"):
        nw.select_device("gpu")


# -- muP learning-rate table (Tensor Programs V, Table 3, relative to base width) -------------------
def test_mup_multipliers_hand_table():
    cfg = replace(TINY, width=32, base_width=8, parametrization="mup")  # m = 4
    assert nw._role_multipliers(cfg) == {"input": 4.0, "bias": 4.0, "hidden": 1.0, "output": 0.25, "output_bias": 1.0}
    adam = nw._role_multipliers(replace(cfg, optimizer="adam"))
    assert adam == {"input": 1.0, "bias": 1.0, "hidden": 0.25, "output": 0.25, "output_bias": 1.0}
    std = nw._role_multipliers(replace(cfg, parametrization="standard"))
    assert set(std.values()) == {1.0}


def test_mup_equals_standard_at_base_width():
    pytest.importorskip("torch")
    a = nw.train(replace(TINY, parametrization="mup", base_width=8), 3)
    b = nw.train(replace(TINY, parametrization="standard", base_width=8), 3)
    assert np.array_equal(a.values, b.values)


def test_mup_output_init_variance_scales_as_one_over_width():
    pytest.importorskip("torch")
    cfg = replace(TINY, width=256, base_width=16, parametrization="mup")
    model, roles = nw.build_model(cfg, (40,), 10, seed=0)
    out = [p for n, p in model.named_parameters() if roles[n] == "output"][0]
    hid = [p for n, p in model.named_parameters() if roles[n] == "hidden"][0]
    # var = gain/(fan_in m) = 2/(256*16) and 2/256; 2560 and 65536 draws: 4-sigma tolerances
    assert out.var().item() == pytest.approx(2 / 256 / 16, rel=4 * math.sqrt(2 / 2560))
    assert hid.var().item() == pytest.approx(2 / 256, rel=4 * math.sqrt(2 / 65536))


# -- training runs ---------------------------------------------------------------------------------
def test_same_seed_same_trajectory_and_channels():
    pytest.importorskip("torch")
    state = np.random.get_state()[1].copy()
    a = nw.train(TINY, 0)
    b = nw.train(TINY, 0)
    c = nw.train(TINY, 1)
    assert np.array_equal(np.random.get_state()[1], state)  # global RNG untouched (mnist1d reseeds it)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.times, b.times)
    assert not np.array_equal(a.values, c.values)
    assert a.axis == "step" and a.source == "network"
    assert a.channels[:6] == ("train_loss", "test_loss", "train_acc", "test_acc", "grad_norm", "param_norm")
    assert a.channels_with_prefix("proj_") == [f"proj_{j}" for j in range(16)]
    assert np.array_equal(a.times, nw.record_grid(60, 8))
    assert a.labels["N"] == 8 and a.labels["P"] == 200
    assert a.params["stopped"] is None and a.params["width"] == 8
    assert a.provenance["device"] == "cpu"
    assert np.all((a.channel("train_acc") >= 0) & (a.channel("train_acc") <= 1))
    # chance level at the start: 10 classes, cross-entropy near log 10 within a factor
    assert 0.5 * math.log(10) < a.channel("test_loss")[0] < 2 * math.log(10)


def test_record_grid_is_log_spaced_integers():
    assert nw.record_grid(1000, 4).tolist() == [1, 10, 100, 1000]
    assert nw.record_grid(5, 10).tolist() == [1, 2, 3, 4, 5]


def test_sketch_and_param_norm_match_saved_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    step = int(nw.record_grid(TINY.steps, TINY.n_record)[4])
    traj = nw.train(TINY, 0, run_dir=tmp_path, save_steps=[step])
    weights = torch.load(tmp_path / f"params_{step:08d}.pt", weights_only=True)
    flat = torch.cat([v.reshape(-1) for v in weights.values()])
    row = list(traj.times).index(step)
    assert traj.channel("param_norm")[row] == pytest.approx(float(flat.double().norm()), rel=1e-12)
    sketch = nw.SparseSketch(flat.numel(), 16, seed=TINY.projection_seed)
    proj = traj.values[row, traj.channels.index("proj_0"):]
    np.testing.assert_allclose(proj, sketch(flat).numpy(), rtol=1e-12)


def test_sparse_sketch_structure_and_norm_in_expectation():
    torch = pytest.importorskip("torch")
    n, dim = 3000, 256
    sk = nw.SparseSketch(n, dim, seed=5)
    e = torch.zeros(n)
    e[17] = 1.0
    col = sk(e).numpy() * 2.0  # entries are multiples of 1/sqrt(4) = 1/2: integers after * 2
    assert np.array_equal(col, np.round(col)) and np.abs(col).sum() <= 4 and np.abs(col).sum() % 2 == 0
    x, y = torch.randn(n, dtype=torch.float64), torch.randn(n, dtype=torch.float64)
    np.testing.assert_allclose(sk(2 * x + y).numpy(), 2 * sk(x).numpy() + sk(y).numpy(), atol=1e-5)
    # E ||S x||^2 = ||x||^2; one draw has relative sd ~ sqrt(2/dim) = 0.088; 20 seeds -> 0.02
    ratios = [float(nw.SparseSketch(n, dim, seed=s)(x).norm() ** 2 / x.norm() ** 2) for s in range(20)]
    assert abs(np.mean(ratios) - 1.0) < 0.08


def test_resume_after_interruption_gives_identical_trajectory(tmp_path):
    pytest.importorskip("torch")
    full = nw.train(TINY, 2)

    def interrupt(step, row):
        if step >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nw.train(TINY, 2, run_dir=tmp_path, checkpoint_every=1, callback=interrupt)
    assert (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "trajectory.npz").exists()
    resumed = nw.train(TINY, 2, run_dir=tmp_path, checkpoint_every=1)
    assert resumed.provenance["resumed_from"] >= 20
    assert np.array_equal(resumed.values, full.values)
    again = nw.train(TINY, 2, run_dir=tmp_path)  # finished: read back, not retrained
    assert np.array_equal(again.values, full.values)
    with pytest.raises(nw.CheckpointError, match="another config"):
        nw.train(replace(TINY, lr=0.2), 2, run_dir=tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "truncate"])
def test_corrupt_checkpoint_gives_clear_error_and_keeps_file(tmp_path, damage):
    pytest.importorskip("torch")

    def interrupt(step, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nw.train(TINY, 0, run_dir=tmp_path, checkpoint_every=1, callback=interrupt)
    ckpt = tmp_path / "checkpoint.pt"
    blob = ckpt.read_bytes()
    bad = b"not a checkpoint at all" if damage == "garbage" else blob[: len(blob) // 2]
    ckpt.write_bytes(bad)
    with pytest.raises(nw.CheckpointError, match="checkpoint.pt.*corrupt"):
        nw.train(TINY, 0, run_dir=tmp_path)
    assert ckpt.read_bytes() == bad  # nothing already written is lost


def test_non_finite_loss_stops_and_keeps_rows(monkeypatch):
    pytest.importorskip("torch")
    original = nw._Run.batch

    def poisoned(self, step):
        x, y = original(self, step)
        return (x * float("nan"), y) if step > 20 else (x, y)

    monkeypatch.setattr(nw._Run, "batch", poisoned)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        traj = nw.train(TINY, 0)
    grid = nw.record_grid(TINY.steps, TINY.n_record)
    assert np.array_equal(traj.times, grid[grid <= 20])
    assert traj.params["stopped"] == 21
    assert "step 21" in traj.provenance["stopped"]["reason"]
    monkeypatch.undo()
    clean = nw.train(TINY, 0)
    assert np.array_equal(traj.values, clean.values[: traj.n_steps])


def test_divergence_before_first_record_raises():
    pytest.importorskip("torch")
    cfg = replace(TINY, lr=1e30, parametrization="standard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(nw.TrainingDivergedError, match="diverged") as info:
            nw.train(cfg, 0)
    assert info.value.step >= 1


@pytest.mark.parametrize(
    "cfg",
    [
        replace(TINY, dataset="digits", arch="cnn", n_train=300, n_test=100, steps=30),
        replace(TINY, dataset="mnist1d", arch="cnn", steps=30, depth=2),
        replace(TINY, dataset="text", arch="transformer", context=8, n_train=300, n_test=50, steps=30, optimizer="adam",
                lr=1e-2),
        replace(TINY, dataset="text", arch="transformer", context=8, n_test=50, steps=30, online=True, depth=1),
        replace(TINY, online=True, steps=30, optimizer="adam", lr=1e-2, depth=3),
    ],
    ids=["digits-cnn", "mnist1d-cnn", "text-transformer", "text-online", "mnist1d-online-adam"],
)
def test_other_datasets_and_archs_run(cfg):
    pytest.importorskip("torch")
    traj = nw.train(cfg, 0)
    assert traj.n_steps == len(nw.record_grid(cfg.steps, cfg.n_record))
    acc = traj.channel("test_acc")
    assert np.all((acc >= 0) & (acc <= 1))
    if cfg.dataset == "text":
        # next-character cross-entropy at init is near log(128)
        assert abs(traj.channel("train_loss")[0] - math.log(128)) < 1.5
    assert traj.labels["P"] == (math.inf if cfg.online else cfg.sizes[0])


# -- data sets -------------------------------------------------------------------------------------
def test_mnist1d_is_generated_offline(monkeypatch):
    pytest.importorskip("mnist1d")
    import socket

    from generators import _datasets

    def no_network(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    x, y = _datasets._mnist1d(57, seed=9)
    assert x.shape == (57, 40) and y.shape == (57,) and set(np.unique(y)) <= set(range(10))
    x2, _ = _datasets._mnist1d(57, seed=9)
    assert np.array_equal(x, x2)


def test_text_split_by_file_and_vocab():
    from generators import _datasets

    train, test = _datasets._stdlib_text(0)
    assert train.min() >= 0 and train.max() < _datasets.VOCAB and test.size > 1000
    # split by file: a 200-character stretch of the test text does not occur in the training text
    text_train = "".join(map(chr, train[:2_000_000]))
    probe = "".join(map(chr, test[5000:5200]))
    assert probe not in text_train


# -- NTK -------------------------------------------------------------------------------------------
def test_ntk_of_linear_model_is_gram_matrix_with_chunking():
    torch = pytest.importorskip("torch")
    from torch import nn

    from generators._ntk import ntk_matrix

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((23, 6)), dtype=torch.float32)
    model = nn.Linear(6, 4, bias=False)
    u = torch.tensor(binary_split(4), dtype=torch.float32)  # |u| = 1 -> K = X X^T
    gram = (x.double() @ x.double().T).numpy()
    for max_bytes in (10**9, 2 * 4 * 24 * 5):  # one chunk; chunks of 5 samples
        kernel, chunk = ntk_matrix(model, x, u, max_bytes=max_bytes)
        np.testing.assert_allclose(kernel, gram, rtol=1e-5, atol=1e-5)
    assert chunk == 5


def test_ntk_of_mlp_matches_per_sample_autograd():
    torch = pytest.importorskip("torch")
    from generators._ntk import ntk_matrix

    cfg = replace(TINY, width=7, depth=2)
    model, _ = nw.build_model(cfg, (40,), 10, seed=1)
    x = torch.randn(11, 40, generator=torch.Generator().manual_seed(0))
    u = torch.tensor(binary_split(10), dtype=torch.float32)
    rows = []
    for i in range(11):
        grads = torch.autograd.grad((model(x[i : i + 1])[0] * u).sum(), list(model.parameters()))
        rows.append(torch.cat([g.reshape(-1) for g in grads]).double())
    jac = torch.stack(rows)
    n_params = sum(p.numel() for p in model.parameters())
    kernel, chunk = ntk_matrix(model, x, u, max_bytes=2 * 4 * n_params * 3)
    assert chunk == 3  # 3 chunk pairs off the diagonal at least: exercises the block loop
    np.testing.assert_allclose(kernel, (jac @ jac.T).numpy(), rtol=1e-5, atol=1e-6)


def test_task_power_with_hadamard_eigenvectors():
    """K/n with orthogonal +-1 eigenvectors (Hadamard columns): the target is the 3rd eigenvector."""
    from scipy.linalg import hadamard

    h = hadamard(16).astype(float)
    scales = np.array([5.0, 3.0, 2.0, 1.0])
    x = h[:, 1:5] * np.sqrt(scales)  # K = X X^T, K/n eigenvalues = scales (eigvec h_j / 4)
    y = h[:, 3]  # the eigenvector of eigenvalue 2.0, third largest
    evals, power, *_ = spectrum_from_kernel(x @ x.T, y, (1, 4), (1, 4))
    np.testing.assert_allclose(evals[:4], scales, rtol=1e-12)
    np.testing.assert_allclose(evals[4:], 0, atol=1e-12)
    np.testing.assert_allclose(power[:4], [1, 1, 0, 0], atol=1e-12)


def test_exponent_fits_on_exact_power_laws():
    n, a, b = 400, 1.7, 1.3
    k = np.arange(1, n + 1, dtype=float)
    s = a - 1
    y2 = np.empty(n)
    y2[0] = 0.5
    y2[1:] = (k[1:] - 1) ** -s - k[1:] ** -s
    y2[-1] = (n - 1) ** -s  # telescoping: sum_{l > k} y_l^2 = k^-s exactly for k < n
    kernel = np.diag(n * k**-b)
    _, power, b_fit, a_fit, *_ = spectrum_from_kernel(kernel, np.sqrt(y2), (2, 40), (2, 40))
    np.testing.assert_allclose(power[:-1], k[:-1] ** -s / y2.sum(), rtol=1e-9)
    assert b_fit == pytest.approx(b, abs=1e-9) and a_fit == pytest.approx(a, abs=1e-9)


def test_empirical_ntk_spectrum_on_real_net_and_bad_input():
    torch = pytest.importorskip("torch")
    cfg = replace(TINY, width=16)
    model, _ = nw.build_model(cfg, (40,), 10, seed=0)
    x = np.random.default_rng(0).standard_normal((64, 40)).astype(np.float32)
    y = np.arange(64) % 10
    spec = nw.empirical_ntk_spectrum(model, (x, y))
    assert spec.eigenvalues.shape == (64,) and np.all(np.diff(spec.eigenvalues) <= 1e-9)
    assert spec.eigenvalues[-1] > -1e-6 * spec.eigenvalues[0]  # PSD up to rounding
    assert spec.task_power[0] <= 1 and spec.task_power[-1] == 0 and np.all(np.diff(spec.task_power) <= 1e-12)
    assert np.isfinite(spec.a) and np.isfinite(spec.b) and spec.b_range == (2, 6)
    with pytest.raises(ValueError, match="classes"):
        nw.empirical_ntk_spectrum(model, (x, y + 5))
    with pytest.raises(ValueError, match="b_range"):
        nw.empirical_ntk_spectrum(model, (x, y), b_range=(0, 10))
    with pytest.raises(ValueError, match="data"):
        nw.empirical_ntk_spectrum(model, x)
    assert torch.is_grad_enabled()


# -- sweep labels (docs/theory/dmft.rst section 6) on synthetic curves with known answers -------------------------
def _synthetic_sweep(m_late=2.0, amp=0.3):
    """L(t, N) = L_inf(t) + amp N^-kappa(t); kappa = 1, then linear in log t to m_late, then m_late."""
    from toptraj.trajectory import Trajectory

    times = np.geomspace(1, 1e4, 41)
    u = np.log(times) / np.log(1e4)
    kappa = np.clip(1 + (m_late - 1) * (u - 0.3) / 0.4, min(1, m_late), max(1, m_late))
    l_inf = 2.0 * times**-0.25
    widths = [8, 16, 32, 64]
    out = []
    for w in widths:
        loss = l_inf + (amp * w**-kappa if w < widths[-1] else 0.0)
        vals = np.column_stack([loss * 0.9, loss])
        out.append(Trajectory(times, vals, ("train_loss", "test_loss"), axis="step", params={"width": w}, seed=0))
    return out, times


def test_sweep_labels_recover_constructed_exponents_and_crossover():
    runs, times = _synthetic_sweep(m_late=2.0)
    s = nw.sweep_labels(runs, early=(0.0, 0.25), late=(0.75, 1.0), time_window=(0.0, 1.0))
    assert s["width_exponent_early"] == pytest.approx(1.0, abs=1e-9)
    assert s["width_exponent_late"] == pytest.approx(2.0, abs=1e-9)
    assert s["time_exponent"] == pytest.approx(0.25, abs=1e-9)
    # kappa reaches (1 + 2)/2 at u = 0.5, t = 100 (kappa linear in log t there)
    assert s["t_x"][8] == pytest.approx(100.0, rel=1e-9) and s["t_x"][16] == pytest.approx(100.0, rel=1e-9)
    assert math.isnan(s["t_x"][32])  # 2N = N_max: dL(2N) = 0 by construction


def test_crossover_undefined_when_late_exponent_near_one():
    runs, _ = _synthetic_sweep(m_late=1.05)
    s = nw.sweep_labels(runs, early=(0.0, 0.25), late=(0.75, 1.0))
    assert math.isnan(s["t_x"][8])
    assert math.isnan(nw.crossover_time([1, 10], [1.0, 1.05], 1.09))
    # level (1 + 3)/2 = 2 reached halfway in log t between 1 and 100
    assert nw.crossover_time([1, 100], [1.0, 3.0], 3.0) == pytest.approx(10.0, rel=1e-12)
    assert math.isnan(nw.crossover_time([1, 100], [1.0, 1.4], 3.0))


def test_local_width_exponent_and_onset_hand_values():
    np.testing.assert_allclose(nw.local_width_exponent([0.4, 0.4, -1], [0.2, 0.1, 0.1]), [1.0, 2.0, np.nan])
    t = np.array([1.0, 10.0, 100.0])
    # gap ratios 0, 0.05, 0.2 -> 0.1 at log-fraction 1/3 between 10 and 100
    t_of = nw.overfitting_onset(t, [1.0, 0.95, 0.8], [1.0, 1.0, 1.0])
    assert t_of == pytest.approx(10 * 10 ** (1 / 3), rel=1e-12)
    assert math.isnan(nw.overfitting_onset(t, [1, 1, 1], [1, 1, 1]))


def test_width_sweep_labels_every_run_small():
    pytest.importorskip("torch")
    cfg = replace(TINY, steps=40, n_record=6, projection_dim=4)
    ts = nw.width_sweep(cfg, [4, 8, 16], [0, 1], ntk_samples=24)
    assert len(ts) == 6 and [t.params["width"] for t in ts] == [4, 4, 8, 8, 16, 16]
    for t in ts:
        for name in ("a", "b", "N", "P", "t_x", "t_of", "time_exponent", "width_exponent_early", "width_exponent_late",
                     "model_exponent"):
            assert name in t.labels
        rec = t.provenance["truth"]["width"]["time_exponent_test"]
        assert np.array_equal([float(rec["value"])], [t.labels["time_exponent"]], equal_nan=True)
        assert {"lo", "hi", "rule"} <= set(rec)
        assert t.labels["N"] == t.params["width"]
        assert math.isfinite(t.labels["a"]) and math.isfinite(t.labels["b"])
    assert math.isnan(ts[-1].labels["t_x"])  # the widest net stands in for N = inf
    assert ts[0].provenance["sweep"]["ntk"]["width"] == 16
    with pytest.raises(ValueError, match="widths"):
        nw.width_sweep(cfg, [8, 8], [0])


# -- command line ----------------------------------------------------------------------------------
def test_cli_generate_network(tmp_path, capsys):
    pytest.importorskip("torch")
    from toptraj.cli import main
    from toptraj.io import load_set

    argv = ["generate", "network", "--widths", "4,8", "--steps", "30", "--seeds", "0", "--n-record", "5",
            "--n-train", "200", "--n-test", "100", "--projection-dim", "4", "--ntk-samples", "16", "--out", str(tmp_path)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "network" in err and "60/60" in err  # tqdm progress bar on stderr, all steps counted
    ts = load_set(tmp_path)
    assert len(ts) == 2 and {t.labels["N"] for t in ts} == {4.0, 8.0}
    assert (tmp_path / "_runs" / "w4_s0" / "trajectory.npz").exists()
    assert all("truth" in t.provenance and "time_exponent" in t.labels for t in ts)  # stored with the labels
    assert main(argv) == 2  # the folder holds runs: refused without --append/--overwrite
    assert main([*argv, "--overwrite"]) == 0  # a rerun resumes from the finished runs
    again = load_set(tmp_path)
    assert np.array_equal(again[0].values, ts[0].values)
    assert again[0].provenance["truth"] == ts[0].provenance["truth"]


@pytest.mark.parametrize(
    "extra, needle",
    [(["--widths", "0,4"], "--widths"), (["--dataset", "cifar"], "dataset"), (["--steps", "0"], "steps"),
     (["--arch", "rnn"], "arch")],
)
def test_cli_bad_input_exit_status_2(tmp_path, capsys, extra, needle):
    from toptraj.cli import main

    argv = ["generate", "network", "--widths", "4,8", "--steps", "10", "--out", str(tmp_path), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_digits_sizes_checked_and_split_disjoint():
    from generators._datasets import load_dataset

    with pytest.raises(ValueError, match="n_train"):
        load_dataset("digits", 1500, 500, 0)
    d = load_dataset("digits", 1297, 500, 0)
    assert d.x_train.shape == (1297, 8, 8) and d.x_test.shape == (500, 8, 8)
    rows = {r.tobytes() for r in d.x_train}
    # the 1797 images hold a few exact duplicates; almost all test images are unseen in training
    assert sum(r.tobytes() in rows for r in d.x_test) < 10
    with pytest.raises(ValueError, match="dataset"):
        load_dataset("cifar", 10, 10, 0)


# -- mixed precision ---------------------------------------------------------------------------------
def test_precision_choice_and_validation(monkeypatch):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="precision"):
        replace(TINY, precision="fp8")
    assert nw.select_precision("auto", "cpu") == ("fp32", False)
    assert nw.select_precision("bf16", "cpu") == ("bf16", False)
    with pytest.raises(ValueError, match="fp16"):
        nw.select_precision("fp16", "cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert nw.select_precision("auto", "cuda") == ("bf16", False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert nw.select_precision("auto", "cuda") == ("fp16", True)
    assert nw.select_precision("fp16", "cuda") == ("fp16", True)


def test_bf16_autocast_on_cpu_runs_close_to_fp32_and_auto_is_fp32():
    pytest.importorskip("torch")
    full = nw.train(TINY, 0)
    auto = nw.train(replace(TINY, precision="auto"), 0)
    fp32 = nw.train(replace(TINY, precision="fp32"), 0)
    bf16 = nw.train(replace(TINY, precision="bf16"), 0)
    assert np.array_equal(full.values, auto.values) and np.array_equal(full.values, fp32.values)
    assert full.provenance["precision"] == "fp32" and bf16.provenance["precision"] == "bf16"
    assert not np.array_equal(bf16.values, full.values)  # autocast really changes the arithmetic
    np.testing.assert_allclose(bf16.channel("train_loss"), full.channel("train_loss"), rtol=0.05)
