"""EventBridge (S3 Object Created) -> StartExecution, once per object version."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from modelrail.steps.start import (
    InvalidFault,
    NotAPipelineObject,
    fault_from_metadata,
    plan_start,
    start_pipeline,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger()
tracer = Tracer()


@cache
def _sfn() -> SFNClient:
    return boto3.client("stepfunctions")


@cache
def _s3() -> S3Client:
    return boto3.client("s3")


def _fault(bucket: str, key: str, version_id: str | None) -> dict[str, float] | None:
    """Fault-injection metadata on the upload, if any. An unreadable object still starts
    the pipeline (validation reports it); bad metadata is ignored with a warning."""
    try:
        if version_id:
            head = _s3().head_object(Bucket=bucket, Key=key, VersionId=version_id)
        else:
            head = _s3().head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("cannot read the upload's metadata", extra={"error": str(exc)})
        return None
    try:
        return fault_from_metadata(head.get("Metadata", {}))
    except InvalidFault as exc:
        logger.warning("fault-injection metadata ignored", extra={"reason": str(exc)})
        return None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=S3EventNotificationEventBridgeModel)
def lambda_handler(
    event: S3EventNotificationEventBridgeModel, context: LambdaContext
) -> dict[str, Any]:
    detail = event.detail
    # Powertools types the size as a float; S3 counts bytes.
    size = None if detail.object.size is None else int(detail.object.size)
    environment = os.environ["MODELRAIL_ENV"]
    try:
        plan = plan_start(
            detail.bucket.name,
            detail.object.key,
            detail.object.version_id,
            size_bytes=size,
            environment=environment,
        )
    except NotAPipelineObject as exc:
        # Not an error to retry: nothing can make this object start a pipeline.
        logger.warning("upload ignored", extra={"reason": str(exc)})
        return {"status": "ignored", "reason": str(exc)}
    fault = _fault(detail.bucket.name, detail.object.key, detail.object.version_id)
    if fault is not None:
        # Same execution name (it is (bucket, key, versionId)'s): a repeat is still a duplicate.
        plan = plan_start(
            detail.bucket.name,
            detail.object.key,
            detail.object.version_id,
            fault=fault,
            size_bytes=size,
            environment=environment,
        )
        logger.info("fault injection requested for this upload", extra={"fault": fault})
    result = start_pipeline(plan, state_machine_arn=os.environ["STATE_MACHINE_ARN"], sfn=_sfn())
    logger.info(
        "pipeline started" if result.started else "duplicate event: execution already exists",
        extra={"execution": result.execution_arn, "model": plan.input.model},
    )
    return {
        "status": "started" if result.started else "duplicate",
        "executionArn": result.execution_arn,
    }
