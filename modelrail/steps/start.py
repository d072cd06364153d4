"""Start the training pipeline once per uploaded object version.

S3 and EventBridge deliver at least once. Step Functions Standard executions are
exactly-once per name for 90 days, so the execution name is derived from
(bucket, key, versionId): a repeated event finds the execution already there.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from modelrail.layout import INCOMING, upload_key
from modelrail.naming import dataset_job_name
from modelrail.steps.models import PipelineInput, dump

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

_MODEL = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


class NotAPipelineObject(ValueError):
    """The object is not under incoming/<model>/ and does not start a pipeline."""


@dataclass(frozen=True)
class StartPlan:
    name: str
    input: PipelineInput


#: S3 user metadata on an upload that makes the version trained from it misbehave once
#: deployed (environments with allow_fault_injection only): for canary and rollback drills.
FAULT_METADATA = {
    "modelrail-fault-error-rate": "errorRate",
    "modelrail-fault-latency-ms": "latencyMs",
}


class InvalidFault(ValueError):
    """Fault-injection metadata that is not a number in range."""


def fault_from_metadata(metadata: Mapping[str, str]) -> dict[str, float] | None:
    """``{"errorRate": .., "latencyMs": ..}`` from an upload's user metadata, or None."""
    fault: dict[str, float] = {}
    for header, name in FAULT_METADATA.items():
        raw = metadata.get(header)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise InvalidFault(f"{header}={raw!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or (name == "errorRate" and value > 1):
            raise InvalidFault(f"{header}={raw!r} is out of range")
        fault[name] = value
    return fault or None


def plan_start(
    bucket: str,
    key: str,
    version_id: str | None,
    *,
    requested_by: str = "s3-upload",
    fault: dict[str, float] | None = None,
    size_bytes: int | None = None,
    environment: str | None = None,
) -> StartPlan:
    """``size_bytes`` (from the S3 event) and ``environment`` together name the dataset
    Processing job the run uses when the upload is above its threshold."""
    if not INCOMING.owns(key):
        raise NotAPipelineObject(f"s3://{bucket}/{key} is not under {INCOMING.prefix}")
    parts = key[len(INCOMING.prefix) :].split("/")
    if len(parts) < 2 or not parts[-1]:
        raise NotAPipelineObject(
            f"s3://{bucket}/{key}: uploads go to {INCOMING.of('<model>', '<file>')}, e.g. {upload_key('demand', '2026-11.csv')}"
        )
    model = parts[0]
    if not _MODEL.match(model):
        raise NotAPipelineObject(f"s3://{bucket}/{key}: {model!r} is not a valid model name")
    identity = json.dumps([bucket, key, version_id or "null"]).encode()
    digest = hashlib.sha256(identity).hexdigest()[:24]
    # <= 57 characters of [a-z0-9-]: valid as an execution name and a training job name.
    name = f"{model}-{digest}"
    return StartPlan(
        name=name,
        input=PipelineInput.model_validate(
            {
                "model": model,
                "bucket": bucket,
                "key": key,
                "versionId": version_id,
                "requestedBy": requested_by,
                "fault": fault,
                "sizeBytes": size_bytes,
                "processingJobName": dataset_job_name(environment, model, name)
                if environment is not None and size_bytes is not None
                else None,
            }
        ),
    )


@dataclass(frozen=True)
class StartResult:
    execution_name: str
    execution_arn: str
    started: bool  # False: a repeated event, the execution already existed


def start_pipeline(plan: StartPlan, *, state_machine_arn: str, sfn: SFNClient) -> StartResult:
    arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{plan.name}"
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=plan.name, input=json.dumps(dump(plan.input))
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return StartResult(plan.name, arn, started=False)
        raise
    return StartResult(plan.name, response["executionArn"], started=True)
