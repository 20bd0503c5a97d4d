"""Reading a student's CSV and choosing its columns: bytes → DataFrame → ``TabularData``.

Every file that cannot be used raises ``CsvError`` with a stable code (``csv.*``) and the raw
facts of its message (the file name, column names and cell values exactly as in the file;
the UI escapes them), so the page can word it in the user's language; ``str()`` is English.

What the reader did on its own (another separator, another text encoding, a skipped first
line, columns left out, rows dropped) is recorded as ``ReadNote``s, coded the same way: a
DataFrame from ``read_csv_upload`` holds them, in order, as a tuple in ``df.attrs["notes"]``,
and ``table_to_data`` passes them on, followed by its own, as ``TabularData.notes``. A note's
``text`` is its English wording; a UI looks its ``code`` up instead.

The maths on the arrays (encoding, checks, split, standardization) is in ``core.tabular``.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from core.errors import CodedError
from core.tabular import MAX_CLASSES, MAX_FEATURES, MAX_ROWS, TabularData, make_data

# Below the server's maxUploadSize (20 MB, .streamlit/config.toml) so that this page, not the
# server, gives the message; large enough for the lecture's Otto product data (62k rows × 93).
MAX_UPLOAD_MB = 16
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
SEPARATORS = (",", ";", "\t", "|")  # in order of preference when two split a file equally well
TARGET_NAMES = ("target", "class", "label", "species", "category", "variety")  # a likely target column
HEAD_BYTES = 8192  # what the binary and encoding checks look at
SAMPLE_CHARS = 65_536  # the start of the text that the separator and first-line checks read
SAMPLE_ROWS = 50
BINARY_SIGNATURES = (  # (first bytes, error code)
    (b"PK\x03\x04", "csv.zip"),
    (b"\xd0\xcf\x11\xe0", "csv.xls"),
    (b"%PDF", "csv.pdf"),
    (b"\x1f\x8b", "csv.gzip"),
)
UNICODE_BOMS = (  # (byte-order mark, codec, its name in messages); UTF-32 LE's mark starts like UTF-16 LE's
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"),
    (b"\xff\xfe", "utf-16-le", "UTF-16 LE"),
    (b"\xfe\xff", "utf-16-be", "UTF-16 BE"),
)
UTF16_NAMES = MappingProxyType({"utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE"})
UTF16_NUL_SHARE = 0.4  # of the high bytes, in UTF-16 without a byte-order mark: ASCII digits and separators
UTF16_STRAY_NULS = 0.05  # of the low bytes (a character such as U+4E00 has one)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # never in text, except tab and line ends
_DOT_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?")  # 0.9978, .5, 1.5e-3
_COMMA_DECIMAL = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)?,\d+")  # 0,5 or 1.234,5 (points between thousands)
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")  # the C parser's message


class CsvError(CodedError, ValueError):
    """An upload that cannot be read as a table; the code and params say why and what to do."""

    templates = MappingProxyType(
        {
            "csv.not_csv": "{name} is not a .csv file. Save the table as CSV (comma-separated values).",
            "csv.too_large": "{name} is {megabytes:.1f} MB; this page reads files up to {limit_mb} MB. "
            "Upload a sample of the rows.",
            "csv.empty": "{name} is empty.",
            "csv.zip": "{name} is a zip archive or an Excel workbook (.xlsx), not a CSV text file. "
            "Export the table as CSV first.",
            "csv.xls": "{name} is an old Excel workbook (.xls), not a CSV text file. Export the table as CSV first.",
            "csv.pdf": "{name} is a PDF document, not a CSV text file. Export the table as CSV first.",
            "csv.gzip": "{name} is a gzip archive, not a CSV text file. Export the table as CSV first.",
            "csv.binary": "{name} is a binary file, not a CSV text file. Export the table as CSV first.",
            "csv.bad_unicode": "{name} starts with a {encoding} byte-order mark but is not valid {encoding} text. "
            "Save it again as CSV (UTF-8).",
            "csv.utf16_no_bom": "{name} looks like UTF-16 text without a byte-order mark, but it cannot be read as "
            "such. Save it again as CSV (UTF-8).",
            "csv.not_text": "{name} is not readable text (neither UTF-8 nor Windows-1252).",
            "csv.short_first_line": "The first line of {name} has {fields} field(s) but the rows below it have "
            "{row_fields}, so it cannot be the row of column names (a title?). Skip the first "
            "line, or delete it from the file so that the column names come first.",
            "csv.counts_first_line": "The first line of {name} holds counts ({rows:,} rows, {features} features), not "
            "column names: scikit-learn's format, whose rows come without a header. Skip the "
            "first line to read the rows with numbered columns.",
            "csv.ragged": "{name} could not be read as CSV: line {line:,} has {found} fields where the header has "
            "{expected}.",
            "csv.parse": "{name} could not be read as CSV: {reason}",
            "csv.no_data_rows": "{name} has a header row but no data rows.",
            "csv.one_column": "{name} has only one column ({column!r}). A classifier needs feature columns and a "
            "target column, separated by commas.",
            "csv.too_many_rows": "{name} has {rows:,} rows; this page takes at most {limit:,}. Upload a sample.",
            "csv.too_many_columns": "{name} has {columns:,} columns; this page takes at most {limit:,}.",
            "csv.no_numeric": "{name} has no numeric columns, so there are no features to learn from. "
            "The classifier reads numbers: encode text columns as numbers first.",
            "csv.no_column": "there is no column {column!r}",
            "csv.no_features": "besides the target {target!r} there is no numeric column to use as a feature. "
            "The classifier reads numbers: encode text columns as numbers, or pick another target.",
            "csv.missing_values": "Missing values in {columns} (empty cells per column: {cells}): {rows:,} of the "
            "{total:,} rows have a gap. Drop those rows to train on the other {remaining:,}, "
            "or fill the gaps in the file.",
        }
    )


NOTE_TEMPLATES = MappingProxyType(
    {
        "csv.note.semicolon": "Read with ';' between columns and ',' as the decimal mark.",
        "csv.note.separator": "Read with {separator!r} between columns.",
        "csv.note.windows_1252": "{name} is not UTF-8; read it as Windows-1252 text.",
        "csv.note.unicode": "{name} is {encoding} text; read it as such.",
        "csv.note.utf16_no_bom": "{name} looks like {encoding} text without a byte-order mark; read it as such.",
        "csv.note.skipped_first_line": "Skipped the first line ({fields} field(s)): {line}",
        "csv.note.counts_line": "Skipped scikit-learn's counts line ({line}); the file has no column names, "
        "so the columns are called {columns}.",
        "csv.note.text_columns": "Not numeric, so not used as features: {columns}.",
        "csv.note.row_numbers": "A running row number (like 1, 2, 3, …), so not used as a feature: {columns}.",
        "csv.note.dropped_rows": "Left out {dropped:,} row(s) with missing values; {remaining:,} remain.",
    }
)


@dataclass(frozen=True)
class ReadNote:
    """Something the reader did on its own, worth telling the user: a code and its params.

    ``text`` (and ``str()``) is the English wording from ``NOTE_TEMPLATES``; a UI in another
    language looks the code up in its catalogue and formats the same params.
    """

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.code not in NOTE_TEMPLATES:
            raise KeyError(f"no note text for code {self.code!r}")

    @property
    def text(self) -> str:
        return NOTE_TEMPLATES[self.code].format(**self.params)

    def __str__(self) -> str:
        return self.text


def _note(code: str, **params: Any) -> ReadNote:
    return ReadNote(code, params)


# ---- reading a file ---------------------------------------------------------------------------


def read_csv_upload(data: bytes, name: str = "upload.csv", skip_first_line: bool = False) -> pd.DataFrame:
    """The uploaded bytes as a DataFrame, or ``CsvError`` saying what is wrong with the file.

    A first line that cannot be the column names (a title, scikit-learn's counts) is refused
    with the fix: ``skip_first_line=True`` reads the file without it (after scikit-learn's
    counts, whose rows have no header, the columns are named x1 … xF and y). Notes on how the
    file was read are ``ReadNote``s in ``df.attrs["notes"]``.
    """
    _check_upload(data, name)
    text, notes = _decode(data, name)
    if not text.strip():
        raise CsvError("csv.empty", name=name)
    separator = _guess_separator(text)
    decimal = _guess_decimal_mark(text, separator)
    notes.extend(_separator_notes(separator, decimal))
    first = _first_line(text, separator)
    names, skipped = None, 0  # the columns' names when the file has none; lines not given to pandas
    if skip_first_line:
        notes.append(first.skip_note())
        names = first.headerless_names()
        text, skipped = _without_first_line(text)
        if names is None:  # the next line is the header now
            _refuse_wider_first_row(_first_line(text, separator), name, skipped)
    else:
        _check_first_line(first, name)
    df = _parse(text, separator, decimal, name, names, skipped)
    _check_shape(df, name)
    df.attrs["notes"] = tuple(notes)
    return df


def _check_upload(data: bytes, name: str) -> None:
    if not name.lower().endswith(".csv"):
        raise CsvError("csv.not_csv", name=name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise CsvError("csv.too_large", name=name, megabytes=len(data) / 2**20, limit_mb=MAX_UPLOAD_MB)
    if not data.strip():
        raise CsvError("csv.empty", name=name)


def _separator_notes(separator: str, decimal: str) -> list[ReadNote]:
    if decimal == ",":  # Excel in many European locales: ';' between fields, ',' in numbers
        return [_note("csv.note.semicolon")]
    return [] if separator == "," else [_note("csv.note.separator", separator=separator)]


def _guess_decimal_mark(text: str, separator: str) -> str:
    """',' or '.': what the numbers of the sampled rows use (only a ';' file can have a decimal comma).

    Excel in many European locales writes ``0,5`` between semicolons, but semicolon files with
    decimal points are just as common (UCI's Wine Quality: ``7.4;0.7;0;1.9``). The mark that more
    fields use wins; a tie, or a file of integers only, keeps the comma.
    """
    if separator != ";":
        return "."
    fields = [field.strip() for row in _sample_records(text, separator)[1:] for field in row]
    points = sum(1 for field in fields if _DOT_DECIMAL.fullmatch(field))
    commas = sum(1 for field in fields if _COMMA_DECIMAL.fullmatch(field))
    return "." if points > commas else ","


def _parse(text: str, separator: str, decimal: str, name: str, names: list[str] | None, skipped: int) -> pd.DataFrame:
    """pandas' reading of the text, the file's first ``skipped`` lines cut off."""
    try:
        with warnings.catch_warnings():
            # a first row wider than the header: with index_col=False pandas would drop the extra fields
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # index_col=False: a header shorter than the rows must never turn leading columns into the index
            return pd.read_csv(
                io.StringIO(text),
                sep=separator,
                decimal=decimal,
                skipinitialspace=True,
                index_col=False,
                header=None if names else "infer",
                names=names,
            )
    except pd.errors.EmptyDataError:
        raise CsvError("csv.empty", name=name) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as error:
        raise _parse_error(error, name, skipped) from None


def _parse_error(error: Exception, name: str, skipped: int) -> CsvError:
    message = str(error).strip()
    if ragged := _RAGGED.search(message):
        expected, line, found = map(int, ragged.groups())
        return CsvError("csv.ragged", name=name, line=line + skipped, found=found, expected=expected)
    reason = message.splitlines()[-1] if message else type(error).__name__
    return CsvError("csv.parse", name=name, reason=reason)


def _refuse_binary(head: bytes, name: str) -> None:
    for signature, code in BINARY_SIGNATURES:
        if head.startswith(signature):
            raise CsvError(code, name=name)
    if b"\x00" in head:
        raise CsvError("csv.binary", name=name)


def _decode(data: bytes, name: str) -> tuple[str, list[ReadNote]]:
    """The text and a note on its encoding: a Unicode byte-order mark, UTF-16 without one, UTF-8, Windows-1252.

    UTF-16 is checked before the binary signatures: its NUL bytes (every other byte of ASCII
    text) would make Excel's "Unicode text" export look like a binary file.
    """
    for bom, codec, encoding in UNICODE_BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError:
                raise CsvError("csv.bad_unicode", name=name, encoding=encoding) from None
            return text, [_note("csv.note.unicode", name=name, encoding=encoding)]
    if codec := _utf16_without_bom(data[:HEAD_BYTES]):
        return _decode_utf16_without_bom(data, codec, name)
    _refuse_binary(data[:HEAD_BYTES], name)
    try:
        return data.decode("utf-8-sig"), []  # -sig: drop the byte-order mark Excel writes
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), [_note("csv.note.windows_1252", name=name)]
    except UnicodeDecodeError:
        raise CsvError("csv.not_text", name=name) from None


def _utf16_without_bom(head: bytes) -> str | None:
    """ "utf-16-le" or "utf-16-be" when the NULs sit in every other byte, as in UTF-16 text; else None.

    A CSV's digits, separators and line ends are ASCII: stored as UTF-16, each has a NUL high
    byte, and low bytes are almost never NUL. Binary files spread their NULs over both
    positions; the decoded text is checked for control characters as well.
    """
    head = head[: len(head) // 2 * 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2].count(0) / (len(head) // 2), head[1::2].count(0) / (len(head) // 2)
    if odd >= UTF16_NUL_SHARE and even <= UTF16_STRAY_NULS:
        return "utf-16-le"
    if even >= UTF16_NUL_SHARE and odd <= UTF16_STRAY_NULS:
        return "utf-16-be"
    return None


def _decode_utf16_without_bom(data: bytes, codec: str, name: str) -> tuple[str, list[ReadNote]]:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        raise CsvError("csv.utf16_no_bom", name=name) from None
    if _CONTROL_CHARACTERS.search(text[:HEAD_BYTES]):
        raise CsvError("csv.utf16_no_bom", name=name)
    return text, [_note("csv.note.utf16_no_bom", name=name, encoding=UTF16_NAMES[codec])]


# ---- the first lines: separator, header ---------------------------------------------------------


def _leading_blank_lines(text: str) -> int:
    """Characters of blank lines before the first line with content (pandas skips them too)."""
    return re.match(r"(?:[ \t]*\r?\n)*", text).end()


def _sample(text: str, separator: str) -> list[tuple[int, list[str]]]:
    """(line number in the file, fields) of the first SAMPLE_ROWS non-blank records, split by
    ``separator`` with the csv module's quoting (pandas' defaults: '"' quotes, doubled to
    escape; spaces after a separator skipped, as ``read_csv`` is told to)."""
    start = _leading_blank_lines(text)
    blank = text[:start].count("\n")
    cut = len(text) > SAMPLE_CHARS  # the last record may be cut short
    reader = csv.reader(io.StringIO(text[start:SAMPLE_CHARS]), delimiter=separator, skipinitialspace=True)
    records = []
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                records.append((blank + reader.line_num, fields))
            if len(records) > SAMPLE_ROWS:
                break
    except csv.Error:
        return []
    return records[:-1] if cut or len(records) > SAMPLE_ROWS else records


def _sample_records(text: str, separator: str) -> list[list[str]]:
    return [fields for _, fields in _sample(text, separator)]


def _usual_width(records: list[list[str]]) -> int:
    """The most common number of fields (the narrower on a tie); 0 for no records."""
    counts = Counter(len(r) for r in records)
    return max(counts, key=lambda width: (counts[width], -width)) if counts else 0


def _guess_separator(text: str) -> str:
    """The separator under which the header and the rows below it have the same width > 1.

    When several agree, the widest wins (ties go to the earlier in SEPARATORS, i.e. the comma);
    when none does, the same test without the first line (a title above the header); failing
    that, the candidate that splits the first line into the most columns (a comma when none does).
    """
    records = {sep: _sample_records(text, sep) for sep in SEPARATORS}
    for skip in (0, 1):
        agreeing = {}
        for sep, rows in records.items():
            rows = rows[skip:]
            if len(rows) >= 2 and len(rows[0]) > 1 and len(rows[0]) == _usual_width(rows[1:]):
                agreeing[sep] = len(rows[0])
        if agreeing:
            return max(agreeing, key=agreeing.get)
    header = text.lstrip().split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=counts.get)
    return best if counts[best] > 0 else ","


@dataclass(frozen=True)
class _FirstLine:
    """The file's first line with content, compared with the rows below it."""

    line: str  # as in the file
    fields: int  # its width
    row_fields: int  # the usual width of the rows below it (0 when there are none)
    short: bool  # narrower than most rows below it, and not just for trailing separators
    counts: tuple[int, int] | None  # scikit-learn's "rows,features,class names…" line: (rows, features)
    wider_row: tuple[int, int] | None  # (line number, fields) of a first data row wider than the header

    def headerless_names(self) -> list[str] | None:
        """Names for the columns of a file whose first line was counts: x1 … xF and the target y."""
        if not self.counts:
            return None
        return [*(f"x{i}" for i in range(1, self.counts[1] + 1)), "y"]

    def skip_note(self) -> ReadNote:
        if self.counts:
            return _note("csv.note.counts_line", line=self.line, columns=", ".join(self.headerless_names()))
        return _note("csv.note.skipped_first_line", line=self.line, fields=self.fields)


def _first_line(text: str, separator: str) -> _FirstLine:
    start = _leading_blank_lines(text)
    line = text[start:].split("\n", 1)[0].rstrip("\r")
    sample = _sample(text, separator)
    first = sample[0][1] if sample else [line]
    numbered_rows = sample[1:]
    rows = [fields for _, fields in numbered_rows]
    wider = [row for row in rows if _has_unnamed_fields(row, len(first))]
    short = 2 * len(wider) > len(rows)  # most rows have fields the first line has no name for
    width = _usual_width(wider if short else rows)
    wider_row = None
    if numbered_rows and _has_unnamed_fields(numbered_rows[0][1], len(first)):
        wider_row = (numbered_rows[0][0], len(numbered_rows[0][1]))
    return _FirstLine(line, len(first), width, short, _counts(first, _usual_width(rows), text[start:]), wider_row)


def _has_unnamed_fields(row: list[str], names: int) -> bool:
    """Fields beyond the header's ``names`` with content (empty ones are trailing separators)."""
    return any(field.strip() for field in row[names:])


def _check_first_line(first: _FirstLine, name: str) -> None:
    """Refuse a first line that cannot be the column names, or a first row pandas would cut short."""
    if first.counts:
        raise CsvError(
            "csv.counts_first_line", name=name, line=first.line, rows=first.counts[0], features=first.counts[1]
        )
    if first.short:
        raise CsvError(
            "csv.short_first_line", name=name, line=first.line, fields=first.fields, row_fields=first.row_fields
        )
    _refuse_wider_first_row(first, name, 0)


def _refuse_wider_first_row(header: _FirstLine, name: str, skipped: int) -> None:
    if header.wider_row:
        line, found = header.wider_row
        raise CsvError("csv.ragged", name=name, line=line + skipped, found=found, expected=header.fields)


def _counts(first: list[str], width: int, text: str) -> tuple[int, int] | None:
    """(rows, features) when ``first`` is scikit-learn's counts line: the number of rows below
    it, the number of features (all fields but the target), then the class names."""
    if len(first) < 2 or width < 2 or not all(re.fullmatch(r"[0-9]+", f.strip()) for f in first[:2]):
        return None
    rows, features = int(first[0]), int(first[1])
    below = sum(1 for line in text.splitlines()[1:] if line.strip())
    return (rows, features) if rows == below and features == width - 1 and len(first) <= width else None


def _without_first_line(text: str) -> tuple[str, int]:
    """The text after its first line with content, and the number of lines cut off."""
    end = text.find("\n", _leading_blank_lines(text))
    return ("", text.count("\n") + 1) if end < 0 else (text[end + 1 :], text[: end + 1].count("\n"))


def _check_shape(df: pd.DataFrame, name: str) -> None:
    if len(df) == 0:
        raise CsvError("csv.no_data_rows", name=name)
    if df.shape[1] < 2:
        raise CsvError("csv.one_column", name=name, column=str(df.columns[0]))
    if len(df) > MAX_ROWS:
        raise CsvError("csv.too_many_rows", name=name, rows=len(df), limit=MAX_ROWS)
    if df.shape[1] > MAX_FEATURES + 1:
        raise CsvError("csv.too_many_columns", name=name, columns=df.shape[1], limit=MAX_FEATURES + 1)
    if not any(_is_numeric(df[column]) for column in df.columns):
        raise CsvError("csv.no_numeric", name=name)


def iris_demo() -> pd.DataFrame:
    """Fisher's iris (150 rows, 4 features, 3 species), shipped with plotly: no download."""
    import plotly.express as px

    return px.data.iris().drop(columns=["species_id"])  # species_id would give the answer away


# ---- choosing columns -------------------------------------------------------------------------


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column)  # bools count: they become 0 and 1


