"""The embedded metric format as CloudWatch Logs reads it (modelrail.local.emf): the
lines Powertools Metrics prints become datapoints; broken EMF gives none, with a reason."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from modelrail.local import emf


def powertools_line(monkeypatch: pytest.MonkeyPatch) -> str:
    """What a handler using Powertools Metrics prints at the end of an invocation."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "modelrail")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "modelrail-gate")
    metrics = Metrics()
    metrics.add_dimension(name="Environment", value="dev")
    metrics.add_dimension(name="Model", value="demand")
    metrics.add_metric(name="GateRejected", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="PrimaryMetric", unit=MetricUnit.NoUnit, value=18.5)
    out = io.StringIO()
    with redirect_stdout(out):
        metrics.flush_metrics()
    return out.getvalue().strip()


def test_powertools_output_becomes_datapoints(monkeypatch: pytest.MonkeyPatch) -> None:
    found = emf.parse(powertools_line(monkeypatch))
    assert found.is_emf and not found.errors
    by_name = {d.name: d for d in found.data}
    assert set(by_name) == {"GateRejected", "PrimaryMetric"}
    gate = by_name["GateRejected"]
    assert (gate.namespace, gate.value, gate.unit) == ("modelrail", 1.0, "Count")
    assert dict(gate.dimensions) == {
        "Environment": "dev", "Model": "demand", "service": "modelrail-gate",
    }  # fmt: skip
    assert abs((gate.timestamp - datetime.now(UTC)).total_seconds()) < 60


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1764590400000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "modelrail",
                    "Dimensions": [["Model"], ["Model", "Environment"]],
                    "Metrics": [{"Name": "Rows", "Unit": "Count"}],
                }
            ],
        },
        "Model": "demand",
        "Environment": "dev",
        "Rows": [3, 4],
    }
    base.update(overrides)
    return base


def test_each_dimension_set_and_value_is_a_datum() -> None:
    found = emf.parse(json.dumps(doc()))
    assert len(found.data) == 4  # 2 values x 2 dimension sets
    assert {d.dimensions for d in found.data} == {
        (("Model", "demand"),), (("Model", "demand"), ("Environment", "dev")),
    }  # fmt: skip
    assert found.data[0].timestamp == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    assert found.data[0].as_metric_data()["Dimensions"] == [{"Name": "Model", "Value": "demand"}]


def test_no_dimension_sets_means_no_dimensions() -> None:
    d = doc()
    d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = []
    assert [x.dimensions for x in emf.parse(json.dumps(d)).data] == [(), ()]


@pytest.mark.parametrize(
    "line", ["plain text", '{"level": "INFO", "message": "hi"}', "{not json", "[1, 2]"]
)
def test_plain_log_lines_are_not_emf(line: str) -> None:
    found = emf.parse(line)
    assert (found.is_emf, found.data, found.errors) == (False, [], [])


def broken(change: str) -> dict[str, Any]:
    d = doc()
    directive = d["_aws"]["CloudWatchMetrics"][0]
    if change == "no member":
        del d["Rows"]
    elif change == "text value":
        d["Rows"] = "three"
    elif change == "too many values":
        d["Rows"] = list(range(101))
    elif change == "bad unit":
        directive["Metrics"][0]["Unit"] = "Widgets"
    elif change == "aws namespace":
        directive["Namespace"] = "AWS/Lambda"
    elif change == "dimension not a string":
        d["Model"] = 7
    elif change == "no timestamp":
        del d["_aws"]["Timestamp"]
    elif change == "too many dimensions":
        directive["Dimensions"] = [[f"d{i}" for i in range(31)]]
        d.update({f"d{i}": "x" for i in range(31)})
    elif change == "nan":
        d["Rows"] = float("nan")
    return d


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("no member", "has no member"),
        ("text value", "not a finite number"),
        ("too many values", "at most 100"),
        ("bad unit", "unknown unit"),
        ("aws namespace", "outside AWS/"),
        ("dimension not a string", "needs a string member"),
        ("no timestamp", "Timestamp"),
        ("too many dimensions", "at most 30"),
        ("nan", "not a finite number"),
    ],
)
def test_broken_emf_gives_no_metrics_and_says_why(change: str, reason: str) -> None:
    found = emf.parse(json.dumps(broken(change)))
    assert found.is_emf and found.data == []
    assert reason in found.errors[0]


def test_the_gate_points_round_trip_through_powertools(capsys: pytest.CaptureFixture[str]) -> None:
    from modelrail import telemetry

    points = telemetry.gate_points(
        "dev", "demand", passed=False,
        checks=[{"name": "threshold", "passed": True}, {"name": "champion", "passed": False}],
        primary=("rmse", 21.5),
    )  # fmt: skip
    telemetry.publish(points)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    data = [d for line in lines for d in emf.parse(line).data]
    got = sorted(
        (d.name, d.value, dict(d.dimensions).get("Outcome") or dict(d.dimensions).get("Check"))
        for d in data
    )
    assert got == [
        ("CandidatePrimaryMetric", 21.5, None),
        ("GateCheckFailed", 1.0, "champion"),
        ("GateDecisions", 1.0, "rejected"),
    ]
    for d in data:  # exactly the catalog's dimensions: what dashboards query
        spec = next(s for s in telemetry.CATALOG if s.name == d.name)
        assert tuple(k for k, _ in d.dimensions) == spec.dimensions
        assert d.unit == spec.unit


def test_a_point_with_the_wrong_dimensions_is_refused() -> None:
    from modelrail import telemetry

    with pytest.raises(KeyError):
        telemetry.point(telemetry.GATE_DECISIONS, 1, Environment="dev", Model="demand")
    with pytest.raises(ValueError, match="takes dimensions"):
        telemetry.Point(telemetry.CANDIDATE_METRIC, (("Model", "demand"),), 1.0)
