"""Monitoring from a terminal or a test: run a check now, follow it, read the history,
upload labels. Against AWS (standard configuration, ``AWS_ENDPOINT_URL`` honoured) and
the local cloud alike; the clients are passed in or made from the environment."""

from __future__ import annotations

import json
import posixpath
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelrail.layout import ground_truth_key
from modelrail.monitoring.models import CheckOutput, RetrainOutput
from modelrail.registry.port import ModelRegistry

OUTPUT = "MonitoringStateMachineArn"
LABEL_SUFFIXES = (".csv", ".jsonl", ".json")


@dataclass(frozen=True)
class CheckRun:
    execution_arn: str
    status: str
    check: CheckOutput | None
    retrain: RetrainOutput | None
    error: str | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "execution": self.execution_arn,
            "status": self.status,
            "check": None
            if self.check is None
            else self.check.model_dump(mode="json", by_alias=True),
            "retrain": None
            if self.retrain is None
            else self.retrain.model_dump(mode="json", by_alias=True),
            "error": self.error,
            "cause": self.cause,
        }


def start_check(model: str, *, state_machine_arn: str, sfn: Any, requested_by: str) -> str:
    """Start one monitoring execution now (what the schedule does); its ARN."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"{model}-check-{stamp}-{uuid.uuid4().hex[:6]}"[:80]
    payload = {"model": model, "requestedBy": requested_by}
    started = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
    )
    return str(started["executionArn"])


def wait_check(execution_arn: str, *, sfn: Any, timeout: float = 900) -> CheckRun:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    output = json.loads(described.get("output") or "{}")
    check = output.get("check")
    retrain = output.get("retrain")
    return CheckRun(
        execution_arn,
        described["status"],
        None if check is None else CheckOutput.model_validate(check),
        None if retrain is None else RetrainOutput.model_validate(retrain),
        described.get("error"),
        described.get("cause"),
    )


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    version: int
    type: str
    detail: dict[str, Any]


def history(registry: ModelRegistry, model: str, *, limit: int = 100) -> list[HistoryEntry]:
    """The model's checks and retraining decisions, newest first."""
    return [
        HistoryEntry(e.at, e.version, e.type, e.detail)
        for e in registry.monitoring_events(model, limit)
    ]


class LabelFileError(ValueError):
    """A labels file that cannot be uploaded as it is."""


def upload_labels(model: str, path: Path, *, bucket: str, s3: Any) -> str:
    """Put a labels file (``inference_id,label`` CSV or Model Monitor's ground-truth JSON
    Lines) under the model's ground-truth prefix; the key. Each upload keeps its own name
    (a timestamp and the file's name), so earlier labels are never overwritten."""
    if not path.is_file():
        raise LabelFileError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in LABEL_SUFFIXES:
        raise LabelFileError(
            f"{path.name}: labels are CSV (inference_id,label) or JSON Lines "
            f"({', '.join(LABEL_SUFFIXES)})"
        )
    body = path.read_bytes()
    if not body.strip():
        raise LabelFileError(f"{path} is empty")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = ground_truth_key(model, f"{stamp}-{posixpath.basename(path.name)}")
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key
