"""PlanDeployment: check the version, lock its endpoint, name the deployment's resources."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.deploy.lock import DynamoDBEndpointLock
from modelrail.deploy.models import DeployRequest
from modelrail.deploy.plan import DeploymentRefused, plan_deployment
from modelrail.registry import DynamoDBRegistry, EventBridgeSink

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

logger = Logger()
tracer = Tracer()


def _flag(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() == "true"


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


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=DeployRequest)
def lambda_handler(event: DeployRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model=event.model, version=event.version, execution=event.execution_name)
    try:
        plan = plan_deployment(
            event,
            registry=_registry(),
            lock=_lock(),
            sagemaker_client=_sagemaker(),
            environment=os.environ["MODELRAIL_ENV"],
            region=os.environ["AWS_REGION"],
            require_approval=_flag("REQUIRE_APPROVAL"),
            allow_fault_injection=_flag("ALLOW_FAULT_INJECTION"),
            max_seconds=int(os.environ["DEPLOYMENT_MAX_SECONDS"]),
            now=datetime.now(UTC),
            queue_looks=int(os.environ["DEPLOYMENT_QUEUE_LOOKS"]),
        )
    except DeploymentRefused as exc:
        logger.warning("deployment refused", extra={"reason": str(exc)})
        raise
    logger.info(
        "deployment planned",
        extra={
            "endpoint": plan.endpoint_name,
            "endpointExists": plan.endpoint_exists,
            "config": plan.config_name,
            "previousChampion": plan.previous_champion,
        },
    )
    return plan.model_dump(by_alias=True, mode="json")
