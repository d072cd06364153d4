"""CheckDrift: the champion's last window of captured traffic against its baseline."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.monitoring.check import CheckContext, run_check
from modelrail.monitoring.models import CheckInput
from modelrail.registry import DynamoDBRegistry
from modelrail.steps.contracts import contract_for
from modelrail.steps.models import dump
from modelrail.telemetry import publish

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger()
tracer = Tracer()
CONTRACTS = Path(__file__).resolve().parent / "contracts"


@cache
def _s3() -> S3Client:
    return boto3.client("s3")


@cache
def _registry() -> DynamoDBRegistry:
    return DynamoDBRegistry(os.environ["REGISTRY_TABLE"])


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=CheckInput)
def lambda_handler(event: CheckInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model=event.model)
    ctx = CheckContext(
        contract=contract_for(event.model, CONTRACTS),
        registry=_registry(),
        s3=_s3(),
        artifacts_bucket=os.environ["ARTIFACTS_BUCKET"],
        data_bucket=os.environ["DATA_BUCKET"],
        environment=os.environ["MODELRAIL_ENV"],
        now=datetime.now(UTC),
    )
    output, points = run_check(event, ctx)
    publish(points)
    logger.info(
        "checked",
        extra={"status": output.status, "rows": output.rows, "drifted": output.drifted},
    )
    return dump(output)
