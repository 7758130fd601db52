"""Readers for the training logs people have, into one record type (:class:`LossLog`).

Formats (detected from the file, not only its name)
---------------------------------------------------
- CSV/TSV tables, any of ``,`` ``;`` tab ``|`` as separator, UTF-8 (with or without BOM), UTF-16
  with BOM, or Latin-1; a decimal comma with ``;``. Covers PyTorch Lightning's CSVLogger
  ``metrics.csv`` (train and validation metrics logged on different rows: empty cells are "not
  logged here"), W&B history exports (``_step``; chart exports ``Step, RUN - metric, RUN -
  metric__MIN, ...``), and MLflow metric exports in long form (``key, value, step[, timestamp][, run_id]``).
- JSON: Hugging Face Trainer ``trainer_state.json`` (``log_history``), a list of records (W&B
  ``run.history(pandas=False)``, MLflow ``get_metric_history``), ``{"metrics": [...]}`` (MLflow REST),
  a dict of columns, or JSON lines (W&B ``wandb-history.jsonl``).
- TensorBoard event files (``events.out.tfevents.*``) through the optional ``tensorboard`` package
  (``pip install toptraj[tensorboard]``).
- MLflow file-store run folders (``meta.yaml`` + ``metrics/NAME`` files of ``timestamp value step``).
- Stored toptraj runs (``.npz``) and sweep stores (read file by file; the catalog is not needed).

Column mapping (CSV and JSON tables)
------------------------------------
Names are compared after lower-casing and turning ``/ . - space`` into ``_``.

- axis (first found): ``step, global_step, _step, trainer_global_step, steps, iteration, iter, it,
  iterations, tokens, num_tokens, tokens_seen, n_tokens, samples, num_samples, examples, epoch, epochs``
- train loss: ``train_loss, train_loss_step, training_loss, loss_train, trn_loss, train_loss_epoch,
  loss, loss_step, train, training``
- held-out loss ("test"): ``test_loss, loss_test, val_loss, val_loss_epoch, valid_loss,
  validation_loss, loss_val, loss_valid, loss_validation, eval_loss, loss_eval, dev_loss, heldout_loss,
  test, valid, validation, eval, dev``
- runs: ``run, run_id, run_name, name``

When several columns fit a role, the one with most logged values is used (ties: the order above).
A plain ``loss`` beside an explicit train-loss column and no held-out column is read as the held-out
loss (``step, loss, train_loss`` files). ``columns={"train": ..., "test": ..., "step": ..., "run": ...}``
(CLI ``--columns train=NAME,test=NAME``) overrides the mapping. Every log carries a one-line
``mapping`` text naming the columns used and every column ignored.

Rules: at least 2 logged values of a loss; steps >= 0 and strictly increasing within a run and
column; losses finite (empty cells and NaN mean "not logged on this row"; inf is an error).
Every problem raises :class:`toptraj.io.InputError` naming the file, the row or column and the rule.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toptraj.exceptions import InputError
from toptraj.trajectory import Trajectory

AXIS_NAMES = ("step", "global_step", "_step", "trainer_global_step", "steps", "iteration", "iter", "it",
              "iterations", "tokens", "num_tokens", "tokens_seen", "n_tokens", "samples", "num_samples",
              "examples", "epoch", "epochs")
TRAIN_NAMES = ("train_loss", "train_loss_step", "training_loss", "loss_train", "trn_loss", "train_loss_epoch",
               "loss", "loss_step", "train", "training")
TEST_NAMES = ("test_loss", "loss_test", "val_loss", "val_loss_epoch", "valid_loss", "validation_loss", "loss_val",
              "loss_valid", "loss_validation", "eval_loss", "loss_eval", "dev_loss", "heldout_loss",
              "test", "valid", "validation", "eval", "dev")
RUN_NAMES = ("run", "run_id", "run_name", "name")
ROLES = ("step", "train", "test", "run")
#: Suffixes of files a folder walk reads; anything else is skipped (and counted).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".npz")
#: Parameters shown in run names when a stored run carries them.
NAME_PARAMS = ("width", "N", "P", "d", "a", "b", "alpha", "beta", "lr", "dataset", "arch")


def normalise(name: str) -> str:
    """Column name as compared with the recognised names."""
    return re.sub(r"[/.\-\s]+", "_", str(name).strip().lower()).strip("_") or str(name)


@dataclass
class LossLog:
    """One run's loss curves as read from a file.

    Attributes
    ----------
    name : str
        Display name (file stem, run column value, stored parameters such as width and seed).
    source : str
        The file read.
    series : dict
        Role (``"train"``, ``"test"``) -> (times, values), each ndarray of shape (n_role,), times
        strictly increasing; roles may have different times (logged on different rows).
    axis : str
        Name of the axis column (``"step"``, ``"epoch"``, ...).
    mapping : str
        One line: the columns used for each role and every column ignored.
    params, labels, seed : stored metadata (empty for user logs).
    """

    name: str
    source: str
    series: dict
    axis: str = "step"
    mapping: str = ""
    params: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    seed: int | None = None

    @property
    def main_role(self) -> str:
        """The curve whose exponent is reported: the train loss if logged, else the held-out loss."""
        return "train" if "train" in self.series else "test"

    def paired(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(times, train, test) on the held-out loss's times, the train loss interpolated linearly in
        log t onto them (only inside its logged range); None without both curves. Shapes (m,)."""
        if "train" not in self.series or "test" not in self.series:
            return None
        ta, ya = self.series["train"]
        tb, yb = self.series["test"]
        keep = (tb >= ta[0]) & (tb <= ta[-1])
        tb, yb = tb[keep], yb[keep]
        if tb.size < 2:
            return None
        if np.array_equal(ta, tb):
            return tb, ya, yb
        pos = ta > 0
        if pos.sum() >= 2 and tb[0] > 0:
            train = np.interp(np.log(tb), np.log(ta[pos]), ya[pos])
        else:
            train = np.interp(tb, ta, ya)
        return tb, train, yb

    def to_trajectory(self) -> Trajectory:
        """The main curve (and the held-out loss on common times, when both exist) as a Trajectory.

        Channels ``loss`` (train) and ``test_loss``, or only ``test_loss`` for a held-out-only log.
        """
        pair = self.paired()
        meta = dict(axis=self.axis, source=self.name, params=dict(self.params), seed=self.seed,
                    labels={k: v for k, v in self.labels.items()})
        if pair is not None and pair[0].size >= 0.5 * self.series["train"][0].size:
            t, a, b = pair
            return Trajectory(times=t, values=np.column_stack([a, b]), channels=("loss", "test_loss"), **meta)
        role = self.main_role
        t, y = self.series[role]
        return Trajectory(times=t, values=y, channels=("loss" if role == "train" else "test_loss",), **meta)


