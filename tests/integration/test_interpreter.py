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


def _finished(sfn: Any, execution: str) -> dict[str, Any]:
    for _ in range(200):
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError("the execution did not finish")


def _start_child(sfn: Any, child_definition: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A parent that starts a child (states:startExecution, as StartDeployment does) and
    an aws-sdk task whose answer holds timestamps (ListBuckets)."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="listed")
    role = "arn:aws:iam::123456789012:role/sfn"
    child = sfn.create_state_machine(
        name="child", definition=json.dumps(child_definition), roleArn=role
    )["stateMachineArn"]
    parent = {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {
                    "StateMachineArn": child,
                    "Name.$": "States.Format('{}-child', $$.Execution.Name)",
                    "Input": {"version.$": "$.version"},
                },
                "ResultSelector": {"executionArn.$": "$.ExecutionArn"},
                "ResultPath": "$.started",
                "Next": "Describe",
            },
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
                "ResultPath": "$.described",
                "End": True,
            },
        },
    }
    arn = sfn.create_state_machine(name="parent", definition=json.dumps(parent), roleArn=role)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, name="run1", input='{"version": 3}')
    return child, _finished(sfn, execution["executionArn"])


CHILD = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def test_a_state_machine_starts_another_with_the_documented_shapes(sfn: Any) -> None:
    undo = interpreter.install()
    try:
        child, described = _start_child(sfn, CHILD)
    finally:
        undo()
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    expected = child.replace(":stateMachine:", ":execution:") + ":run1-child"
    assert output["started"] == {"executionArn": expected}
    started = sfn.describe_execution(executionArn=expected)
    assert json.loads(started["input"]) == {"version": 3}
    # timestamps in a task's answer are JSON strings, as on AWS
    (bucket,) = output["described"]["Buckets"]
    assert isinstance(bucket["CreationDate"], str)


def test_without_the_correction_starting_another_state_machine_crashes(sfn: Any) -> None:
    """If this starts failing, moto translates the Step Functions integration itself."""
    _, described = _start_child(sfn, CHILD)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "StateMachineArn" in described["cause"]


def test_a_task_answer_skips_executions_that_have_no_environment_yet() -> None:
    """moto looks for a task token in every execution's environment, which the
    execution's own thread creates: one started a moment earlier crashed the lookup."""
    from types import SimpleNamespace

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from modelrail.local.interpreter import _install_token_lookup

    starting = SimpleNamespace(status="RUNNING", exec_worker=SimpleNamespace(env=None))
    backend: Any = StepFunctionsParserBackend.__new__(StepFunctionsParserBackend)
    backend.state_machines = [SimpleNamespace(executions=[starting])]
    with pytest.raises(AttributeError, match="callback_pool_manager"):
        StepFunctionsParserBackend.send_task_success(backend, "token", "{}")
    undo = _install_token_lookup()
    try:
        from moto.stepfunctions.parser.api import InvalidToken

        with pytest.raises(InvalidToken):  # no execution holds it: the service's answer
            StepFunctionsParserBackend.send_task_success(backend, "token", "{}")
    finally:
        undo()


def test_an_execution_started_without_a_name_gets_one_as_on_aws(sfn: Any) -> None:
    """The Scheduler (and any caller) may leave the name out; the service makes a UUID."""
    arn = sfn.create_state_machine(
        name="unnamed", definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]  # fmt: skip
    undo = interpreter.install()
    try:
        first = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    finally:
        undo()
    names = [a.rsplit(":", 1)[-1] for a in (first, second)]
    assert names[0] != names[1]
    assert all(len(n) == 36 and n.count("-") == 4 for n in names), names
    # without the correction, moto names it None: a second start (another model's
    # schedule, another input) collides
    sfn.start_execution(stateMachineArn=arn, input='{"model": "demand"}')
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, input='{"model": "churn"}')
