"""The local cloud's CloudWatch alarm arithmetic: one datapoint per period, "M out of N"
datapoints to alarm, missing data as TreatMissingData says (pure, no AWS)."""

from __future__ import annotations

import pytest

from modelrail.local.hosting_runtime import judge, statistic


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
