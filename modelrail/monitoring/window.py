"""Captured traffic as a drift window: requests read as the endpoint reads them (D55).

:func:`captured_window` turns :class:`~modelrail.monitoring.capture.CaptureRecords` into
the baseline's :class:`~modelrail.drift.DriftWindow`, one id per captured row
(:func:`~modelrail.monitoring.capture.row_ids`) and the model's outputs per row, aligned
with the ids (for the ground-truth join). Requests are read by the endpoint's own rules
(:mod:`modelrail.payloads`): ``text/csv`` rows in the contract's feature order or under
a header naming them, ``application/json`` records. A request the endpoint would refuse
(a row of the wrong length, a value that is not a number or not a boolean, no rows, a
payload that is not text) is left out of the window with its reason, as the endpoint
answered it with a 4XX and no prediction; nothing in a window is fatal.

Fast: the CSV payloads of a window that need nothing the endpoint's reader does beyond
splitting lines and commas (no quotes, no header, no blank line, every line of the
feature count: checked with pyarrow compute over all of them at once) are parsed in one
pyarrow CSV read of their joined texts; the rest, and JSON, one request at a time.
Values are canonicalised as training reads them (:mod:`modelrail.canonical`); numbers
are what pandas' ``to_numeric`` accepts, as the serving code does.

The outputs (``output_fn``'s JSON ``{"predictions", "probabilities", "classes"}`` or CSV
``label[,p...]`` rows): a regression's predictions as numbers; a classifier's labels as
canonical strings by the target's type (``"true"`` for a boolean target's ``True``, as
JSON or CSV), its probabilities in the served class order. The prediction window is
what the training job's baseline holds (:func:`training.train.drift_prediction`): the
prediction, the positive class's probability (binary), the label (multiclass).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from modelrail import canonical
from modelrail.contract import ColumnType, ModelContract, ProblemType
from modelrail.drift import CategoricalReference, DriftBaseline, DriftWindow
from modelrail.drift.build import build_window
from modelrail.monitoring.capture import CaptureRecords, Corrupt, payload_text, row_ids
from modelrail.payloads import CSV, JSON, BadRequest, media_type, read_request

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CapturedOutputs:
    """The model's output per captured row (aligned with ``CapturedWindow.row_ids``)."""

    predictions: npt.NDArray[Any]
    """float64 for a regression (NaN: no output); canonical label strings (objects, None:
    no output) for a classifier."""
    probabilities: FloatArray | None
    """(rows, classes) in the served class order (NaN rows: no output); None for a
    regression or when no response carried them."""
    classes: list[str] | None
    """The served class order as canonical labels, from the first JSON response that
    names it (CSV responses do not)."""
    present: BoolArray
    """Rows whose response was read."""


@dataclass(frozen=True)
class CapturedWindow:
    window: DriftWindow
    rows: int
    row_ids: list[str]
    outputs: CapturedOutputs
    corrupt: list[Corrupt] = field(default_factory=list)
    """The capture reader's corrupt lines, then each request or response left out, named
    by its record's event id (line 0)."""
    unparsed_rows: int = 0
    """Rows of requests left out of the window, as the request's reader counts them (a
    header line included; a request whose rows cannot be counted counts one)."""


@dataclass(frozen=True)
class _Spec:
    """What of the contract and baseline reading a request needs."""

    features: list[str]
    target: str
    required: list[str]
    kinds: dict[str, str]  # feature -> numeric | categorical | boolean (baseline's)
    target_type: ColumnType
    problem: ProblemType

    @classmethod
    def of(cls, contract: ModelContract, baseline: DriftBaseline) -> _Spec:
        kinds: dict[str, str] = {}
        for name, ref in baseline.features.items():
            if isinstance(ref, CategoricalReference):
                kinds[name] = "boolean" if ref.boolean else "categorical"
            else:
                kinds[name] = "numeric"
        features = [c.name for c in contract.features]
        missing = sorted(set(kinds) - set(features))
        if missing:
            raise ValueError(f"the baseline has features the contract lacks: {missing}")
        return cls(
            features=features,
            target=contract.target,
            required=[c.name for c in contract.features if c.required],
            kinds=kinds,
            target_type=contract.column(contract.target).type,
            problem=contract.problem_type,
        )


class _Rejected(ValueError):
    """A request the endpoint refuses (its reason)."""


# --- cells, canonicalised as training and serving read them


