"""The "Your own data" page's pandas side: read an upload, pick the columns, train, tabulate.

``core.tabular`` holds the maths (encoding, split, standardization, limits) on NumPy arrays;
this module turns a CSV or the iris demo into those arrays and the results back into tables,
with a message a student can act on for every file that cannot be used.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from core.tabular import (
    MAX_FEATURES,
    MAX_ROWS,
    PreparedSplit,
    TabularData,
    TabularError,
    count,
    make_data,
    prepare,
    split_labels,
)
from playground.settings import TrainSettings, lr_advice

if TYPE_CHECKING:
    from core.training import JobSnapshot, TrainingJob, TrainingQueue

# Below the server's maxUploadSize (20 MB, .streamlit/config.toml) so that this page, not the
# server, gives the message; large enough for the lecture's Otto product data (62k rows × 93).
MAX_UPLOAD_MB = 16
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
SEPARATORS = (",", ";", "\t", "|")
TARGET_NAMES = ("target", "class", "label", "species", "category", "y")  # a likely target column
BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)

MAX_CURVE_POINTS = 1_000  # running-loss points before the advice suggests logging less often
JOB_KEY = "own.job"  # the OwnJob of this session, or absent


# ---- reading a file ---------------------------------------------------------------------------


def read_csv_upload(data: bytes, name: str = "upload.csv") -> pd.DataFrame:
    """The uploaded bytes as a DataFrame, or ``TabularError`` saying what is wrong with the file.

    Notes on how it was read (another separator, a fallback text encoding) are in
    ``df.attrs["notes"]``.
    """
    if not name.lower().endswith(".csv"):
        raise TabularError(f"{name} is not a .csv file. Save the table as CSV (comma-separated values).")
    if len(data) > MAX_UPLOAD_BYTES:
        raise TabularError(
            f"{name} is {len(data) / 2**20:.1f} MB; this page reads files up to {MAX_UPLOAD_MB} MB. "
            "Upload a sample of the rows."
        )
    if not data.strip():
        raise TabularError(f"{name} is empty.")
    _refuse_binary(data[:8192], name)
    text, notes = _decode(data, name)
    separator = _guess_separator(text)
    if separator == ";":  # Excel in many European locales: ';' between fields, ',' in numbers
        notes.append("Read with ';' between columns and ',' as the decimal mark.")
    elif separator != ",":
        notes.append(f"Read with {separator!r} between columns.")
    try:
        df = pd.read_csv(io.StringIO(text), sep=separator, decimal="," if separator == ";" else ".",
                         skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise TabularError(f"{name} is empty.") from None
    except (pd.errors.ParserError, ValueError) as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise TabularError(f"{name} could not be read as CSV: {reason}") from None
    _check_shape(df, name)
    df.attrs["notes"] = notes
    return df


def _refuse_binary(head: bytes, name: str) -> None:
    for signature, what in BINARY_SIGNATURES:
        if head.startswith(signature):
            raise TabularError(f"{name} is {what}, not a CSV text file. Export the table as CSV first.")
    if b"\x00" in head:
        raise TabularError(f"{name} is a binary file, not a CSV text file. Export the table as CSV first.")


def _decode(data: bytes, name: str) -> tuple[str, list[str]]:
    try:
        return data.decode("utf-8-sig"), []  # -sig: drop the byte-order mark Excel writes
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), [f"{name} is not UTF-8; read it as Windows-1252 text."]
    except UnicodeDecodeError:
        raise TabularError(f"{name} is not readable text (neither UTF-8 nor Windows-1252).") from None


def _guess_separator(text: str) -> str:
    """The candidate that splits the header line into the most columns (a comma when none does)."""
    header = text.lstrip().split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=counts.get)  # ties go to the earlier, i.e. the comma
    return best if counts[best] > 0 else ","


def _check_shape(df: pd.DataFrame, name: str) -> None:
    if len(df) == 0:
        raise TabularError(f"{name} has a header row but no data rows.")
    if df.shape[1] < 2:
        raise TabularError(
            f"{name} has only one column ({df.columns[0]!r}). A classifier needs feature columns and "
            "a target column, separated by commas."
        )
    if len(df) > MAX_ROWS:
        raise TabularError(f"{name} has {len(df):,} rows; this page takes at most {MAX_ROWS:,}. Upload a sample.")
    if df.shape[1] > MAX_FEATURES + 1:
        raise TabularError(f"{name} has {df.shape[1]:,} columns; this page takes at most {MAX_FEATURES + 1:,}.")
    if not any(_is_numeric(df[column]) for column in df.columns):
        raise TabularError(
            f"{name} has no numeric columns, so there are no features to learn from. "
            "The classifier reads numbers: encode text columns as numbers first."
        )


def iris_demo() -> pd.DataFrame:
    """Fisher's iris (150 rows, 4 features, 3 species), shipped with plotly: no download."""
    import plotly.express as px

    return px.data.iris().drop(columns=["species_id"])  # species_id would give the answer away


