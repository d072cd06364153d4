"""The data-validation gate: is an uploaded dataset fit to train the contract's model?

Pure: a byte stream in (:func:`validate_stream`; :func:`validate_dataset` for bytes in
memory), a typed :class:`ValidationReport` out. No AWS calls, so the same code runs in
the validation Lambda, the CLI and the tests. The file is read in bounded batches
(``BATCH_BYTES`` of CSV cut at a record boundary, ``BATCH_ROWS`` of Parquet); every
check is tallied per batch and reported at the end, so the report does not depend on
the batch size (see docs/decisions.md D43). A failing report is raised as
:class:`DataValidationError` (the Step Functions error name) and its
:meth:`ValidationReport.to_json` is written next to the quarantined object.

Checks run in order, and a problem that makes later checks meaningless stops there:

1. the file: empty, larger than ``contract.max_bytes``, format from the suffix;
2. the structure: UTF-8, delimiter, header, ragged rows (CSV) or a readable Parquet file;
3. the schema: missing (the target separately) and unexpected columns;
4. every contract column, one pass each: nulls, type errors, range, categories;
5. the dataset: row count, duplicate rows, constant target, class balance.

Row numbers in messages and ``Violation.examples`` are 1-based data rows (the first
row after the header is row 1). In a CSV, the values pandas' ``read_csv`` reads as
missing by default (an empty field, ``NA``, ``null``, ``NaN``...) count as nulls.

A datetime value is valid when it parses in some format (see
:func:`_unparseable_datetimes`); mixing formats in one column is not an error.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import itertools
import math
import shutil
import tempfile
import warnings
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal, Self, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.tseries.api import guess_datetime_format
from pydantic import BaseModel, ConfigDict, Field

from modelrail import canonical
from modelrail.columns import NA_VALUES, PANDAS_FALSE, PANDAS_TRUE, Cells, Coded
from modelrail.contract import Column, ColumnType, ModelContract, ProblemType
from modelrail.hashing import mix64
from modelrail.limits import ValidationLimits
from modelrail.ordered import partition_bits

Severity = Literal["error", "warning"]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]

MAX_EXAMPLES = 5
SUMMARY_MAX_CHARS = 1000
_UTF8_BOM = b"\xef\xbb\xbf"
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())  # what str.strip() strips
_HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
_OTHER_DELIMITERS = {";": "';' (semicolon)", "\t": "'\\t' (tab)", "|": "'|' (pipe)"}
_MAX_MIXED_DATETIME_PARSE = 20_000
_BOUND_TOLERANCE = 1e-9  # relative slack on min/max for float parsing error
BATCH_BYTES = 8 * 1024 * 1024
"""CSV is read this many bytes at a time (cut at the last whole record)."""
BATCH_ROWS = 100_000
"""Parquet batches (and CSV batches on the csv-module path) hold this many rows."""
BatchSink = Callable[[Mapping[str, Cells], int], None]
"""Receives each parsed batch: the columns by name and the row count."""


class ViolationCode(StrEnum):
    """Stable identifiers of every check; safe to match on in alarms and dashboards."""

    EMPTY_FILE = "empty_file"
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    NOT_UTF8 = "not_utf8"
    WRONG_DELIMITER = "wrong_delimiter"
    MALFORMED_CSV = "malformed_csv"
    RAGGED_ROWS = "ragged_rows"
    DUPLICATE_HEADER = "duplicate_header"
    NO_DATA_ROWS = "no_data_rows"
    PARQUET_ENGINE_MISSING = "parquet_engine_missing"
    UNREADABLE_PARQUET = "unreadable_parquet"
    MISSING_TARGET = "missing_target"
    MISSING_COLUMN = "missing_column"
    UNEXPECTED_COLUMN = "unexpected_column"
    NULL_VALUES = "null_values"
    INVALID_NUMBER = "invalid_number"
    NON_FINITE_NUMBER = "non_finite_number"
    NOT_INTEGER = "not_integer"
    INVALID_BOOLEAN = "invalid_boolean"
    INVALID_DATETIME = "invalid_datetime"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_CATEGORY = "unknown_category"
    TOO_FEW_ROWS = "too_few_rows"
    DUPLICATE_ROWS = "duplicate_rows"
    CONSTANT_TARGET = "constant_target"
    TOO_FEW_CLASSES = "too_few_classes"
    TOO_MANY_CLASSES = "too_many_classes"
    CLASS_IMBALANCE = "class_imbalance"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Violation(_Frozen):
    code: ViolationCode
    column: str | None = None
    message: str
    count: int = Field(default=1, ge=0)
    examples: tuple[int | str, ...] = Field(default=(), max_length=MAX_EXAMPLES)
    """Up to five 1-based data row numbers, or offending values/names."""
    severity: Severity = "error"


class ValidationReport(_Frozen):
    model: str
    filename: str
    format: Literal["csv", "parquet"] | None
    rows: int = Field(ge=0)
    columns: tuple[str, ...]
    sha256: str
    size_bytes: int = Field(ge=0)
    violations: tuple[Violation, ...]
    limits: ValidationLimits

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "warning")

    @property
    def codes(self) -> frozenset[ViolationCode]:
        return frozenset(v.code for v in self.violations)

    def summary(self) -> str:
        """One line naming every error (at most ``SUMMARY_MAX_CHARS`` characters)."""
        if self.ok:
            notes = f"; {len(self.warnings)} warning(s)" if self.warnings else ""
            return (
                f"{self.model}: {self.filename!r} passed data validation "
                f"({self.rows} rows, {len(self.columns)} columns{notes})"
            )
        errors = self.errors
        head = (
            f"{self.model}: {self.filename!r} failed data validation with {len(errors)} error(s):"
        )
        parts = [f"[{v.code}] {v.message}" for v in errors]
        return _join_bounded(head, parts, SUMMARY_MAX_CHARS)

    def to_json(self) -> dict[str, Any]:
        """Everything, as plain JSON: written next to a quarantined object."""
        out = self.model_dump(mode="json")
        out["ok"] = self.ok
        out["error_count"] = len(self.errors)
        out["warning_count"] = len(self.warnings)
        out["summary"] = self.summary()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        derived = {"ok", "error_count", "warning_count", "summary"}
        return cls.model_validate({k: v for k, v in data.items() if k not in derived})


class DataValidationError(Exception):
    """Raised by the validation Lambda so the Step Functions error name says what failed."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary())
        self.report = report

    def __reduce__(self) -> tuple[type[DataValidationError], tuple[ValidationReport]]:
        return (type(self), (self.report,))


def validate_dataset(
    data: bytes,
    *,
    filename: str,
    contract: ModelContract,
    limits: ValidationLimits | None = None,
) -> ValidationReport:
    """Validate one uploaded file, held in memory, against ``contract``. Never raises on bad data."""
    return validate_stream(
        io.BytesIO(data), filename=filename, size=len(data), contract=contract, limits=limits
    )


def validate_stream(
    stream: BinaryIO,
    *,
    filename: str,
    size: int,
    contract: ModelContract,
    limits: ValidationLimits | None = None,
    batch_bytes: int = BATCH_BYTES,
    batch_rows: int = BATCH_ROWS,
    sink: BatchSink | None = None,
    workdir: Path | None = None,
) -> ValidationReport:
    """Validate a file read from ``stream`` in bounded batches. Never raises on bad data.

    ``size`` is the file's true size: an oversized file is rejected without being read
    (its report has no sha256). CSV is read once, front to back; Parquet needs a seekable
    stream (anything else is spooled to a temporary file) and is read twice, once for
    the sha256 and once by row group. The report is the same whatever the batch sizes.
    ``sink``, when given, gets every parsed batch of well-formed rows (the contract's
    columns by name, as read) and its row count: the profile is built from the same read
    (:class:`modelrail.profile_stream.ProfileBuilder`); it is only meaningful when the
    report passes. The duplicate check's row hashes go to temporary files under
    ``workdir`` (the system's temporary folder by default), 16 bytes a row.
    """
    return _Validator(
        stream,
        size=size,
        filename=filename,
        contract=contract,
        limits=limits or ValidationLimits(),
        batch_bytes=batch_bytes,
        batch_rows=batch_rows,
        sink=sink,
        workdir=workdir,
    ).run()


# --------------------------------------------------------------------------- helpers


def _join_bounded(head: str, parts: Sequence[str], limit: int) -> str:
    out = head
    for i, part in enumerate(parts):
        rest = len(parts) - i - 1
        reserve = len(f"; (+{rest} more)") if rest else 0
        piece = (" " if i == 0 else "; ") + part
        if len(out) + len(piece) + reserve <= limit:
            out += piece
            continue
        if i == 0:  # even the first error does not fit: cut it short
            room = limit - len(out) - reserve - 2
            out += " " + part[: max(room, 0)] + "…"
            if rest:
                out += f"; (+{rest} more)"
        else:
            out += f"; (+{len(parts) - i} more)"
        break
    return out[:limit]


def _show(value: object, limit: int = 40) -> str:
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, float | np.floating):
        text = _num(float(value))
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(value: float) -> str:
    return f"{value:g}"


def _pct(count: int, total: int) -> str:
    fraction = count / total if total else 0.0
    if 0 < fraction < 0.0001:
        return "<0.01%"
    return f"{fraction:.2%}" if fraction < 0.1 else f"{fraction:.1%}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _normalise_name(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


