"""The labelled production window: captured requests whose rows have a label, as rows of
the model's training data (its features and its target). Pure.

A retraining learns from them. Requests are read as the endpoint reads them
(:mod:`modelrail.payloads`): CSV in the contract's feature order or with a header, or
JSON records by column name; a row whose request cannot be read is counted, not kept.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from modelrail.contract import ModelContract
from modelrail.monitoring.capture import CaptureRecords, payload_text, row_ids
from modelrail.monitoring.labels import Labels
from modelrail.payloads import BadRequest, read_request


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
    if value is None or (isinstance(value, float) and value != value):  # None, NaN
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _request_rows(text: str, content_type: str | None, contract: ModelContract) -> list[list[str]]:
    """The request's rows as feature values in contract order (payloads.BadRequest when
    the endpoint could not have read it either)."""
    features = [c.name for c in contract.features]
    required = [c.name for c in contract.features if c.required]
    frame = read_request(text, content_type or "").frame(features, contract.target, required)
    columns = [frame[name].tolist() if name in frame else [None] * len(frame) for name in features]
    return [[_cell(v) for v in row] for row in zip(*columns, strict=True)]


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
            rows = _request_rows(text, records.input_types[i], contract)
        except BadRequest:
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
