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

from modelrail.steps.start import NotAPipelineObject, plan_start, start_pipeline

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger()
tracer = Tracer()


@cache
def _sfn() -> SFNClient:
    return boto3.client("stepfunctions")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=S3EventNotificationEventBridgeModel)
def lambda_handler(
    event: S3EventNotificationEventBridgeModel, context: LambdaContext
) -> dict[str, Any]:
    detail = event.detail
    try:
        plan = plan_start(detail.bucket.name, detail.object.key, detail.object.version_id)
    except NotAPipelineObject as exc:
        # Not an error to retry: nothing can make this object start a pipeline.
        logger.warning("upload ignored", extra={"reason": str(exc)})
        return {"status": "ignored", "reason": str(exc)}
    result = start_pipeline(plan, state_machine_arn=os.environ["STATE_MACHINE_ARN"], sfn=_sfn())
    logger.info(
        "pipeline started" if result.started else "duplicate event: execution already exists",
        extra={"execution": result.execution_arn, "model": plan.input.model},
    )
    return {
        "status": "started" if result.started else "duplicate",
        "executionArn": result.execution_arn,
    }
