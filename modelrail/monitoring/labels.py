"""Ground truth: labels uploaded late, joined with what the model predicted. Pure.

Labels are files under the ground-truth prefix, in either of two shapes:

* Model Monitor's JSON Lines, one label a line:
  ``{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId":
  "<row id>"}, "eventVersion": "0"}`` (``encoding`` CSV: the label is the text; JSON: the
  text is a JSON value);
* a CSV file with a header naming ``inference_id`` and ``label`` (other columns ignored).

The id is a captured row's id (:func:`modelrail.monitoring.capture.row_ids`: the request's
InferenceId, with ``:<i>`` for row ``i`` of a several-row request). Labels arrive late
and out of order, so :func:`join` matches by id only: a label whose row is not in the
window's predictions is *unmatched* (counted, kept for a later window), a prediction
without a label is *unlabelled*, and an id labelled twice keeps the label read last (the
files are read in key order, so a correction uploaded later wins), counted as a
duplicate.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelrail.monitoring.capture import Corrupt


@dataclass
class Labels:
    by_id: dict[str, str] = field(default_factory=dict)
    """Row id -> label text (the last one read)."""
    duplicates: int = 0
    corrupt: list[Corrupt] = field(default_factory=list)
    files: int = 0

    def _put(self, row_id: str, label: str) -> None:
        if row_id in self.by_id:
            self.duplicates += 1
        self.by_id[row_id] = label


def read_labels(files: Iterable[tuple[str, bytes]]) -> Labels:
    """Labels from ground-truth files ``(key, bytes)``, read in key order."""
    labels = Labels()
    for key, data in sorted(files, key=lambda f: f[0]):
        labels.files += 1
        text = data.decode("utf-8", errors="replace")
        stripped = text.lstrip()
        if stripped.startswith("{"):
            _json_lines(labels, key, text)
        elif stripped:
            _csv(labels, key, text)
    return labels


def _json_lines(labels: Labels, key: str, text: str) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
            truth, meta = document["groundTruthData"], document["eventMetadata"]
            row_id, data, encoding = meta["eventId"], truth["data"], truth.get("encoding", "CSV")
        except (ValueError, KeyError, TypeError) as exc:
            labels.corrupt.append(Corrupt(key, number, f"not a ground-truth record: {exc!r}"))
            continue
        if not isinstance(row_id, str) or not row_id or not isinstance(data, str):
            labels.corrupt.append(Corrupt(key, number, "eventId and data must be text"))
            continue
        if encoding == "JSON":
            try:
                value: Any = json.loads(data)
            except ValueError:
                labels.corrupt.append(Corrupt(key, number, "JSON-encoded data is not JSON"))
                continue
            data = value if isinstance(value, str) else json.dumps(value)
        elif encoding != "CSV":
            labels.corrupt.append(Corrupt(key, number, f"unknown encoding {encoding!r}"))
            continue
        labels._put(row_id, data.strip())


def _csv(labels: Labels, key: str, text: str) -> None:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "inference_id" not in header or "label" not in header:
        labels.corrupt.append(
            Corrupt(key, 1, "a label CSV needs the columns inference_id and label")
        )
        return
    at_id, at_label = header.index("inference_id"), header.index("label")
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header) or not row[at_id].strip():
            labels.corrupt.append(
                Corrupt(key, number, f"expected {len(header)} values with an inference_id")
            )
            continue
        labels._put(row[at_id].strip(), row[at_label].strip())


@dataclass(frozen=True)
class Joined:
    """The window's labelled rows: positions into its predictions, with their labels."""

    positions: list[int]
    labels: list[str]
    unlabelled: int
    unmatched: list[str]
    """Label ids with no prediction in the window (a later window may have them)."""


def join(row_ids: Sequence[str], labels: Labels) -> Joined:
    """Match a window's predictions (by row id) with the labels that name them."""
    at: dict[str, int] = {}
    for position, row_id in enumerate(row_ids):
        at.setdefault(row_id, position)
    positions, values = [], []
    for row_id, label in labels.by_id.items():
        if row_id in at:
            positions.append(at[row_id])
            values.append(label)
    order = sorted(range(len(positions)), key=positions.__getitem__)
    matched = {row_ids[positions[i]] for i in order}
    return Joined(
        positions=[positions[i] for i in order],
        labels=[values[i] for i in order],
        unlabelled=len(at) - len(matched),
        unmatched=sorted(set(labels.by_id) - set(at)),
    )
