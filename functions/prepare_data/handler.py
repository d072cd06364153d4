"""PrepareData: the champion channel for the same-holdout comparison and the baseline profile."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.registry import DynamoDBRegistry
from modelrail.sizing import SizeBand, bands_from_json
from modelrail.steps.contracts import contract_for
from modelrail.steps.models import PrepareInput, dump
from modelrail.steps.prepare import run_prepare

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


@cache
def _size_bands() -> tuple[SizeBand, ...]:
    return bands_from_json(os.environ["TRAINING_SIZE_BANDS"])


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=PrepareInput)
def lambda_handler(event: PrepareInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model=event.model, execution=event.execution_name)
    result = run_prepare(
        event,
        contract=contract_for(event.model, CONTRACTS),
        registry=_registry(),
        s3=_s3(),
        artifacts_bucket=os.environ["ARTIFACTS_BUCKET"],
        environment=os.environ["MODELRAIL_ENV"],
        size_bands=_size_bands(),
    )
    logger.info(
        "prepared",
        extra={
            "compared_with": result.compared_with,
            "profile": result.profile_uri,
            "instance": result.resources.instance_type,
        },
    )
    return dump(result)
