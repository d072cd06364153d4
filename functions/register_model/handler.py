"""Register: the version, its metrics and lineage into the DynamoDB registry."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelrail.registry import DynamoDBRegistry, EventBridgeSink
from modelrail.steps.contracts import contract_for
from modelrail.steps.models import RegisterInput, dump
from modelrail.steps.register import run_register

logger = Logger()
tracer = Tracer()
CONTRACTS = Path(__file__).resolve().parent / "contracts"


@cache
def _registry() -> DynamoDBRegistry:
    return DynamoDBRegistry(
        os.environ["REGISTRY_TABLE"], event_sink=EventBridgeSink(os.environ["EVENT_BUS_NAME"])
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=RegisterInput)
def lambda_handler(event: RegisterInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(model=event.model, training_job=event.training.job_name)
    result = run_register(
        event, contract=contract_for(event.model, CONTRACTS), registry=_registry()
    )
    if result.rejudge:
        logger.info("judged against a stale reference", extra={"reason": result.reason})
    else:
        logger.info("model version registered", extra={"version": result.version})
    return dump(result)
