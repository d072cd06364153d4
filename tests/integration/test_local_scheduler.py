"""EventBridge Scheduler on the local cloud (modelrail.local.scheduler), on moto with the
local IAM enforcement: a schedule fires its Step Functions target on the local clock as
its execution role (trusted by scheduler.amazonaws.com); a role that may not start the
machine sends the event to the dead-letter queue, with the role's own permission."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.local import clock
from modelrail.local.iam import enforce
from modelrail.local.iam.principals import Principals
from modelrail.local.scheduler import SchedulerRuntime

ACCOUNT, REGION = "123456789012", "us-east-1"


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                }
            ],
        }
    )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SchedulerRuntime, dict[str, Any]]]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        enforcer = enforce.Enforcer(Principals(), ACCOUNT, REGION)
        undo = enforce.install(enforcer)
        try:
            sfn = boto3.client("stepfunctions", region_name=REGION)
            iam = boto3.client("iam")
            sqs = boto3.client("sqs", region_name=REGION)
            machine_role = iam.create_role(
                RoleName="sm", AssumeRolePolicyDocument=trust("states.amazonaws.com")
            )
            machine = sfn.create_state_machine(
                name="monitoring",
                definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
                roleArn=machine_role["Role"]["Arn"],
            )["stateMachineArn"]
            dlq = sqs.create_queue(QueueName="schedules-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            runtime = SchedulerRuntime(
                clock.LocalClock(speed=3600),
                ACCOUNT,
                REGION,
                principals=enforcer.principals,
                enforcer=enforcer,
            )
            yield (
                runtime,
                {
                    "machine": machine,
                    "dlq": dlq,
                    "dlq_arn": dlq_arn,
                    "iam": iam,
                    "sfn": sfn,
                    "sqs": sqs,
                },
            )
        finally:
            undo()


def scheduler_role(
    iam: Any, name: str, statements: list[dict[str, Any]], service: str = "scheduler.amazonaws.com"
) -> str:
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"][
        "Arn"
    ]
    iam.put_role_policy(
        RoleName=name, PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )  # fmt: skip
    return arn


def schedule(
    name: str, machine: str, role: str, dlq: str, expression: str = "rate(1 hour)"
) -> None:
    boto3.client("scheduler", region_name=REGION).create_schedule(
        Name=name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": machine,
            "RoleArn": role,
            "Input": json.dumps({"model": "demand", "at": "<aws.scheduler.scheduled-time>"}),
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": dlq},
        },
    )


def run_for(runtime: SchedulerRuntime, real_seconds: float) -> None:
    runtime.fire_due()  # first sight: the schedule's creation on the local wall clock
    deadline = time.monotonic() + real_seconds
    while time.monotonic() < deadline:
        runtime.fire_due()
        time.sleep(0.05)


def test_a_rate_schedule_starts_its_machine_as_its_role_on_the_local_clock(
    env: tuple[SchedulerRuntime, dict[str, Any]],
) -> None:
    runtime, r = env
    role = scheduler_role(r["iam"], "check", [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": r["machine"]},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": r["dlq_arn"]},
    ])  # fmt: skip
    schedule("drift-check-demand", r["machine"], role, r["dlq_arn"])
    run_for(runtime, 2.5)  # 2.5 real s at 3600x: about 2.5 local hours
    ok = [f for f in runtime.firings if f.ok]
    assert 2 <= len(ok) <= 3 and all(f.attempts == 1 for f in ok)
    executions = r["sfn"].list_executions(stateMachineArn=r["machine"])["executions"]
    assert len(executions) == len(ok)
    first = r["sfn"].describe_execution(executionArn=executions[-1]["executionArn"])
    payload = json.loads(first["input"])
    assert payload["model"] == "demand" and payload["at"].endswith("Z")


def test_a_role_scheduler_may_not_assume_fires_nothing(
    env: tuple[SchedulerRuntime, dict[str, Any]],
) -> None:
    runtime, r = env
    role = scheduler_role(
        r["iam"], "wrong-trust",
        [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": r["machine"]}],
        service="lambda.amazonaws.com",
    )  # fmt: skip
    schedule("drift-check-demand", r["machine"], role, r["dlq_arn"])
    run_for(runtime, 1.2)
    assert runtime.firings and not any(f.ok for f in runtime.firings)
    assert "sts:AssumeRole" in runtime.firings[0].detail
    assert r["sfn"].list_executions(stateMachineArn=r["machine"])["executions"] == []


def test_a_refused_start_goes_to_the_dlq_with_the_reason(
    env: tuple[SchedulerRuntime, dict[str, Any]],
) -> None:
    runtime, r = env
    role = scheduler_role(r["iam"], "no-start", [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": r["dlq_arn"]},
    ])  # fmt: skip
    schedule("drift-check-demand", r["machine"], role, r["dlq_arn"])
    run_for(runtime, 1.2)
    failed = [f for f in runtime.firings if not f.ok]
    assert failed and failed[0].attempts == 1  # a refusal is not retried
    messages = r["sqs"].receive_message(
        QueueUrl=r["dlq"], MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )
    attributes = messages["Messages"][0]["MessageAttributes"]
    assert "states:StartExecution" in attributes["ERROR_MESSAGE"]["StringValue"]
    assert attributes["SCHEDULE_ARN"]["StringValue"].endswith("schedule/default/drift-check-demand")


def test_a_disabled_schedule_does_not_fire(env: tuple[SchedulerRuntime, dict[str, Any]]) -> None:
    runtime, r = env
    role = scheduler_role(r["iam"], "check", [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": r["machine"]},
    ])  # fmt: skip
    schedule("drift-check-demand", r["machine"], role, r["dlq_arn"])
    client = boto3.client("scheduler", region_name=REGION)
    current = client.get_schedule(Name="drift-check-demand")
    client.update_schedule(
        Name="drift-check-demand", ScheduleExpression=current["ScheduleExpression"],
        FlexibleTimeWindow={"Mode": "OFF"}, Target=current["Target"], State="DISABLED",
    )  # fmt: skip
    run_for(runtime, 1.2)
    assert runtime.firings == []
