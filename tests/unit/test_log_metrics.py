"""Which handler log lines become metrics on the local cloud (modelrail.local.log_metrics):
EMF lines from a function whose role may write its log group, and nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelrail.local.iam.enforce import AccessDenied
from modelrail.local.log_metrics import LogMetrics

LINE = json.dumps(
    {
        "_aws": {
            "Timestamp": 1764590400000,
            "CloudWatchMetrics": [
                {"Namespace": "modelrail", "Dimensions": [["Model"]], "Metrics": [{"Name": "Rows"}]}
            ],
        },
        "Model": "demand",
        "Rows": 5,
    }
)


class Sink:
    def __init__(self) -> None:
        self.put: list[tuple[str, list[dict[str, Any]]]] = []

    def put_metrics(self, namespace: str, data: list[dict[str, Any]]) -> None:
        self.put.append((namespace, data))


class Enforcer:
    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.checked: list[tuple[str, str, str]] = []

    def require(self, principal: Any, check: Any) -> None:
        self.checked.append((principal.role_arn, check.action, check.resource))
        if not self.allow:
            raise AccessDenied(
                "denied", principal=principal.arn, action=check.action, resource=check.resource
            )


def metrics(enforcer: Enforcer | None, monkeypatch: pytest.MonkeyPatch) -> tuple[LogMetrics, Sink]:
    sink = Sink()
    lm = LogMetrics(
        sink, "123456789012", "us-east-1", enforcer=enforcer, log_groups={"fn": "/modelrail/dev/fn"}
    )  # type: ignore[arg-type]
    monkeypatch.setattr(lm, "_role", lambda function: "arn:aws:iam::123456789012:role/fn-role")
    return lm, sink


def test_an_emf_line_becomes_a_datapoint_when_the_role_may_write_its_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enforcer = Enforcer(allow=True)
    lm, sink = metrics(enforcer, monkeypatch)
    lm.deliver("fn", LINE)
    assert [(ns, [d["MetricName"] for d in data]) for ns, data in sink.put] == [
        ("modelrail", ["Rows"])
    ]
    assert enforcer.checked == [
        (
            "arn:aws:iam::123456789012:role/fn-role",
            "logs:PutLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:/modelrail/dev/fn:log-stream:fn",
        )
    ]


def test_a_role_that_may_not_write_its_log_group_publishes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lm, sink = metrics(Enforcer(allow=False), monkeypatch)
    lm.deliver("fn", LINE)
    assert sink.put == [] and "denied" in lm.rejected[0]


def test_plain_and_broken_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    lm, sink = metrics(None, monkeypatch)
    lm.deliver("fn", '{"level": "INFO", "message": "quality gate decided"}')
    lm.deliver("fn", LINE.replace('"Rows": 5', '"Rows": "five"'))
    assert sink.put == [] and lm.rejected == [
        "fn: metric 'Rows' value 'five' is not a finite number"
    ]
