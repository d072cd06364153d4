"""QualityGate: the trained model against its contract's bar."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.steps.contracts import contract_for
from modelrail.steps.gate import run_gate
from modelrail.steps.models import GateInput, dump
from modelrail.telemetry import gate_points, publish

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
@event_parser(model=GateInput)
def lambda_handler(event: GateInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model=event.model, training_job=event.training.job_name)
    contract = contract_for(event.model, CONTRACTS)
    result = run_gate(event, contract=contract, s3=_s3())
    logger.info("quality gate decided", extra={"passed": result.passed, "summary": result.summary})
    primary = contract.primary_metric.name
    publish(
        gate_points(
            os.environ["MODELRAIL_ENV"],
            event.model,
            passed=result.passed,
            checks=result.checks,
            primary=(primary, result.metrics[primary]) if primary in result.metrics else None,
        )
    )
    return dump(result)