@dataclass(frozen=True)
class _Scan:
    """Where each CSV record lies in a piece of the file and how many fields it has."""

    header: list[str]
    starts: IntArray  # data records (blank lines skipped), byte ranges without the line end
    ends: IntArray
    fields: IntArray
    header_bytes: bytes

    def records(self, data: bytes, keep: BoolArray) -> bytes:
        """Only the kept records, each as written, one a line."""
        kept = np.flatnonzero(keep).tolist()
        starts, ends = self.starts.tolist(), self.ends.tolist()
        return b"".join(data[starts[i] : ends[i]] + b"\n" for i in kept)


def _field_counts(commas: IntArray, starts: IntArray, ends: IntArray, width: int) -> IntArray:
    """Fields per record: structural commas between its start and end, plus one. When
    there are as many commas as ``width`` fields in every record would need, checking
    that each record's share lies inside it is cheaper than counting per record."""
    per = width - 1
    if width > 1 and len(starts) and len(commas) == len(starts) * per:
        shares = commas.reshape(len(starts), per)
        if (shares[:, 0] >= starts).all() and (shares[:, -1] < ends).all():
            return np.full(len(starts), width, dtype=np.int64)
    counts = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    return counts.astype(np.int64)


def _scan_records(data: bytes, *, header: bool = True, width: int = 0) -> _Scan | None:
    """Records and their field counts, vectorised with numpy (no per-row Python).

    A delimiter or newline is structural when an even number of quotes precedes it. That
    is exact for RFC 4180 quoting, so every quote must sit where RFC 4180 allows it: an
    opening quote at the start of a field, a closing one at its end, or a doubled quote
    inside a quoted field. Anything else returns None and the csv module decides.
    ``data`` starts at a record boundary; with ``header`` its first record is the header.
    ``width`` (the header's, once known) only makes counting faster.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    size = len(buf)
    quotes = np.flatnonzero(buf == ord('"'))
    newlines = np.flatnonzero(buf == ord("\n"))
    commas = np.flatnonzero(buf == ord(","))
    if len(quotes):
        if len(quotes) % 2:
            return None  # an unterminated quote
        opening, closing = quotes[0::2], quotes[1::2]
        before = np.where(opening > 0, buf[np.maximum(opening - 1, 0)], ord("\n"))
        after = np.where(closing < size - 1, buf[np.minimum(closing + 1, size - 1)], ord("\n"))
        # a doubled quote "" inside a field: a closing quote right before an opening one
        doubled_open = np.zeros(len(opening), dtype=np.bool_)
        doubled_open[1:] = opening[1:] == closing[:-1] + 1
        doubled_close = np.zeros(len(closing), dtype=np.bool_)
        doubled_close[:-1] = doubled_open[1:]
        opens_ok = np.isin(before, (ord(","), ord("\n"))) | doubled_open
        closes_ok = np.isin(after, (ord(","), ord("\n"), ord("\r"))) | doubled_close
        if not (opens_ok.all() and closes_ok.all()):
            return None
        newlines = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
        commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
    ends = np.concatenate((newlines, [size])).astype(np.int64)
    nonempty = ends > starts
    crlf = np.zeros(len(ends), dtype=np.bool_)
    crlf[nonempty] = buf[ends[nonempty] - 1] == ord("\r")
    ends = ends - crlf
    nonblank = ends > starts
    starts, ends = starts[nonblank], ends[nonblank]
    fields = _field_counts(commas, starts, ends, width)
    if not header:
        return _Scan([], starts, ends, fields, b"")
    if not len(starts):
        return None
    header_bytes = data[int(starts[0]) : int(ends[0])]
    names = next(csv.reader([header_bytes.decode("utf-8")]), [])
    if len(names) != fields[0]:
        return None
    return _Scan(names, starts[1:], ends[1:], fields[1:], header_bytes)


def _cut(carry: bytes, block: bytes) -> tuple[bytes, bytes]:
    """The whole records of ``carry + block`` (everything at the end of the stream, when
    ``block`` is empty) and what follows them. Without a quote, the records end at the
    block's last newline, and the piece is made with one copy of the block."""
    if not block:
        return carry, b""
    end = -1 if b'"' in block or b'"' in carry else block.rfind(b"\n")
    if end >= 0:
        return b"".join((carry, memoryview(block)[: end + 1])), block[end + 1 :]
    data = carry + block
    cut = _structural_end(data)
    return data[:cut], data[cut:]


def _structural_end(data: bytes) -> int:
    """Where the last whole record of ``data`` ends (after its newline), or 0.

    Counting quotes is exact for RFC 4180 quoting; with stray quotes the cut may fall
    inside what the csv module would call a field, which only the csv-module path (that
    reads across pieces) has to know.
    """
    last = data.rfind(b"\n")
    if last < 0 or b'"' not in data:
        return last + 1
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))
    newlines = np.flatnonzero(buf == ord("\n"))
    structural = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
    return int(structural[-1]) + 1 if len(structural) else 0


def _unparseable_datetimes(text: pd.Series) -> BoolArray:
    """Which distinct values parse as no date/time.

    Vectorised per format: candidate formats are guessed (month-first and day-first)
    from values still unparsed, the one parsing most of a sample spread over them wins
    and parses them all; repeat, so blocks of different formats each get their pass.
    Then ISO 8601, then dateutil value by value for at most
    ``_MAX_MIXED_DATETIME_PARSE`` leftovers.
    """
    failed = np.ones(len(text), dtype=np.bool_)
    tried: set[str] = set()

    def parses(idx: IntArray, fmt: str) -> BoolArray:
        parsed = pd.to_datetime(text.iloc[idx], format=fmt, errors="coerce", utc=True)
        return parsed.notna().to_numpy(dtype=np.bool_)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(8):
            idx = np.flatnonzero(failed)
            sample = idx[:: max(1, len(idx) // 500)][:500]
            candidates: list[str] = []
            for value in text.iloc[sample[:10]]:
                for dayfirst in (False, True):
                    guess = guess_datetime_format(value, dayfirst=dayfirst)
                    if guess and guess not in tried and guess not in candidates:
                        candidates.append(guess)
            scores = [int(parses(sample, fmt).sum()) for fmt in candidates]
            if not scores or max(scores) == 0:
                break
            fmt = candidates[scores.index(max(scores))]
            tried.add(fmt)
            failed[idx[parses(idx, fmt)]] = False
        for fmt, cap in (("ISO8601", len(text)), ("mixed", _MAX_MIXED_DATETIME_PARSE)):
            idx = np.flatnonzero(failed)
            if not len(idx) or len(idx) > cap:
                break
            failed[idx[parses(idx, fmt)]] = False
    return failed


def _coded(series: Cells) -> tuple[IntArray, Any, Any]:
    """Codes and distinct values of a text column (a categorical as it is: the same
    uniques in the same order, from its codes), and the column's values for samples."""
    if isinstance(series, Coded):
        return series.codes, series.uniques, series
    series = _series(series)
    objects = series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype(object)
    codes, uniques = pd.factorize(objects)
    return codes, uniques, series.array


def _series(cells: Cells) -> pd.Series:
    """A batch's column as pandas reads it."""
    if isinstance(cells, Coded):
        return cells.series()
    return pd.Series(cells, copy=False) if isinstance(cells, np.ndarray) else cells


def _numeric_parts(series: Cells) -> tuple[str, Any, FloatArray, BoolArray, BoolArray]:
    """A numeric column's dtype kind, its values as read (for samples), as float64, and
    which are null and which are not numbers."""
    if isinstance(series, np.ndarray):  # float64 from the typed parse
        null = np.isnan(series)
        return "f", series, series, null, np.zeros(len(series), dtype=np.bool_)
    if isinstance(series, Coded):
        series = series.series()
    kind = series.dtype.kind
    raw: Any = series.to_numpy()
    if kind in "iu":
        values = series.to_numpy(dtype=np.float64)
        null = np.zeros(len(values), dtype=np.bool_)
        return kind, raw, values, null, null
    if kind == "f":
        values = series.to_numpy(dtype=np.float64)
        return kind, raw, values, np.isnan(values), np.zeros(len(values), dtype=np.bool_)
    null = series.isna().to_numpy(dtype=np.bool_)
    if kind in "OSU" or isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype)):
        parsed = pd.to_numeric(series.astype(object), errors="coerce")
        values = pd.Series(parsed).to_numpy(dtype=np.float64, na_value=np.nan)
    else:  # booleans, datetimes... are not numbers
        values = np.full(len(series), np.nan)
    return kind, raw, values, null, ~null & np.isnan(values)


class _Typing(ValueError):
    """A CSV batch does not parse with its columns' types fixed (text in a numeric
    column, a ragged record...): it is read again the way that decides every case."""


