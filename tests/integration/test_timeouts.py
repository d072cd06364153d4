"""Timeouts, heartbeats and retry intervals: moto's interpreter, and on the local clock.

Each ``test_moto_*`` shows what moto 5.2.5 does on its own (real seconds, kept short); if
one starts failing, moto changed: re-check ``modelrail.local.timeouts``. The others run
with the corrections on a fast clock, where an AWS minute is a fraction of a second.

The waiting task is ``sqs:sendMessage.waitForTaskToken``: the token arrives on a queue,
where the tests pick it up to answer or heartbeat.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from modelrail.local import clock as local_clock
from modelrail.local import timeouts

ROLE = "arn:aws:iam::123456789012:role/sfn"


@dataclass
class Aws:
    sfn: Any
    sqs: Any
    queue: str


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="tokens")["QueueUrl"]
        yield Aws(boto3.client("stepfunctions", region_name="us-east-1"), sqs, queue)


@contextmanager
def on_the_clock(speed: float) -> Iterator[local_clock.LocalClock]:
    """The local cloud's interpreter time: Wait states and the timeout corrections."""
    clock = local_clock.LocalClock(speed=speed)
    undo_waits = local_clock.install_wait_scaling(clock)
    undo = timeouts.install(clock)
    try:
        yield clock
    finally:
        undo()
        undo_waits()


