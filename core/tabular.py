"""The lecture's exercise: the same softmax classifier on a table of numeric features.

    table rows  →  X [N, F] float32, y [N] int64 (class names sorted)
                →  stratified split: every class in both the training and the held-out part
                →  standardize with the TRAINING rows' mean and std: x' = (x − μ) / σ
                →  the same ``fit`` as MNIST (an MLP with F inputs and C logits)

Standardizing plays the role of MNIST's ``Normalize((0.1307,), (0.3081,))``: features measured in
centimetres and in thousands get comparable scales, so one learning rate suits them all. The
held-out rows must not leak into μ and σ, hence statistics from the training split only.

Pure NumPy/PyTorch: reading a CSV (pandas) happens in ``playground.csv_reading``. Every
``TabularError`` carries a code (``tabular.*``) and the raw facts of its message, so the page
can word it in the user's language; ``str()`` is the English message.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from core.errors import CodedError

# ---- limits (a classroom server, a page that stays responsive) --------------------------------

MIN_ROWS = 10
MIN_ROWS_PER_CLASS = 2  # one to learn from, one to test on
MAX_CLASSES = 50  # more distinct values than this is an id or a measurement, not a category
MAX_ROWS = 200_000  # the Otto product data (61,878 rows × 93 features) fits comfortably
MAX_FEATURES = 1_000
MIN_TEST_FRACTION, MAX_TEST_FRACTION = 0.05, 0.5


MAX_NAMED_CLASSES = 5  # rare classes named in a message; more are shown as "…"


class TabularError(CodedError, ValueError):
    """A table the classifier cannot use; the code and params say why, for the person who uploaded it."""

    templates = MappingProxyType(
        {
            "tabular.target_not_finite": "the target column has missing or infinite values",
            "tabular.target_missing": "the target column has missing values",
            "tabular.no_classes": "the target {target!r} has no values",
            "tabular.one_class": "the target {target!r} has only one class ({only!r}): there is nothing to tell apart. "
            "Pick a column with at least two different values.",
            "tabular.too_many_classes": "the target {target!r} has {classes:,} different values — more like an id or a "
            "measurement than a category. A classifier needs a column of categories "
            "(at most {limit} classes).",
            "tabular.rare_classes": "{rare} of the {classes} classes of the target {target!r} "
            "have fewer than {min_rows} rows ({names}); each class needs at least one row to learn from "
            "and one to test on. Is this column really a category?",
            "tabular.no_features": "there are no numeric feature columns to learn from",
            "tabular.too_many_features": "{features:,} feature columns; this page takes at most {limit:,}",
            "tabular.too_few_rows": "only {rows:,} row(s); a classifier needs at least {min_rows} to learn from "
            "and test on",
            "tabular.too_many_rows": "{rows:,} rows; this page takes at most {limit:,} (use a sample)",
            "tabular.not_finite": "non-finite values (missing, infinite or too large) in: {columns}",
            "tabular.test_fraction": "the held-out fraction must be in {low:g}..{high:g}, got {value!r}",
            "tabular.class_too_small": "class {label} has {rows:,} row(s); it cannot be in both parts",
        }
    )


# ---- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TabularData:
    """A classification table as tensors-to-be: features, integer labels and their names."""

    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]  # class k is class_names[k]
    X: np.ndarray  # [N, F] float32, raw (not standardized)
    y: np.ndarray  # [N] int64 in 0..C-1
    # how the table was read (ignored columns, dropped rows, ...): whatever the reader records,
    # e.g. playground.csv_reading's ReadNote (a code, its params and an English text)
    notes: tuple[object, ...] = ()
    rows: np.ndarray | None = None  # [N] each row's number in the source table; 0..N-1 when None

    def __post_init__(self):
        # plain ValueErrors: make_data builds every field from checked arrays, so these are a caller's mistake
        if self.rows is None:
            object.__setattr__(self, "rows", np.arange(len(self.y), dtype=np.int64))
        if self.X.ndim != 2 or self.X.dtype != np.float32:
            raise ValueError(f"X must be float32 [N, F], got {self.X.dtype} {self.X.shape}")
        if self.y.shape != (len(self.X),) or self.y.dtype != np.int64:
            raise ValueError(f"y must be int64 [{len(self.X)}], got {self.y.dtype} {self.y.shape}")
        if self.X.shape[1] != len(self.feature_names):
            raise ValueError(f"{self.X.shape[1]} feature columns but {len(self.feature_names)} names")
        if len(self.rows) != len(self.y):
            raise ValueError(f"{len(self.rows)} row numbers for {len(self.y)} rows")

    @property
    def num_rows(self) -> int:
        return len(self.y)

    @property
    def num_features(self) -> int:
        return self.X.shape[1]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> np.ndarray:
        """Rows per class, [C]."""
        return np.bincount(self.y, minlength=self.num_classes)


def encode_target(values) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class labels 0..C-1 for the target values, and the class names in that order.

    Names are sorted (numbers numerically: 2 before 10), so the same table always gives
    the same encoding. Whole numbers stored as floats (1.0) are named like integers ("1").
    A 2-D ``values`` is a caller's mistake (a plain ``ValueError``); gaps and infinities in
    the column are the table's (a ``TabularError``).
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"the target must be one column, got shape {values.shape}")
    if values.dtype.kind in "fiub":
        numbers = values.astype(np.float64)
        if not np.isfinite(numbers).all():
            raise TabularError("tabular.target_not_finite")
        classes, y = np.unique(numbers, return_inverse=True)
        names = tuple(_number_name(c) for c in classes)
    else:
        if any(_is_missing(v) for v in values):
            raise TabularError("tabular.target_missing")
        classes, y = np.unique(values.astype(str), return_inverse=True)
        names = tuple(str(c) for c in classes)
    return y.astype(np.int64).reshape(-1), names


def _number_name(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 2**53 else f"{x:g}"


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


# ---- checks -----------------------------------------------------------------------------------


def check_classes(y: np.ndarray, class_names: tuple[str, ...], target: str = "target") -> None:
    """Raise ``TabularError`` unless the target has 2..MAX_CLASSES classes with enough rows each.

    ``target`` is the target column's name, for the message.
    """
    counts = np.bincount(y, minlength=len(class_names))
    if not class_names:
        raise TabularError("tabular.no_classes", target=target)
    if len(class_names) == 1:
        raise TabularError("tabular.one_class", target=target, only=class_names[0])
    if len(class_names) > MAX_CLASSES:
        raise TabularError("tabular.too_many_classes", target=target, classes=len(class_names), limit=MAX_CLASSES)
    rare = [name for name, count in zip(class_names, counts) if count < MIN_ROWS_PER_CLASS]
    if rare:
        shown = rare[:MAX_NAMED_CLASSES] + (["…"] if len(rare) > MAX_NAMED_CLASSES else [])
        raise TabularError(
            "tabular.rare_classes",
            target=target,
            rare=len(rare),
            classes=len(class_names),
            min_rows=MIN_ROWS_PER_CLASS,
            names=", ".join(shown),
        )


def check_features(X: np.ndarray, feature_names: tuple[str, ...]) -> None:
    """Raise ``TabularError`` for too few rows, too many rows or columns, or non-finite values."""
    n, f = X.shape
    if f == 0:
        raise TabularError("tabular.no_features")
    if f > MAX_FEATURES:
        raise TabularError("tabular.too_many_features", features=f, limit=MAX_FEATURES)
    if n < MIN_ROWS:
        raise TabularError("tabular.too_few_rows", rows=n, min_rows=MIN_ROWS)
    if n > MAX_ROWS:
        raise TabularError("tabular.too_many_rows", rows=n, limit=MAX_ROWS)
    bad = ~np.isfinite(X).all(axis=0)  # [F]: NaN, ±inf, or a number too large for float32
    if bad.any():
        names = ", ".join(name for name, b in zip(feature_names, bad) if b)
        raise TabularError("tabular.not_finite", columns=names)


def make_data(X, target_values, feature_names, notes=(), target: str = "target", rows=None) -> TabularData:
    """Checked ``TabularData`` from raw feature values [N, F] and the target column's values [N].

    ``target`` is the target column's name (for messages); ``rows`` are the rows' numbers in
    the source table; ``notes`` are kept as they are.
    """
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, and check_features names it
        X = np.asarray(X, dtype=np.float32)  # [N, F]
    feature_names = tuple(str(name) for name in feature_names)
    check_features(X, feature_names)
    y, class_names = encode_target(target_values)
    check_classes(y, class_names, target)
    rows = None if rows is None else np.asarray(rows, dtype=np.int64)
    return TabularData(feature_names, class_names, np.ascontiguousarray(X), y, tuple(notes), rows)


# ---- split and standardize --------------------------------------------------------------------


def stratified_split(y, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx), sorted: each class split in the same proportion.

    A class of n rows gives round(n · test_fraction) held-out rows, but at least one and at
    most n − 1, so every class appears in both parts. Same (y, test_fraction, seed), same split.
    """
    y = np.asarray(y)
    if not MIN_TEST_FRACTION <= test_fraction <= MAX_TEST_FRACTION:
        raise TabularError("tabular.test_fraction", low=MIN_TEST_FRACTION, high=MAX_TEST_FRACTION, value=test_fraction)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))  # this class's rows, shuffled
        if len(rows) < MIN_ROWS_PER_CLASS:
            raise TabularError("tabular.class_too_small", label=int(label), rows=len(rows))
        n_test = min(max(round(len(rows) * test_fraction), 1), len(rows) - 1)
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


