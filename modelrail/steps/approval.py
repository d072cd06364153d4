"""Manual approval: the pipeline waits on a task token until a person answers.

``request``: the version goes to PENDING_APPROVAL and the token is stored in the artifacts
bucket under ``approvals/<model>/v<version>.json``. ``modelrail registry approve|reject``
moves the version and answers the token (:func:`answer_approval`), which resumes or
stops the waiting execution. ``close``: when the wait ends without an approval (timeout,
rejection, error), a version still PENDING_APPROVAL becomes REJECTED with the reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError
from pydantic import Field

from modelrail.layout import approval_key
from modelrail.registry import ModelRegistry, VersionStatus
from modelrail.steps.models import _Payload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

PIPELINE = "pipeline"


class ApprovalEvent(_Payload):
    action: Literal["request", "close"]
    model: str
    version: int = Field(ge=1)
    execution: str
    task_token: str | None = Field(default=None, alias="taskToken")
    error: dict[str, Any] | None = None


def request_approval(
    event: ApprovalEvent, *, registry: ModelRegistry, s3: S3Client, bucket: str
) -> None:
    if not event.task_token:
        raise ValueError("an approval request needs the task token ($$.Task.Token)")
    # The token is stored first: whoever sees PENDING_APPROVAL can answer it at once.
    record = {
        "model": event.model,
        "version": event.version,
        "execution": event.execution,
        "taskToken": event.task_token,
        "requestedAt": datetime.now(UTC).isoformat(),
    }
    s3.put_object(
        Bucket=bucket,
        Key=approval_key(event.model, event.version),
        Body=json.dumps(record).encode(),
    )
    registry.transition(
        event.model,
        event.version,
        VersionStatus.PENDING_APPROVAL,
        by=PIPELINE,
        reason=f"awaiting approval ({event.execution.rsplit(':', 1)[-1]})",
        expected_status=VersionStatus.REGISTERED,
    )


def close_approval(event: ApprovalEvent, *, registry: ModelRegistry) -> str:
    """Reject a version still waiting when the wait ended without an approval."""
    version = registry.get_version(event.model, event.version)
    if version.status is not VersionStatus.PENDING_APPROVAL:
        return version.status.value
    error = event.error or {}
    why = (
        "approval timed out"
        if error.get("Error") == "States.Timeout"
        else f"approval ended: {error.get('Error')}"
    )
    registry.transition(
        event.model,
        event.version,
        VersionStatus.REJECTED,
        by=PIPELINE,
        reason=why,
        expected_status=VersionStatus.PENDING_APPROVAL,
    )
    return VersionStatus.REJECTED.value


def answer_approval(
    model: str,
    version: int,
    *,
    approved: bool,
    by: str,
    reason: str,
    s3: S3Client,
    sfn: SFNClient,
    bucket: str,
) -> str | None:
    """Answer the waiting execution, if there is one; returns its ARN (None: nothing waits)."""
    key = approval_key(model, version)
    try:
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
            return None
        raise
    if approved:
        sfn.send_task_success(
            taskToken=record["taskToken"], output=json.dumps({"approvedBy": by, "reason": reason})
        )
    else:
        sfn.send_task_failure(
            taskToken=record["taskToken"], error="ApprovalRejected", cause=f"{by}: {reason}"[:256]
        )
    s3.delete_object(
        Bucket=bucket, Key=key
    )  # versioned bucket: the record stays as a prior version
    return str(record["execution"])