def waiting(aws: Aws, **fields: Any) -> dict[str, Any]:
    """A task that sends its token to the queue and waits for an answer."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": aws.queue, "MessageBody": {"token.$": "$$.Task.Token"}},
        **fields,
    }


CAUGHT = {"Type": "Pass", "End": True}


def start(aws: Aws, definition: dict[str, Any], payload: str = "{}") -> str:
    name = f"machine-{time.monotonic_ns()}"
    arn = aws.sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    return str(aws.sfn.start_execution(stateMachineArn=arn, input=payload)["executionArn"])


def finish(aws: Aws, execution: str, within: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        described: dict[str, Any] = aws.sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"{execution} still RUNNING after {within} s")


def history(aws: Aws, execution: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = aws.sfn.get_execution_history(
        executionArn=execution, maxResults=1000
    )["events"]
    return events


def kinds(aws: Aws, execution: str) -> list[str]:
    return [event["type"] for event in history(aws, execution)]


def at(aws: Aws, execution: str, kind: str) -> list[datetime]:
    """When each event of ``kind`` happened."""
    return [e["timestamp"] for e in history(aws, execution) if e["type"] == kind]


def tokens(aws: Aws, count: int = 1, within: float = 30.0) -> list[str]:
    """The next ``count`` task tokens sent to the queue.

    Polls with a pause: a loop of back-to-back ReceiveMessage calls holds the GIL and
    starved the interpreter thread that sends the token (seconds late, one run in twenty).
    """
    found: list[str] = []
    deadline = time.monotonic() + within
    while len(found) < count and time.monotonic() < deadline:
        for message in aws.sqs.receive_message(QueueUrl=aws.queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            found.append(json.loads(message["Body"])["token"])
        if len(found) < count:
            time.sleep(0.02)
    assert len(found) == count, found
    return found


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return str(caught.value.response["Error"]["Code"])


def seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


# ---- the execution's TimeoutSeconds ------------------------------------------------------


def limited(aws: Aws, limit: int, task_timeout: int | None) -> dict[str, Any]:
    task = waiting(
        aws,
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        End=True,
    )
    if task_timeout is not None:
        task["TimeoutSeconds"] = task_timeout
    return {"TimeoutSeconds": limit, "StartAt": "Wait", "States": {"Wait": task, "Caught": CAUGHT}}


def test_moto_times_an_execution_out_in_real_seconds_and_keeps_running_it(aws: Aws) -> None:
    execution = start(aws, limited(aws, limit=1, task_timeout=2))
    started = time.monotonic()
    assert finish(aws, execution)["status"] == "TIMED_OUT"
    assert time.monotonic() - started >= 0.9
    assert "ExecutionTimedOut" not in kinds(aws, execution)  # the worker still waits
    time.sleep(1.6)  # the task's own timeout, after the execution's
    events = kinds(aws, execution)
    assert "ExecutionTimedOut" not in events
    assert events[-2:] == ["TaskTimedOut", "ExecutionFailed"]


@pytest.mark.parametrize("task_timeout", [None, 600], ids=["task-without-timeout", "longer-task"])
def test_an_execution_times_out_on_the_clock_and_nothing_runs_after(
    aws: Aws, task_timeout: int | None
) -> None:
    with on_the_clock(speed=600):  # the execution's 300 s: 0.5 s; the task's 600 s: 1 s
        execution = start(aws, limited(aws, limit=300, task_timeout=task_timeout))
        started = time.monotonic()
        described = finish(aws, execution)
        took = time.monotonic() - started
        (token,) = tokens(aws)
        time.sleep(0.8)  # past the task's own TimeoutSeconds
        events = kinds(aws, execution)
        late = refused(aws.sfn.send_task_success, taskToken=token, output="{}")
    assert described["status"] == "TIMED_OUT" and "error" not in described
    assert 0.4 <= took < 3.0
    assert events[-1] == "ExecutionTimedOut" and events.count("ExecutionTimedOut") == 1
    # no Catch, no task timeout, no failure after the deadline
    for after in ("TaskTimedOut", "PassStateEntered", "ExecutionFailed"):
        assert after not in events
    assert aws.sfn.describe_execution(executionArn=execution)["status"] == "TIMED_OUT"
    assert late == "TaskTimedOut"


def test_a_wait_longer_than_the_execution_allows_times_it_out(aws: Aws) -> None:
    definition = {
        "TimeoutSeconds": 60,
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 120, "Next": "After"},
            "After": {"Type": "Pass", "End": True},
        },
    }
    with on_the_clock(speed=600):
        execution = start(aws, definition)
        assert finish(aws, execution, within=2)["status"] == "TIMED_OUT"
        assert kinds(aws, execution) == [
            "ExecutionStarted",
            "WaitStateEntered",
            "ExecutionTimedOut",
        ]


# ---- a task's TimeoutSeconds, Retry and Catch ---------------------------------------------


def retried(aws: Aws, timeout: int, interval: int) -> dict[str, Any]:
    task = waiting(
        aws,
        TimeoutSeconds=timeout,
        Retry=[{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": interval, "MaxAttempts": 1}],
        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Caught"}],
        End=True,
    )
    return {"StartAt": "Wait", "States": {"Wait": task, "Caught": CAUGHT}}


def test_moto_times_a_task_out_in_real_seconds_and_its_retry_at_once(aws: Aws) -> None:
    execution = start(aws, retried(aws, timeout=1, interval=1))
    assert finish(aws, execution)["status"] == "SUCCEEDED"
    scheduled, timed_out = at(aws, execution, "TaskScheduled"), at(aws, execution, "TaskTimedOut")
    submitted = at(aws, execution, "TaskSubmitted")
    assert seconds(timed_out[0], scheduled[0]) >= 0.9
    assert seconds(timed_out[1], submitted[1]) < 0.5  # the retry reused the closed token
    first, second = tokens(aws, count=2)
    assert first == second


def test_a_task_times_out_on_the_clock_and_each_retry_waits_its_full_timeout(aws: Aws) -> None:
    with on_the_clock(speed=600):  # TimeoutSeconds 120: 0.2 s; IntervalSeconds 60: 0.1 s
        execution = start(aws, retried(aws, timeout=120, interval=60))
        started = time.monotonic()
        described = finish(aws, execution)
        took = time.monotonic() - started
        first, second = tokens(aws, count=2)
        late = [
            refused(aws.sfn.send_task_success, taskToken=token, output="{}")
            for token in (first, second)
        ]
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == "States.Timeout"
    assert took < 3.0
    scheduled, timed_out = at(aws, execution, "TaskScheduled"), at(aws, execution, "TaskTimedOut")
    assert len(timed_out) == 2
    for began, ended in zip(scheduled, timed_out, strict=True):
        assert seconds(ended, began) >= 0.18
    assert seconds(scheduled[1], timed_out[0]) >= 0.09  # the retry interval
    assert first != second  # a new task, a new token
    assert late == ["TaskTimedOut", "TaskTimedOut"]


def test_a_timeout_from_the_input_is_on_the_clock_too(aws: Aws) -> None:
    task = waiting(
        aws,
        TimeoutSecondsPath="$.limit",
        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Caught"}],
        End=True,
    )
    with on_the_clock(speed=600):
        execution = start(
            aws, {"StartAt": "Wait", "States": {"Wait": task, "Caught": CAUGHT}}, '{"limit": 120}'
        )
        described = finish(aws, execution, within=3)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == "States.Timeout"


# ---- HeartbeatSeconds ------------------------------------------------------------------------


def heartbeats(aws: Aws, heartbeat: int, timeout: int, **fields: Any) -> dict[str, Any]:
    task = waiting(
        aws,
        TimeoutSeconds=timeout,
        HeartbeatSeconds=heartbeat,
        Catch=[
            {"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "Caught"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Other"},
        ],
        End=True,
        **fields,
    )
    return {"StartAt": "Wait", "States": {"Wait": task, "Caught": CAUGHT, "Other": CAUGHT}}


def entered(aws: Aws, execution: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history(aws, execution)
        if "stateEnteredEventDetails" in e
    ]


def test_moto_reports_a_missed_heartbeat_as_a_plain_timeout(aws: Aws) -> None:
    execution = start(aws, heartbeats(aws, heartbeat=1, timeout=30))
    started = time.monotonic()
    described = finish(aws, execution)
    assert time.monotonic() - started >= 0.9
    assert json.loads(described["output"])["error"]["Error"] == "States.Timeout"
    assert entered(aws, execution)[-1] == "Other"


def test_a_missed_heartbeat_is_a_heartbeat_timeout_on_the_clock(aws: Aws) -> None:
    # States.Timeout also matches a heartbeat timeout: the retrier retries it once.
    retry = [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    with on_the_clock(speed=600):  # HeartbeatSeconds 60: 0.1 s
        execution = start(aws, heartbeats(aws, heartbeat=60, timeout=6000, Retry=retry))
        described = finish(aws, execution, within=3)
        events = [e for e in history(aws, execution) if e["type"] == "TaskTimedOut"]
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == "States.HeartbeatTimeout"
    assert entered(aws, execution)[-1] == "Caught"
    assert [e["taskTimedOutEventDetails"]["error"] for e in events] == [
        "States.HeartbeatTimeout",
        "States.HeartbeatTimeout",
    ]


def test_heartbeats_keep_a_task_alive_until_it_is_answered(aws: Aws) -> None:
    answered: list[str] = []

    def worker() -> None:
        (token,) = tokens(aws)
        for _ in range(8):  # 1.2 s: more than twice the heartbeat allowance
            time.sleep(0.15)
            aws.sfn.send_task_heartbeat(taskToken=token)
        aws.sfn.send_task_success(taskToken=token, output='{"answer": 42}')
        answered.append(token)

    with on_the_clock(speed=60):  # HeartbeatSeconds 30: 0.5 s; TimeoutSeconds 3000: 50 s
        execution = start(aws, heartbeats(aws, heartbeat=30, timeout=3000))
        thread = threading.Thread(target=worker)
        thread.start()
        described = finish(aws, execution)
        thread.join(timeout=5)
        late = refused(aws.sfn.send_task_heartbeat, taskToken=answered[0])
    assert described["status"] == "SUCCEEDED", kinds(aws, execution)
    assert json.loads(described["output"]) == {"answer": 42}
    assert "TaskTimedOut" not in kinds(aws, execution)
    assert late == "TaskTimedOut"


# ---- Retry IntervalSeconds ---------------------------------------------------------------------


def failing(interval: int, attempts: int) -> dict[str, Any]:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": "no-such-bucket", "Key": "k"},
        "Retry": [
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": interval,
                "BackoffRate": 2,
                "MaxAttempts": attempts,
            }
        ],
        "End": True,
    }
    return {"StartAt": "Get", "States": {"Get": task}}


def test_moto_sleeps_retry_intervals_in_real_seconds(aws: Aws) -> None:
    execution = start(aws, failing(interval=1, attempts=1))
    assert finish(aws, execution)["status"] == "FAILED"
    failed, scheduled = at(aws, execution, "TaskFailed"), at(aws, execution, "TaskScheduled")
    assert seconds(scheduled[1], failed[0]) >= 0.95


def test_retry_intervals_and_their_backoff_run_on_the_clock(aws: Aws) -> None:
    with on_the_clock(speed=60):  # 2 s, 4 s, 8 s: 33, 67, 133 ms
        execution = start(aws, failing(interval=2, attempts=3))
        described = finish(aws, execution, within=5)
    assert described["status"] == "FAILED"
    failed, scheduled = at(aws, execution, "TaskFailed"), at(aws, execution, "TaskScheduled")
    gaps = [seconds(s, f) for f, s in zip(failed, scheduled[1:], strict=False)]
    assert len(gaps) == 3
    for gap, interval in zip(gaps, (2, 4, 8), strict=True):
        assert interval / 60 * 0.8 <= gap < interval / 60 + 0.3, gaps


# ---- fast_forward ------------------------------------------------------------------------------


def test_waits_in_progress_follow_a_fast_forward(aws: Aws) -> None:
    task = waiting(
        aws,
        TimeoutSeconds=86400,
        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Caught"}],
        End=True,
    )
    with on_the_clock(speed=60) as clock:  # a day: 24 minutes at 60x
        execution = start(aws, {"StartAt": "Wait", "States": {"Wait": task, "Caught": CAUGHT}})
        tokens(aws)  # the task is waiting
        started = time.monotonic()
        clock.fast_forward(86400, within=0.5)
        described = finish(aws, execution, within=5)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"]["Error"] == "States.Timeout"
    assert time.monotonic() - started < 0.5 + clock.FOLLOW_SECONDS + 1.0


def test_undo_leaves_moto_as_it_was() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.eval.callback import callback
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend as Backend

    def seams() -> list[object]:
        return [
            Program.eval,
            execute_state.threading,
            callback.Event,
            StateTask._from_error,
            ErrorEqualsDecl._eval_body,
            StateTaskServiceCallback.__dict__.get("_evaluate_with_timeout"),
            callback.CallbackEndpoint.interrupt_all,
            Backend.send_task_success,
            Backend.send_task_failure,
            Backend.send_task_heartbeat,
            retrier_decl.time,
        ]

    before = seams()
    undo = timeouts.install(local_clock.LocalClock())
    installed = seams()
    assert all(a is not b for a, b in zip(installed[:6], before[:6], strict=True))
    # two local clouds in one process (the e2e modules keep a dev and a prod one): nested
    nested = timeouts.install(local_clock.LocalClock())
    nested()
    assert seams() == installed
    undo()
    assert seams() == before


def test_real_work_counts_what_it_takes_against_the_task_and_execution_timeouts(
    aws: Aws,
) -> None:
    """D46: at 600x the execution's 30 s last 0.05 s and the task's 60 s 0.1 s when idle;
    a job or handler computing meanwhile (LocalClock.working) runs the clock at real
    speed, so 0.6 s of work uses 0.6 local seconds of them, as it would on AWS."""
    with on_the_clock(speed=600) as clock:
        with clock.working():
            execution = start(aws, limited(aws, limit=30, task_timeout=60))
            (token,) = tokens(aws)
            time.sleep(0.6)  # the job's real seconds
            aws.sfn.send_task_success(taskToken=token, output='{"done": true}')
        described = finish(aws, execution)
        idle = start(aws, limited(aws, limit=30, task_timeout=60))
        left_alone = finish(aws, idle)
    assert described["status"] == "SUCCEEDED", kinds(aws, execution)
    assert left_alone["status"] == "TIMED_OUT"  # the same machine, nothing computing