def _number(value: Any, name: str) -> float:
    """A cell as the serving code reads a number (``_to_number``): text stripped, blank
    missing, else what pandas' to_numeric accepts."""
    if canonical.is_missing(value):
        return float("nan")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return float("nan")
    try:
        return float(pd.to_numeric(pd.Series([value], dtype=object), errors="raise").iloc[0])
    except (TypeError, ValueError):
        raise _Rejected(f"column {name!r}: expected numbers, got [{value!r}]") from None


def _label(value: Any, kind: str, name: str) -> str | None:
    """A categorical or boolean cell as its canonical category."""
    if kind == "boolean":
        try:
            return canonical.boolean_label(value)
        except canonical.NotABoolean:
            raise _Rejected(f"column {name!r}: {value!r} is not a boolean") from None
    return canonical.category(value)


def _target_label(value: Any, target_type: ColumnType) -> str | None:
    """A served label as its canonical category by the target's type."""
    try:
        if target_type is ColumnType.BOOLEAN:
            return canonical.boolean_label(value)
        if target_type in (ColumnType.NUMERIC, ColumnType.INTEGER):
            return canonical.category(_number(value, "prediction"))
    except (canonical.NotABoolean, _Rejected):
        return canonical.category(value)
    return canonical.category(value)


# --- one request at a time (JSON, and CSV the bulk read cannot take)


def _slow_columns(text: str, media: str, spec: _Spec) -> tuple[int, dict[str, list[Any]]]:
    """The request's rows and canonical values per baseline feature, by the endpoint's
    reader."""
    try:
        request = read_request(text, media)
        if request.records is not None:
            present = {k for r in request.records for k in r}
            missing = [f for f in spec.required if f not in present]
            if missing:
                raise _Rejected(f"missing required feature columns: {missing}")
            rows = len(request.records)
            cells = {f: [r.get(f) for r in request.records] for f in spec.kinds}
        else:
            frame = request.frame(spec.features, spec.target, spec.required)
            missing = [f for f in spec.required if f not in frame]
            if missing:
                raise _Rejected(f"missing required feature columns: {missing}")
            rows = len(frame)
            cells = {f: (frame[f].tolist() if f in frame else [None] * rows) for f in spec.kinds}
    except BadRequest as exc:
        raise _Rejected(str(exc)) from None
    out: dict[str, list[Any]] = {}
    for name, kind in spec.kinds.items():
        if kind == "numeric":
            out[name] = [_number(v, name) for v in cells[name]]
        else:
            out[name] = [_label(v, kind, name) for v in cells[name]]
    return rows, out


# --- all simple CSV requests at once


@dataclass
class _Part:
    """Rows of some requests: their record indices, rows per record, and per baseline
    feature the values (float64 for numeric; canonical labels as codes into ``labels``
    for the others)."""

    records: list[int]
    counts: list[int]
    numbers: dict[str, FloatArray]
    codes: dict[str, IntArray]
    labels: dict[str, list[str]]


def _empty_part(spec: _Spec) -> _Part:
    return _Part(
        records=[],
        counts=[],
        numbers={n: np.empty(0) for n, k in spec.kinds.items() if k == "numeric"},
        codes={n: np.empty(0, dtype=np.int64) for n, k in spec.kinds.items() if k != "numeric"},
        labels={n: [] for n, k in spec.kinds.items() if k != "numeric"},
    )


def _maybe_header(trimmed: Any, spec: _Spec) -> BoolArray:
    """Payloads whose first line may be a header (read singly, by :func:`is_header`'s
    rule): its first cell names a column, or (with required features) it holds the first
    required name, as any header that names unknown columns must."""
    names = "|".join(re.escape(n) for n in [*spec.features, spec.target])
    first = rf"^[ \t\r]*({names})[ \t\r]*(,|\n|$)"
    maybe = np.asarray(pc.match_substring_regex(trimmed, first), dtype=np.bool_)
    if spec.required:
        maybe |= np.asarray(pc.match_substring(trimmed, spec.required[0]), dtype=np.bool_)
    else:
        anywhere = rf"^([^\n]*,)?[ \t\r]*({names})[ \t\r]*(,|\n|$)"
        maybe |= np.asarray(pc.match_substring_regex(trimmed, anywhere), dtype=np.bool_)
    return maybe


