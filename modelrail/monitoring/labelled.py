"""The labelled production window: captured requests whose rows have a label, as rows of
the model's training data (its features and its target). Pure.

A retraining learns from them. Requests are read as the endpoint reads them
(``training/inference.py``): headerless CSV in the contract's feature order, or JSON
records by column name; a row whose request cannot be read that way is counted, not kept.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from modelrail.contract import ModelContract
from modelrail.monitoring.capture import CaptureRecords, payload_text, row_ids
from modelrail.monitoring.labels import Labels


@dataclass
class LabelledRows:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    unreadable: int = 0
    """Labelled requests whose payload is neither CSV nor JSON records."""

    def to_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _request_rows(text: str, content_type: str | None, features: list[str]) -> list[list[str]]:
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json":
        payload = json.loads(text)
        if isinstance(payload, dict) and "instances" in payload:
            payload = payload["instances"]
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
            raise ValueError("not JSON records")
        return [[_cell(record.get(name)) for name in features] for record in payload]
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if any(len(r) != len(features) for r in rows):
        raise ValueError(f"a CSV row without {len(features)} values")
    return rows


def labelled_rows(records: CaptureRecords, labels: Labels, contract: ModelContract) -> LabelledRows:
    """Every captured row with a label, as ``features..., target`` (the label as text)."""
    features = [c.name for c in contract.features]
    out = LabelledRows(header=[*features, contract.target])
    if not labels.by_id:
        return out
    for i, event_id in enumerate(records.event_ids):
        text = payload_text(records.input_encodings[i], records.inputs[i])
        if text is None:
            continue
        try:
            rows = _request_rows(text, records.input_types[i], features)
        except ValueError:
            ids = row_ids(records.inference_ids[i], event_id, 1)
            out.unreadable += sum(1 for x in ids if x in labels.by_id)
            continue
        for row_id, row in zip(
            row_ids(records.inference_ids[i], event_id, len(rows)), rows, strict=True
        ):
            label = labels.by_id.get(row_id)
            if label is not None:
                out.rows.append([*row, label])
    return out