def _is_row_number(column: pd.Series) -> bool:
    return bool(column.notna().all()) and _numbers_the_rows(column)


def _looks_like_categories(column: pd.Series) -> bool:
    return not _is_numeric(column) and 2 <= column.nunique(dropna=True) <= MAX_CLASSES


def guess_target(df: pd.DataFrame) -> str:
    """The column most likely to hold the classes, never a running row number (an id):

    1. a column named like a target (``TARGET_NAMES``, any case, surrounding spaces ignored),
       in the order of that list;
    2. else the last text column that looks like categories (2..MAX_CLASSES distinct values):
       a text column holds labels more often than a feature called ``y`` does;
    3. else a column named ``y``;
    4. else the last column.

    A table of nothing but row numbers gets its last column (it cannot be trained on anyway).
    """
    columns = [c for c in df.columns if not _is_row_number(df[c])]
    by_name: dict[str, Any] = {}
    for column in columns:
        by_name.setdefault(str(column).strip().lower(), column)
    for name in TARGET_NAMES:
        if name in by_name:
            return by_name[name]
    categories = [c for c in columns if _looks_like_categories(df[c])]
    if categories:
        return categories[-1]
    if "y" in by_name:
        return by_name["y"]
    return columns[-1] if columns else df.columns[-1]