# ---- choosing columns -------------------------------------------------------------------------


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column)  # bools count: they become 0 and 1


def guess_target(df: pd.DataFrame) -> str:
    """A column named like a target, else the last text column, else the last column."""
    by_name = {str(c).strip().lower(): c for c in df.columns}
    for name in TARGET_NAMES:
        if name in by_name:
            return by_name[name]
    text_columns = [c for c in df.columns if not _is_numeric(df[c])]
    return text_columns[-1] if text_columns else df.columns[-1]


def _numbers_the_rows(column: pd.Series) -> bool:
    """True for a running row number (0, 1, 2, … or 1, 2, 3, …): an id, not a measurement.

    Kept as a feature it would let the model learn where a row sits in the file; in the
    Otto data, sorted by class, the id alone predicts the class.
    """
    if len(column) < 3 or not pd.api.types.is_integer_dtype(column):
        return False
    steps = np.diff(column.to_numpy(dtype=np.int64))
    return bool((steps == 1).all())


def feature_columns(df: pd.DataFrame, target: str) -> tuple[list[str], list[str]]:
    """(numeric feature columns, notes about the columns left out)."""
    features, text, counters = [], [], []
    for column in df.columns:
        if column == target:
            continue
        if not _is_numeric(df[column]):
            text.append(str(column))
        elif df[column].notna().all() and _numbers_the_rows(df[column]):
            counters.append(str(column))
        else:
            features.append(column)
    notes = []
    if text:
        notes.append(f"Not numeric, so not used as features: {', '.join(text)}.")
    if counters:
        notes.append(f"A running row number (like 1, 2, 3, …), so not used as a feature: {', '.join(counters)}.")
    return features, notes


def missing_counts(df: pd.DataFrame, columns) -> dict[str, int]:
    """Column → number of empty cells, for the columns that have any."""
    counts = df[list(columns)].isna().sum()
    return {str(column): int(count) for column, count in counts.items() if count}


def table_to_data(df: pd.DataFrame, target: str, drop_missing: bool = False) -> TabularData:
    """The checked ``TabularData`` for ``target`` and every numeric column as a feature.

    Missing values are an error unless ``drop_missing``; then the rows with a gap in a used
    column are left out (and the notes say how many).
    """
    if target not in df.columns:
        raise TabularError(f"there is no column {target!r}")
    features, column_notes = feature_columns(df, target)
    notes = [*df.attrs.get("notes", []), *column_notes]  # how the file was read, then the columns
    if not features:
        raise TabularError(
            f"besides the target {target!r} there is no numeric column to use as a feature. "
            "The classifier reads numbers: encode text columns as numbers, or pick another target."
        )
    used = [*features, target]
    missing = missing_counts(df, used)
    if missing:
        gaps = df[used].isna().any(axis=1)  # [N] rows with at least one gap
        if not drop_missing:
            raise TabularError(describe_missing(missing, int(gaps.sum()), len(df)))
        df = df[~gaps]
        notes.append(f"Left out {count(int(gaps.sum()), 'row')} with missing values; {count(len(df), 'row')} remain.")
    X = df[features].to_numpy(dtype=np.float64)  # [N, F]; float64 first so huge values show as inf
    return make_data(X, df[target].to_numpy(), features, notes, target=f"the target {target!r}",
                     rows=df.index.to_numpy())


