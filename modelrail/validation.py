"""The data-validation gate: is an uploaded dataset fit to train the contract's model?

Pure: bytes in, a typed :class:`ValidationReport` out. No AWS calls, so the same code
runs in the validation Lambda, the CLI and the tests. A failing report is raised as
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
import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.tseries.api import guess_datetime_format
from pydantic import BaseModel, ConfigDict, Field

from modelrail.contract import Column, ColumnType, ModelContract, ProblemType
from modelrail.limits import ValidationLimits

Severity = Literal["error", "warning"]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MAX_EXAMPLES = 5
SUMMARY_MAX_CHARS = 1000
_UTF8_BOM = b"\xef\xbb\xbf"
_BOOL_TRUE = frozenset({"true", "1", "yes"})
_BOOL_FALSE = frozenset({"false", "0", "no"})
_OTHER_DELIMITERS = {";": "';' (semicolon)", "\t": "'\\t' (tab)", "|": "'|' (pipe)"}
_MAX_MIXED_DATETIME_PARSE = 20_000
_BOUND_TOLERANCE = 1e-9  # relative slack on min/max for float parsing error


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
    """Validate one uploaded file against ``contract``. Never raises on bad data."""
    return _Validator(data, filename, contract, limits or ValidationLimits()).run()


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
    """Where each CSV record lies in the file and how many fields it has."""

    header: list[str]
    starts: IntArray  # data records (blank lines skipped), byte ranges without the line end
    ends: IntArray
    fields: IntArray
    header_bytes: bytes

    def without(self, data: bytes, keep: BoolArray) -> bytes:
        """The file with only the kept records, each as written."""
        kept = np.flatnonzero(keep).tolist()
        starts, ends = self.starts.tolist(), self.ends.tolist()
        return b"\n".join([self.header_bytes, *(data[starts[i] : ends[i]] for i in kept)]) + b"\n"


def _scan_records(data: bytes) -> _Scan | None:
    """Records and their field counts, vectorised with numpy (no per-row Python).

    A delimiter or newline is structural when an even number of quotes precedes it. That
    is exact for RFC 4180 quoting, so every quote must sit where RFC 4180 allows it: an
    opening quote at the start of a field, a closing one at its end, or a doubled quote
    inside a quoted field. Anything else returns None and the csv module decides.
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
    if not len(starts):
        return None
    fields = (np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1).astype(np.int64)
    header_bytes = data[int(starts[0]) : int(ends[0])]
    header = next(csv.reader([header_bytes.decode("utf-8")]), [])
    if len(header) != fields[0]:
        return None
    return _Scan(header, starts[1:], ends[1:], fields[1:], header_bytes)


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


class _Stop(Exception):
    """A problem that makes further checks meaningless was recorded."""


# --------------------------------------------------------------------------- validator


