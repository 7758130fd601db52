"""Readers of the logs people have (toptraj.readers).

Fixtures in tests/data/logs were written by the tools themselves (tests/data/logs/make_fixtures.py:
Lightning's CSVLogger, torch.utils.tensorboard.SummaryWriter, MLflow's file store and MlflowClient).
Hugging Face's trainer_state.json and the W&B exports are reproduced here from their documented
layouts (transformers and wandb are not installed in the test environments); the tests say so.
"""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from toptraj.io import InputError, save_trajectory
from toptraj.readers import read_file, read_logs
from toptraj.trajectory import Trajectory

DATA = Path(__file__).parent / "data" / "logs"


# -- files written by the real tools ---------------------------------------------------------------
def test_lightning_csvlogger_metrics_rows_with_gaps():
    (log,) = read_file(DATA / "lightning_metrics.csv")
    assert "train <- 'train_loss_step'" in log.mapping and "test <- 'val_loss'" in log.mapping
    assert "'epoch'" in log.mapping and "'train_loss_epoch'" in log.mapping  # named as ignored
    t, y = log.series["train"]
    tv, yv = log.series["test"]
    assert t.size == 48 and tv.size == 6  # 6 epochs x 8 batches; one validation per epoch, on other rows
    assert np.all(np.diff(t) > 0) and np.all(np.isfinite(y)) and np.all(np.isfinite(yv))
    times, train, test = log.paired()
    assert np.array_equal(times, tv) and train.shape == test.shape


@pytest.mark.slow
def test_lightning_fresh_file(tmp_path):
    pytest.importorskip("pytorch_lightning")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (log,) = read_file(mod.lightning_metrics(tmp_path))
    assert log.series["train"][0].size == 48 and log.series["test"][0].size == 6


def _check_tensorboard(log):
    assert "train <- 'Loss/train'" in log.mapping and "test <- 'Loss/test'" in log.mapping and "'lr'" in log.mapping
    t, y = log.series["train"]
    assert t.size == 200 and np.allclose(y, 0.05 + 2.0 * t**-0.7, rtol=1e-6)  # float32 in the file
    tv, _ = log.series["test"]
    assert np.array_equal(tv, np.arange(10, 201, 10))


def test_tensorboard_event_file_from_torch_summarywriter():
    pytest.importorskip("tensorboard")
    (log,) = read_file(DATA / "events.out.tfevents.torch")
    _check_tensorboard(log)


def test_tensorboard_fresh_file(tmp_path):
    pytest.importorskip("tensorboard")
    pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(log_dir=str(tmp_path))
    for step in range(1, 201):
        w.add_scalar("Loss/train", 0.05 + 2.0 * step**-0.7, step)
        if step % 10 == 0:
            w.add_scalar("Loss/test", 0.06 + 2.1 * step**-0.7, step)
        w.add_scalar("lr", 0.1, step)
    w.close()
    (log,) = read_logs(tmp_path).logs
    _check_tensorboard(log)


