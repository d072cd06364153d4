"""Start the training pipeline once per uploaded object version.

S3 and EventBridge deliver at least once. Step Functions Standard executions are
exactly-once per name for 90 days, so the execution name is derived from
(bucket, key, versionId): a repeated event finds the execution already there.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from modelrail.steps.models import PipelineInput, dump

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

INCOMING = "incoming/"
_MODEL = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


class NotAPipelineObject(ValueError):
    """The object is not under incoming/<model>/ and does not start a pipeline."""


@dataclass(frozen=True)
class StartPlan:
    name: str
    input: PipelineInput


def plan_start(
    bucket: str, key: str, version_id: str | None, *, requested_by: str = "s3-upload"
) -> StartPlan:
    if not key.startswith(INCOMING):
        raise NotAPipelineObject(f"s3://{bucket}/{key} is not under {INCOMING}")
    parts = key[len(INCOMING) :].split("/")
    if len(parts) < 2 or not parts[-1]:
        raise NotAPipelineObject(
            f"s3://{bucket}/{key}: uploads go to {INCOMING}<model>/<file>, e.g. {INCOMING}demand/2026-11.csv"
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