def _csv_options(width: int, text: list[int], numbers: list[int], data: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [str(i) for i in range(width)]
    types = dict.fromkeys((names[i] for i in numbers), pa.float64())
    # text as a dictionary: codes and distinct values, not a Python object a row
    types.update(dict.fromkeys((names[i] for i in text), pa.dictionary(pa.int32(), pa.string())))
    return (
        # one block: one chunk a column, converted without copies (a batch is bounded)
        pa_csv.ReadOptions(column_names=names, block_size=min(max(len(data), 1 << 20), 1 << 30)),
        pa_csv.ParseOptions(newlines_in_values=b'"' in data),
        pa_csv.ConvertOptions(
            column_types=types,
            null_values=list(NA_VALUES),
            strings_can_be_null=True,
            true_values=list(PANDAS_TRUE),
            false_values=list(PANDAS_FALSE),
            timestamp_parsers=[],
            check_utf8=False,  # every piece is checked before it is parsed (decode)
        ),
    )


def _csv_typed(data: bytes, width: int, text: list[int], numbers: list[int]) -> Any:
    """The parse of well-formed records (no header) with every type fixed: ``numbers``
    as float64, ``text`` as dictionaries. Raises :class:`_Typing` where that is not
    what :func:`_csv_table` would read.

    The same converter reads a number as float64 whether it is asked for or inferred,
    and pyarrow infers an int64 or float64 column for any batch whose values all parse
    as numbers, so fixing float64 changes nothing but the cost of inferring (about a
    third of the parse, D53); a column of nulls only is the one case pyarrow infers
    otherwise (its null type), restored by :func:`_cells`.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    read, parse, convert = _csv_options(width, text, numbers, data)
    try:
        return pa_csv.read_csv(
            pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as exc:
        raise _Typing(str(exc)) from None


def _csv_plain(data: bytes, width: int, text: list[int], numbers: list[int], records: int) -> Any:
    """:func:`_csv_typed` of a batch taken as ``records`` well-formed records, one a line;
    :class:`_Typing` if it is not (pyarrow refuses a record of another width)."""
    table = _csv_typed(data, width, text, numbers)
    if table.num_rows != records:  # a blank line (pyarrow skips it) is not a record
        raise _Typing(f"{table.num_rows} records parsed, {records} lines")
    return table


def _csv_table(data: bytes, width: int, text: list[int], numbers: list[int]) -> Any:
    """The parse of one batch of well-formed records (no header): a pyarrow Table (the
    GIL released: it runs on a thread of its own while the batch before is checked), or
    pandas' frame without pyarrow.

    Columns are positions; ``text`` columns stay text, ``numbers`` are float64 when the
    batch allows it (:func:`_csv_typed`), the others are inferred. pyarrow's reader is
    several times faster than pandas' C parser, so it is used when present, set up as
    pandas reads: the same missing-value markers, booleans only from true/false words
    (not 0/1).
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pa_csv
    except ImportError:  # pragma: no cover - pyarrow is in every runtime we ship
        return pd.read_csv(
            io.BytesIO(data),
            header=None,
            names=list(range(width)),
            index_col=False,
            dtype=dict.fromkeys(text, str),
            encoding="utf-8",
            engine="c",
            low_memory=False,
        )
    if numbers:
        try:
            return _csv_typed(data, width, text, numbers)
        except _Typing:
            pass  # text in a numeric column: pyarrow infers it, as pandas would
    read, parse, convert = _csv_options(width, text, [], data)
    return pa_csv.read_csv(
        pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=convert
    )


def _csv_cells(
    parse: Callable[..., Any], data: bytes, width: int, *args: Any
) -> tuple[Mapping[int, Cells], int]:
    """``parse`` of a batch as its columns by position (:func:`_cells`) and its row count:
    both on the parser's thread."""
    table = parse(data, width, *args)
    rows = len(table) if isinstance(table, pd.DataFrame) else table.num_rows
    return _cells(table, width), rows


def _cells(table: Any, width: int) -> Mapping[int, Cells]:
    """:func:`_csv_table`'s parse as columns by position: float64 columns as numpy (NaN
    for null; a column of nulls only as pandas reads the null type, objects), dictionary
    columns as :class:`Coded`, anything else as pandas reads it."""
    if isinstance(table, pd.DataFrame):
        return {pos: table[pos] for pos in range(width)}
    import pyarrow as pa

    table = table.unify_dictionaries()
    out: dict[int, Cells] = {}
    for pos, chunked in enumerate(table.columns):
        kind = chunked.type
        if pa.types.is_float64(kind) and chunked.null_count < len(chunked):
            out[pos] = chunked.to_numpy()  # nulls as NaN
        elif pa.types.is_dictionary(kind) and chunked.num_chunks:
            whole = chunked.combine_chunks()
            codes = whole.indices.fill_null(-1).to_numpy()  # int32
            out[pos] = Coded(codes, whole.dictionary.to_pylist())
        elif pa.types.is_float64(kind):  # nulls only: what the inferred null type reads as
            out[pos] = pd.Series([None] * len(chunked), dtype=object)
        else:
            out[pos] = chunked.to_pandas()
    return out


def _read_parquet_batches(
    stream: BinaryIO, batch_rows: int
) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """The column names and the frames of ``batch_rows`` rows, as ``pd.read_parquet`` reads
    them (the pandas metadata's index is restored as the index, not a column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream)
    schema = parquet.schema_arrow
    header = [str(c) for c in schema.empty_table().to_pandas().columns]
    batches = parquet.iter_batches(batch_size=batch_rows)
    frames = (pa.Table.from_batches([b], schema=schema).to_pandas() for b in batches)
    return header, frames


class _Stop(Exception):
    """A problem that makes further checks meaningless was recorded."""


# --------------------------------------------------------------------------- tallies


@dataclass
class _Tally:
    """One check of one column over all batches: count, first rows, first samples."""

    count: int = 0
    rows: list[int] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    text_samples: list[str] = field(default_factory=list)  # the values as text (CSV)
    what: tuple[str, str] = ("", "")

    def observe(
        self, mask: BoolArray, row_numbers: IntArray, values: Any = None, text: Any = None
    ) -> None:
        if not mask.any():  # the common case: no allocation
            return
        idx = np.flatnonzero(mask)
        self.count += len(idx)
        room = MAX_EXAMPLES - len(self.rows)
        if room > 0:
            self.rows += [int(r) for r in row_numbers[idx[:room]]]
        room = _SAMPLES - len(self.samples)
        if values is not None and room > 0:
            shown = idx[:room].tolist()
            self.samples += [f"{_show(values[i])} in row {int(row_numbers[i])}" for i in shown]
            texts = values if text is None else text
            self.text_samples += [f"{_show(texts[i])} in row {int(row_numbers[i])}" for i in shown]


@dataclass
class _ColumnState:
    tallies: dict[ViolationCode, _Tally] = field(default_factory=dict)
    lowest: float = math.inf  # of the values out of range
    highest: float = -math.inf
    unknown: Counter[str] = field(default_factory=Counter)
    saw_text: bool = False
    """A CSV batch read the (numeric) column as text: as pandas reads the whole file then,
    samples show every value as the text it was."""

    def tally(self, code: ViolationCode) -> _Tally:
        return self.tallies.setdefault(code, _Tally())


@dataclass
class _TargetState:
    """The valid target labels: counted per class, or their range (regression)."""

    count: int = 0
    low: float = math.inf
    high: float = -math.inf
    classes: Counter[Any] = field(default_factory=Counter)

    def observe(self, labels: Any, *, regression: bool) -> None:
        values = np.asarray(labels)
        if not len(values):
            return
        self.count += len(values)
        if regression:
            floats = values.astype(np.float64)
            self.low, self.high = (
                min(self.low, float(floats.min())),
                max(self.high, float(floats.max())),
            )
        else:
            self.classes.update(pd.Series(values).value_counts(dropna=True).to_dict())


_SAMPLES = 3
_COLUMN_ORDER = (
    ViolationCode.NULL_VALUES,
    ViolationCode.INVALID_NUMBER,
    ViolationCode.NON_FINITE_NUMBER,
    ViolationCode.NOT_INTEGER,
    ViolationCode.OUT_OF_RANGE,
    ViolationCode.INVALID_BOOLEAN,
    ViolationCode.UNKNOWN_CATEGORY,
    ViolationCode.INVALID_DATETIME,
)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_QUEUED = 2  # batches handed to the row-hash thread and not yet taken


def _column_hash(series: Cells, numeric: bool) -> UIntArray:
    """64-bit hashes under which two cells are equal when ``DataFrame.duplicated`` says so.

    Numbers compare as float64 (so ``3`` in one batch and ``3.0`` in another are the same
    value, whatever dtype each batch inferred; ``-0.0`` is ``0.0``); nulls are one value.
    """
    if isinstance(series, np.ndarray):  # float64 from the typed parse, NaN for null
        null = np.isnan(series)
        return _null_hash(_number_hash(series, null), null)
    if isinstance(series, Coded):
        return _null_hash(_text_hash(series.codes, series.uniques), series.codes < 0)
    null = series.isna().to_numpy(dtype=np.bool_)
    if numeric or series.dtype.kind in "iufb":
        kind = series.dtype.kind
        if kind in "iufb":
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            parsed = pd.to_numeric(series.astype(object), errors="coerce")
            values = pd.Series(parsed).to_numpy(dtype=np.float64, na_value=np.nan)
        text = ~null & np.isnan(values)  # not a number: compared as text
        out = _number_hash(values, np.isnan(values))
        if text.any():
            raw = series[text].astype(str).to_numpy(dtype=object)
            hashed = pd.util.hash_array(raw, categorize=False)
            out[text] = np.asarray(hashed, dtype=np.uint64) ^ np.uint64(1)
    elif series.dtype.kind in "mM" or isinstance(series.dtype, pd.DatetimeTZDtype):
        out = cast(UIntArray, pd.util.hash_pandas_object(series, index=False).to_numpy())
    else:
        codes, uniques = pd.factorize(series)
        out = _text_hash(codes, uniques)
    return _null_hash(np.asarray(out, dtype=np.uint64), null)


def _number_hash(values: FloatArray, nan: BoolArray) -> UIntArray:
    """The numbers' hashes (NaN hashed as 0.0: the caller decides what it stands for)."""
    values = np.where(nan, 0.0, values) if nan.any() else values
    values = values + 0.0  # -0.0 -> 0.0, and a new array
    bits = values.view(np.uint64)
    bits ^= _GOLDEN
    return mix64(bits)


def _text_hash(codes: IntArray, uniques: Any) -> UIntArray:
    distinct = np.asarray([str(u) for u in uniques], dtype=object)
    if not len(distinct):
        return np.zeros(len(codes), np.uint64)
    hashed = np.asarray(pd.util.hash_array(distinct, categorize=False), dtype=np.uint64)
    return hashed[np.maximum(codes, 0)]


def _null_hash(hashes: UIntArray, null: BoolArray) -> UIntArray:
    """``hashes`` (a new array, written in place) with every null one value."""
    if null.any():
        hashes[null] = np.uint64(0x5555555555555555)
    return hashes


@dataclass(frozen=True)
class _Parsing:
    """A CSV batch handed to the parser: its parse to come, its bytes (well-formed
    records, no header), its row numbers. ``plain``: its line count, when its lines are
    taken as its records, all well-formed, unless the parse says otherwise; its row
    numbers are known once it is (:meth:`_Validator.settle`)."""

    table: Future[Any]
    data: bytes
    row_numbers: IntArray
    plain: int | None = None


_NO_ROWS = np.zeros(0, dtype=np.int64)


@dataclass
class _Piece:
    """Whole CSV records from the stream, ending at a record boundary."""

    data: bytes
    lines_before: int  # newlines in the file before this piece
    newlines: int  # in this piece
    decoded: str | None = None

    @property
    def text(self) -> str:
        if self.decoded is None:
            self.decoded = self.data.decode("utf-8", errors="replace")
        return self.decoded


# --------------------------------------------------------------------------- validator


class _Validator:
    """One pass over the stream in bounded batches; messages are built at the end.

    Memory: one batch of bytes and its parsed frame, plus 8 bytes a row for the
    duplicate check's row hashes, plus per-column tallies of bounded size (the counts
    of unknown categories and of target classes grow with their distinct values).
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        size: int,
        filename: str,
        contract: ModelContract,
        limits: ValidationLimits,
        batch_bytes: int,
        batch_rows: int,
        sink: BatchSink | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.stream = stream
        self.sink = sink
        self.size = size
        self.filename = filename
        self.contract = contract
        self.limits = limits
        self.batch_bytes = max(batch_bytes, 1)
        self.batch_rows = max(batch_rows, 1)
        self.hasher = hashlib.sha256()
        self.hashed = False
        self.violations: list[Violation] = []
        self.format: Literal["csv", "parquet"] | None = None
        self.header: list[str] = []
        self.rows = 0  # records, ragged ones included
        self.good_rows = 0
        self.positions: dict[str, int] = {}  # column name -> first position in the header
        self.columns: dict[str, _ColumnState] = {}
        self.target: _TargetState | None = None
        self.row_hashes = _HashPartitions(workdir, size)
        self.ragged: list[IntArray] = []  # 0-based record indices of ragged records
        self.ragged_first: list[tuple[int, int]] = []  # (record index, fields), the first few
        self.last_fields = 0
        self.header_checked = False
        self.header_violations: list[Violation] = []
        self.header_line = b""
        self.head_bytes = bytes(8)  # the file's first bytes, for hints
        self.utf8_error: Violation | None = None
        self.blank = True  # whitespace only so far
        self.structure: Violation | None = None  # malformed CSV, per the csv module
        self.wrong_delimiter: Violation | None = None
        self.parse_error: Violation | None = None  # pandas could not parse a batch
        self.batch_data: bytes | None = None  # the CSV batch being observed
        self.parser: ThreadPoolExecutor | None = None
        self.parsing: _Parsing | None = None  # the CSV batch being parsed
        self.kinds: tuple[list[int], list[int]] | None = None  # text and number positions
        self.row_hasher: ThreadPoolExecutor | None = None  # mixes the row hashes, in order
        self.hashing: deque[Future[None]] = deque()

    # ------------------------------------------------------------------ plumbing

    def violation(
        self,
        code: ViolationCode,
        message: str,
        *,
        column: str | None = None,
        count: int = 1,
        examples: Sequence[int | str] = (),
        severity: Severity = "error",
    ) -> Violation:
        return Violation(
            code=code,
            column=column,
            message=" ".join(message.split()),
            count=count,
            examples=tuple(examples)[:MAX_EXAMPLES],
            severity=severity,
        )

    def add(self, code: ViolationCode, message: str, **kwargs: Any) -> None:
        self.violations.append(self.violation(code, message, **kwargs))

    def stop(self, code: ViolationCode, message: str, **kwargs: Any) -> _Stop:
        self.add(code, message, **kwargs)
        return _Stop()

    def graded(self, count: int, tolerance: float) -> Severity:
        total = max(self.good_rows, 1)
        return "warning" if count / total <= tolerance else "error"

    def read(self) -> bytes:
        block = self.stream.read(self.batch_bytes)
        self.hasher.update(block)
        return block

    def drain(self) -> None:
        """Hash what is left of the stream."""
        while self.read():
            pass
        self.hashed = True

    def run(self) -> ValidationReport:
        try:
            self.check_file()
            if self.format == "csv":
                self.read_csv()
            else:
                self.read_parquet()
            self.finish()
        except _Stop:
            pass
        finally:
            for pool in (self.parser, self.row_hasher):
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
        return ValidationReport(
            model=self.contract.name,
            filename=self.filename,
            format=self.format,
            rows=self.rows,
            columns=tuple(self.header),
            sha256=self.hasher.hexdigest() if self.hashed else "",
            size_bytes=self.size,
            violations=tuple(self.violations),
            limits=self.limits,
        )

    def finish(self) -> None:
        """Everything after the structure: header, columns, dataset, in today's order."""
        if self.good_rows == 0:
            raise self.stop(
                ViolationCode.NO_DATA_ROWS,
                f"{self.filename!r} has a header but no data rows",
                count=0,
            )
        for col in self.contract.columns:
            state = self.columns.get(col.name)
            if state is not None:
                self.report_column(col, state)
        self.check_dataset()

    # ------------------------------------------------------------------ 1. the file

    def check_file(self) -> None:
        size = self.size
        suffix = PurePosixPath(self.filename).suffix.lower()
        self.format = "csv" if suffix == ".csv" else "parquet" if suffix == ".parquet" else None
        if size == 0:
            self.hashed = True
            raise self.stop(ViolationCode.EMPTY_FILE, f"{self.filename!r} is empty (0 bytes)")
        if size > self.contract.max_bytes:
            # never read an oversized object: the report carries no sha256
            raise self.stop(
                ViolationCode.FILE_TOO_LARGE,
                f"{self.filename!r} is {size:,} bytes; the contract allows at most "
                f"{self.contract.max_bytes:,} bytes (max_bytes)",
                count=size,
            )
        if self.format is None:
            shown = f"suffix {suffix!r}" if suffix else "no suffix"
            raise self.stop(
                ViolationCode.UNSUPPORTED_FORMAT,
                f"{self.filename!r} has {shown}; upload a .csv or .parquet file",
                examples=[suffix] if suffix else [],
            )

    # ------------------------------------------------------------------ 2. structure: CSV

    def read_csv(self) -> None:
        """Stream the file in pieces of whole records; decide precedence at the end.

        Today's order of precedence is kept although problems are found in file order:
        invalid UTF-8 anywhere wins over a whitespace-only file, which wins over
        malformed CSV, which wins over everything else.
        """
        pieces = self.pieces()
        try:
            self.scan_pieces(pieces)
            self.observe_parsed()  # the last batch
        except _Stop:  # the csv module found malformed quoting: nothing else counts
            self.structure = self.violations.pop()
        finally:
            pieces.close()  # no read ahead once the rest is drained here
        self.drain()
        final = self.utf8_error or (self.whitespace_only() if self.blank else None)
        final = final or self.structure
        if final is not None:
            self.violations, self.header, self.rows = [final], [], 0
            raise _Stop()
        if self.wrong_delimiter is not None:
            self.violations = [self.wrong_delimiter]
            raise _Stop()
        self.report_ragged()
        if self.parse_error is not None:
            self.violations.append(self.parse_error)
            raise _Stop()
        self.violations += self.header_violations

    def whitespace_only(self) -> Violation:
        return self.violation(
            ViolationCode.EMPTY_FILE,
            f"{self.filename!r} contains only whitespace ({self.size:,} bytes)",
        )

    def pieces(self) -> Generator[_Piece, None, None]:
        """Whole records, about ``batch_bytes`` at a time; UTF-8 checked on the way. The
        next block is read and hashed on a thread of its own meanwhile (file reads and
        sha256 release the GIL)."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-read") as reader:
            ahead = reader.submit(self.read)

            def read() -> bytes:
                nonlocal ahead
                block = ahead.result()
                if block:
                    ahead = reader.submit(self.read)
                return block

            yield from self._pieces(read)

    def _pieces(self, read: Callable[[], bytes]) -> Iterator[_Piece]:
        block = read()
        while 0 < len(block) < len(self.head_bytes):  # enough to see a BOM or a magic number
            more = read()
            if not more:
                break
            block += more
        self.head_bytes = block[:8]
        offset = len(_UTF8_BOM) if block.startswith(_UTF8_BOM) else 0
        carry, lines = block[offset:], 0
        while True:
            block = read()
            whole, carry = _cut(carry, block)
            if whole:
                piece = _Piece(whole, lines, whole.count(b"\n"))
                self.decode(piece, offset)
                yield piece
                offset += len(whole)
                lines += piece.newlines
            if not block:
                self.hashed = True
                return

    def decode(self, piece: _Piece, offset: int) -> None:
        """Check that ``piece`` is UTF-8 and whether it is blank. ASCII, the common case,
        is valid UTF-8 and is checked without decoding it (the csv module's path decodes
        it when it needs the text)."""
        data = piece.data
        if data.isascii():
            if self.blank and data.strip(_ASCII_SPACE):
                self.blank = False
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.utf8_error is None:
                message = self._not_utf8_message(data, exc, offset, piece.lines_before)
                self.utf8_error = self.violation(ViolationCode.NOT_UTF8, message)
            text = data.decode("utf-8", errors="replace")
        piece.decoded = text
        if self.blank and text.strip():
            self.blank = False

    def _not_utf8_message(
        self, piece: bytes, exc: UnicodeDecodeError, offset: int, lines: int
    ) -> str:
        at = offset + exc.start
        line = lines + piece.count(b"\n", 0, exc.start) + 1
        bad = piece[exc.start : exc.start + 4].hex(" ")
        if self.head_bytes.startswith(b"PAR1"):
            hint = " (it looks like a Parquet file: name it .parquet)"
        elif self.head_bytes.startswith(b"\x1f\x8b"):
            hint = " (it looks gzip-compressed: upload it uncompressed)"
        elif self.head_bytes.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = " (it looks UTF-16 encoded)"
        else:
            hint = " (save it as UTF-8; it is probably Latin-1/Windows-1252)"
        return (
            f"{self.filename!r} is not valid UTF-8: invalid byte(s) {bad} at byte offset "
            f"{at:,} (line {line:,}){hint}"
        )

    def scan_pieces(self, pieces: Iterator[_Piece]) -> None:
        """The numpy scanner while it can; the csv module from the first piece it cannot."""
        for whole in pieces:
            if self.utf8_error is not None:
                continue
            piece = whole if self.header_checked else self.plain_header(whole)
            if not piece.data:
                continue
            records = self.plain_records(piece)
            if records is not None:
                self.plain_batch(piece.data, records)
                continue
            lone_cr = b"\r" in piece.data and piece.data.count(b"\r") != piece.data.count(b"\r\n")
            scan = (
                None
                if lone_cr
                else _scan_records(
                    piece.data, header=not self.header_checked, width=len(self.header)
                )
            )
            if scan is None:
                self.scan_with_csv_module(piece, pieces)
                return
            if not self.header_checked:
                self.start(scan.header)
                self.header_line = scan.header_bytes
            good = scan.fields == len(self.header)
            body = (
                piece.data[int(scan.starts[0]) :]
                if good.all() and len(scan.starts)
                else scan.records(piece.data, good)
            )
            self.batch(scan.fields, body)

    def scan_with_csv_module(self, first: _Piece, rest: Iterator[_Piece]) -> None:
        """From ``first`` on, records as the csv module reads them, in batches of rows."""
        lines = (  # a piece ends with a newline, so no line spans two pieces
            line
            for piece in itertools.chain([first], rest)
            for line in io.StringIO(piece.text, newline="")
        )
        start = first.lines_before
        reader = csv.reader(lines, strict=True)
        records: list[list[str]] = []
        line = 0  # the last line of the previous record
        try:
            for record in reader:
                line = reader.line_num
                if not record:
                    continue
                if not self.header_checked:
                    self.start(record)
                    out = io.StringIO()
                    csv.writer(out, lineterminator="").writerow(record)
                    self.header_line = out.getvalue().encode("utf-8")
                    continue
                records.append(record)
                if len(records) >= self.batch_rows:
                    self.csv_batch(records)
                    records = []
        except csv.Error as exc:
            raise self.stop(
                ViolationCode.MALFORMED_CSV,
                f"{self.filename!r} is not well-formed CSV in the record starting at line "
                f"{start + line + 1:,}: {exc} (an unterminated or stray quote?)",
            ) from None
        if records:
            self.csv_batch(records)

    def csv_batch(self, records: list[list[str]]) -> None:
        counts = np.fromiter((len(r) for r in records), dtype=np.int64, count=len(records))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(r for r in records if len(r) == len(self.header))
        self.batch(counts, out.getvalue().encode("utf-8"))

    def start(self, header: list[str]) -> None:
        """The header is known: the header and schema checks, before any row."""
        self.header = header
        self.header_checked = True
        width = len(header)
        if width == 1 and len(self.contract.columns) > 1:
            found = {d: header[0].count(d) for d in _OTHER_DELIMITERS if d in header[0]}
            if found:
                delim = max(found, key=lambda d: found[d])
                self.wrong_delimiter = self.violation(
                    ViolationCode.WRONG_DELIMITER,
                    f"the header is a single column {_show(header[0], 60)}: the file looks "
                    f"{_OTHER_DELIMITERS[delim]}-delimited; use ',' as the delimiter",
                    examples=[delim],
                )
                return
        before = len(self.violations)
        self.check_header()
        self.header_violations = self.violations[before:]
        del self.violations[before:]

    def plain_header(self, piece: _Piece) -> _Piece:
        """Read the header off ``piece`` if it is a plain line (the fields between commas:
        no quote, no carriage return but the line end's, the first line); what is left of
        the piece. Otherwise ``piece``, for the scanner."""
        data = piece.data
        end = data.find(b"\n")
        line = data[:end].removesuffix(b"\r") if end > 0 else b""
        if not line or b'"' in data or b"\r" in line or b"\0" in line:
            return piece
        self.start(line.decode("utf-8", errors="replace").split(","))
        self.header_line = line
        return _Piece(data[end + 1 :], piece.lines_before + 1, piece.newlines - 1)

    def plain_records(self, piece: _Piece) -> int | None:
        """How many records ``piece`` holds if it is one record a line: after the header,
        no quote and no lone carriage return (the lines are the records unless one is
        blank); None otherwise.

        Such a piece needs no scan: pyarrow's reader refuses a record of another width
        than the header's and skips blank lines, so reading as many rows as there are
        lines says that every record is well-formed; the scanner reads the piece only if
        it is not so (D53).
        """
        data = piece.data
        if not self.header_checked or self.structure_only() or not _HAS_PYARROW:
            return None
        if b'"' in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
            return None
        return piece.newlines + (not data.endswith(b"\n"))

    def plain_batch(self, data: bytes, records: int) -> None:
        """``records`` lines, each taken as a well-formed record until parsed."""
        self.settle()
        self.submit(_Parsing(self._parse_csv(data, records), data, _NO_ROWS, records))

    def batch(self, counts: IntArray, body: bytes) -> None:
        """One batch of records: ``counts`` fields each, ``body`` the well-formed ones."""
        self.settle()
        good = self.count_fields(counts)
        if self.structure_only() or not good.any():
            return
        row_numbers = (np.flatnonzero(good) + self.rows - len(counts) + 1).astype(np.int64)
        self.submit(_Parsing(self._parse_csv(body), body, row_numbers))

    def count_fields(self, counts: IntArray) -> BoolArray:
        """Count the next records, ``counts`` fields each, noting the ragged ones; which
        are well-formed."""
        good: BoolArray = counts == len(self.header)
        first = self.rows
        self.rows += len(counts)
        if len(counts):
            self.last_fields = int(counts[-1])
        bad = np.flatnonzero(~good)
        if len(bad):
            self.ragged.append(bad + first)
            room = _SAMPLES + MAX_EXAMPLES - len(self.ragged_first)
            self.ragged_first += [(int(i) + first, int(counts[i])) for i in bad[:room]]
        return good

    def settle(self) -> None:
        """Count the records of the batch being parsed if it was taken as plain (the
        parse says whether its lines are its records, all well-formed), so the next
        batch knows its rows; if they are not, the batch is scanned and checked now."""
        plain = self.parsing
        if plain is None or plain.plain is None:
            return
        try:
            plain.table.result()
        except _Typing:  # a ragged record, a blank line, text in a numeric column...
            self.parsing = None
            self.rescan(plain)
            return
        first, self.rows = self.rows, self.rows + plain.plain
        self.last_fields = len(self.header)
        row_numbers = np.arange(first + 1, self.rows + 1, dtype=np.int64)
        self.parsing = _Parsing(plain.table, plain.data, row_numbers)

    def rescan(self, plain: _Parsing) -> None:
        """A plain batch that pyarrow did not read as one well-formed record a line with
        every type fixed: scanned, and its well-formed records parsed and checked as any
        other batch's."""
        scan = _scan_records(plain.data, header=False, width=len(self.header))
        assert scan is not None  # no quote in a plain batch: the scan cannot fail
        good = self.count_fields(scan.fields)
        if self.structure_only() or not good.any():
            return
        body = plain.data if good.all() else scan.records(plain.data, good)
        first = self.rows - len(scan.fields)
        row_numbers = (np.flatnonzero(good) + first + 1).astype(np.int64)
        self.observe_parsed(_Parsing(self._parse_csv(body), body, row_numbers))

    def submit(self, parsing: _Parsing) -> None:
        """Parse ``parsing`` while the batch before it is checked."""
        previous, self.parsing = self.parsing, parsing
        if previous is not None:
            self.observe_parsed(previous)

    def observe_parsed(self, parsing: _Parsing | None = None) -> None:
        """Check a batch once parsed: ``parsing``, or the one still being parsed."""
        if parsing is None:
            self.settle()
            parsing, self.parsing = self.parsing, None
            if parsing is None:
                return
        parsed = self._parsed(parsing.table)
        if parsed is None or self.parse_error is not None:
            return  # a batch failed to parse: the report ends with that
        frame, rows = parsed
        row_numbers = parsing.row_numbers
        if rows != len(row_numbers):  # defensive: never report wrong rows
            row_numbers = np.arange(1, rows + 1, dtype=np.int64) + self.good_rows
        self.batch_data = parsing.data
        self.observe(frame, row_numbers)

    def structure_only(self) -> bool:
        """Past a problem that the report ends with: only count the records."""
        stops = (self.wrong_delimiter, self.parse_error, self.utf8_error, self.structure)
        return any(v is not None for v in stops)

    def report_ragged(self) -> None:
        n = sum(len(b) for b in self.ragged)
        if not n:
            return
        width = len(self.header)
        rows = [i + 1 for i, _ in self.ragged_first[:MAX_EXAMPLES]]
        last = self.rows
        if n == 1 and rows[0] == last and self.last_fields < width:
            message = (
                f"the last row (row {last:,}) has {self.last_fields} of {width} fields: "
                "the file looks truncated (an interrupted upload or export?)"
            )
        else:
            shown = ", ".join(f"row {i + 1} has {c}" for i, c in self.ragged_first[:3])
            message = (
                f"{_plural(n, 'row')} ({_pct(n, self.rows)}) {'has' if n == 1 else 'have'} a "
                f"different number of fields than the header's {width} ({shown}); check for "
                "unquoted delimiters inside values or missing fields"
            )
        self.add(ViolationCode.RAGGED_ROWS, message, count=n, examples=rows)

    def _text_column(self, pos: int) -> npt.NDArray[np.object_] | None:
        """Column ``pos`` of the current CSV batch as text, or None (Parquet)."""
        if self.batch_data is None:
            return None
        frame = pd.read_csv(
            io.BytesIO(self.batch_data),
            header=None,
            names=list(range(len(self.header))),
            usecols=[pos],
            index_col=False,
            dtype=str,
            engine="c",
        )
        return frame[pos].to_numpy(dtype=object)

    def _parse_csv(self, data: bytes, plain: int | None = None) -> Future[Any]:
        """Start parsing a batch on the parser's thread (batches are parsed in order);
        ``plain``: its record count, when it is taken as one well-formed record a line."""
        if self.kinds is None:
            as_text = {ColumnType.CATEGORICAL, ColumnType.BOOLEAN, ColumnType.DATETIME}
            numeric = {ColumnType.NUMERIC, ColumnType.INTEGER}
            declared = {c.name: c for c in self.contract.columns}
            text = [
                pos
                for pos, name in enumerate(self.header)
                if (col := declared.get(name)) is None or col.type in as_text
            ]
            numbers = [
                pos
                for name, pos in self.positions.items()
                if (col := declared.get(name)) is not None and col.type in numeric
            ]
            self.kinds = (text, sorted(numbers))
        if self.parser is None:
            self.parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-parse")
        width, (text, numbers) = len(self.header), self.kinds
        if plain is None:
            return self.parser.submit(_csv_cells, _csv_table, data, width, text, numbers)
        return self.parser.submit(_csv_cells, _csv_plain, data, width, text, numbers, plain)

    def _parsed(self, table: Future[Any]) -> tuple[Mapping[int, Cells], int] | None:
        """A batch's columns by position and its row count; None if it failed to parse."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return cast(tuple[Mapping[int, Cells], int], table.result())
        except (pd.errors.ParserError, ValueError) as exc:  # ArrowInvalid is a ValueError
            if self.parse_error is None:  # the first batch in file order that failed
                self.parse_error = self.violation(
                    ViolationCode.MALFORMED_CSV,
                    f"{self.filename!r} cannot be parsed as CSV: {_clip(str(exc), 200)}",
                )
            return None

    # ------------------------------------------------------------------ 2. structure: Parquet

    def read_parquet(self) -> None:
        """Row groups in batches of ``batch_rows``; the sha256 in a first sequential pass."""
        try:
            import pyarrow.parquet  # noqa: F401 - is there an engine at all?
        except ImportError:
            self.drain()
            raise self.stop(
                ViolationCode.PARQUET_ENGINE_MISSING,
                f"{self.filename!r} is Parquet, but this runtime cannot read Parquet "
                "(pyarrow is not installed); upload CSV or add pyarrow to the function",
            ) from None
        stream = self.stream
        if not stream.seekable():  # Parquet needs its footer first: spool to disk
            spooled = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the validator
            shutil.copyfileobj(stream, spooled, self.batch_bytes)
            stream = cast(BinaryIO, spooled)
        stream.seek(0)
        self.stream = stream
        self.drain()
        stream.seek(0)
        try:
            header, frames = _read_parquet_batches(stream, self.batch_rows)
            self.header = header
            self.header_checked = True
            self.check_header()
            for frame in frames:
                self.parquet_batch(frame)
        except Exception as exc:  # pyarrow raises many types for a corrupt file
            self.violations, self.header, self.rows = [], [], 0
            raise self.stop(
                ViolationCode.UNREADABLE_PARQUET,
                f"{self.filename!r} is not a readable Parquet file: {_clip(str(exc), 200)}",
            ) from None

    def parquet_batch(self, frame: pd.DataFrame) -> None:
        frame = frame.reset_index(drop=True)
        frame.columns = pd.RangeIndex(frame.shape[1])
        for pos in range(frame.shape[1]):
            # nested values (lists, structs) are unhashable: check them as their text
            series = frame[pos]
            first = series.first_valid_index() if series.dtype == object else None
            if first is not None and isinstance(
                series[first], list | tuple | dict | set | np.ndarray
            ):
                frame[pos] = series.map(str, na_action="ignore")
        row_numbers = np.arange(self.rows + 1, self.rows + len(frame) + 1, dtype=np.int64)
        self.rows += len(frame)
        self.observe(frame, row_numbers)

    # ------------------------------------------------------------------ 3. schema

    def check_header(self) -> None:
        seen: dict[str, list[int]] = {}
        for pos, name in enumerate(self.header):
            seen.setdefault(name, []).append(pos)
        for name, positions in seen.items():
            self.positions[name] = positions[0]
            if len(positions) > 1:
                where = ", ".join(str(p + 1) for p in positions)
                self.add(
                    ViolationCode.DUPLICATE_HEADER,
                    f"column {_show(name, 60)} appears {len(positions)} times in the header "
                    f"(positions {where}); only the first is checked",
                    column=name,
                    count=len(positions),
                    examples=[p + 1 for p in positions],
                )
        declared = {c.name for c in self.contract.columns}
        by_normal = {_normalise_name(n): n for n in self.header if n not in declared}
        declared_by_normal = {_normalise_name(n): n for n in declared if n not in seen}
        for col in self.contract.columns:
            if col.name in seen:
                self.columns[col.name] = _ColumnState()
                continue
            if not col.required:
                continue
            near = by_normal.get(_normalise_name(col.name))
            hint = (
                f" (found {_show(near, 60)}: names are case- and space-sensitive)" if near else ""
            )
            if col.name == self.contract.target:
                self.add(
                    ViolationCode.MISSING_TARGET,
                    f"required column {col.name!r} (the target) is missing{hint}",
                    column=col.name,
                )
            else:
                self.add(
                    ViolationCode.MISSING_COLUMN,
                    f"required column {col.name!r} is missing{hint}",
                    column=col.name,
                )
        for name in seen:
            if name in declared:
                continue
            shown = _show(name, 60) if name.strip() else f"(unnamed, position {seen[name][0] + 1})"
            near = declared_by_normal.get(_normalise_name(name))
            if near:
                shown += f" (did you mean {near!r}?)"
            if self.limits.allow_extra_columns:
                self.add(
                    ViolationCode.UNEXPECTED_COLUMN,
                    f"column {shown} is not in the contract and will be ignored",
                    column=name,
                    severity="warning",
                )
            else:
                self.add(
                    ViolationCode.UNEXPECTED_COLUMN,
                    f"column {shown} is not in the contract (declare it, remove it, "
                    "or set allow_extra_columns)",
                    column=name,
                )
        if self.contract.target in seen:
            self.target = _TargetState()

    # ------------------------------------------------------------------ 4. columns, a batch

    def observe(self, frame: Mapping[int, Cells] | pd.DataFrame, row_numbers: IntArray) -> None:
        """Tally one batch's well-formed rows (``frame``: the columns by position)."""
        rows = len(row_numbers)
        self.good_rows += rows
        numeric = {ColumnType.NUMERIC, ColumnType.INTEGER}
        for col in self.contract.columns:
            pos = self.positions.get(col.name)
            if pos is None:
                continue
            series, state = frame[pos], self.columns[col.name]
            if col.type in numeric:
                self._observe_numeric(col, series, state, row_numbers)
            elif col.type is ColumnType.BOOLEAN:
                self._observe_boolean(col, series, state, row_numbers)
            elif col.type is ColumnType.CATEGORICAL:
                self._observe_categorical(col, series, state, row_numbers)
            else:
                self._observe_datetime(col, series, state, row_numbers)
        declared = {c.name: c.type in numeric for c in self.contract.columns}
        cells = [(frame[pos], declared.get(self.header[pos], False)) for pos in self.hashed_at]
        if self.row_hasher is None:
            self.row_hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="row-hash")
        self.hashing.append(self.row_hasher.submit(self._hash_rows, cells, self.good_rows - rows))
        while len(self.hashing) > _QUEUED:
            self.hashing.popleft().result()
        if self.sink is not None:
            self.sink({name: frame[pos] for name, pos in self.positions.items()}, rows)

    @property
    def hashed_at(self) -> list[int]:
        """The columns a duplicate row repeats: the first of each name, in file order."""
        return sorted(set(self.positions.values()))

    def _hash_rows(self, cells: list[tuple[Cells, bool]], first: int) -> None:
        """The batch's row hashes (from row ``first`` on) into the duplicate check: taken
        on a thread of its own, in order, while the next batch is checked."""
        hashes = np.zeros(len(cells[0][0]) if cells else 0, dtype=np.uint64)
        for column, numeric in cells:  # h * G + column hash: a bijection of each column's
            hashes *= _GOLDEN
            hashes += _column_hash(column, numeric)
        self.row_hashes.add(mix64(hashes), first)

    def _is_target(self, col: Column) -> bool:
        return col.name == self.contract.target

    def _label(self, col: Column) -> str:
        return f"{col.name!r} (the target)" if self._is_target(col) else repr(col.name)

    def _nulls(
        self, col: Column, state: _ColumnState, null: BoolArray, row_numbers: IntArray
    ) -> None:
        if not col.nullable:
            state.tally(ViolationCode.NULL_VALUES).observe(null, row_numbers)

    @staticmethod
    def _invalid(
        state: _ColumnState,
        code: ViolationCode,
        mask: BoolArray,
        row_numbers: IntArray,
        what: tuple[str, str],
        values: Any,
        text: Any = None,
    ) -> None:
        tally = state.tally(code)
        if mask.any() and not tally.count:
            tally.what = what
        tally.observe(mask, row_numbers, values, text)

    def _labels(self, col: Column, labels: Callable[[], Any]) -> None:
        """Count the valid target labels (``labels()``, only made for the target)."""
        if self._is_target(col) and self.target is not None:
            regression = self.contract.problem_type is ProblemType.REGRESSION
            self.target.observe(labels(), regression=regression)

    def _observe_numeric(
        self, col: Column, series: Cells, state: _ColumnState, rows: IntArray
    ) -> None:
        kind, raw, values, null, invalid = _numeric_parts(series)
        if kind not in "iuf":
            state.saw_text = True
        self._nulls(col, state, null, rows)
        what = ("non-numeric value", "non-numeric values")
        self._invalid(state, ViolationCode.INVALID_NUMBER, invalid, rows, what, raw)
        infinite = np.isinf(values)  # NaN is null or not a number
        what = ("infinite value", "infinite values")
        self._invalid(state, ViolationCode.NON_FINITE_NUMBER, infinite, rows, what, values)
        fractional = np.zeros(0, dtype=np.bool_)
        if col.type is ColumnType.INTEGER:
            with np.errstate(invalid="ignore"):
                fractional = np.floor(values) != values  # true for NaN: not finite
            if fractional.any():
                fractional &= np.isfinite(values)
            what = ("non-integer value", "non-integer values")
            tally = state.tally(ViolationCode.NOT_INTEGER)
            text = None
            if kind in "iuf" and fractional.any() and len(tally.samples) < _SAMPLES:
                text = self._text_column(self.positions[col.name])
            self._invalid(state, ViolationCode.NOT_INTEGER, fractional, rows, what, raw, text)
        if col.min is not None or col.max is not None:
            lo, hi = self._bounds(col)
            # pandas' fast float parser can be off in the last digits: "0.01" must pass min 0.01
            lo_ok, hi_ok = lo - _BOUND_TOLERANCE * abs(lo), hi + _BOUND_TOLERANCE * abs(hi)
            with np.errstate(invalid="ignore"):
                out = (values < lo_ok) | (values > hi_ok)  # false for NaN
            if out.any() and infinite.any():
                out &= ~infinite
            if out.any():
                seen = values[out]
                state.lowest = min(state.lowest, float(seen.min()))
                state.highest = max(state.highest, float(seen.max()))
            state.tally(ViolationCode.OUT_OF_RANGE).observe(out, rows, values)
        integer = col.type is ColumnType.INTEGER

        def labels() -> FloatArray | IntArray:
            finite = np.isfinite(values)
            valid = values[finite & ~fractional if integer else finite]
            return valid.astype(np.int64) if integer else valid

        self._labels(col, labels)

    @staticmethod
    def _bounds(col: Column) -> tuple[float, float]:
        lo = -math.inf if col.min is None else col.min
        hi = math.inf if col.max is None else col.max
        return lo, hi

    def _observe_boolean(
        self, col: Column, series: Cells, state: _ColumnState, rows: IntArray
    ) -> None:
        if isinstance(series, Coded):
            self._observe_flags(col, series, state, rows)
            return
        series = _series(series)
        kind = series.dtype.kind
        code = ViolationCode.INVALID_BOOLEAN
        if kind == "b":
            self._nulls(col, state, np.zeros(len(series), dtype=np.bool_), rows)
            labels = lambda: series.to_numpy(dtype=np.bool_)  # noqa: E731
        elif kind in "iuf":
            values = series.to_numpy(dtype=np.float64)
            null = np.isnan(values)
            invalid = ~null & (values != 0) & (values != 1)
            self._nulls(col, state, null, rows)
            what = ("value other than 0/1", "values other than 0/1")
            self._invalid(state, code, invalid, rows, what, values)
            flags = values[~null & ~invalid] == 1
            labels = lambda: flags  # noqa: E731 - as the other branches
        else:
            self._observe_flags(col, series, state, rows)
            return
        self._labels(col, labels)

    def _observe_flags(
        self, col: Column, series: pd.Series | Coded, state: _ColumnState, rows: IntArray
    ) -> None:
        """A boolean column read as text: each distinct value a boolean word or not."""
        codes, uniques, shown = _coded(series)
        null = codes < 0
        flags = [_flag(u) for u in uniques]
        truth = np.array([f is True for f in flags], dtype=np.bool_)
        known = np.array([f is not None for f in flags], dtype=np.bool_)
        invalid = ~null & ~known[codes] if len(uniques) else np.zeros(len(codes), np.bool_)
        self._nulls(col, state, null, rows)
        what = (
            f"value that is not a boolean ({_BOOLEAN_WORDS})",
            f"values that are not a boolean ({_BOOLEAN_WORDS})",
        )
        self._invalid(state, ViolationCode.INVALID_BOOLEAN, invalid, rows, what, shown)
        good = ~null & ~invalid
        self._labels(col, lambda: truth[codes[good]] if len(uniques) else np.zeros(0, np.bool_))

    def _observe_categorical(
        self, col: Column, series: Cells, state: _ColumnState, rows: IntArray
    ) -> None:
        codes, uniques, _ = _coded(series)
        null = codes < 0
        self._nulls(col, state, null, rows)
        names = [str(u) for u in uniques]
        good = ~null
        if col.categories is not None and names:
            allowed = set(col.categories)
            unknown_u = np.array([n not in allowed for n in names], dtype=np.bool_)
            unknown = good & unknown_u[codes]
            if unknown.any():
                per_value = np.bincount(codes[unknown], minlength=len(names))
                state.unknown.update(
                    {names[i]: int(per_value[i]) for i in np.flatnonzero(per_value).tolist()}
                )
                good = good & ~unknown
            state.tally(ViolationCode.UNKNOWN_CATEGORY).observe(unknown, rows)
        self._labels(col, lambda: np.asarray(names, dtype=object)[codes[good]])

    def _observe_datetime(
        self, col: Column, series: Cells, state: _ColumnState, rows: IntArray
    ) -> None:
        series = _series(series)  # the formats are guessed from values in pandas' order
        if series.dtype.kind == "M" or isinstance(series.dtype, pd.DatetimeTZDtype):
            self._nulls(col, state, series.isna().to_numpy(dtype=np.bool_), rows)
            return
        codes, uniques, shown = _coded(series)
        null = codes < 0
        self._nulls(col, state, null, rows)
        if not len(uniques):
            return
        failed = _unparseable_datetimes(pd.Series([str(u) for u in uniques], dtype=object))
        invalid = ~null & failed[codes]
        what = ("value that is not a date/time", "values that are not a date/time")
        self._invalid(state, ViolationCode.INVALID_DATETIME, invalid, rows, what, shown)

    # ------------------------------------------------------------------ 4. columns, reported

    def report_column(self, col: Column, state: _ColumnState) -> None:
        for code in _COLUMN_ORDER:
            tally = state.tallies.get(code)
            if tally is None or not tally.count:
                continue
            if code is ViolationCode.NULL_VALUES:
                self._report_nulls(col, tally)
            elif code is ViolationCode.OUT_OF_RANGE:
                self._report_range(col, state, tally)
            elif code is ViolationCode.UNKNOWN_CATEGORY:
                self._report_unknown(col, state, tally)
            else:
                self._report_invalid(col, code, tally, state.saw_text)

    def _report_nulls(self, col: Column, tally: _Tally) -> None:
        n = tally.count
        severity = (
            "error"
            if self._is_target(col)
            else self.graded(n, self.limits.null_tolerance(col.name))
        )
        self.add(
            ViolationCode.NULL_VALUES,
            f"column {self._label(col)} is not nullable but has "
            f"{_plural(n, 'empty/null value')} ({_pct(n, self.good_rows)} of rows)",
            column=col.name,
            count=n,
            examples=tally.rows,
            severity=severity,
        )

    def _report_invalid(
        self, col: Column, code: ViolationCode, tally: _Tally, as_text: bool
    ) -> None:
        n = tally.count
        samples = tally.text_samples if as_text else tally.samples
        severity = (
            "error" if self._is_target(col) else self.graded(n, self.limits.max_invalid_fraction)
        )
        self.add(
            code,
            f"column {self._label(col)} has {n:,} {tally.what[0] if n == 1 else tally.what[1]} "
            f"({_pct(n, self.good_rows)} of rows), e.g. {', '.join(samples)}",
            column=col.name,
            count=n,
            examples=tally.rows,
            severity=severity,
        )

    def _report_range(self, col: Column, state: _ColumnState, tally: _Tally) -> None:
        n = tally.count
        lo, hi = self._bounds(col)
        self.add(
            ViolationCode.OUT_OF_RANGE,
            f"column {self._label(col)} has {_plural(n, 'value')} outside "
            f"[{_num(lo)}, {_num(hi)}] ({_pct(n, self.good_rows)} of rows; lowest "
            f"{_num(state.lowest)}, highest {_num(state.highest)}), "
            f"e.g. {', '.join(tally.samples)}",
            column=col.name,
            count=n,
            examples=tally.rows,
            severity=self.graded(n, self.limits.max_out_of_range_fraction),
        )

    def _report_unknown(self, col: Column, state: _ColumnState, tally: _Tally) -> None:
        assert col.categories is not None
        n = tally.count
        ranked = sorted(state.unknown.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{_show(name)} ({count})" for name, count in ranked[:5])
        more = f" and {len(ranked) - 5} more" if len(ranked) > 5 else ""
        allowed_list = ", ".join(col.categories[:10])
        allowed_more = ", …" if len(col.categories) > 10 else ""
        self.add(
            ViolationCode.UNKNOWN_CATEGORY,
            f"column {self._label(col)} has {_plural(n, 'value')} ({_pct(n, self.good_rows)} "
            f"of rows) not among its categories: {shown}{more}; allowed: "
            f"{allowed_list}{allowed_more}",
            column=col.name,
            count=n,
            examples=[name for name, _ in ranked[:MAX_EXAMPLES]],
            severity=self.graded(n, self.limits.max_unknown_category_fraction),
        )

    # ------------------------------------------------------------------ 5. dataset

    def check_dataset(self) -> None:
        contract = self.contract
        if self.rows < contract.min_rows:
            self.add(
                ViolationCode.TOO_FEW_ROWS,
                f"{self.filename!r} has {_plural(self.rows, 'data row')}; the contract needs "
                f"at least {contract.min_rows:,} (min_rows)",
                count=self.rows,
            )
        self._check_duplicates()
        if self.target is not None and self.target.count:
            if contract.problem_type is ProblemType.REGRESSION:
                self._check_constant_target()
            else:
                self._check_classes()

    def row_number(self, good_index: IntArray) -> IntArray:
        """1-based row numbers of well-formed rows, counting the ragged ones between."""
        if not self.ragged:
            return good_index + 1
        bad = np.concatenate(self.ragged)
        before = bad - np.arange(len(bad))  # well-formed rows before each ragged one
        return good_index + np.searchsorted(before, good_index, side="right") + 1

    def _check_duplicates(self) -> None:
        """Duplicates by 64-bit row hash; the first occurrence of a row is not one."""
        while self.hashing:
            self.hashing.popleft().result()
        found = self.row_hashes.duplicates()
        if found is None:
            return
        n, (first, earlier), examples = found
        rows = self.row_number(np.array([first, earlier, *examples]))
        self.add(
            ViolationCode.DUPLICATE_ROWS,
            f"{_plural(n, 'row')} ({_pct(n, self.good_rows)}) exactly "
            f"{'repeats' if n == 1 else 'repeat'} an earlier row (e.g. row {int(rows[0])} "
            f"repeats row {int(rows[1])}); "
            f"the limit is {self.limits.max_duplicate_fraction:.1%}",
            count=n,
            examples=[int(r) for r in rows[2:]],
            severity=self.graded(n, self.limits.max_duplicate_fraction),
        )

    def _check_constant_target(self) -> None:
        assert self.target is not None
        if self.target.low == self.target.high:
            target = self.contract.target
            self.add(
                ViolationCode.CONSTANT_TARGET,
                f"the target {target!r} has the same value ({_num(self.target.low)}) on "
                "every valid row: there is nothing to learn",
                column=target,
                count=self.target.count,
            )

    def _check_classes(self) -> None:
        assert self.target is not None
        target = self.contract.target
        counts = {_python(k): v for k, v in self.target.classes.items()}
        total = sum(counts.values())
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], str(kv[0])))
        classes = len(counts)
        listing = ", ".join(f"{_show(k)} ({v})" for k, v in ranked[:5])
        if classes < 2:
            self.add(
                ViolationCode.TOO_FEW_CLASSES,
                f"the target {target!r} has only {_plural(classes, 'class')} ({listing}); "
                f"{self.contract.problem_type.value} classification needs at least 2",
                column=target,
                count=classes,
                examples=[str(k) for k, _ in ranked],
            )
            return
        if self.contract.problem_type is ProblemType.BINARY and classes > 2:
            self.add(
                ViolationCode.TOO_MANY_CLASSES,
                f"the target {target!r} has {classes} classes but the problem is binary "
                f"(least frequent: {listing})",
                column=target,
                count=classes,
                examples=[str(k) for k, _ in ranked[:MAX_EXAMPLES]],
            )
        floor = self.limits.min_class_fraction
        rare = [(k, v) for k, v in ranked if v / total < floor]
        if rare:
            shown = ", ".join(
                f"{_show(k)} is {_pct(v, total)} ({v} of {total:,})" for k, v in rare[:5]
            )
            self.add(
                ViolationCode.CLASS_IMBALANCE,
                f"the target {target!r} has {_plural(len(rare), 'class')} under the minimum "
                f"share of {floor:.1%}: {shown}",
                column=target,
                count=len(rare),
                examples=[str(k) for k, _ in rare[:MAX_EXAMPLES]],
            )


