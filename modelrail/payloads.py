"""Request bodies as the endpoint reads them: one definition for the serving code
(``training/inference.py``) and the capture reader (``modelrail.monitoring.window``).

* ``application/json``: ``{"instances": [{column: value, ...}, ...]}``, a list of such
  records, or a single record.
* ``text/csv``: one row per line (blank rows dropped). A first row that names the
  contract's columns is a header (:func:`is_header`) and the values are mapped by name
  (the target column, as in the training data, is dropped); without one the values are
  the features in contract order.

A body the model cannot read raises :class:`BadRequest` with the HTTP status to answer.
The training job ships this file beside its own code (infra/assets.py), and the model's
``code/`` carries it to the endpoint: the container's Python (3.10), pandas, no pydantic.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pandas as pd

JSON = "application/json"
CSV = "text/csv"


class BadRequest(ValueError):
    """The request does not fit the model; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Request:
    """A parsed request body: named records (JSON) or positional rows (CSV)."""

    def __init__(
        self, records: list[dict[str, Any]] | None = None, rows: list[list[str]] | None = None
    ) -> None:
        self.records = records
        self.rows = rows

    def frame(self, features: list[str], target: str, required: list[str]) -> pd.DataFrame:
        """The request as a frame of named columns; ``BadRequest`` when it cannot be."""
        if self.records is not None:
            return pd.DataFrame.from_records(self.records)
        rows = list(self.rows or [])
        if not rows:
            raise BadRequest("the CSV request has no rows")
        columns = features
        header = [cell.strip() for cell in rows[0]]
        if is_header(header, features, target, required):
            unknown = [c for c in header if c not in features and c != target]
            if unknown or len(set(header)) != len(header):
                raise BadRequest(
                    f"CSV header columns {header} do not fit the model: "
                    + (f"unknown {unknown}; " if unknown else "repeated names; ")
                    + f"expected {features} (the target {target!r} may be included)"
                )
            columns = header
            rows = rows[1:]
            if not rows:
                raise BadRequest("the CSV request has a header but no rows")
        for number, row in enumerate(rows, start=1):
            if len(row) != len(columns):
                hint = (
                    ""
                    if columns is not features
                    else "; a row with other columns (the target too) needs a header row"
                )
                raise BadRequest(
                    f"CSV row {number} has {len(row)} values; expected {len(columns)} "
                    f"({', '.join(columns)}){hint}"
                )
        cells = [[cell if cell.strip() else None for cell in row] for row in rows]
        frame = pd.DataFrame(cells, columns=columns, dtype=object)
        return frame.drop(columns=[target]) if target in frame else frame


def is_header(cells: list[str], features: list[str], target: str, required: list[str]) -> bool:
    """A first CSV row is a header when it names a feature and either every required
    feature or only columns of the contract."""
    names = set(cells)
    return bool(names & set(features)) and (set(required) <= names or names <= {*features, target})


def media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def read_request(request_body: str | bytes, content_type: str) -> Request:
    media = media_type(content_type)
    if media not in (JSON, CSV):
        raise BadRequest(f"unsupported content type {content_type!r}; send {JSON} or {CSV}", 415)
    try:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    except UnicodeDecodeError as exc:
        raise BadRequest(f"request body is not UTF-8 text: {exc}") from None
    if media == JSON:
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None
        if isinstance(payload, dict) and "instances" in payload:
            payload = payload["instances"]
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
            raise BadRequest(
                'JSON requests must be {"instances": [{column: value, ...}, ...]}, '
                "a list of records or one record"
            )
        if not payload:
            raise BadRequest("the request has no instances")
        return Request(records=payload)
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row and any(c.strip() for c in row)]
    except csv.Error as exc:
        raise BadRequest(f"request body is not valid CSV: {exc}") from None
    if not rows:
        raise BadRequest("the CSV request has no rows")
    return Request(rows=rows)
