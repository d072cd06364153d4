"""ValidateData: the contract's data gate (quarantines bad uploads)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.steps.models import PipelineInput, dump
from modelrail.steps.validate import run_validation

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger()
tracer = Tracer()
CONTRACTS = Path(__file__).resolve().parent / "contracts"


@cache
def _s3() -> S3Client:
    return boto3.client("s3")


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=PipelineInput)
def lambda_handler(event: PipelineInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model=event.model, key=event.key, version_id=event.version_id)
    result = run_validation(
        event,
        s3=_s3(),
        contracts_dir=CONTRACTS,
        artifacts_bucket=os.environ["ARTIFACTS_BUCKET"],
    )
    logger.info(
        "dataset accepted", extra={"rows": result.dataset.rows, "warnings": len(result.warnings)}
    )
    return dump(result)