@dataclass(frozen=True)
class Standardizer:
    """x' = (x − mean) / std per feature, with the statistics of the rows it was fitted on."""

    mean: np.ndarray  # [F] float32
    std: np.ndarray  # [F] float32; 1 for a constant feature
    constant: tuple[int, ...] = ()  # features with no spread in the fitted rows

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)  # [N, F]; float64 sums for wide-ranging values
        mean = X.mean(axis=0)  # [F]
        std = X.std(axis=0)  # [F], population std (ddof=0): the fitted rows get std exactly 1
        constant = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
        std = np.where(constant, 1.0, std)  # nothing to scale; dividing by ~0 would blow it up
        return cls(mean.astype(np.float32), std.astype(np.float32), tuple(np.flatnonzero(constant).tolist()))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float32) - self.mean) / self.std).astype(np.float32)  # [N, F]

    def constant_features(self, feature_names) -> list[str]:
        """The features that never change in the training rows (they carry no information)."""
        return [str(feature_names[i]) for i in self.constant]


@dataclass(frozen=True)
class PreparedSplit:
    """What ``fit`` needs: standardized tensors of both parts, and how they were made."""

    train_idx: np.ndarray  # [N_train] rows of the table
    test_idx: np.ndarray  # [N_test]
    standardizer: Standardizer  # fitted on the training rows only
    X_train: torch.Tensor  # [N_train, F] float32, standardized
    y_train: torch.Tensor  # [N_train] int64
    X_test: torch.Tensor  # [N_test, F]
    y_test: torch.Tensor  # [N_test]

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X_train, self.y_train

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X_test, self.y_test


def prepare(data: TabularData, test_fraction: float = 0.2, seed: int = 0) -> PreparedSplit:
    """Split ``data`` (stratified) and standardize both parts with the training statistics."""
    train_idx, test_idx = stratified_split(data.y, test_fraction, seed)
    standardizer = Standardizer.fit(data.X[train_idx])

    def tensors(idx):
        return torch.from_numpy(standardizer.transform(data.X[idx])), torch.from_numpy(data.y[idx])

    (X_train, y_train), (X_test, y_test) = tensors(train_idx), tensors(test_idx)
    return PreparedSplit(train_idx, test_idx, standardizer, X_train, y_train, X_test, y_test)


def split_labels(num_rows: int, test_idx: np.ndarray) -> np.ndarray:
    """ "train" or "held-out" for every row of the table, [N]."""
    labels = np.full(num_rows, "train", dtype=object)
    labels[test_idx] = "held-out"
    return labels