def _bulk_candidates(texts: Any, spec: _Spec) -> tuple[BoolArray, Any, IntArray]:
    """Which CSV payloads the bulk read takes (no quote, no header, no blank line, every
    line of the feature count), their trimmed texts and rows per payload."""
    trimmed = pc.utf8_trim_whitespace(texts)
    newlines = np.asarray(pc.count_substring(trimmed, "\n"), dtype=np.int64)
    rows = newlines + 1
    commas = np.asarray(pc.count_substring(trimmed, ","), dtype=np.int64)
    ok = commas == rows * (len(spec.features) - 1)
    ok &= ~np.asarray(pc.match_substring(trimmed, '"'), dtype=np.bool_)
    ok &= ~_maybe_header(trimmed, spec)
    blank = pc.match_substring_regex(trimmed, r"(^|\n)[ \t\r,]*(\n|$)")  # dropped rows
    ok &= ~np.asarray(blank, dtype=np.bool_)
    multi = np.flatnonzero(ok & (newlines > 0))
    if multi.size:  # the commas of each line, not only of the payload
        lines = pc.split_pattern(trimmed.take(multi), "\n")
        per_line = np.asarray(pc.count_substring(pc.list_flatten(lines), ","))
        wrong = per_line != len(spec.features) - 1
        ok[multi[np.asarray(pc.list_parent_indices(lines))[wrong]]] = False
    return ok, trimmed, rows


def _take(array: Any, picked: IntArray) -> Any:
    """``array.take(picked)``, without the copy when every element is picked in order."""
    if picked.size == len(array) and (picked.size == 0 or picked[-1] == picked.size - 1):
        return array
    return array.take(picked)


def _joined(trimmed: Any) -> Any:
    """The texts one after another, each ended by a newline, as one Arrow buffer."""
    empty, newline = pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string())
    ended = pc.binary_join_element_wise(trimmed, empty, newline)
    array = ended.combine_chunks() if isinstance(ended, pa.ChunkedArray) else ended
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    start, end = offsets[array.offset], offsets[array.offset + len(array)]
    return array.buffers()[2][start:end]


def _read_csv(data: Any, spec: _Spec) -> Any:
    """The joined rows as a table of the baseline's features: numbers typed by Arrow's
    reader when every cell is a plain number or blank, else (a cell it refuses, which
    may be one pandas reads or one the model refuses) every column as text."""
    numeric = [n for n, k in spec.kinds.items() if k == "numeric"]
    for typed in (True, False):
        types = dict.fromkeys(spec.features, pa.string())
        if typed:
            types |= dict.fromkeys(numeric, pa.float64())
        try:
            return pa_csv.read_csv(
                pa.BufferReader(data),
                read_options=pa_csv.ReadOptions(column_names=spec.features, use_threads=True),
                parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=False),
                convert_options=pa_csv.ConvertOptions(
                    column_types=types,
                    include_columns=list(spec.kinds),
                    strings_can_be_null=False,
                    null_values=[""],
                ),
            )
        except pa.ArrowInvalid:
            if not typed:
                raise
    raise AssertionError("unreachable")


def _bulk_numbers(column: Any, name: str) -> tuple[FloatArray, BoolArray]:
    """A text column as numbers (NaN for blank) and the rows holding a non-number."""
    if pa.types.is_floating(column.type):
        values = np.asarray(column.to_numpy(), dtype=np.float64)
        return values, np.zeros(len(values), dtype=np.bool_)
    text = pc.utf8_trim_whitespace(column)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
    try:
        numbers = pc.cast(text, pa.float64())
        values = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)
        return values, np.zeros(len(values), dtype=np.bool_)
    except pa.ArrowInvalid:
        pass
    raw = pd.Series(text.to_pandas(), dtype=object)
    coerced = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    suspect = np.flatnonzero(np.isnan(coerced) & raw.notna().to_numpy())
    bad = np.zeros(len(coerced), dtype=np.bool_)
    for i in suspect:
        try:
            coerced[i] = _number(raw.iloc[i], name)
        except _Rejected:
            bad[i] = True
    return coerced, bad


