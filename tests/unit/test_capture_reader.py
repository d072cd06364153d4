"""Reading SageMaker data capture (modelrail.monitoring.capture): the fast path and the
line-by-line path give the same records; corrupt lines are counted, never fatal."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from modelrail.monitoring.capture import CaptureRecords, payload_text, read_records, row_ids


def record(i: int, *, encoding: str = "CSV", inference_id: str | None = "req") -> dict[str, Any]:
    body = f"S0{i % 9 + 1},grocery,{i}.5,true,1,6,20.5,false,"
    data = base64.b64encode(body.encode()).decode() if encoding == "BASE64" else body
    meta: dict[str, Any] = {"eventId": f"e-{i}", "inferenceTime": "2026-11-30T10:00:00Z"}
    if inference_id:
        meta["inferenceId"] = f"{inference_id}-{i}"
    return {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": encoding},
            "endpointOutput": {
                "observedContentType": "application/json", "mode": "OUTPUT",
                "data": json.dumps({"predictions": [float(i)]}), "encoding": "JSON",
            },
        },
        "eventMetadata": meta,
        "eventVersion": "0",
    }  # fmt: skip


def lines(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def as_tuples(r: CaptureRecords) -> list[tuple[Any, ...]]:
    return list(
        zip(
            r.event_ids,
            r.inference_ids,
            r.times,
            r.inputs,
            r.input_encodings,
            r.outputs,
            strict=True,
        )
    )


def test_records_are_read_in_file_and_line_order() -> None:
    files = [
        ("a.jsonl", lines([record(i) for i in range(3)])),
        ("b.jsonl", lines([record(9, inference_id=None)])),
    ]
    got = read_records(files)
    assert (len(got), got.files, got.corrupt) == (4, 2, [])
    assert got.event_ids == ["e-0", "e-1", "e-2", "e-9"]
    assert got.inference_ids == ["req-0", "req-1", "req-2", None]
    assert got.outputs[0] == '{"predictions": [0.0]}'


def test_a_corrupt_line_costs_only_itself() -> None:
    good = [record(i) for i in range(5)]
    broken = (
        lines(good[:2]) + b'{"captureData": {"endpointInput": \n' + lines(good[2:]) + b'{"torn": '
    )
    got = read_records([("hour.jsonl", broken)])
    clean = read_records([("hour.jsonl", lines(good))])
    assert as_tuples(got) == as_tuples(clean)  # the slow path reads what the fast one does
    assert [(c.key, c.line) for c in got.corrupt] == [("hour.jsonl", 3), ("hour.jsonl", 7)]


def test_records_without_the_capture_shape_are_corrupt() -> None:
    no_event = record(1)
    del no_event["eventMetadata"]["eventId"]
    odd = record(2)
    odd["captureData"]["endpointInput"]["encoding"] = "XML"
    bare = {"eventMetadata": {"eventId": "e-3"}}
    got = read_records([("h.jsonl", lines([record(0), no_event, odd, [1, 2], bare]))])  # type: ignore[list-item]
    assert got.event_ids == ["e-0"]
    assert [c.reason for c in got.corrupt] == [
        "no eventMetadata.eventId",
        "captureData.endpointInput has no known encoding",
        "a capture record must be a JSON object",
        "no captureData / eventMetadata",
    ]
    # the same problem alone in a file is found without a parse error to fall back on
    alone = read_records([("h.jsonl", lines([record(0), bare]))])
    assert (
        alone.event_ids == ["e-0"] and alone.corrupt[0].reason == "no captureData / eventMetadata"
    )


def test_base64_payloads_and_row_ids() -> None:
    got = read_records([("h.jsonl", lines([record(4, encoding="BASE64")]))])
    assert (
        payload_text(got.input_encodings[0], got.inputs[0])
        == "S05,grocery,4.5,true,1,6,20.5,false,"
    )
    assert payload_text("BASE64", "not base64!") is None
    assert payload_text("CSV", "a,b") == "a,b"
    assert row_ids("req-1", "e-1", 1) == ["req-1"]
    assert row_ids("req-1", "e-1", 3) == ["req-1:0", "req-1:1", "req-1:2"]
    assert row_ids(None, "e-1", 2) == ["e-1:0", "e-1:1"]


def test_empty_files_are_counted_and_give_nothing() -> None:
    got = read_records([("a.jsonl", b""), ("b.jsonl", b"\n\n")])
    assert (len(got), got.files, got.corrupt) == (0, 2, [])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=20), st.integers(0, 19))
def test_fast_and_line_paths_agree(ids: list[int], cut: int) -> None:
    records = [record(i, inference_id=None if i % 3 == 0 else "r") for i in ids]
    fast = read_records([("f.jsonl", lines(records))])
    spoiled = (
        lines(records[: cut % len(records)]) + b"garbage\n" + lines(records[cut % len(records) :])
    )
    slow = read_records([("f.jsonl", spoiled)])
    assert as_tuples(fast) == as_tuples(slow) and len(slow.corrupt) == 1


def test_the_arrow_columns_are_the_lists_and_a_line_by_line_file_drops_them() -> None:
    fast = [("a.jsonl", lines([record(i) for i in range(3)])), ("b.jsonl", b"")]
    got = read_records(fast)
    assert got.arrow is not None
    assert got.arrow_column("inputs").to_pylist() == got.inputs
    assert got.arrow_column("outputs").to_pylist() == got.outputs
    broken = ("c.jsonl", lines([record(5)]) + b"{torn\n")
    mixed = read_records([*fast, broken])
    assert mixed.arrow is None and len(mixed.corrupt) == 1
    assert mixed.arrow_column("inputs").to_pylist() == mixed.inputs  # built from the list