# -- format detection and decoding ----------------------------------------------------------------
def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    """(text, encoding name) from the BOM, else UTF-8, else Latin-1."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def sniff_separator(lines: list[str]) -> str:
    """The separator (``,`` ``;`` tab ``|``) that splits the header and the next lines alike."""
    best, best_score = ",", -1
    for sep in (",", ";", "\t", "|"):
        counts = [ln.count(sep) for ln in lines if ln.strip()]
        if not counts or counts[0] == 0:
            continue
        agree = sum(c == counts[0] for c in counts)
        score = agree * 1000 + counts[0]
        if score > best_score:
            best, best_score = sep, score
    return best


# -- tables -> LossLog ------------------------------------------------------------------------------
def _parse_columns(columns) -> dict[str, str]:
    if columns is None:
        return {}
    if isinstance(columns, str):
        out = {}
        for part in columns.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(f"--columns: {part!r} must have the form ROLE=NAME, roles {list(ROLES)}")
            role, name = (s.strip() for s in part.split("=", 1))
            if role in out:
                raise InputError(f"--columns: role {role!r} given twice ({out[role]!r} and {name!r}); give each role once")
            out[role] = name
        columns = out
    if not isinstance(columns, Mapping):
        raise InputError(f"columns must be a mapping role -> column name, got {type(columns).__name__}")
    for role, name in columns.items():
        if role not in ROLES:
            raise InputError(f"--columns: unknown role {role!r}; roles are {list(ROLES)}")
        if not isinstance(name, str) or not name:
            raise InputError(f"--columns: {role}= needs a column name")
    return dict(columns)


def _pick(names: list[str], wanted: tuple[str, ...], counts: dict[str, int]) -> str | None:
    norm = {n: normalise(n) for n in names}
    cands = [n for n in names if norm[n] in wanted]
    if not cands:
        return None
    return max(cands, key=lambda n: (counts.get(n, 0), -wanted.index(norm[n])))


def map_columns(names: list[str], counts: dict[str, int], columns: Mapping[str, str] | None,
                where: str) -> dict[str, str]:
    """Role -> column name for a table with columns ``names`` (``counts``: logged values per column)."""
    override = _parse_columns(columns)
    roles: dict[str, str] = {}
    for role, name in override.items():
        match = [n for n in names if n == name] or [n for n in names if normalise(n) == normalise(name)]
        if not match:
            raise InputError(f"{where}: --columns {role}={name}: no such column; columns are {names}")
        roles[role] = match[0]
    rest = [n for n in names if n not in roles.values()]
    if "step" not in roles:
        for axis_name in AXIS_NAMES:  # the axis by priority, not by count
            hit = [n for n in rest if normalise(n) == axis_name]
            if hit:
                roles["step"] = hit[0]
                break
    rest = [n for n in rest if n != roles.get("step")]
    if "run" not in roles:
        hit = [n for n in rest if normalise(n) in RUN_NAMES]
        if hit:
            roles["run"] = hit[0]
    rest = [n for n in rest if n != roles.get("run")]
    if "test" not in roles:
        pick = _pick(rest, TEST_NAMES, counts)
        if pick:
            roles["test"] = pick
    rest = [n for n in rest if n != roles.get("test")]
    if "train" not in roles:
        pick = _pick(rest, TRAIN_NAMES, counts)
        explicit = [n for n in rest if normalise(n) in TRAIN_NAMES and normalise(n) not in ("loss", "loss_step")]
        plain = [n for n in rest if normalise(n) == "loss"]
        if explicit and plain and "test" not in roles and "test" not in override:
            # `step, loss, train_loss`: the plain `loss` is the other (held-out) curve
            roles["test"] = plain[0]
            pick = _pick([n for n in rest if n != plain[0]], TRAIN_NAMES, counts)
        if pick:
            roles["train"] = pick
    if "step" not in roles:
        raise InputError(f"{where}: missing column: no step column; expected one of {list(AXIS_NAMES[:12])}... "
                         f"(or --columns step=NAME); columns are {names}")
    if "train" not in roles and "test" not in roles:
        raise InputError(f"{where}: missing column: no loss column; expected one of {list(TRAIN_NAMES)} or {list(TEST_NAMES)} "
                         f"(or --columns train=NAME,test=NAME); columns are {names}")
    return roles


def mapping_text(roles: Mapping[str, str], names: list[str]) -> str:
    used = ", ".join(f"{r} <- {roles[r]!r}" for r in ROLES if r in roles)
    ignored = [n for n in names if n not in roles.values()]
    return f"columns: {used}; ignored: " + (", ".join(repr(n) for n in ignored) if ignored else "none")


def _as_float(where: str, col: str, values, rows: np.ndarray) -> np.ndarray:
    """Column as float64; NaN for empty cells; InputError naming the row for text that is not a number."""
    import pandas as pd

    s = pd.Series(values)
    if s.dtype.kind in "fiub":
        out = s.to_numpy(dtype=np.float64)
    else:
        txt = s.astype("string").str.strip()
        out = pd.to_numeric(txt, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(out) & txt.notna().to_numpy() & ~txt.fillna("").str.lower().isin(["", "nan", "na", "none", "null"]).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{where}: row {int(rows[i])}, column '{col}': {str(txt.iloc[i])!r} is not a number")
    if np.isinf(out).any():
        i = int(np.argmax(np.isinf(out)))
        raise InputError(f"{where}: row {int(rows[i])}, column '{col}': {out[i]} is not finite (inf not allowed; "
                         "leave a cell empty for 'not logged')")
    return out


def _series(where: str, col: str, t: np.ndarray, y: np.ndarray, rows: np.ndarray, run: str,
            axis_col: str) -> tuple[np.ndarray, np.ndarray] | None:
    ok = ~np.isnan(y)
    miss_t = ok & np.isnan(t)
    if miss_t.any():
        i = int(np.argmax(miss_t))
        raise InputError(f"{where}: row {int(rows[i])}, column '{axis_col}' is empty where '{col}' is logged")
    t, y, r = t[ok], y[ok], rows[ok]
    if t.size == 0:
        return None
    if (t < 0).any():
        i = int(np.argmax(t < 0))
        raise InputError(f"{where}: row {int(r[i])}, column '{axis_col}': {t[i]:g} is negative; steps must be >= 0")
    d = np.diff(t)
    if (d <= 0).any():
        i = int(np.argmax(d <= 0)) + 1
        raise InputError(f"{where}: row {int(r[i])}, column '{axis_col}': {t[i]:g} is not greater than {t[i - 1]:g} "
                         f"(row {int(r[i - 1])})" + (f" of run {run!r}" if run else "")
                         + f" for column '{col}'; steps must be strictly increasing")
    return t, y


def logs_from_table(table: Mapping[str, object], where: str, stem: str, columns=None,
                    first_row: int = 2, all_names: list[str] | None = None) -> list[LossLog]:
    """LossLogs from a table (column name -> 1-D values); rows numbered from ``first_row``.

    ``all_names``: the file's full header when only some columns were parsed (for the ignored list).
    """
    import pandas as pd

    names = [str(n) for n in table]
    if not names:
        raise InputError(f"{where}: no columns")
    n_rows = len(next(iter(table.values())))
    if n_rows == 0:
        raise InputError(f"{where}: header only, no data rows")
    long = _long_form(table, names)
    if long is not None:
        return [log for run, sub in long for log in logs_from_table(sub, where, f"{stem}:{run}" if run else stem,
                                                                    columns, first_row)]
    wide = _wandb_chart(names)
    counts = {n: int(pd.Series(table[n]).notna().sum()) for n in names}
    if wide is not None and columns is None:
        step_col, per_run, ignored = wide
        out = []
        for run, cols in per_run.items():
            sub = {step_col: table[step_col], **{m: table[c] for m, c in cols.items()}}
            for log in logs_from_table(sub, where, f"{stem}:{run}", None, first_row):
                log.mapping += f"; W&B chart export, ignored {len(ignored)} __MIN/__MAX columns"
                out.append(log)
        return out
    roles = map_columns(names, counts, columns, where)
    text = mapping_text(roles, all_names or names)
    rows = np.arange(first_row, first_row + n_rows)
    t_all = _as_float(where, roles["step"], table[roles["step"]], rows)
    ys = {role: _as_float(where, roles[role], table[roles[role]], rows) for role in ("train", "test") if role in roles}
    if "run" in roles:
        run_vals = pd.Series(table[roles["run"]]).astype("string").fillna("").str.strip().to_numpy(dtype=object)
        groups = list(dict.fromkeys(run_vals))
    else:
        run_vals, groups = None, [""]
    out = []
    for run in groups:
        m = slice(None) if run_vals is None else (run_vals == run)
        series = {}
        for role, y in ys.items():
            s = _series(where, roles[role], t_all[m], y[m], rows[m], run, roles["step"])
            if s is None:
                continue
            if s[0].size < 2:
                what = f"run {run!r}" if run else "the file"
                raise InputError(f"{where}: {what} has a single data row for column '{roles[role]}'; "
                                 "at least 2 rows are needed")
            series[role] = s
        if not series:
            what = f"run {run!r}" if run else "the file"
            raise InputError(f"{where}: {what} has no logged values in the loss column(s) "
                             f"{[roles[r] for r in ys]}")
        out.append(LossLog(name=f"{stem}:{run}" if run else stem, source=where, series=series,
                           axis=normalise(roles["step"]), mapping=text))
    return out


def _long_form(table, names):
    """MLflow-style long form (key, value, step[, run_id]) -> [(run, wide table)], else None."""
    norm = {normalise(n): n for n in names}
    key = norm.get("key") or norm.get("metric")
    val = norm.get("value")
    step = next((norm[a] for a in AXIS_NAMES if a in norm), None)
    if not (key and val and step):
        return None
    import pandas as pd

    df = pd.DataFrame({n: table[n] for n in names})
    run = next((norm[r] for r in RUN_NAMES if r in norm and norm[r] not in (key,)), None)
    out = []
    for rname, sub in (df.groupby(run, sort=False) if run else [("", df)]):
        wide = sub.pivot_table(index=step, columns=key, values=val, aggfunc="last").sort_index()
        tbl = {step: wide.index.to_numpy(dtype=np.float64), **{str(c): wide[c].to_numpy() for c in wide.columns}}
        out.append((str(rname), tbl))
    return out


def _wandb_chart(names):
    """W&B chart export: 'Step', 'RUN - metric', 'RUN - metric__MIN', ... -> (step, {run: {metric: col}}, ignored)."""
    pat = [n for n in names if " - " in n]
    if not pat or len(pat) < len(names) - 1:
        return None
    step = [n for n in names if " - " not in n]
    if len(step) != 1 or normalise(step[0]) not in AXIS_NAMES:
        return None
    per_run: dict[str, dict[str, str]] = {}
    ignored = []
    for n in pat:
        run, metric = n.rsplit(" - ", 1)
        if metric.endswith(("__MIN", "__MAX")):
            ignored.append(n)
            continue
        per_run.setdefault(run.strip(), {})[metric.strip()] = n
    return step[0], per_run, ignored


# -- per-format readers -----------------------------------------------------------------------------
def read_csv(path, columns=None) -> list[LossLog]:
    """A CSV/TSV log (separator and encoding sniffed); the C parser of pandas; see the module docstring."""
    import pandas as pd

    path = Path(path)
    where = str(path)
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise InputError(f"{where}: file is empty; expected a header row naming a step and a loss column")
    try:
        text, enc = _decode(path, head)
    except UnicodeDecodeError:
        # the 64 KiB cut may split a character: decode what is complete
        text, enc = head[3:].decode("utf-8", errors="ignore"), "utf-8-sig"
    lines = [ln for ln in text.splitlines() if ln.strip()][:20]
    sep = sniff_separator(lines)
    decimal = "."
    if sep == ";" and len(lines) > 1 and re.search(r"(^|;)\s*-?\d+,\d+\s*(;|$)", lines[1]):
        decimal = ","
    if b"\x00" in head and enc not in ("utf-16",):
        raise InputError(f"{where}: binary data (NUL bytes); expected a text table")
    opts = dict(sep=sep, encoding=enc, engine="c", decimal=decimal, skip_blank_lines=True, low_memory=False,
                na_values=["", "nan", "NaN", "NA", "null", "None"], keep_default_na=False, skipinitialspace=True)
    try:
        header = [str(c).strip() for c in pd.read_csv(path, nrows=0, **opts).columns]
        # parse only the columns that can play a role: memory ~ rows x used columns, not x all columns
        usecols = _candidate_columns(header, columns)
        df = pd.read_csv(path, usecols=usecols, **opts)
    except pd.errors.EmptyDataError:
        raise InputError(f"{where}: file is empty; expected a header row naming a step and a loss column") from None
    except pd.errors.ParserError as exc:
        msg = str(exc).replace("\n", " ")
        m = re.search(r"line (\d+), saw (\d+)", msg)
        if m:
            raise InputError(f"{where}: row {m.group(1)} has {m.group(2)} fields, header has fewer") from None
        raise InputError(f"{where}: not a readable table ({msg})") from None
    except (UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise InputError(f"{where}: not a readable table ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(set(df.columns)) != len(df.columns):
        raise InputError(f"{where}: duplicate column names in header {list(df.columns)}")
    if df.shape[0] == 0:
        raise InputError(f"{where}: header only, no data rows")
    table = {c: df[c].to_numpy() for c in df.columns}
    del df
    return logs_from_table(table, where, path.stem, columns, all_names=header)


def _candidate_columns(header: list[str], columns) -> list[str] | None:
    """Header entries that may take a role (None: keep all, for long-form and W&B chart tables)."""
    norm = [normalise(h) for h in header]
    if ({"key", "metric"} & set(norm) and "value" in norm) or _wandb_chart(header) is not None:
        return None
    wanted = set(AXIS_NAMES) | set(TRAIN_NAMES) | set(TEST_NAMES) | set(RUN_NAMES)
    override = {normalise(v) for v in _parse_columns(columns).values()} | set(_parse_columns(columns).values())
    keep = [h for h, n in zip(header, norm) if n in wanted or h in override or n in override]
    kn = {normalise(h) for h in keep}
    complete = bool(kn & set(AXIS_NAMES)) and bool(kn & (set(TRAIN_NAMES) | set(TEST_NAMES)))
    if len(set(header)) != len(header) or not (complete or override):
        return None  # let the full parse report duplicates / missing columns with the usual messages
    return keep


def _records_to_table(records: list) -> dict[str, list]:
    names: dict[str, None] = {}
    for r in records:
        if not isinstance(r, Mapping):
            raise TypeError("records must be objects")
        for k, v in r.items():
            if isinstance(v, (int, float, str)) or v is None:
                names.setdefault(str(k))
    return {n: [r.get(n) if isinstance(r.get(n), (int, float, str)) and not isinstance(r.get(n), bool) else None
                for r in records] for n in names}


def read_json(path, columns=None) -> list[LossLog]:
    """HF trainer_state.json, record lists, ``{"metrics": [...]}``, column dicts or JSON lines."""
    path = Path(path)
    where = str(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"{where}: file is empty")
    text, _ = _decode(path, raw)
    kind = "JSON"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        try:  # JSON lines (W&B wandb-history.jsonl)
            doc = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
            kind = "JSON lines"
        except (json.JSONDecodeError, RecursionError):
            raise InputError(f"{where}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None
    if isinstance(doc, Mapping) and isinstance(doc.get("log_history"), list):
        # the last entry of a finished run is its summary (train_runtime, mean train_loss): not a point
        kind = "Hugging Face trainer_state.json"
        records = [r for r in doc["log_history"] if not (isinstance(r, Mapping) and "train_runtime" in r)]
    elif isinstance(doc, Mapping) and isinstance(doc.get("metrics"), list):
        kind, records = "MLflow metric history", doc["metrics"]
    elif isinstance(doc, list):
        records = doc
    elif isinstance(doc, Mapping) and doc and all(isinstance(v, list) for v in doc.values()):
        lengths = {len(v) for v in doc.values()}
        if len(lengths) != 1:
            raise InputError(f"{where}: JSON columns have different lengths {sorted(lengths)}")
        records = [dict(zip(doc, vals)) for vals in zip(*doc.values())]
    else:
        raise InputError(f"{where}: JSON is not a training log (expected trainer_state.json with log_history, "
                         "a list of records, {'metrics': [...]}, or a dict of columns)")
    try:
        table = _records_to_table(records)
    except TypeError:
        raise InputError(f"{where}: {kind}: entries must be JSON objects") from None
    if not records:
        raise InputError(f"{where}: {kind} holds no records")
    logs = logs_from_table(table, where, path.parent.name if path.stem == "trainer_state" else path.stem, columns,
                           first_row=1)
    for log in logs:
        log.mapping = f"{kind}: {log.mapping}"
    return logs


def read_tensorboard(path, columns=None) -> list[LossLog]:
    """Scalars of one TensorBoard event file (tags mapped like columns)."""
    path = Path(path)
    where = str(path)
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:
        raise InputError(f"{where}: TensorBoard event file; install the optional reader with "
                         "`pip install toptraj[tensorboard]`") from None
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={event_accumulator.SCALARS: 0})
    try:
        acc.Reload()
    except Exception as exc:  # the library raises many types on damaged files
        raise InputError(f"{where}: damaged TensorBoard event file ({type(exc).__name__}: {exc})") from None
    tags = acc.Tags().get("scalars", [])
    if not tags:
        raise InputError(f"{where}: TensorBoard event file holds no scalars")
    steps = sorted({e.step for tag in tags for e in acc.Scalars(tag)})
    pos = {s: i for i, s in enumerate(steps)}
    table: dict[str, object] = {"step": np.array(steps, dtype=np.float64)}
    for tag in tags:
        col = np.full(len(steps), np.nan)
        for e in acc.Scalars(tag):
            col[pos[e.step]] = e.value  # a re-logged step keeps its last value
        table[tag if normalise(tag) != "step" else f"{tag} (tag)"] = col
    stem = path.parent.name or path.name
    logs = logs_from_table(table, where, stem, columns, first_row=1)
    for log in logs:
        log.mapping = "TensorBoard scalars: " + log.mapping.replace("columns:", "tags:")
    return logs


def read_mlflow_run(folder, columns=None) -> list[LossLog]:
    """An MLflow file-store run folder: ``metrics/NAME`` files with lines ``timestamp value step``."""
    folder = Path(folder)
    where = str(folder)
    files = sorted(p for p in (folder / "metrics").rglob("*") if p.is_file())
    if not files:
        raise InputError(f"{where}: MLflow run folder without metrics")
    steps: dict[float, None] = {}
    per: dict[str, dict[float, float]] = {}
    for f in files:
        name = f.relative_to(folder / "metrics").as_posix()
        d = per.setdefault(name, {})
        for i, line in enumerate(f.read_text(errors="replace").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            try:
                _, value, step = (float(p) for p in parts[:3]) if len(parts) >= 3 else (0.0, float(parts[1]), 0.0)
            except (ValueError, IndexError):
                raise InputError(f"{f}: line {i}: expected 'timestamp value step', got {line[:60]!r}") from None
            d[step] = value
            steps.setdefault(step)
    grid = np.array(sorted(steps), dtype=np.float64)
    table: dict[str, object] = {"step": grid}
    for name, d in per.items():
        table[name] = np.array([d.get(s, np.nan) for s in grid])
    logs = logs_from_table(table, where, folder.name, columns, first_row=1)
    for log in logs:
        log.mapping = "MLflow run metrics: " + log.mapping.replace("columns:", "metrics:")
    return logs


def _run_name(path: Path, params: Mapping, seed) -> str:
    bits = [f"{k}={params[k]:g}" if isinstance(params[k], float) else f"{k}={params[k]}"
            for k in NAME_PARAMS if k in params and isinstance(params[k], (int, float, str))
            and not isinstance(params[k], bool)]
    if seed is not None:
        bits.append(f"seed={seed}")
    return f"{path.stem} ({', '.join(bits)})" if bits else path.stem


def read_npz(path, columns=None) -> list[LossLog]:
    """A stored toptraj run (``.npz``): its loss channels; named by file stem and stored parameters."""
    from toptraj.io import load_trajectory

    path = Path(path)
    try:
        traj = load_trajectory(path)
    except InputError:
        raise
    except ValueError as exc:  # StoreError and Trajectory validation
        raise InputError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    except (KeyError, AttributeError, TypeError, RecursionError, IndexError, OverflowError, MemoryError) as exc:
        raise InputError(f"{path}: not a valid stored trajectory (metadata {type(exc).__name__}: {exc})") from None
    ch = traj.channels
    train = "train_loss" if "train_loss" in ch else ("loss" if "loss" in ch else None)
    test = "test_loss" if "test_loss" in ch else None
    if columns:
        roles = _parse_columns(columns)
        train, test = roles.get("train", train), roles.get("test", test)
        for c in (train, test):
            if c is not None and c not in ch:
                raise InputError(f"{path}: --columns names channel {c!r}; channels are {list(ch)}")
    if train is None and test is None:
        raise InputError(f"{path}: no loss channel; expected train_loss, loss or test_loss, got {list(ch)}")
    series = {}
    for role, c in (("train", train), ("test", test)):
        if c is not None:
            series[role] = (np.asarray(traj.times), np.asarray(traj.channel(c)))
    used = [c for c in (train, test) if c]
    params = traj.params if isinstance(traj.params, dict) else {}
    return [LossLog(name=_run_name(path, params, traj.seed), source=str(path), series=series, axis=traj.axis,
                    mapping=f"stored run: train <- {train!r}, test <- {test!r}; ignored: "
                            + (", ".join(repr(c) for c in ch if c not in used) or "none"),
                    params=dict(params), labels=dict(traj.labels), seed=traj.seed)]


def is_event_file(path: Path) -> bool:
    return "tfevents" in path.name


def read_file(path, columns=None, force_size: bool = False) -> list[LossLog]:
    """One file (or an MLflow run folder) in any supported format; InputError naming it otherwise.

    Files above :data:`toptraj.guards.MAX_FILE_BYTES` are refused before reading unless ``force_size``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_file():
        from toptraj.io import check_file_size

        check_file_size(path, force=force_size)
    if path.is_dir():
        if (path / "meta.yaml").is_file() and (path / "metrics").is_dir():
            return read_mlflow_run(path, columns)
        raise InputError(f"{path}: is a folder")
    if is_event_file(path):
        return read_tensorboard(path, columns)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path, columns)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return read_npz(path, columns)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix in (".json", ".jsonl") or stripped[:1] in (b"{", b"["):
        return read_json(path, columns)
    return read_csv(path, columns)