def _bulk_labels(column: Any, kind: str, name: str) -> tuple[IntArray, list[str], BoolArray]:
    """A text column as codes into canonical labels (-1 missing) and the bad rows."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    indices = np.asarray(encoded.indices.fill_null(-1).to_numpy(), dtype=np.int64)
    table: dict[str, int] = {}
    remap = np.full(len(encoded.dictionary) + 1, -1, dtype=np.int64)
    bad_value = np.zeros(len(encoded.dictionary) + 1, dtype=np.bool_)
    for i, value in enumerate(encoded.dictionary.to_pylist()):
        try:
            label = _label(value, kind, name)
        except _Rejected:
            bad_value[i] = True
            continue
        if label is not None:
            remap[i] = table.setdefault(label, len(table))
    return remap[indices], list(table), bad_value[indices]


def _bulk_part(
    records: IntArray, texts: Any, spec: _Spec
) -> tuple[_Part, list[int], list[str], list[tuple[int, str, int]]]:
    """The bulk read of the simple CSV payloads (``texts``: Arrow strings): their part,
    the payloads it did not take (for the one-at-a-time read) and the requests it
    refused (record, reason, rows)."""
    part = _empty_part(spec)
    if not len(texts):
        return part, [], [], []
    ok, trimmed, rows = _bulk_candidates(texts, spec)
    taken = np.flatnonzero(ok)
    rest = np.flatnonzero(~ok)
    slow = records[rest].tolist(), texts.take(rest).to_pylist()
    if taken.size == 0:
        return part, *slow, []
    counts = rows[taken]
    table = _read_csv(_joined(_take(trimmed, taken)), spec)
    if table.num_rows != int(counts.sum()):  # not what the line count said: read each
        return part, records.tolist(), texts.to_pylist(), []
    bad = np.zeros(table.num_rows, dtype=np.bool_)
    reasons: dict[str, str] = {}
    for name, kind in spec.kinds.items():
        column = table.column(name)
        if kind == "numeric":
            part.numbers[name], wrong = _bulk_numbers(column, name)
            reason = "expected numbers"
        else:
            part.codes[name], part.labels[name], wrong = _bulk_labels(column, kind, name)
            reason = "not a boolean"
        if wrong.any():
            bad |= wrong
            reasons[name] = reason
    part.records = records[taken].tolist()
    part.counts = counts.tolist()
    if not bad.any():
        return part, *slow, []
    return _drop_refused(part, bad, reasons, counts), *slow, _refusals(part, bad, reasons, counts)


def _ranges(starts: IntArray, counts: IntArray) -> IntArray:
    """``arange(start, start + count)`` of every pair, one after another."""
    total = int(counts.sum())
    firsts = np.cumsum(counts) - counts
    out: IntArray = np.repeat(starts - firsts, counts) + np.arange(total, dtype=np.int64)
    return out


def _row_owner(counts: Sequence[int] | IntArray) -> IntArray:
    return np.repeat(np.arange(len(counts)), np.asarray(counts, dtype=np.int64))


def _refusals(
    part: _Part, bad: BoolArray, reasons: dict[str, str], counts: IntArray
) -> list[tuple[int, str, int]]:
    owners = np.unique(_row_owner(counts)[bad])
    text = "; ".join(f"column {n!r}: {r}" for n, r in reasons.items())
    reason = f"a value the model refuses ({text})"
    return [(part.records[i], reason, int(counts[i])) for i in owners]


def _drop_refused(part: _Part, bad: BoolArray, reasons: dict[str, str], counts: IntArray) -> _Part:
    owner = _row_owner(counts)
    refused = np.zeros(len(counts), dtype=np.bool_)
    refused[owner[bad]] = True
    keep_rows = ~refused[owner]
    return _Part(
        records=[r for r, x in zip(part.records, refused, strict=True) if not x],
        counts=[c for c, x in zip(part.counts, refused, strict=True) if not x],
        numbers={n: v[keep_rows] for n, v in part.numbers.items()},
        codes={n: v[keep_rows] for n, v in part.codes.items()},
        labels=part.labels,
    )


def _slow_part(
    records: list[int], texts: list[str], medias: list[str], spec: _Spec
) -> tuple[_Part, list[tuple[int, str, int]]]:
    """Requests read one at a time by the endpoint's reader; the refused ones apart
    (record, reason, rows)."""
    part = _empty_part(spec)
    tables: dict[str, dict[str, int]] = {n: {} for n in part.codes}
    numbers: dict[str, list[float]] = {n: [] for n in part.numbers}
    codes: dict[str, list[int]] = {n: [] for n in part.codes}
    refused: list[tuple[int, str, int]] = []
    for record, text, media in zip(records, texts, medias, strict=True):
        try:
            rows, columns = _slow_columns(text, media, spec)
        except _Rejected as exc:
            refused.append((record, str(exc), _request_rows(text, media)))
            continue
        part.records.append(record)
        part.counts.append(rows)
        for name in numbers:
            numbers[name].extend(columns[name])
        for name, table in tables.items():
            codes[name].extend(
                -1 if v is None else table.setdefault(v, len(table)) for v in columns[name]
            )
    part.numbers = {n: np.asarray(v, dtype=np.float64) for n, v in numbers.items()}
    part.codes = {n: np.asarray(v, dtype=np.int64) for n, v in codes.items()}
    part.labels = {n: list(t) for n, t in tables.items()}
    return part, refused


def _merged(parts: list[_Part], spec: _Spec) -> tuple[list[int], list[int], dict[str, Any]]:
    """The parts' rows in record order: records, rows per record, and per feature the
    column the window summarises (float64, or a categorical Series of labels)."""
    parts = [p for p in parts if p.records] or parts[:1]
    records = [r for p in parts for r in p.records] if len(parts) > 1 else parts[0].records
    counts = [c for p in parts for c in p.counts] if len(parts) > 1 else parts[0].counts
    if len(parts) == 1:  # one part is in record order already
        order: Any = slice(None)
    else:
        order = np.argsort(np.repeat(np.asarray(records, dtype=np.int64), counts), kind="stable")
    columns: dict[str, Any] = {}
    for name, kind in spec.kinds.items():
        if kind == "numeric":
            columns[name] = np.concatenate([p.numbers[name] for p in parts])[order]
            continue
        union: dict[str, int] = {}
        pieces = []
        for p in parts:
            remap = np.array([union.setdefault(x, len(union)) for x in p.labels[name]] + [-1])
            pieces.append(remap[p.codes[name]])
        codes: IntArray = np.concatenate(pieces)[order].astype(np.int64)
        labels = pd.Index(list(union), dtype=object)
        columns[name] = pd.Series(pd.Categorical.from_codes(codes, categories=labels))
    if len(parts) == 1:
        return records, counts, columns
    by_record = np.argsort(np.asarray(records, dtype=np.int64), kind="stable")
    ordered = np.asarray(records, dtype=np.int64)[by_record].tolist()
    return ordered, np.asarray(counts, dtype=np.int64)[by_record].tolist(), columns


# --- responses


@dataclass
class _Served:
    """Outputs of the kept requests, row by row (filled as responses are read)."""

    rows: int
    classifier: bool
    target_type: ColumnType
    predictions: npt.NDArray[Any] = field(init=False)
    probabilities: FloatArray | None = None
    classes: list[str] | None = None
    present: BoolArray = field(init=False)

    def __post_init__(self) -> None:
        if self.classifier:
            self.predictions = np.full(self.rows, None, dtype=object)
        else:
            self.predictions = np.full(self.rows, np.nan)
        self.present = np.zeros(self.rows, dtype=np.bool_)

    def labels(self, values: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Served labels (or numbers) as this window keeps them."""
        if not self.classifier:
            return np.asarray(values, dtype=np.float64)
        codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object)))
        table = np.array([_target_label(u, self.target_type) for u in uniques] + [None])
        out: npt.NDArray[Any] = table[codes]
        return out

    def fill(self, rows: IntArray, predictions: Any, probabilities: Any | None) -> None:
        self.predictions[rows] = self.labels(predictions)
        self.present[rows] = True
        if probabilities is None:
            return
        matrix = np.asarray(probabilities, dtype=np.float64)
        if self.probabilities is None:
            self.probabilities = np.full((self.rows, matrix.shape[1]), np.nan)
        if matrix.shape[1] != self.probabilities.shape[1]:
            raise _Rejected(f"{matrix.shape[1]} class probabilities, not {len(self.classes or [])}")
        self.probabilities[rows] = matrix

    def name_classes(self, classes: Any) -> None:
        if self.classes is None and isinstance(classes, list) and classes:
            self.classes = [str(_target_label(c, self.target_type)) for c in classes]

    def outputs(self) -> CapturedOutputs:
        return CapturedOutputs(self.predictions, self.probabilities, self.classes, self.present)


