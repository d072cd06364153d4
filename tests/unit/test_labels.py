"""Ground truth (modelrail.monitoring.labels): both upload shapes, corrections, and the
join with a window's predictions by row id."""

from __future__ import annotations

import json

from modelrail.monitoring.labels import join, read_labels


def mm(row_id: str, label: str, encoding: str = "CSV") -> bytes:
    record = {
        "groundTruthData": {"data": label, "encoding": encoding},
        "eventMetadata": {"eventId": row_id},
        "eventVersion": "0",
    }
    return json.dumps(record).encode() + b"\n"


def test_model_monitor_records_and_plain_csv_are_both_read() -> None:
    labels = read_labels([
        ("ground-truth/demand/2026/11/30/10/a.jsonl", mm("r1", "12.5") + mm("r2:0", '"yes"', "JSON")),
        ("ground-truth/demand/labels.csv", b"inference_id,label,note\nr3,7,late\nr2:1,9,\n"),
    ])  # fmt: skip
    assert labels.by_id == {"r1": "12.5", "r2:0": "yes", "r3": "7", "r2:1": "9"}
    assert (labels.files, labels.duplicates, labels.corrupt) == (2, 0, [])


def test_a_later_file_corrects_an_earlier_label() -> None:
    labels = read_labels([("b.csv", b"inference_id,label\nr1,5\n"), ("a.jsonl", mm("r1", "4"))])
    assert labels.by_id == {"r1": "5"} and labels.duplicates == 1  # b.csv is read after a.jsonl


def test_bad_lines_are_counted_not_fatal() -> None:
    labels = read_labels([
        ("a.jsonl", mm("r1", "1") + b"{oops\n" + b'{"groundTruthData": {"data": "1"}}\n' + mm("r2", "x", "XML")),
        ("b.csv", b"id,value\n1,2\n"),
        ("c.csv", b"inference_id,label\nr5\n,3\nr6,0\n"),
    ])  # fmt: skip
    assert labels.by_id == {"r1": "1", "r6": "0"}
    assert [(c.key, c.line) for c in labels.corrupt] == [
        ("a.jsonl", 2), ("a.jsonl", 3), ("a.jsonl", 4), ("b.csv", 1), ("c.csv", 2), ("c.csv", 3),
    ]  # fmt: skip


def test_join_matches_by_id_and_counts_both_sides() -> None:
    labels = read_labels([("l.csv", b"inference_id,label\nr3,30\nr1,10\nold,0\n")])
    joined = join(["r1", "r2", "r3", "r4"], labels)
    assert (joined.positions, joined.labels) == ([0, 2], ["10", "30"])
    assert (joined.unlabelled, joined.unmatched) == (2, ["old"])


def test_join_of_an_empty_window_leaves_every_label_unmatched() -> None:
    labels = read_labels([("l.csv", b"inference_id,label\nr1,1\n")])
    joined = join([], labels)
    assert (joined.positions, joined.unlabelled, joined.unmatched) == ([], 0, ["r1"])
