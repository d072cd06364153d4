"""SageMaker inference handlers for modelrail models (scikit-learn container, 1.4-2).

The serving stack calls ``model_fn`` once per worker, then for every request
``input_fn`` -> ``predict_fn`` -> ``output_fn``.

Requests:
* ``application/json``: ``{"instances": [{column: value, ...}, ...]}``, a list of such
  records, or a single record.
* ``text/csv``: one row per line with the feature values in contract order and no
  header; a first row whose cells are exactly the feature names is taken as a header.

Fault injection (for canary and rollback drills, never in production environments):
the model's container environment may set ``MODELRAIL_FAULT_ERROR_RATE`` (0..1, the
share of requests that fail with a server error) and ``MODELRAIL_FAULT_LATENCY_MS``
(added to every prediction). The deployment state machine sets them only when a
deployment asks for a fault and the environment allows it.

Responses: ``application/json`` ``{"predictions": [...]}`` (classifiers add
``"probabilities"`` and their column order, ``"classes"``) or ``text/csv`` (one row per
prediction; classifiers append the class probabilities).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

import modelrail_features as mf

JSON = "application/json"
CSV = "text/csv"


class InjectedFault(RuntimeError):
    """A failure asked for by MODELRAIL_FAULT_ERROR_RATE."""


class Fault:
    """Misbehaviour injected through the container environment (see the module doc)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.error_rate = min(1.0, max(0.0, float(env.get("MODELRAIL_FAULT_ERROR_RATE") or 0)))
        self.latency_s = max(0.0, float(env.get("MODELRAIL_FAULT_LATENCY_MS") or 0)) / 1000
        self._random = random.Random(env.get("MODELRAIL_VERSION", "0"))

    def apply(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)
        if self.error_rate and self._random.random() < self.error_rate:
            raise InjectedFault("injected fault (MODELRAIL_FAULT_ERROR_RATE)")


class Model:
    """What ``model_fn`` loads: the fitted pipeline and the contract it was trained with."""

    def __init__(self, pipeline: Any, contract: dict[str, Any], fault: Fault | None = None) -> None:
        self.pipeline = pipeline
        self.contract = contract
        self.features = mf.feature_names(contract)
        self.classifier = mf.is_classifier(contract)
        self.fault = fault or Fault({})


class Request:
    """A parsed request body: named records (JSON) or positional rows (CSV)."""

    def __init__(
        self, records: list[dict[str, Any]] | None = None, rows: list[list[str]] | None = None
    ) -> None:
        self.records = records
        self.rows = rows

    def frame(self, features: list[str]) -> pd.DataFrame:
        if self.records is not None:
            return pd.DataFrame.from_records(self.records)
        rows = list(self.rows or [])
        columns = features
        if rows and sorted(cell.strip() for cell in rows[0]) == sorted(features):
            columns = [cell.strip() for cell in rows[0]]  # a header row
            rows = rows[1:]
        for number, row in enumerate(rows, start=1):
            if len(row) != len(columns):
                raise ValueError(
                    f"CSV row {number} has {len(row)} values; expected {len(columns)} "
                    f"({', '.join(columns)})"
                )
        cells = [[cell if cell.strip() else None for cell in row] for row in rows]
        return pd.DataFrame(cells, columns=columns, dtype=object)


class Prediction:
    """Predictions plus, for classifiers, class probabilities."""

    def __init__(
        self,
        predictions: list[Any],
        probabilities: list[list[float]] | None = None,
        classes: list[Any] | None = None,
    ) -> None:
        self.predictions = predictions
        self.probabilities = probabilities
        self.classes = classes


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def model_fn(model_dir: str) -> Model:
    folder = Path(model_dir)
    contract = mf.load_runtime_contract(folder / "contract.json")
    pipeline = joblib.load(folder / "model.joblib")
    return Model(pipeline, contract, Fault())


def input_fn(request_body: str | bytes, content_type: str) -> Request:
    media = _media_type(content_type)
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    if media == JSON:
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"request body is not valid JSON: {exc}") from None
        if isinstance(payload, dict) and "instances" in payload:
            payload = payload["instances"]
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
            raise ValueError(
                'JSON requests must be {"instances": [{column: value, ...}, ...]}, '
                "a list of records or one record"
            )
        if not payload:
            raise ValueError("the request has no instances")
        return Request(records=payload)
    if media == CSV:
        rows = [row for row in csv.reader(io.StringIO(text)) if row and any(c.strip() for c in row)]
        if not rows:
            raise ValueError("the CSV request has no rows")
        return Request(rows=rows)
    raise ValueError(f"unsupported content type {content_type!r}; send {JSON} or {CSV}")


def predict_fn(input_data: Request, model: Model) -> Prediction:
    model.fault.apply()
    frame = input_data.frame(model.features)
    if frame.empty:
        raise ValueError("the request has no rows to predict")
    features = mf.build_features(frame, model.contract)
    predictions = mf.predict(model.pipeline, features, model.contract)
    if not model.classifier:
        return Prediction([float(v) for v in predictions])
    probabilities = model.pipeline.predict_proba(features)
    return Prediction(
        mf.decode_labels(list(predictions), model.contract),
        [[float(p) for p in row] for row in np.asarray(probabilities)],
        mf.decode_labels(list(model.pipeline.classes_), model.contract),
    )


def output_fn(prediction: Prediction, accept: str | None) -> tuple[str, str]:
    """The response body and its content type (``*/*`` or no Accept means JSON)."""
    media = _media_type(accept)
    if media in ("", "*/*", JSON):
        body: dict[str, Any] = {"predictions": prediction.predictions}
        if prediction.probabilities is not None:
            body["probabilities"] = prediction.probabilities
            body["classes"] = prediction.classes
        return json.dumps(body), JSON
    if media == CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for index, value in enumerate(prediction.predictions):
            row = [value]
            if prediction.probabilities is not None:
                row.extend(prediction.probabilities[index])
            writer.writerow(row)
        return out.getvalue(), CSV
    raise ValueError(f"unsupported accept type {accept!r}; ask for {JSON} or {CSV}")
