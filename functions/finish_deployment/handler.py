"""FinishDeployment: verify the live config, record the outcome, clean up, unlock."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.deploy.finish import finish_deployment
from modelrail.deploy.lock import DynamoDBEndpointLock
from modelrail.deploy.models import FinishInput
from modelrail.registry import DynamoDBRegistry, EventBridgeSink

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

logger = Logger()
tracer = Tracer()


@cache
def _registry() -> DynamoDBRegistry:
    return DynamoDBRegistry(
        os.environ["REGISTRY_TABLE"], event_sink=EventBridgeSink(os.environ["EVENT_BUS_NAME"])
    )


@cache
def _lock() -> DynamoDBEndpointLock:
    return DynamoDBEndpointLock(os.environ["REGISTRY_TABLE"])


@cache
def _sagemaker() -> SageMakerClient:
    return boto3.client("sagemaker")


@cache
def _cloudwatch() -> Any:
    return boto3.client("cloudwatch")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=FinishInput)
def lambda_handler(event: FinishInput, context: LambdaContext) -> dict[str, Any]:
    plan = event.plan
    logger.append_keys(model=plan.model, version=plan.version, execution=plan.execution_name)
    result = finish_deployment(
        event,
        registry=_registry(),
        lock=_lock(),
        sagemaker_client=_sagemaker(),
        cloudwatch_client=_cloudwatch(),
        keep_configs=int(os.environ["KEEP_ENDPOINT_CONFIGS"]),
        environment=os.environ["MODELRAIL_ENV"],
        now=datetime.now(UTC),
    )
    logger.info(
        "deployment finished",
        extra={
            "outcome": result.outcome,
            "detail": result.message,
            "trippedAlarms": result.tripped_alarms,
            "deletedConfigs": result.deleted_configs,
        },
    )
    return result.model_dump(by_alias=True, mode="json")
