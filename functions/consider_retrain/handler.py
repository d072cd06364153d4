"""RetrainPolicy: decide on a check's evidence; start a retraining through the pipeline."""

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

from modelrail.monitoring.ledger import DynamoDBRetrainLedger
from modelrail.monitoring.models import RetrainInput
from modelrail.monitoring.retraining import RetrainContext, run_retrain
from modelrail.registry import DynamoDBRegistry
from modelrail.steps.contracts import contract_for
from modelrail.steps.models import dump
from modelrail.telemetry import publish

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger()
tracer = Tracer()
CONTRACTS = Path(__file__).resolve().parent / "contracts"


@cache
def _s3() -> S3Client:
    return boto3.client("s3")


@cache
def _sfn() -> SFNClient:
    return boto3.client("stepfunctions")


@cache
def _registry() -> DynamoDBRegistry:
    return DynamoDBRegistry(os.environ["REGISTRY_TABLE"])


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=RetrainInput)
def lambda_handler(event: RetrainInput, context: LambdaContext) -> dict[str, Any]:
    model = event.check.model
    logger.append_keys(model=model, check=event.check.check_id)
    ctx = RetrainContext(
        contract=contract_for(model, CONTRACTS),
        registry=_registry(),
        ledger=DynamoDBRetrainLedger(os.environ["REGISTRY_TABLE"]),
        s3=_s3(),
        sfn=_sfn(),
        data_bucket=os.environ["DATA_BUCKET"],
        state_machine_arn=os.environ["TRAINING_STATE_MACHINE_ARN"],
        environment=os.environ["MODELRAIL_ENV"],
        now=datetime.now(UTC),
    )
    output, points = run_retrain(event.check, ctx)
    publish(points)
    logger.info("decided", extra={"action": output.action, "reason": output.reason})
    return dump(output)
