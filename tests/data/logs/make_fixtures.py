"""Writes the real-tool fixtures in this folder with the tools' own libraries (run once, by hand).

    python tests/data/logs/make_fixtures.py      # needs pytorch-lightning, tensorboard, mlflow-skinny

Each file is small and committed, so the reader tests run without these packages; tests that find a
package installed also write a fresh file with it and read that (tests/test_readers.py).
"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def lightning_metrics(out: Path) -> Path:
    """Train a tiny regression model with Lightning's CSVLogger; returns the metrics.csv path."""
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.loggers import CSVLogger

    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = x @ torch.randn(8, 1) + 0.1 * torch.randn(256, 1)
    ds = torch.utils.data.TensorDataset(x, y)

    class Model(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 1)

        def training_step(self, batch, _):
            loss = torch.nn.functional.mse_loss(self.lin(batch[0]), batch[1])
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.mse_loss(self.lin(batch[0]), batch[1]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    logger = CSVLogger(str(out), name="lightning_logs")
    trainer = pl.Trainer(max_epochs=6, logger=logger, log_every_n_steps=1, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    loader = torch.utils.data.DataLoader(ds, batch_size=32)
    trainer.fit(Model(), loader, torch.utils.data.DataLoader(ds, batch_size=64))
    return Path(logger.log_dir) / "metrics.csv"


def tensorboard_events(out: Path) -> Path:
    """torch.utils.tensorboard.SummaryWriter scalars of a decaying loss; returns the event file."""
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(log_dir=str(out))
    for step in range(1, 201):
        w.add_scalar("Loss/train", 0.05 + 2.0 * step**-0.7, step)
        if step % 10 == 0:
            w.add_scalar("Loss/test", 0.06 + 2.1 * step**-0.7, step)
        w.add_scalar("lr", 0.1, step)
    w.close()
    return next(out.glob("events.out.tfevents.*"))


def mlflow_run(out: Path) -> tuple[Path, Path]:
    """An MLflow file-store run logged with mlflow.log_metric, and its metric history exported by
    MlflowClient to CSV in long form (key, value, timestamp, step, run_id); returns both paths."""
    import csv
    import os

    import mlflow
    from mlflow.tracking import MlflowClient

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 keeps the file store behind this flag
    mlflow.set_tracking_uri(out.resolve().as_uri())
    with mlflow.start_run(run_name="mlp-width-64") as run:
        for step in range(1, 101):
            mlflow.log_metric("train_loss", 0.02 + 3.0 * step**-0.5, step=step)
            if step % 5 == 0:
                mlflow.log_metric("val_loss", 0.03 + 3.0 * step**-0.5, step=step)
    client = MlflowClient()
    rows = [dict(m.to_dictionary(), run_id=run.info.run_name)
            for key in ("train_loss", "val_loss") for m in client.get_metric_history(run.info.run_id, key)]
    path = out / "mlflow_history.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return next(p for p in out.rglob(run.info.run_id) if p.is_dir()), path


if __name__ == "__main__":
    tmp = HERE / "_tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    which = sys.argv[1:] or ["lightning", "tensorboard", "mlflow"]
    if "lightning" in which:
        shutil.copy(lightning_metrics(tmp / "pl"), HERE / "lightning_metrics.csv")
    if "tensorboard" in which:
        shutil.copy(tensorboard_events(tmp / "tb"), HERE / "events.out.tfevents.torch")
    if "mlflow" in which:
        dst = HERE / "mlflow_run"
        shutil.rmtree(dst, ignore_errors=True)
        run_dir, history = mlflow_run(tmp / "mlruns")
        shutil.copytree(run_dir, dst, ignore=shutil.ignore_patterns("artifacts", "params", "tags"))
        shutil.copy(history, HERE / "mlflow_history.csv")
    shutil.rmtree(tmp, ignore_errors=True)
    print(sorted(p.name for p in HERE.iterdir()))
