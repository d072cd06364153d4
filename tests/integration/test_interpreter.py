"""moto's Step Functions interpreter, as corrected by the local cloud."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.local import interpreter

# Catch a service error, then re-raise it through a Fail state's ErrorPath: what the
# training pipeline does after NotifyFailure.
DEFINITION = {
    "StartAt": "Caught",
    "States": {
        "Caught": {
            "Type": "Pass",
            "Result": {"Error": "States.TaskFailed", "Cause": "the training job failed"},
            "ResultPath": "$.error",
            "Next": "PipelineFailed",
        },
        "PipelineFailed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    },
}  # fmt: skip


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def _run(sfn: Any) -> dict[str, Any]:
    arn = sfn.create_state_machine(
        name="fail-path",
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    for _ in range(200):
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError("the execution did not finish")


def test_a_fail_state_may_end_with_a_service_error_name(sfn: Any) -> None:
    undo = interpreter.install()
    try:
        described = _run(sfn)
    finally:
        undo()
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    assert described["cause"] == "the training job failed"


def test_without_the_correction_moto_crashes_instead(sfn: Any) -> None:
    """If this starts failing, moto fixed it: drop modelrail.local.interpreter."""
    described = _run(sfn)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