_PART_BYTES = 64 * 1024 * 1024  # of the file per partition of the row hashes


class _HashPartitions:
    """The row hashes with their 0-based (well-formed) row indices, in temporary files
    by the hashes' top bits: a repeat has the same hash, so it is in the same file, and
    the duplicate check holds one file at a time (16 bytes a row; 16 files, or one per
    64 MiB of the file up to 256, so a file's share stays bounded)."""

    def __init__(self, workdir: Path | None, size: int = 0) -> None:
        self.workdir = workdir
        self.bits = partition_bits(size, _PART_BYTES)
        self.parts = 1 << self.bits
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.files: list[BinaryIO] = []

    def add(self, hashes: UIntArray, first: int) -> None:
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="modelrail-rows-", dir=self.workdir)
            self.files = [
                open(f"{self.folder.name}/{p}", "w+b")  # noqa: SIM115 - closed in duplicates()
                for p in range(self.parts)
            ]
        part = (hashes >> np.uint64(64 - self.bits)).astype(np.uint8)
        order = np.argsort(part, kind="stable")  # by part, rows in order (a radix sort)
        cuts = np.cumsum(np.bincount(part, minlength=self.parts))[:-1]
        pairs = np.empty((len(hashes), 2), dtype=np.uint64)
        pairs[:, 0] = hashes[order]
        pairs[:, 1] = order.astype(np.uint64) + np.uint64(first)
        for file, piece in zip(self.files, np.split(pairs, cuts), strict=True):
            file.write(piece.data)

    def duplicates(self) -> tuple[int, tuple[int, int], list[int]] | None:
        """How many rows repeat an earlier one, the first such row with the row it
        repeats, and the first few repeats; None without any."""
        if self.folder is None:
            return None
        count, firsts, examples = 0, [], []
        for file in self.files:
            file.flush()
            file.seek(0)
            pairs = np.fromfile(file, dtype=np.uint64).reshape(-1, 2)
            file.close()
            found = _repeats(pairs[:, 0], pairs[:, 1].astype(np.int64))
            if found is not None:
                count += len(found[0])
                firsts.append((int(found[0][0]), int(found[1])))
                examples += found[0][:MAX_EXAMPLES].tolist()
        self.folder.cleanup()
        self.folder = None
        if not count:
            return None
        return count, min(firsts), sorted(examples)[:MAX_EXAMPLES]


def _repeats(hashes: UIntArray, rows: IntArray) -> tuple[IntArray, int] | None:
    """The rows (ascending) whose hash an earlier row has, and the row the first of them
    repeats; ``rows`` ascending."""
    ordered = np.sort(hashes)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(repeated):
        return None
    hit = np.isin(hashes, repeated)
    where, values = rows[hit], hashes[hit]
    distinct, first_seen = np.unique(values, return_index=True)
    repeat = np.ones(len(where), dtype=np.bool_)
    repeat[first_seen] = False
    duplicates = where[repeat]
    value = values[np.flatnonzero(repeat)[0]]
    earlier = int(where[first_seen[np.searchsorted(distinct, value)]])
    return duplicates, earlier


_BOOLEAN_WORDS = "true/false, t/f, yes/no, y/n, 1/0"


def _flag(value: Any) -> bool | None:
    """A distinct value as a boolean (modelrail.canonical), None when it is not one."""
    try:
        return canonical.boolean(value)
    except canonical.NotABoolean:
        return None


def _python(value: Any) -> Any:
    """A numpy scalar as the Python value (``value_counts`` keys come back as either)."""
    return value.item() if isinstance(value, np.generic) else value