def describe_missing(missing: dict[str, int], rows: int, total: int) -> str:
    columns = ", ".join(f"{column!r} ({count(cells, 'empty cell')})" for column, cells in missing.items())
    return (f"Missing values in {columns}: {rows:,} of the {total:,} rows {'has' if rows == 1 else 'have'} a gap. "
            f"Drop those rows to train on the other {total - rows:,}, or fill the gaps in the file.")


# ---- tables for the page ------------------------------------------------------------------------


def class_table(data: TabularData) -> pd.DataFrame:
    counts = data.class_counts()
    return pd.DataFrame({"class": data.class_names, "rows": counts, "share %": 100 * counts / counts.sum()})


def feature_table(data: TabularData) -> pd.DataFrame:
    """Mean, standard deviation and range of each feature, as uploaded (before standardizing)."""
    X = data.X.astype(np.float64)  # [N, F]
    return pd.DataFrame({"feature": data.feature_names, "mean": X.mean(axis=0), "std": X.std(axis=0),
                         "min": X.min(axis=0), "max": X.max(axis=0)})


def probability_column(class_name: str) -> str:
    return f"p({class_name})"


def predictions_frame(data: TabularData, test_idx: np.ndarray, probs: np.ndarray, rows: str = "held-out") -> pd.DataFrame:
    """One row per table row: its features, true and predicted class, and the softmax per class.

    ``probs`` is [N, C] for every row of ``data``; ``rows`` is "held-out" (only the rows the
    model never trained on) or "all" (with a column saying which part each row was in).
    """
    if rows not in ("held-out", "all"):
        raise ValueError(f"rows must be 'held-out' or 'all', not {rows!r}")
    pick = np.asarray(test_idx) if rows == "held-out" else np.arange(data.num_rows)
    names = np.asarray(data.class_names, dtype=object)
    pred = probs.argmax(axis=1)  # [N]
    columns = {"row": data.rows[pick]}
    if rows == "all":
        columns["part"] = split_labels(data.num_rows, test_idx)[pick]
    columns |= {feature: data.X[pick, j] for j, feature in enumerate(data.feature_names)}
    columns["true class"] = names[data.y[pick]]
    columns["predicted class"] = names[pred[pick]]
    columns["correct"] = data.y[pick] == pred[pick]
    columns |= {probability_column(name): probs[pick, k] for k, name in enumerate(data.class_names)}
    return pd.DataFrame(columns)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV; 6 significant digits keep float32 features and probabilities readable."""
    return frame.to_csv(index=False, float_format="%.6g").encode("utf-8")


# ---- the page's settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnSettings:
    """The controls' choices; defaults suit a small table like iris (≈ 95% in well under a second)."""

    hidden_sizes: tuple[int, ...] = (64, 32)
    activation: str = "relu"
    optimizer: str = "sgd"
    lr: float = 0.01  # the lecture's SGD: lr 0.01, momentum 0.5
    momentum: float = 0.5
    batch_size: int = 16
    epochs: int = 100
    seed: int = 0  # the split, the initial weights and the shuffles
    test_fraction: float = 0.2
    log_every: int = 2  # iris: 4 points per epoch, 400 in all

    def spec(self, data: TabularData):
        from core.models import ModelSpec

        return ModelSpec(kind="mlp", hidden_sizes=tuple(self.hidden_sizes), activation=self.activation,
                         in_features=data.num_features, num_classes=data.num_classes)

    def config(self):
        """The `TrainConfig`, built as the Train page builds it (momentum only for SGD)."""
        return TrainSettings(kind="mlp", hidden_sizes=self.hidden_sizes, activation=self.activation,
                             optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                             batch_size=self.batch_size, epochs=self.epochs, seed=self.seed,
                             log_every=self.log_every).config()

    def errors(self, data: TabularData) -> list[str]:
        """Why these settings cannot train on ``data`` (empty when they can)."""
        problems = []
        for build in (lambda: self.spec(data), self.config):
            try:
                build().validate()
            except ValueError as error:
                problems.append(str(error))
        return problems

    def advice(self, n_train: int) -> dict[str, str]:
        """Control name → a warning shown next to it; training still runs."""
        notes = {}
        if lr_note := lr_advice(self.optimizer, self.lr, self.momentum):
            notes["lr"] = lr_note
        batches = math.ceil(n_train / self.batch_size)
        if self.batch_size >= n_train:
            notes["batch_size"] = f"Not smaller than the {n_train:,} training rows: every epoch is one batch."
        total = batches * self.epochs
        if total > 200_000:
            notes["epochs"] = (f"{total:,} batches in all ({batches:,} per epoch): a long run on a shared "
                               "CPU. A larger batch or fewer epochs finishes sooner.")
        # the job copies the curve for the page at every new point and the browser redraws all of
        # it twice a second: cheap at a thousand points, not at a million
        if total / self.log_every > MAX_CURVE_POINTS:
            notes["log_every"] = (f"The loss curve would get {total // self.log_every:,} points, more than a chart "
                                  f"can show apart; logging every {math.ceil(total / MAX_CURVE_POINTS):,} batches "
                                  "keeps it readable and light.")
        return notes