def _response(text: str, media: str) -> tuple[list[Any], list[list[float]] | None, Any]:
    """One response as ``output_fn`` writes it: predictions, probabilities, classes."""
    if media == CSV:
        rows = [r for r in csv.reader(io.StringIO(text)) if r]
        probabilities = (
            [[float(x) for x in r[1:]] for r in rows] if rows and len(rows[0]) > 1 else None
        )
        return [r[0] for r in rows], probabilities, None
    body = json.loads(text)
    if not isinstance(body, dict) or not isinstance(body.get("predictions"), list):
        raise ValueError('not {"predictions": [...]}')
    return body["predictions"], body.get("probabilities"), body.get("classes")


def _bulk_responses(served: _Served, texts: Any, starts: IntArray, counts: IntArray) -> BoolArray:
    """JSON responses in one pyarrow read; which of them were read (the others are read
    one at a time)."""
    done = np.zeros(len(texts), dtype=np.bool_)
    if not len(texts):
        return done
    try:
        table = pa_json.read_json(pa.BufferReader(_joined(texts)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return done
    if table.num_rows != len(texts) or "predictions" not in table.column_names:
        return done
    predictions = table.column("predictions").combine_chunks()
    if not pa.types.is_list(predictions.type):
        return done
    lengths = np.asarray(pc.fill_null(pc.list_value_length(predictions), -1), dtype=np.int64)
    probabilities = None
    if "probabilities" in table.column_names:
        probabilities = table.column("probabilities").combine_chunks()
        rows_of = pc.fill_null(pc.list_value_length(probabilities), -1)
        lengths = np.where(np.asarray(rows_of) == lengths, lengths, -1)
    if "classes" in table.column_names:
        first = table.column("classes").drop_null()
        if len(first):
            served.name_classes(first[0].as_py())
    ok = np.flatnonzero(lengths == counts)
    if ok.size == 0:
        return done
    rows = _ranges(starts[ok], counts[ok])
    values = pc.list_flatten(predictions.take(ok)).to_numpy(zero_copy_only=False)
    matrix = None
    if probabilities is not None:
        nested = pc.list_flatten(probabilities.take(ok))
        widths = np.asarray(pc.list_value_length(nested))
        if widths.size and (widths == widths[0]).all():
            matrix = pc.list_flatten(nested).to_numpy().reshape(-1, int(widths[0]))
    served.fill(rows, values, matrix)
    done[ok] = True
    return done


def _read_responses(
    served: _Served, records: CaptureRecords, kept: list[int], counts: list[int]
) -> list[tuple[int, str]]:
    """Every kept request's response into ``served``; the unreadable ones' reasons."""
    sizes = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    where = np.asarray(kept, dtype=np.int64)
    arrow = _take(_payloads(records, "outputs", records.output_encodings), where)
    medias = _medias(records.output_types)[where] if kept else np.empty(0, dtype=object)
    readable = ~np.asarray(arrow.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    as_json = readable & (medias == JSON)
    as_json &= ~np.asarray(pc.fill_null(pc.match_substring(arrow, "\n"), True), dtype=np.bool_)
    bulk = np.flatnonzero(as_json)
    others = np.flatnonzero(readable & ~as_json)
    single = list(zip(others.tolist(), arrow.take(others).to_pylist(), medias[others], strict=True))
    done = _bulk_responses(served, _take(arrow, bulk), starts[bulk], sizes[bulk])
    again = bulk[~done]
    single += zip(again.tolist(), arrow.take(again).to_pylist(), [JSON] * again.size, strict=True)
    problems: list[tuple[int, str]] = []
    for j, text, media in single:
        try:
            predictions, probabilities, classes = _response(text, media)
            if len(predictions) != sizes[j]:
                raise ValueError(f"{len(predictions)} predictions for {sizes[j]} rows")
            served.name_classes(classes)
            rows = np.arange(starts[j], starts[j] + sizes[j])
            served.fill(rows, predictions, probabilities)
        except (ValueError, TypeError, _Rejected) as exc:
            problems.append((kept[j], f"response not read: {exc}"))
    return problems


def _prediction_values(served: _Served, spec: _Spec) -> Any | None:
    """The window's prediction column, of the kind the training job's baseline holds."""
    present = served.present
    if not present.any():
        return None
    if spec.problem is ProblemType.REGRESSION:
        return served.predictions[present]
    if spec.problem is ProblemType.BINARY:
        if served.probabilities is None or served.probabilities.shape[1] != 2:
            return None
        return served.probabilities[present, 1]
    return pd.Series(served.predictions[present], dtype=object)


# --- the window


def _request_rows(text: str, media: str) -> int:
    """How many rows a refused request held, as far as its reader can tell (at least 1)."""
    try:
        request = read_request(text, media)
    except BadRequest:
        return 1
    return max(1, len(request.records or request.rows or []))


def _medias(types: list[str | None]) -> npt.NDArray[Any]:
    """Each record's media type (one parse a distinct content type)."""
    distinct = set(types)
    if len(distinct) == 1:
        return np.full(len(types), media_type(distinct.pop()), dtype=object)
    table = {t: media_type(t) for t in distinct}
    return np.array([table[t] for t in types], dtype=object)


def _payloads(records: CaptureRecords, name: str, encodings: list[str | None]) -> Any:
    """A payload column as Arrow text, BASE64 decoded (null: none, or not text)."""
    if "BASE64" not in set(encodings):
        return records.arrow_column(name)
    data: list[str | None] = getattr(records, name)
    decoded = [
        payload_text(e, d) if e == "BASE64" else d for e, d in zip(encodings, data, strict=True)
    ]
    return pa.array(decoded, type=pa.large_string())


def _sorted_requests(
    records: CaptureRecords,
) -> tuple[IntArray, Any, list[int], list[str], list[tuple[int, str]]]:
    """Requests for the bulk CSV read (indices, Arrow texts), JSON requests (read one at
    a time) and those with no readable payload."""
    medias = _medias(records.input_types)
    texts = _payloads(records, "inputs", records.input_encodings)
    valid = ~np.asarray(texts.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    is_csv, is_json = medias == CSV, medias == JSON
    unread = [
        (int(i), f"unsupported content type {records.input_types[i]!r}")
        for i in np.flatnonzero(~is_csv & ~is_json)
    ]
    for i in np.flatnonzero((is_csv | is_json) & ~valid).tolist():
        unread.append(
            (i, "no request" if records.inputs[i] is None else "a payload that is not text")
        )
    bulk_idx = np.flatnonzero(is_csv & valid)
    one_idx = np.flatnonzero(is_json & valid)
    return (
        bulk_idx,
        _take(texts, bulk_idx),
        one_idx.tolist(),
        texts.take(one_idx).to_pylist(),
        unread,
    )


def _row_ids(records: CaptureRecords, kept: list[int], counts: list[int]) -> list[str]:
    """Every kept row's id, in order (:func:`capture.row_ids`; a one-row request's id is
    its inference or event id, without a call a request)."""
    ids = [records.inference_ids[i] or records.event_ids[i] for i in kept]
    if not counts or max(counts) == 1:
        return ids
    out: list[str] = []
    for i, base, rows in zip(kept, ids, counts, strict=True):
        if rows == 1:
            out.append(base)
        else:
            out.extend(row_ids(records.inference_ids[i], records.event_ids[i], rows))
    return out


def captured_window(
    records: CaptureRecords, baseline: DriftBaseline, contract: ModelContract
) -> CapturedWindow:
    """The drift window of captured requests, their row ids and the model's outputs."""
    spec = _Spec.of(contract, baseline)
    bulk_idx, bulk_texts, one_idx, one_texts, unread = _sorted_requests(records)
    bulk, rest_idx, rest_texts, refused = _bulk_part(bulk_idx, bulk_texts, spec)
    medias = [JSON] * len(one_idx) + [CSV] * len(rest_idx)
    one, one_refused = _slow_part([*one_idx, *rest_idx], [*one_texts, *rest_texts], medias, spec)
    kept, counts, columns = _merged([bulk, one], spec)
    served = _Served(sum(counts), spec.problem is not ProblemType.REGRESSION, spec.target_type)
    problems = _read_responses(served, records, kept, counts)
    window = build_window(baseline, columns, prediction=_prediction_values(served, spec))
    ids = _row_ids(records, kept, counts)
    left_out = [*((i, reason, 1) for i, reason in unread), *refused, *one_refused]
    corrupt = list(records.corrupt) + [
        Corrupt(records.event_ids[i], 0, reason)
        for i, reason, _ in sorted([*left_out, *((i, r, 0) for i, r in problems)])
    ]
    unparsed = sum(rows for _, _, rows in left_out)
    return CapturedWindow(window, len(ids), ids, served.outputs(), corrupt, unparsed)
