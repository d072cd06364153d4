"""The local cloud's CloudWatch alarm arithmetic: one datapoint per period, "M out of N"
datapoints to alarm, missing data as TreatMissingData says (pure, no AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from modelrail.local.cloudwatch import judge, statistic
from modelrail.local.metric_math import MetricMathError, evaluate, parse, references


def above(value: float, threshold: float) -> bool:
    return value > threshold


@pytest.mark.parametrize(
    ("stat", "expected"),
    [("Sum", 15.0), ("Average", 3.0), ("Maximum", 5.0), ("Minimum", 1.0), ("SampleCount", 5.0)],
)
def test_plain_statistics(stat: str, expected: float) -> None:
    assert statistic([3.0, 1.0, 5.0, 2.0, 4.0], stat) == expected


def test_percentiles_take_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert statistic(values, "p99") == 99.0
    assert statistic(values, "p50") == 50.0
    assert statistic([7.0], "p99") == 7.0
    assert statistic(list(reversed(values)), "p90") == 90.0  # order does not matter


def test_a_statistic_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        statistic([], "Sum")


def test_one_slow_minute_of_three_does_not_alarm_three_do() -> None:
    kwargs = {"threshold": 100.0, "compare": above, "to_alarm": 3, "treat_missing": "notBreaching"}
    assert judge([500.0, 20.0, 30.0], **kwargs) == ("OK", 1)  # type: ignore[arg-type]
    assert judge([500.0, 400.0, 300.0], **kwargs) == ("ALARM", 3)  # type: ignore[arg-type]


def test_missing_data_counts_as_treat_missing_data_says() -> None:
    base = {"threshold": 1.0, "compare": above, "to_alarm": 2}
    assert judge([None, None], treat_missing="notBreaching", **base) == ("OK", 0)  # type: ignore[arg-type]
    assert judge([None, None], treat_missing="breaching", **base) == ("ALARM", 2)  # type: ignore[arg-type]
    assert judge([None, None], treat_missing="missing", **base) is None  # type: ignore[arg-type]
    # with "missing", only the datapoints present are judged
    assert judge([5.0, None], treat_missing="missing", **base) == ("OK", 1)  # type: ignore[arg-type]
    assert judge([5.0, None], treat_missing="breaching", **base) == ("ALARM", 2)  # type: ignore[arg-type]


def test_a_single_error_alarms_a_one_of_one_alarm() -> None:
    def at_least(value: float, threshold: float) -> bool:
        return value >= threshold

    assert judge(
        [1.0], threshold=1.0, compare=at_least, to_alarm=1, treat_missing="notBreaching"
    ) == (
        "ALARM",
        1,
    )


# ---------------------------------------------------------------------------
# metric math (the rollback error-rate alarms, D39)

RATE = "IF(invocations < 20, FILL(errors, 0) / 20, FILL(errors, 0) / invocations)"


@pytest.mark.parametrize(
    ("errors", "invocations", "expected"),
    [
        (1.0, 5.0, 0.05),  # one failure in a quiet minute: counted over 20
        (1.0, 100.0, 0.01),
        (12.0, 12.0, 0.6),  # a failing model at low traffic still shows
        (30.0, 60.0, 0.5),
        (None, 40.0, 0.0),  # no error datapoint: FILL makes it none
        (3.0, None, None),  # no invocations datapoint: no datapoint for the alarm
    ],
)
def test_the_error_rate_expression(
    errors: float | None, invocations: float | None, expected: float | None
) -> None:
    value = evaluate(parse(RATE), {"errors": errors, "invocations": invocations})
    assert value == (None if expected is None else pytest.approx(expected))


def test_arithmetic_precedence_comparisons_and_division_by_zero() -> None:
    assert evaluate(parse("m1 + m2 * 2 - -1"), {"m1": 1.0, "m2": 3.0}) == 8.0
    assert evaluate(parse("(m1 + m2) / 2"), {"m1": 1.0, "m2": 3.0}) == 2.0
    assert evaluate(parse("m1 >= 0.1"), {"m1": 0.1}) == 1.0
    assert evaluate(parse("m1 != m2"), {"m1": 1.0, "m2": 1.0}) == 0.0
    assert evaluate(parse("m1 / m2"), {"m1": 1.0, "m2": 0.0}) is None
    # IF evaluates the branch it takes only
    assert evaluate(parse("IF(m2 > 0, m1 / m2, 0)"), {"m1": 1.0, "m2": 0.0}) == 0.0
    assert references(parse(RATE)) == {"errors", "invocations"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "RATE(m1)",
            "unsupported function 'RATE' (the local cloud evaluates IF, FILL) in metric "
            "math expression 'RATE(m1)'",
        ),
        ("IF(m1, 1)", "IF takes 3 arguments, got 2 in metric math expression 'IF(m1, 1)'"),
        ("m1 +", "expected more in metric math expression 'm1 +'"),
        ("m1 ^ 2", "cannot read '^ 2' in metric math expression 'm1 ^ 2'"),
        ("(m1", "expected ) in metric math expression '(m1'"),
    ],
)
def test_unsupported_expressions_are_named(expression: str, message: str) -> None:
    with pytest.raises(MetricMathError) as info:
        parse(expression)
    assert str(info.value) == message


def test_an_unknown_id_is_an_error() -> None:
    with pytest.raises(MetricMathError) as info:
        evaluate(parse("m1 / m3"), {"m1": 1.0})
    assert str(info.value) == "metric math refers to unknown id 'm3'"


def test_one_malformed_request_in_a_busy_minute_does_not_alarm_a_failing_model_does() -> None:
    kwargs = {"threshold": 0.1, "compare": lambda v, t: v >= t, "to_alarm": 1}
    tree = parse(RATE)
    one_bad = [evaluate(tree, {"errors": 0.0, "invocations": 15.0})]  # 4XX not counted
    assert judge(one_bad, treat_missing="notBreaching", **kwargs) == ("OK", 0)  # type: ignore[arg-type]
    a_5xx = [evaluate(tree, {"errors": 1.0, "invocations": 15.0})]  # even a 5XX: 5%
    assert judge(a_5xx, treat_missing="notBreaching", **kwargs) == ("OK", 0)  # type: ignore[arg-type]
    failing = [evaluate(tree, {"errors": 14.0, "invocations": 15.0})]
    assert judge(failing, treat_missing="notBreaching", **kwargs) == ("ALARM", 1)  # type: ignore[arg-type]


def _math_alarm(
    expression: str, ids: tuple[str, ...] = ("errors", "invocations")
) -> dict[str, Any]:
    stat = {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"}, "Period": 60}
    return {
        "AlarmName": "a-5xx",
        "Metrics": [{"Id": "expr_1", "Expression": expression, "ReturnData": True}]
        + [{"Id": i, "MetricStat": {**stat, "Stat": "Sum"}, "ReturnData": False} for i in ids],
    }


def test_the_provisioner_accepts_the_stacks_expression_and_names_what_it_cannot() -> None:
    from modelrail.local.provision import ProvisioningError, _check_metric_math

    _check_metric_math(_math_alarm(RATE))
    with pytest.raises(ProvisioningError) as unsupported:
        _check_metric_math(_math_alarm("ANOMALY_DETECTION_BAND(errors, 2)"))
    assert str(unsupported.value) == (
        "metric math alarm 'a-5xx': unsupported function 'ANOMALY_DETECTION_BAND' (the "
        "local cloud evaluates IF, FILL) in metric math expression "
        "'ANOMALY_DETECTION_BAND(errors, 2)'"
    )
    with pytest.raises(ProvisioningError) as unknown:
        _check_metric_math(_math_alarm("errors / m9"))
    assert str(unknown.value) == "metric math alarm 'a-5xx': unknown metric ids ['m9']"
