"""SageMaker data capture, read: JSON Lines files into columns of records. Pure.

A capture file (``<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``) holds one JSON object a
line: ``captureData.endpointInput`` / ``endpointOutput`` (``observedContentType``,
``mode``, ``data``, ``encoding``: CSV, JSON or BASE64) and ``eventMetadata`` (``eventId``,
``inferenceId`` when the caller sent one, ``inferenceTime``). :func:`read_records` parses
files with pyarrow's JSON reader (multi-threaded C++; 1M records in about a second) and
falls back to a line-by-line read for a file it refuses, so one corrupt line costs that
file the fast path, never the window: corrupt lines are counted with their file and line
number and left out. A file still being written (the current hour) is read as far as it
is complete; a torn last line is a corrupt line.

Each request's rows get ids: ``<inferenceId>`` for a one-row request, ``<inferenceId>:<i>``
(0-based) for row ``i`` of a longer one, and the ``eventId`` in place of the inference id
when the caller sent none (such rows can be checked for drift but not joined with labels).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ENCODINGS = ("CSV", "JSON", "BASE64")
_FIELDS = ("observedContentType", "encoding", "data")
_ARROW_KEPT: dict[tuple[str, ...], str] = {
    ("endpointInput", "data"): "inputs",
    ("endpointOutput", "data"): "outputs",
}  # the payloads, which a window parses with Arrow again


@dataclass(frozen=True)
class Corrupt:
    key: str
    line: int  # 1-based
    reason: str


@dataclass
class CaptureRecords:
    """Captured requests, one entry per record in every list (columnar)."""

    event_ids: list[str] = field(default_factory=list)
    inference_ids: list[str | None] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    input_types: list[str | None] = field(default_factory=list)
    input_encodings: list[str | None] = field(default_factory=list)
    inputs: list[str | None] = field(default_factory=list)
    output_types: list[str | None] = field(default_factory=list)
    output_encodings: list[str | None] = field(default_factory=list)
    outputs: list[str | None] = field(default_factory=list)
    corrupt: list[Corrupt] = field(default_factory=list)
    files: int = 0
    arrow: dict[str, list[Any]] | None = field(default=None, repr=False, compare=False)
    """The same columns as the Arrow arrays the fast read parsed (chunks, one a file), so
    a reader that wants Arrow does not rebuild them from the lists; None when some
    records were read line by line. Kept equal to the lists by :meth:`extend`."""

    def __len__(self) -> int:
        return len(self.event_ids)

    def extend(self, other: CaptureRecords) -> None:
        if not len(other):
            pass
        elif not len(self):
            self.arrow = (
                None if other.arrow is None else {k: list(v) for k, v in other.arrow.items()}
            )
        elif self.arrow is not None and other.arrow is not None:
            for name, chunks in other.arrow.items():
                self.arrow[name].extend(chunks)
        else:
            self.arrow = None
        for name in (
            "event_ids", "inference_ids", "times", "input_types", "input_encodings", "inputs",
            "output_types", "output_encodings", "outputs", "corrupt",
        ):  # fmt: skip
            getattr(self, name).extend(getattr(other, name))
        self.files += other.files

    def arrow_column(self, name: str) -> Any:
        """One of the payload columns (``inputs``, ``outputs``, ...) as one Arrow
        large-string array: the parsed arrays when there are, else built from the list."""
        import pyarrow as pa

        if self.arrow is not None and name in self.arrow and len(self):
            chunks = [c.cast(pa.large_string()) for c in self.arrow[name]]
            return pa.chunked_array(chunks, type=pa.large_string()).combine_chunks()
        return pa.array(getattr(self, name), type=pa.large_string())


def read_records(files: Iterable[tuple[str, bytes]]) -> CaptureRecords:
    """Every record of the capture files ``(key, bytes)``, in file then line order."""
    out = CaptureRecords()
    for key, data in files:
        out.extend(_read_file(key, data))
    return out


def _read_file(key: str, data: bytes) -> CaptureRecords:
    records = CaptureRecords(files=1)
    if not data or data.isspace():
        return records
    try:
        fast = _fast(data)
    except Exception:  # pyarrow refused the file (a corrupt line): read it line by line
        fast = None
    if fast is not None:
        fast.files = 1
        return fast
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as exc:
            records.corrupt.append(Corrupt(key, number, f"not JSON: {exc}"))
            continue
        problem = _shape_problem(document)
        if problem is not None:
            records.corrupt.append(Corrupt(key, number, problem))
            continue
        _append(records, document)
    return records


def _shape_problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "a capture record must be a JSON object"
    capture, meta = document.get("captureData"), document.get("eventMetadata")
    if not isinstance(capture, dict) or not isinstance(meta, dict):
        return "no captureData / eventMetadata"
    if not isinstance(meta.get("eventId"), str) or not meta["eventId"]:
        return "no eventMetadata.eventId"
    for mode in ("endpointInput", "endpointOutput"):
        part = capture.get(mode)
        if part is None:
            continue
        if not isinstance(part, dict) or part.get("encoding") not in ENCODINGS:
            return f"captureData.{mode} has no known encoding"
        if not isinstance(part.get("data"), str):
            return f"captureData.{mode}.data is not text"
    return None


def _part(capture: dict[str, Any], mode: str) -> tuple[Any, Any, Any]:
    part = capture.get(mode) or {}
    return tuple(part.get(name) for name in _FIELDS)  # type: ignore[return-value]


def _append(records: CaptureRecords, document: dict[str, Any]) -> None:
    capture, meta = document["captureData"], document["eventMetadata"]
    records.event_ids.append(meta["eventId"])
    records.inference_ids.append(meta.get("inferenceId") or None)
    records.times.append(str(meta.get("inferenceTime") or ""))
    kind, encoding, data = _part(capture, "endpointInput")
    records.input_types.append(kind)
    records.input_encodings.append(encoding)
    records.inputs.append(data)
    kind, encoding, data = _part(capture, "endpointOutput")
    records.output_types.append(kind)
    records.output_encodings.append(encoding)
    records.outputs.append(data)


def _schema() -> Any:
    """Every field the reader uses, as text (no inference: a time stays its string)."""
    import pyarrow as pa

    part = pa.struct(
        [(name, pa.string()) for name in ("observedContentType", "mode", *_FIELDS[1:])]
    )
    meta = pa.struct([(name, pa.string()) for name in ("eventId", "inferenceId", "inferenceTime")])
    capture = pa.struct([("endpointInput", part), ("endpointOutput", part)])
    return pa.schema([("captureData", capture), ("eventMetadata", meta)])


def _fast(data: bytes) -> CaptureRecords | None:
    """The whole file through pyarrow's JSON reader; None when its shape is not the
    capture shape (the line-by-line read then says which line is wrong)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pa_json

    options = pa_json.ParseOptions(explicit_schema=_schema(), unexpected_field_behavior="ignore")
    table = pa_json.read_json(io.BytesIO(data), parse_options=options)
    capture, meta = table.column("captureData"), table.column("eventMetadata")
    if capture.null_count or meta.null_count:  # a record without the capture shape
        return None

    def field(parent: Any, *path: str) -> Any:
        node = parent
        for step in path:
            node = pc.struct_field(node, step)
        return node

    ids = field(meta, "eventId")
    encodings = pa.chunked_array(
        [
            *field(capture, "endpointInput", "encoding").chunks,
            *field(capture, "endpointOutput", "encoding").chunks,
        ],
        type=pa.string(),
    )
    known = pc.or_kleene(pc.is_null(encodings), pc.is_in(encodings, value_set=pa.array(ENCODINGS)))
    if ids.null_count or (len(ids) and pc.min(pc.utf8_length(ids)).as_py() == 0):
        return None
    if not pc.all(known).as_py():
        return None
    inference = field(meta, "inferenceId")
    out = CaptureRecords(
        event_ids=ids.to_pylist(),
        inference_ids=pc.if_else(pc.equal(inference, ""), None, inference).to_pylist(),
        times=pc.fill_null(field(meta, "inferenceTime"), "").to_pylist(),
        input_types=field(capture, "endpointInput", "observedContentType").to_pylist(),
        input_encodings=field(capture, "endpointInput", "encoding").to_pylist(),
        inputs=field(capture, "endpointInput", "data").to_pylist(),
        output_types=field(capture, "endpointOutput", "observedContentType").to_pylist(),
        output_encodings=field(capture, "endpointOutput", "encoding").to_pylist(),
        outputs=field(capture, "endpointOutput", "data").to_pylist(),
    )
    out.arrow = {
        name: [field(capture, *path).combine_chunks()] for path, name in _ARROW_KEPT.items()
    }
    return out


def payload_text(encoding: str | None, data: str | None) -> str | None:
    """A captured payload as text: CSV and JSON are stored as text, BASE64 decoded (None
    when it is not base64 of UTF-8 text)."""
    if data is None:
        return None
    if encoding != "BASE64":
        return data
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def row_ids(inference_id: str | None, event_id: str, rows: int) -> list[str]:
    """The ids of a request's rows (see the module docstring)."""
    base = inference_id or event_id
    return [base] if rows == 1 else [f"{base}:{i}" for i in range(rows)]