def _numbers_the_rows(column: pd.Series) -> bool:
    """True for a running row number (0, 1, 2, … or 1, 2, 3, …): an id, not a measurement.

    Kept as a feature it would let the model learn where a row sits in the file; in the
    Otto data, sorted by class, the id alone predicts the class.
    """
    if len(column) < 3 or not pd.api.types.is_integer_dtype(column):
        return False
    steps = np.diff(column.to_numpy(dtype=np.int64))
    return bool((steps == 1).all())


def feature_columns(df: pd.DataFrame, target: str) -> tuple[list[str], list[ReadNote]]:
    """(numeric feature columns, notes about the columns left out)."""
    features, text, counters = [], [], []
    for column in df.columns:
        if column == target:
            continue
        if not _is_numeric(df[column]):
            text.append(str(column))
        elif _is_row_number(df[column]):
            counters.append(str(column))
        else:
            features.append(column)
    notes = []
    if text:
        notes.append(_note("csv.note.text_columns", columns=", ".join(text)))
    if counters:
        notes.append(_note("csv.note.row_numbers", columns=", ".join(counters)))
    return features, notes


def missing_counts(df: pd.DataFrame, columns) -> dict[str, int]:
    """Column → number of empty cells, for the columns that have any."""
    counts = df[list(columns)].isna().sum()
    return {str(column): int(count) for column, count in counts.items() if count}


