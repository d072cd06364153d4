"""The monitoring stack: one Scheduler schedule per model (the contract's expression, a
retry policy, a dead-letter queue, a role only the Scheduler of this account assumes),
the monitoring state machine's shape, and what its functions may touch."""

from __future__ import annotations

import json
from typing import Any

from infra.constructs.monitoring import SCHEDULE_RETRIES, schedule_name
from modelrail.contract import load_contracts
from tests.infra.definition import _render, definition_parts


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_every_model_has_a_schedule_from_its_contract(dev_template: dict[str, Any]) -> None:
    schedules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in _of_type(dev_template, "AWS::Scheduler::Schedule").values()
    }
    contracts = load_contracts()
    assert set(schedules) == {schedule_name("dev", name) for name in contracts}
    for name, contract in contracts.items():
        props = schedules[schedule_name("dev", name)]
        assert props["ScheduleExpression"] == contract.monitoring.schedule
        assert props["State"] == ("ENABLED" if contract.monitoring.enabled else "DISABLED")
        target = props["Target"]
        assert json.loads(target["Input"]) == {
            "model": name,
            "requestedBy": "schedule",
            "scheduledTime": "<aws.scheduler.scheduled-time>",
        }
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == SCHEDULE_RETRIES
        assert "Arn" in target["DeadLetterConfig"]
        assert target["Arn"] == {"Ref": _logical(dev_template, "monitoring")}


def _logical(template: dict[str, Any], suffix: str) -> str:
    return next(
        k
        for k, v in _of_type(template, "AWS::StepFunctions::StateMachine").items()
        if v["Properties"]["StateMachineName"].endswith(suffix)
    )


def test_only_this_accounts_scheduler_assumes_the_schedule_role(
    dev_template: dict[str, Any],
) -> None:
    roles = [
        r["Properties"]
        for r in _of_type(dev_template, "AWS::IAM::Role").values()
        if "Scheduler" in r["Properties"].get("Description", "")
    ]
    assert len(roles) == 1
    (statement,) = roles[0]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_the_machine_checks_then_decides_and_stops_when_nothing_is_served(
    dev_template: dict[str, Any],
) -> None:
    text = "".join(_render(p) for p in definition_parts(dev_template, "monitoring"))
    states = json.loads(text)["States"]
    assert json.loads(text)["StartAt"] == "CheckDrift"
    assert states["CheckDrift"]["Next"] == "Watching?"
    watching = states["Watching?"]
    assert watching["Choices"][0]["Next"] == "NothingToWatch"
    assert watching["Default"] == "RetrainPolicy"
    assert states["RetrainPolicy"]["Next"] == "Retraining?"
    for task in ("CheckDrift", "RetrainPolicy"):
        assert states[task]["Catch"][0]["Next"] == "NotifyFailure"
        assert states[task]["Retry"], task