def _walk(folder: Path) -> Iterator[Path]:
    """Readable entries under ``folder`` (sorted, hidden ones skipped); MLflow run folders as one entry."""
    for root, dirs, files in os.walk(folder):
        rootp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if (rootp / "meta.yaml").is_file() and (rootp / "metrics").is_dir():
            yield rootp
            dirs[:] = []
            continue
        store_index = "index.json" in files and any(f.endswith(".npz") for f in files)
        for f in sorted(files):
            if f.startswith(".") or (store_index and f == "index.json"):  # a store's own index, not a log
                continue
            p = rootp / f
            if p.suffix.lower() in TABLE_SUFFIXES or is_event_file(p):
                yield p


@dataclass
class ReadResult:
    """What :func:`read_logs` found: the logs, the files that failed (path, reason), files skipped."""

    logs: list
    errors: list
    skipped: int = 0


def read_logs(path, columns=None, progress: bool = False, force_size: bool = False) -> ReadResult:
    """A file, or every readable file under a folder (see the module docstring).

    A bad file in a folder is recorded in ``errors`` with its reason and the others are read; a
    single bad file raises :class:`InputError`. A folder with nothing readable raises too.
    """
    path = Path(path)
    _parse_columns(columns)  # a bad --columns is one error, not one per file
    if not path.exists():
        raise InputError(f"{path}: file not found (no such file or folder)")
    if path.is_file() or ((path / "meta.yaml").is_file() and (path / "metrics").is_dir()):
        return ReadResult(read_file(path, columns, force_size), [])
    entries = list(_walk(path))
    n_files = sum(1 for _ in path.rglob("*") if _.is_file() and not _.name.startswith("."))
    skipped = max(0, n_files - len(entries))
    if not entries:
        raise InputError(f"{path}: folder holds no readable logs ({', '.join(TABLE_SUFFIXES)}, TensorBoard event "
                         "files, MLflow run folders)")
    logs, errors = [], []
    it = entries
    if progress and len(entries) > 20:
        from tqdm import tqdm

        it = tqdm(entries, desc="reading", unit="file", file=__import__("sys").stderr, leave=False)
    for p in it:
        try:
            logs.extend(read_file(p, columns, force_size))
        except (InputError, OSError) as exc:
            errors.append((str(p), str(exc)))
    if not logs:
        first = errors[0][1] if errors else "nothing readable"
        raise InputError(f"{path}: no file could be read ({len(errors)} failed; first: {first})")
    return ReadResult(logs, errors, skipped)


def finite_or_none(x):
    """A float for JSON: None for NaN/inf."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