class _Validator:
    def __init__(
        self, data: bytes, filename: str, contract: ModelContract, limits: ValidationLimits
    ) -> None:
        self.data = data
        self.filename = filename
        self.contract = contract
        self.limits = limits
        self.violations: list[Violation] = []
        self.format: Literal["csv", "parquet"] | None = None
        self.header: list[str] = []
        self.rows = 0
        self.frame: pd.DataFrame | None = None  # columns are positions in ``header``
        self.row_numbers: IntArray = np.zeros(0, dtype=np.int64)
        self.positions: dict[str, int] = {}  # column name -> first position in the header
        self.target_labels: pd.Series | None = None

    # ------------------------------------------------------------------ plumbing

    def add(
        self,
        code: ViolationCode,
        message: str,
        *,
        column: str | None = None,
        count: int = 1,
        examples: Sequence[int | str] = (),
        severity: Severity = "error",
    ) -> None:
        self.violations.append(
            Violation(
                code=code,
                column=column,
                message=" ".join(message.split()),
                count=count,
                examples=tuple(examples)[:MAX_EXAMPLES],
                severity=severity,
            )
        )

    def stop(self, code: ViolationCode, message: str, **kwargs: Any) -> _Stop:
        self.add(code, message, **kwargs)
        return _Stop()

    def graded(self, count: int, tolerance: float) -> Severity:
        total = max(len(self.row_numbers), 1)
        return "warning" if count / total <= tolerance else "error"

    def example_rows(self, mask: BoolArray) -> list[int | str]:
        idx = np.flatnonzero(mask)[:MAX_EXAMPLES]
        return [int(r) for r in self.row_numbers[idx]]

    def samples(self, mask: BoolArray, values: Any, n: int = 3) -> str:
        idx = np.flatnonzero(mask)[:n]
        return ", ".join(
            f"{_show(values[i])} in row {int(self.row_numbers[i])}" for i in idx.tolist()
        )

    def run(self) -> ValidationReport:
        try:
            self.check_file()
            if self.format == "csv":
                self.read_csv()
            else:
                self.read_parquet()
            self.check_header()
            if self.frame is None or len(self.frame) == 0:
                raise self.stop(
                    ViolationCode.NO_DATA_ROWS,
                    f"{self.filename!r} has a header but no data rows",
                    count=0,
                )
            self.check_columns()
            self.check_dataset()
        except _Stop:
            pass
        return ValidationReport(
            model=self.contract.name,
            filename=self.filename,
            format=self.format,
            rows=self.rows,
            columns=tuple(self.header),
            sha256=hashlib.sha256(self.data).hexdigest(),
            size_bytes=len(self.data),
            violations=tuple(self.violations),
            limits=self.limits,
        )

    # ------------------------------------------------------------------ 1. the file

    def check_file(self) -> None:
        size = len(self.data)
        suffix = PurePosixPath(self.filename).suffix.lower()
        self.format = "csv" if suffix == ".csv" else "parquet" if suffix == ".parquet" else None
        if size == 0:
            raise self.stop(ViolationCode.EMPTY_FILE, f"{self.filename!r} is empty (0 bytes)")
        if size > self.contract.max_bytes:
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
        data = self.data[len(_UTF8_BOM) :] if self.data.startswith(_UTF8_BOM) else self.data
        offset = len(self.data) - len(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.stop(ViolationCode.NOT_UTF8, self._not_utf8_message(exc, offset)) from None
        if not text.strip():
            raise self.stop(
                ViolationCode.EMPTY_FILE,
                f"{self.filename!r} contains only whitespace ({len(self.data):,} bytes)",
            )
        scan = None if data.count(b"\r") != data.count(b"\r\n") else _scan_records(data)
        if scan is None:  # old-Mac line ends or irregular quoting: let the csv module decide
            header, counts = self._scan_with_csv_module(text)
        else:
            header, counts = scan.header, scan.fields
        del text
        self.header = header
        self.rows = len(counts)
        width = len(header)
        if width == 1 and len(self.contract.columns) > 1:
            found = {d: header[0].count(d) for d in _OTHER_DELIMITERS if d in header[0]}
            if found:
                delim = max(found, key=lambda d: found[d])
                raise self.stop(
                    ViolationCode.WRONG_DELIMITER,
                    f"the header is a single column {_show(header[0], 60)}: the file looks "
                    f"{_OTHER_DELIMITERS[delim]}-delimited; use ',' as the delimiter",
                    examples=[delim],
                )
        good: BoolArray = counts == width
        bad = int((~good).sum())
        if bad:
            self._report_ragged(counts, width)
            data = (
                scan.without(data, good)
                if scan is not None
                else self._without_ragged_rows(data, good)
            )
        self.row_numbers = (np.flatnonzero(good) + 1).astype(np.int64)
        if self.rows == 0:
            return
        self.frame = self._parse_csv(data, width)

    def _not_utf8_message(self, exc: UnicodeDecodeError, bom: int) -> str:
        offset = exc.start + bom
        line = self.data.count(b"\n", 0, offset) + 1
        bad = self.data[offset : offset + 4].hex(" ")
        hint = ""
        if self.data.startswith(b"PAR1"):
            hint = " (it looks like a Parquet file: name it .parquet)"
        elif self.data.startswith(b"\x1f\x8b"):
            hint = " (it looks gzip-compressed: upload it uncompressed)"
        elif self.data.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = " (it looks UTF-16 encoded)"
        else:
            hint = " (save it as UTF-8; it is probably Latin-1/Windows-1252)"
        return (
            f"{self.filename!r} is not valid UTF-8: invalid byte(s) {bad} at byte offset "
            f"{offset:,} (line {line:,}){hint}"
        )

    def _scan_with_csv_module(self, text: str) -> tuple[list[str], IntArray]:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header: list[str] | None = None
        counts: list[int] = []
        line = 0  # the last line of the previous record
        try:
            for record in reader:
                line = reader.line_num
                if not record:
                    continue
                if header is None:
                    header = record
                else:
                    counts.append(len(record))
        except csv.Error as exc:
            raise self.stop(
                ViolationCode.MALFORMED_CSV,
                f"{self.filename!r} is not well-formed CSV in the record starting at line "
                f"{line + 1:,}: {exc} (an unterminated or stray quote?)",
            ) from None
        return header or [], np.asarray(counts, dtype=np.int64)

    def _report_ragged(self, counts: IntArray, width: int) -> None:
        bad_idx = np.flatnonzero(counts != width)
        n = len(bad_idx)
        rows = [int(i) + 1 for i in bad_idx[:MAX_EXAMPLES]]
        last = len(counts)
        if n == 1 and rows[0] == last and counts[-1] < width:
            message = (
                f"the last row (row {last:,}) has {int(counts[-1])} of {width} fields: "
                "the file looks truncated (an interrupted upload or export?)"
            )
        else:
            shown = ", ".join(f"row {int(i) + 1} has {int(counts[i])}" for i in bad_idx[:3])
            message = (
                f"{_plural(n, 'row')} ({_pct(n, len(counts))}) {'has' if n == 1 else 'have'} a different number of "
                f"fields than the header's {width} ({shown}); check for unquoted delimiters "
                "inside values or missing fields"
            )
        self.add(ViolationCode.RAGGED_ROWS, message, count=n, examples=rows)

    def _without_ragged_rows(self, data: bytes, good: BoolArray) -> bytes:
        """The file with only the well-formed rows, so pandas reads each row as written."""
        text = data.decode("utf-8")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        records = (r for r in csv.reader(io.StringIO(text, newline="")) if r)
        writer.writerow(next(records))
        for keep, record in zip(good.tolist(), records, strict=False):
            if keep:
                writer.writerow(record)
        return out.getvalue().encode("utf-8")

    def _parse_csv(self, data: bytes, width: int) -> pd.DataFrame | None:
        as_text = {ColumnType.CATEGORICAL, ColumnType.BOOLEAN, ColumnType.DATETIME}
        declared = {c.name: c for c in self.contract.columns}
        dtypes: dict[int, type[str]] = {}
        for pos, name in enumerate(self.header):
            col = declared.get(name)
            if col is None or col.type in as_text:
                dtypes[pos] = str
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pd.read_csv(
                    io.BytesIO(data),
                    header=0,
                    names=list(range(width)),
                    index_col=False,
                    dtype=dtypes,
                    encoding="utf-8",
                    engine="c",
                    low_memory=False,
                )
        except (pd.errors.ParserError, ValueError) as exc:
            raise self.stop(
                ViolationCode.MALFORMED_CSV,
                f"{self.filename!r} cannot be parsed as CSV: {_clip(str(exc), 200)}",
            ) from None
        if len(frame) != len(self.row_numbers):  # defensive: never report wrong rows
            self.row_numbers = np.arange(1, len(frame) + 1, dtype=np.int64)
        return frame

    # ------------------------------------------------------------------ 2. structure: Parquet

    def read_parquet(self) -> None:
        try:
            frame = pd.read_parquet(io.BytesIO(self.data))
        except ImportError:
            raise self.stop(
                ViolationCode.PARQUET_ENGINE_MISSING,
                f"{self.filename!r} is Parquet, but this runtime cannot read Parquet "
                "(pyarrow is not installed); upload CSV or add pyarrow to the function",
            ) from None
        except Exception as exc:  # pyarrow raises many types for a corrupt file
            raise self.stop(
                ViolationCode.UNREADABLE_PARQUET,
                f"{self.filename!r} is not a readable Parquet file: {_clip(str(exc), 200)}",
            ) from None
        self.header = [str(c) for c in frame.columns]
        frame.columns = pd.RangeIndex(len(self.header))
        for pos in range(frame.shape[1]):
            # nested values (lists, structs) are unhashable: check them as their text
            series = frame[pos]
            first = series.first_valid_index() if series.dtype == object else None
            if first is not None and isinstance(
                series[first], list | tuple | dict | set | np.ndarray
            ):
                frame[pos] = series.map(str, na_action="ignore")
        self.frame = frame
        self.rows = len(frame)
        self.row_numbers = np.arange(1, len(frame) + 1, dtype=np.int64)

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
            if col.name in seen or not col.required:
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

    # ------------------------------------------------------------------ 4. columns

    def check_columns(self) -> None:
        assert self.frame is not None
        for col in self.contract.columns:
            pos = self.positions.get(col.name)
            if pos is None:
                continue
            series = self.frame[pos]
            if col.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
                self._check_numeric(col, series)
            elif col.type is ColumnType.BOOLEAN:
                self._check_boolean(col, series)
            elif col.type is ColumnType.CATEGORICAL:
                self._check_categorical(col, series)
            else:
                self._check_datetime(col, series)

    def _is_target(self, col: Column) -> bool:
        return col.name == self.contract.target

    def _label(self, col: Column) -> str:
        return f"{col.name!r} (the target)" if self._is_target(col) else repr(col.name)

    def _check_nulls(self, col: Column, null: BoolArray) -> None:
        n = int(null.sum())
        if not n or col.nullable:
            return
        severity = (
            "error"
            if self._is_target(col)
            else self.graded(n, self.limits.null_tolerance(col.name))
        )
        self.add(
            ViolationCode.NULL_VALUES,
            f"column {self._label(col)} is not nullable but has "
            f"{_plural(n, 'empty/null value')} ({_pct(n, len(null))} of rows)",
            column=col.name,
            count=n,
            examples=self.example_rows(null),
            severity=severity,
        )

    def _check_invalid(
        self,
        col: Column,
        code: ViolationCode,
        invalid: BoolArray,
        what: tuple[str, str],
        values: Any,
    ) -> None:
        """``what`` names one and several offending values."""
        n = int(invalid.sum())
        if not n:
            return
        severity = (
            "error" if self._is_target(col) else self.graded(n, self.limits.max_invalid_fraction)
        )
        self.add(
            code,
            f"column {self._label(col)} has {n:,} {what[0] if n == 1 else what[1]} "
            f"({_pct(n, len(invalid))} of rows), "
            f"e.g. {self.samples(invalid, values)}",
            column=col.name,
            count=n,
            examples=self.example_rows(invalid),
            severity=severity,
        )

    def _check_numeric(self, col: Column, series: pd.Series) -> None:
        kind = series.dtype.kind
        raw: Any = series.to_numpy()
        if kind in "iu":
            values = series.to_numpy(dtype=np.float64)
            null = np.zeros(len(values), dtype=np.bool_)
            invalid = null
        elif kind == "f":
            values = series.to_numpy(dtype=np.float64)
            null = np.isnan(values)
            invalid = np.zeros(len(values), dtype=np.bool_)
        else:
            null = series.isna().to_numpy(dtype=np.bool_)
            if kind in "OSU" or isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype)):
                parsed = pd.to_numeric(series.astype(object), errors="coerce")
                values = pd.Series(parsed).to_numpy(dtype=np.float64, na_value=np.nan)
            else:  # booleans, datetimes... are not numbers
                values = np.full(len(series), np.nan)
            invalid = ~null & np.isnan(values)
        self._check_nulls(col, null)
        self._check_invalid(
            col,
            ViolationCode.INVALID_NUMBER,
            invalid,
            ("non-numeric value", "non-numeric values"),
            raw,
        )
        finite = np.isfinite(values)
        fractional = np.zeros(len(values), dtype=np.bool_)
        infinite = ~null & ~invalid & ~finite
        self._check_invalid(
            col,
            ViolationCode.NON_FINITE_NUMBER,
            infinite,
            ("infinite value", "infinite values"),
            values,
        )
        if col.type is ColumnType.INTEGER:
            with np.errstate(invalid="ignore"):
                fractional = finite & (np.floor(values) != values)
            self._check_invalid(
                col,
                ViolationCode.NOT_INTEGER,
                fractional,
                ("non-integer value", "non-integer values"),
                raw,
            )
        if col.min is not None or col.max is not None:
            lo = -math.inf if col.min is None else col.min
            hi = math.inf if col.max is None else col.max
            # pandas' fast float parser can be off in the last digits: "0.01" must pass min 0.01
            lo_ok, hi_ok = lo - _BOUND_TOLERANCE * abs(lo), hi + _BOUND_TOLERANCE * abs(hi)
            with np.errstate(invalid="ignore"):
                out = finite & ((values < lo_ok) | (values > hi_ok))
            n = int(out.sum())
            if n:
                bounds = f"[{_num(lo)}, {_num(hi)}]"
                seen = values[out]
                self.add(
                    ViolationCode.OUT_OF_RANGE,
                    f"column {self._label(col)} has {_plural(n, 'value')} outside {bounds} "
                    f"({_pct(n, len(out))} of rows; lowest {_num(float(seen.min()))}, "
                    f"highest {_num(float(seen.max()))}), e.g. {self.samples(out, values)}",
                    column=col.name,
                    count=n,
                    examples=self.example_rows(out),
                    severity=self.graded(n, self.limits.max_out_of_range_fraction),
                )
        if self._is_target(col):
            labels = values[finite & ~fractional]
            as_int = col.type is ColumnType.INTEGER
            self.target_labels = pd.Series(labels.astype(np.int64) if as_int else labels)

    def _check_boolean(self, col: Column, series: pd.Series) -> None:
        kind = series.dtype.kind
        if kind == "b":
            null = np.zeros(len(series), dtype=np.bool_)
            self._check_nulls(col, null)
            labels = series.to_numpy(dtype=np.bool_)
        elif kind in "iuf":
            values = series.to_numpy(dtype=np.float64)
            null = np.isnan(values)
            invalid = ~null & (values != 0) & (values != 1)
            self._check_nulls(col, null)
            self._check_invalid(
                col,
                ViolationCode.INVALID_BOOLEAN,
                invalid,
                ("value other than 0/1", "values other than 0/1"),
                values,
            )
            labels = values[~null & ~invalid] == 1
        else:
            codes, uniques = pd.factorize(series.astype(object))
            null = codes < 0
            normal = [str(u).strip().lower() for u in uniques]
            truth = np.array([n in _BOOL_TRUE for n in normal], dtype=np.bool_)
            known = np.array([n in _BOOL_TRUE or n in _BOOL_FALSE for n in normal], dtype=np.bool_)
            invalid = ~null & ~known[codes] if len(uniques) else np.zeros(len(codes), np.bool_)
            self._check_nulls(col, null)
            self._check_invalid(
                col,
                ViolationCode.INVALID_BOOLEAN,
                invalid,
                (
                    "value that is not a boolean (true/false, 1/0, yes/no)",
                    "values that are not a boolean (true/false, 1/0, yes/no)",
                ),
                series.to_numpy(),
            )
            good = ~null & ~invalid
            labels = truth[codes[good]] if len(uniques) else np.zeros(0, np.bool_)
        if self._is_target(col):
            self.target_labels = pd.Series(labels)

    def _check_categorical(self, col: Column, series: pd.Series) -> None:
        codes, uniques = pd.factorize(series.astype(object))
        null = codes < 0
        self._check_nulls(col, null)
        names = [str(u) for u in uniques]
        good = ~null
        if col.categories is not None and names:
            allowed = set(col.categories)
            unknown_u = np.array([n not in allowed for n in names], dtype=np.bool_)
            unknown = good & unknown_u[codes]
            n = int(unknown.sum())
            if n:
                per_value = np.bincount(codes[unknown], minlength=len(names))
                ranked = sorted(
                    (i for i in range(len(names)) if per_value[i]),
                    key=lambda i: (-int(per_value[i]), names[i]),
                )
                shown = ", ".join(f"{_show(names[i])} ({int(per_value[i])})" for i in ranked[:5])
                more = f" and {len(ranked) - 5} more" if len(ranked) > 5 else ""
                allowed_list = ", ".join(col.categories[:10])
                allowed_more = ", …" if len(col.categories) > 10 else ""
                self.add(
                    ViolationCode.UNKNOWN_CATEGORY,
                    f"column {self._label(col)} has {_plural(n, 'value')} ({_pct(n, len(unknown))} of rows) "
                    f"not among its categories: {shown}{more}; allowed: "
                    f"{allowed_list}{allowed_more}",
                    column=col.name,
                    count=n,
                    examples=[names[i] for i in ranked[:MAX_EXAMPLES]],
                    severity=self.graded(n, self.limits.max_unknown_category_fraction),
                )
                good = good & ~unknown
        if self._is_target(col):
            self.target_labels = pd.Series(np.asarray(names, dtype=object)[codes[good]])

    def _check_datetime(self, col: Column, series: pd.Series) -> None:
        if series.dtype.kind == "M" or isinstance(series.dtype, pd.DatetimeTZDtype):
            self._check_nulls(col, series.isna().to_numpy(dtype=np.bool_))
            return
        codes, uniques = pd.factorize(series.astype(object))
        null = codes < 0
        self._check_nulls(col, null)
        if not len(uniques):
            return
        failed = _unparseable_datetimes(pd.Series([str(u) for u in uniques], dtype=object))
        invalid = ~null & failed[codes]
        self._check_invalid(
            col,
            ViolationCode.INVALID_DATETIME,
            invalid,
            ("value that is not a date/time", "values that are not a date/time"),
            series.to_numpy(),
        )

    # ------------------------------------------------------------------ 5. dataset

    def check_dataset(self) -> None:
        assert self.frame is not None
        contract = self.contract
        if self.rows < contract.min_rows:
            self.add(
                ViolationCode.TOO_FEW_ROWS,
                f"{self.filename!r} has {_plural(self.rows, 'data row')}; the contract needs "
                f"at least {contract.min_rows:,} (min_rows)",
                count=self.rows,
            )
        self._check_duplicates()
        if self.target_labels is not None and len(self.target_labels):
            if contract.problem_type is ProblemType.REGRESSION:
                self._check_constant_target()
            else:
                self._check_classes()

    def _check_duplicates(self) -> None:
        assert self.frame is not None
        keep = sorted(set(self.positions.values()))
        frame = self.frame[keep] if len(keep) != self.frame.shape[1] else self.frame
        duplicated = frame.duplicated(keep="first").to_numpy(dtype=np.bool_)
        n = int(duplicated.sum())
        if not n:
            return
        first = int(np.flatnonzero(duplicated)[0])
        same = (frame.iloc[:first] == frame.iloc[first]) | (
            frame.iloc[:first].isna() & frame.iloc[first].isna()
        )
        matches = np.flatnonzero(same.all(axis=1).to_numpy(dtype=np.bool_))
        example = f"row {int(self.row_numbers[first])}"
        if len(matches):
            example += f" repeats row {int(self.row_numbers[int(matches[0])])}"
        severity = self.graded(n, self.limits.max_duplicate_fraction)
        self.add(
            ViolationCode.DUPLICATE_ROWS,
            f"{_plural(n, 'row')} ({_pct(n, len(duplicated))}) exactly "
            f"{'repeats' if n == 1 else 'repeat'} an earlier row (e.g. {example}); "
            f"the limit is {self.limits.max_duplicate_fraction:.1%}",
            count=n,
            examples=self.example_rows(duplicated),
            severity=severity,
        )

    def _check_constant_target(self) -> None:
        assert self.target_labels is not None
        values = self.target_labels.to_numpy(dtype=np.float64)
        lo, hi = float(values.min()), float(values.max())
        if lo == hi:
            target = self.contract.target
            self.add(
                ViolationCode.CONSTANT_TARGET,
                f"the target {target!r} has the same value ({_num(lo)}) on every valid row: "
                "there is nothing to learn",
                column=target,
                count=len(values),
            )

    def _check_classes(self) -> None:
        assert self.target_labels is not None
        target = self.contract.target
        counts = self.target_labels.value_counts(dropna=True)
        total = int(counts.sum())
        ranked = sorted(
            ((k, int(v)) for k, v in counts.items()), key=lambda kv: (kv[1], str(kv[0]))
        )
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