def test_tensorboard_damaged_file_is_bad_input(tmp_path):
    pytest.importorskip("tensorboard")
    raw = (DATA / "events.out.tfevents.torch").read_bytes()
    bad = tmp_path / "events.out.tfevents.bad"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(InputError, match="events.out.tfevents.bad"):
        read_file(bad)
    cut = tmp_path / "events.out.tfevents.cut"
    cut.write_bytes(raw[: len(raw) // 2])  # a run still being written: the complete records are read
    try:
        (log,) = read_file(cut)
        assert 0 < log.series["train"][0].size < 200
    except InputError as exc:
        assert "events.out.tfevents.cut" in str(exc)


def test_mlflow_file_store_run_and_history_export():
    for path in (DATA / "mlflow_run", DATA / "mlflow_history.csv"):
        (log,) = read_file(path)
        t, y = log.series["train"]
        assert t.size == 100 and np.allclose(y, 0.02 + 3.0 * t**-0.5)
        tv, yv = log.series["test"]
        assert np.array_equal(tv, np.arange(5, 101, 5)) and np.allclose(yv, 0.03 + 3.0 * tv**-0.5)
    assert read_file(DATA / "mlflow_history.csv")[0].name == "mlflow_history:mlp-width-64"


# -- documented formats reproduced -----------------------------------------------------------------
def hf_trainer_state(path, n=40, eval_every=10):
    """trainer_state.json as TrainerState.save_to_json writes it (dataclasses.asdict, indent=2, sort_keys)."""
    logs = []
    for step in range(5, 5 * n + 1, 5):
        logs.append({"epoch": step / 100, "grad_norm": 1.5, "learning_rate": 5e-5, "loss": round(2.0 * step**-0.4, 4),
                     "step": step})
        if step % (5 * eval_every) == 0:
            logs.append({"epoch": step / 100, "eval_loss": 2.2 * step**-0.4, "eval_runtime": 1.2,
                         "eval_samples_per_second": 100.0, "eval_steps_per_second": 12.5, "step": step})
    logs.append({"epoch": 2.0, "step": 5 * n, "total_flos": 1e12, "train_loss": 0.9, "train_runtime": 20.0,
                 "train_samples_per_second": 50.0, "train_steps_per_second": 10.0})
    state = {"best_global_step": None, "best_metric": None, "best_model_checkpoint": None, "epoch": 2.0,
             "eval_steps": 50, "global_step": 5 * n, "is_hyper_param_search": False, "is_local_process_zero": True,
             "is_world_process_zero": True, "log_history": logs, "logging_steps": 5, "max_steps": 5 * n,
             "num_input_tokens_seen": 0, "num_train_epochs": 2, "save_steps": 500, "stateful_callbacks": {},
             "total_flos": 1e12, "train_batch_size": 8, "trial_name": None, "trial_params": None}
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path


def test_hugging_face_trainer_state(tmp_path):
    run = tmp_path / "checkpoint-200"
    run.mkdir()
    (log,) = read_file(hf_trainer_state(run / "trainer_state.json"))
    assert log.name == "checkpoint-200" and log.mapping.startswith("Hugging Face trainer_state.json")
    assert "train <- 'loss'" in log.mapping and "test <- 'eval_loss'" in log.mapping
    t, _ = log.series["train"]
    assert t.size == 40 and t[-1] == 200  # the run summary (train_runtime, mean train_loss) is not a point
    assert log.series["test"][0].size == 4


def test_wandb_history_csv_jsonl_and_chart_export(tmp_path):
    pd = pytest.importorskip("pandas")
    steps = np.arange(0, 60)
    train = 3.0 * (steps + 1.0) ** -0.5
    val = np.where(steps % 10 == 9, 3.3 * (steps + 1.0) ** -0.5, np.nan)
    hist = pd.DataFrame({"_step": steps, "_runtime": steps * 0.1, "_timestamp": 1.7e9 + steps,
                         "train/loss": train, "val/loss": val})
    hist.to_csv(tmp_path / "history.csv")  # run.history() exported, index column included
    (log,) = read_file(tmp_path / "history.csv")
    assert "step <- '_step'" in log.mapping and "train <- 'train/loss'" in log.mapping
    assert "test <- 'val/loss'" in log.mapping and "'_runtime'" in log.mapping
    assert log.series["test"][0].size == 6
    with open(tmp_path / "wandb-history.jsonl", "w") as fh:
        for rec in hist.to_dict("records"):
            fh.write(json.dumps({k: v for k, v in rec.items() if not (isinstance(v, float) and np.isnan(v))}) + "\n")
    (log2,) = read_file(tmp_path / "wandb-history.jsonl")
    assert np.allclose(log2.series["train"][1], train) and log2.mapping.startswith("JSON lines")
    chart = pd.DataFrame({"Step": steps, "width-16 - train/loss": train, "width-16 - train/loss__MIN": train,
                          "width-16 - train/loss__MAX": train, "width-64 - train/loss": train / 2,
                          "width-64 - train/loss__MIN": train / 2, "width-64 - train/loss__MAX": train / 2})
    chart.to_csv(tmp_path / "chart.csv", index=False)
    logs = read_file(tmp_path / "chart.csv")
    assert [g.name for g in logs] == ["chart:width-16", "chart:width-64"]
    assert np.allclose(logs[1].series["train"][1], train / 2) and "__MIN/__MAX" in logs[0].mapping


# -- CSV mapping, encodings, separators -------------------------------------------------------------
def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_plain_loss_beside_train_loss_is_the_held_out_curve(tmp_path):
    (log,) = read_file(write(tmp_path / "a.csv", "step,loss,train_loss,lr\n1,2,1.9,0.1\n2,1.5,1.2,0.1\n3,1.4,1,0.1\n"))
    assert log.mapping == "columns: step <- 'step', train <- 'train_loss', test <- 'loss'; ignored: 'lr'"
    assert np.array_equal(log.series["test"][1], [2, 1.5, 1.4])


@pytest.mark.parametrize("header, step, train, test", [
    ("iteration,val_loss,train_loss", "iteration", "train_loss", "val_loss"),
    ("epoch,eval_loss,loss", "epoch", "loss", "eval_loss"),
    ("tokens,loss,test_loss,grad_norm", "tokens", "loss", "test_loss"),
    ("global_step,training_loss,validation_loss", "global_step", "training_loss", "validation_loss"),
])
def test_recognised_names(tmp_path, header, step, train, test):
    (log,) = read_file(write(tmp_path / "x.csv", header + "\n1,2,3" + ",0" * (header.count(",") - 2)
                             + "\n2,1,2" + ",0" * (header.count(",") - 2) + "\n"))
    assert f"step <- '{step}'" in log.mapping and f"train <- '{train}'" in log.mapping
    assert f"test <- '{test}'" in log.mapping


def test_columns_override_and_errors(tmp_path):
    p = write(tmp_path / "x.csv", "n,a,b\n1,2,3\n2,1,2\n3,0.5,1.5\n")
    with pytest.raises(InputError, match="missing column"):
        read_file(p)
    (log,) = read_file(p, columns="step=n,train=b,test=a")
    assert np.array_equal(log.series["train"][1], [3, 2, 1.5])
    with pytest.raises(InputError, match="no such column"):
        read_file(p, columns="step=n,train=zzz")
    with pytest.raises(InputError, match="unknown role"):
        read_file(p, columns="loss=a")


@pytest.mark.parametrize("text, encoding", [
    ("\ufeffstep,loss\n1,2.0\n2,1.5\n3,1.25\n", "utf-8"),
    ("step;loss\n1;2,0\n2;1,5\n3;1,25\n", "utf-8"),
    ("step\tloss\n1\t2.0\n2\t1.5\n3\t1.25\n", "utf-8"),
    ("step,loss\n1,2.0\n2,1.5\n3,1.25\n", "utf-16"),
    ("step|loss|note\n1|2.0|é\n2|1.5|x\n3|1.25|y\n", "latin-1"),
])
def test_encodings_and_separators_sniffed(tmp_path, text, encoding):
    (log,) = read_file(write(tmp_path / "x.csv", text, encoding))
    assert np.allclose(log.series["train"][1], [2.0, 1.5, 1.25])


# -- folders, stores, hostile files ----------------------------------------------------------------
def test_mixed_folder_reports_the_bad_file_and_reads_the_rest(tmp_path):
    write(tmp_path / "good.csv", "step,loss\n1,2\n2,1\n3,0.5\n")
    write(tmp_path / "bad.csv", "step,loss\n3,1\n2,1\n")
    traj = Trajectory(times=[1.0, 2.0, 3.0], values=[3.0, 2.0, 1.0], channels=("train_loss",),
                      params={"width": 16}, seed=3)
    save_trajectory(traj, tmp_path / "stored.npz")
    write(tmp_path / "notes.md", "not a log")
    res = read_logs(tmp_path)
    assert sorted(g.name for g in res.logs) == ["good", "stored (width=16, seed=3)"]
    assert len(res.errors) == 1 and res.errors[0][0].endswith("bad.csv") and "strictly increasing" in res.errors[0][1]
    assert res.skipped == 1
    (tmp_path / "good.csv").unlink()
    (tmp_path / "stored.npz").unlink()
    with pytest.raises(InputError, match="no file could be read"):
        read_logs(tmp_path)


def test_sweep_store_read_directly_with_names(tmp_path):
    from toptraj.sweeps import run_sweep

    cfg = {"generator": "modesum", "seeds": [0, 1], "params": {"b": 1.5, "noise": 0.1},
           "grid": {"a": [1.5, 2.0]}, "axis": {"times": {"start": 1, "stop": 1000, "num": 30, "log": True}}}
    run_sweep(cfg, tmp_path / "store", progress=False)
    res = read_logs(tmp_path / "store")
    assert len(res.logs) == 4 and not res.errors
    names = {g.name.split(" (")[1] for g in res.logs}
    assert names == {"a=1.5, b=1.5, seed=0)", "a=1.5, b=1.5, seed=1)", "a=2, b=1.5, seed=0)", "a=2, b=1.5, seed=1)"}
    (tmp_path / "store" / "catalog.sqlite").write_bytes(b"not a database" * 100)  # damaged catalog: not needed
    assert len(read_logs(tmp_path / "store").logs) == 4
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(tmp_path / "store" / "catalog.sqlite").execute("select * from runs")


def crafted_npz(path, meta_text):
    np.savez(path, times=np.array([1.0, 2.0, 3.0]), values=np.array([[3.0], [2.0], [1.0]]),
             channels=np.array(["loss"]), meta=np.array(meta_text))
    return path


@pytest.mark.parametrize("meta", [
    "[1, 2, 3]",                                   # AttributeError in the loader (list.get)
    json.dumps({"format": "toptraj.trajectory"}),  # KeyError (no checksum, no channels)
    "[" * 100000 + "]" * 100000,                   # RecursionError in json
    "not json",
    json.dumps({"format": "toptraj.trajectory", "channels": 5, "axis": "t", "source": "", "params": [],
                "seed": -1, "labels": {}, "provenance": {}}),
])
def test_crafted_npz_meta_is_bad_input_naming_the_file(tmp_path, meta):
    p = crafted_npz(tmp_path / "crafted.npz", meta)
    with pytest.raises(InputError, match="crafted.npz"):
        read_file(p)


def test_a_file_above_the_size_guard_is_refused_unless_forced(tmp_path, monkeypatch):
    from toptraj import guards
    from toptraj.exceptions import InputError
    from toptraj.readers import read_file

    f = tmp_path / "run.csv"
    f.write_text("step,loss\n" + "".join(f"{i},{1.0 / i}\n" for i in range(1, 200)))
    monkeypatch.setattr(guards, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError, match="run.csv"):
        read_file(f)
    assert len(read_file(f, force_size=True)) == 1
