"""SageMaker inference handlers for modelrail models (scikit-learn container, 1.4-2).

The serving stack calls ``model_fn`` once per worker, then for every request
``input_fn`` -> ``predict_fn`` -> ``output_fn``.

Requests (read by :mod:`modelrail.payloads`, which the capture reader shares):
* ``application/json``: ``{"instances": [{column: value, ...}, ...]}``, a list of such
  records, or a single record.
* ``text/csv``: one row per line. A first row that names the contract's columns is a
  header and the values are mapped by name (the target column, as in the training data,
  is dropped); without one the values are the features in contract order.

Requests the model cannot read are the caller's fault, not the model's: the answer is a
4XX with a message naming the problem (415 for an unsupported content type, 406 for an
unsupported accept type, 400 for a body, columns or values that do not fit the contract).
The scikit-learn container (sagemaker-containers) wraps any exception raised by these
handlers and answers 500, so a rejection is not raised: ``input_fn`` and ``predict_fn``
pass a :class:`Rejected` along and ``output_fn`` returns the container's own response
object with the status (``sagemaker_containers.beta.framework.worker.Response``, imported
only then: it exists in the container, not in the training environment).

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

import modelrail_features as mf
from modelrail.payloads import CSV, JSON, BadRequest, Request, media_type, read_request


class Rejected:
    """A request answered with a client error instead of a prediction."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message

    @classmethod
    def of(cls, error: BadRequest | ValueError) -> Rejected:
        return cls(getattr(error, "status", 400), str(error))


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
        self.target = str(contract["target"])
        self.required = [c["name"] for c in mf.feature_columns(contract) if c.get("required", True)]
        self.classifier = mf.is_classifier(contract)
        self.fault = fault or Fault({})


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


def model_fn(model_dir: str) -> Model:
    folder = Path(model_dir)
    contract = mf.load_runtime_contract(folder / "contract.json")
    pipeline = joblib.load(folder / "model.joblib")
    return Model(pipeline, contract, Fault())


def input_fn(request_body: str | bytes, content_type: str) -> Request | Rejected:
    try:
        return read_request(request_body, content_type)
    except BadRequest as exc:
        return Rejected.of(exc)


def predict_fn(input_data: Request | Rejected, model: Model) -> Prediction | Rejected:
    if isinstance(input_data, Rejected):
        return input_data
    model.fault.apply()
    try:
        frame = input_data.frame(model.features, model.target, model.required)
        if frame.empty:
            raise BadRequest("the request has no rows to predict")
        # ContractDataError: missing required columns or values of the wrong type
        features = mf.build_features(frame, model.contract)
    except (BadRequest, mf.ContractDataError) as exc:
        return Rejected.of(exc)
    predictions = mf.predict(model.pipeline, features, model.contract)
    if not model.classifier:
        return Prediction([float(v) for v in predictions])
    probabilities = model.pipeline.predict_proba(features)
    return Prediction(
        mf.decode_labels(list(predictions), model.contract),
        [[float(p) for p in row] for row in np.asarray(probabilities)],
        mf.decode_labels(list(model.pipeline.classes_), model.contract),
    )


def output_fn(prediction: Prediction | Rejected, accept: str | None) -> Any:
    """The response body and its content type (``*/*`` or no Accept means JSON), or for a
    rejected request the container's response with its 4XX status."""
    if isinstance(prediction, Rejected):
        return rejection_response(prediction)
    media = media_type(accept)
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
    return rejection_response(
        Rejected(406, f"unsupported accept type {accept!r}; ask for {JSON} or {CSV}")
    )


def rejection_response(rejected: Rejected) -> Any:
    """The container's response object for a rejected request: a JSON body naming the
    problem, with its status."""
    from sagemaker_containers.beta.framework import worker  # the container's, at serve time

    body = json.dumps({"error": "BadRequest", "error-message": rejected.message})
    return worker.Response(response=body, status=rejected.status, mimetype=JSON)