# ---- training in the background ------------------------------------------------------------------


@dataclass
class OwnJob:
    """A training job on a table, with the table and split it trains on (for the results)."""

    job: "TrainingJob"
    data: TabularData
    split: PreparedSplit
    settings: OwnSettings
    source: str  # e.g. "Iris demo · target species"
    started: float = field(default_factory=time.time)
    _probs: np.ndarray | None = None  # [N, C] softmax for every row, once the job has ended

    def snapshot(self) -> "JobSnapshot":
        return self.job.snapshot()

    def has_model(self) -> bool:
        """Ended after at least one batch with finite weights (a diverged model holds NaN)."""
        snap = self.snapshot()
        return self.job.done and snap.status in ("finished", "stopped") and snap.step > 0

    def probs(self) -> np.ndarray | None:
        """softmax(model(x)) for every row of the table, standardized as in training, [N, C]."""
        if self._probs is None and self.has_model():
            import torch

            from core.training import predict_probs

            X = torch.from_numpy(self.split.standardizer.transform(self.data.X))  # [N, F]
            self._probs = predict_probs(self.job.model, X).numpy()
        return self._probs


def current_job() -> OwnJob | None:
    return st.session_state.get(JOB_KEY)


def is_busy() -> bool:
    own = current_job()
    return own is not None and not own.job.done


def start_training(data: TabularData, settings: OwnSettings, source: str,
                   queue: "TrainingQueue | None") -> OwnJob:
    """Split and standardize ``data``, build the MLP and train it on its own thread."""
    from core.models import build_model
    from core.training import TrainingJob
    from playground import jobs

    if is_busy():
        raise RuntimeError("A table is already training in this session; stop it first.")
    problems = settings.errors(data)
    if problems:
        raise ValueError("; ".join(problems))
    split = prepare(data, settings.test_fraction, settings.seed)
    model = build_model(settings.spec(data), seed=settings.seed)
    # the CPU even where a GPU exists: batches of a few rows are launch-bound on a GPU
    job = TrainingJob(model, settings.config(), split.train, split.test, queue=queue, device="cpu")
    jobs.register_job(job)  # the tab-close hook stops it too
    job.start()
    own = OwnJob(job=job, data=data, split=split, settings=settings, source=source)
    st.session_state[JOB_KEY] = own
    return own


def stop_training() -> None:
    own = current_job()
    if own is not None and not own.job.done:
        own.job.stop()

