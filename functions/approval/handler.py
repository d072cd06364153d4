"""Approval: park the pipeline on a task token (request) or reject on timeout (close)."""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.registry import DynamoDBRegistry, EventBridgeSink
from modelrail.steps.approval import ApprovalEvent, close_approval, request_approval

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger()
tracer = Tracer()


@cache
def _s3() -> S3Client:
    return boto3.client("s3")


@cache
def _registry() -> DynamoDBRegistry:
    return DynamoDBRegistry(
        os.environ["REGISTRY_TABLE"], event_sink=EventBridgeSink(os.environ["EVENT_BUS_NAME"])
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=ApprovalEvent)
def lambda_handler(event: ApprovalEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model=event.model, version=event.version, action=event.action)
    if event.action == "request":
        request_approval(
            event, registry=_registry(), s3=_s3(), bucket=os.environ["ARTIFACTS_BUCKET"]
        )
        logger.info("approval requested")
        return {"status": "pending_approval"}
    status = close_approval(event, registry=_registry())
    logger.info("approval closed", extra={"status": status})
    return {"status": status}