def table_to_data(df: pd.DataFrame, target: str, drop_missing: bool = False) -> TabularData:
    """The checked ``TabularData`` for ``target`` and every numeric column as a feature.

    Missing values are an error unless ``drop_missing``; then the rows with a gap in a used
    column are left out (and the notes say how many). Raises ``CsvError`` for the choice of
    columns and ``core.tabular.TabularError`` for what the classifier cannot use.
    """
    if target not in df.columns:
        raise CsvError("csv.no_column", column=str(target))
    features, column_notes = feature_columns(df, target)
    notes = [*df.attrs.get("notes", ()), *column_notes]  # how the file was read, then the columns
    if not features:
        raise CsvError("csv.no_features", target=str(target))
    used = [*features, target]
    missing = missing_counts(df, used)
    if missing:
        gaps = df[used].isna().any(axis=1)  # [N] rows with at least one gap
        if not drop_missing:
            raise describe_missing(missing, int(gaps.sum()), len(df))
        df = df[~gaps]
        notes.append(_note("csv.note.dropped_rows", dropped=int(gaps.sum()), remaining=len(df)))
    X = df[features].to_numpy(dtype=np.float64)  # [N, F]; float64 first so huge values show as inf
    return make_data(X, df[target].to_numpy(), features, notes, target=str(target), rows=df.index.to_numpy())


def describe_missing(missing: dict[str, int], rows: int, total: int) -> CsvError:
    """The error for gaps in the used columns (``missing`` as from ``missing_counts``), to raise or show.

    ``columns`` and ``cells`` are parallel lists: the i-th column has the i-th number of empty cells.
    """
    return CsvError(
        "csv.missing_values",
        columns=", ".join(missing),
        cells=", ".join(map(str, missing.values())),
        rows=rows,
        total=total,
        remaining=total - rows,
    )
