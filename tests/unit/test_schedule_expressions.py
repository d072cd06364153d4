"""The local Scheduler's reading of schedule expressions (modelrail.local.scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelrail.local.scheduler import ExpressionError, due_times, render_input

T0 = datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC)  # a Monday


def test_rate_fires_every_period_from_creation() -> None:
    fired = due_times("rate(1 hour)", T0, T0, T0 + timedelta(hours=3, minutes=5))
    assert fired == [T0 + timedelta(hours=h) for h in (1, 2, 3)]
    # a later look only returns what came since
    assert due_times("rate(1 hour)", T0, T0 + timedelta(hours=2), T0 + timedelta(hours=3)) == [
        T0 + timedelta(hours=3)
    ]
    assert due_times("rate(5 minutes)", T0, T0, T0 + timedelta(minutes=4)) == []


def test_cron_in_utc_with_steps_lists_and_weekdays() -> None:
    day = due_times("cron(0 6 * * ? *)", T0, T0, T0 + timedelta(days=2))
    assert day == [datetime(2026, 12, d, 6, 0, tzinfo=UTC) for d in (1, 2)]
    quarter = due_times("cron(0/15 10 * * ? *)", T0, T0, T0 + timedelta(hours=1))
    assert [d.minute for d in quarter] == [15, 30, 45]
    weekdays = due_times("cron(0 9 ? * MON-FRI *)", T0, T0, T0 + timedelta(days=7))
    assert [d.strftime("%a") for d in weekdays] == ["Tue", "Wed", "Thu", "Fri", "Mon"]
    sundays = due_times("cron(30 2 ? * 1 *)", T0, T0, T0 + timedelta(days=8))
    assert [d.strftime("%a %H:%M") for d in sundays] == ["Sun 02:30"]


def test_at_fires_once() -> None:
    assert due_times("at(2026-11-30T12:00:00)", T0, T0, T0 + timedelta(hours=3)) == [
        datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    ]
    assert (
        due_times("at(2026-11-30T12:00:00)", T0, T0 + timedelta(hours=3), T0 + timedelta(hours=4))
        == []
    )


@pytest.mark.parametrize(
    "expression",
    ["every hour", "rate(0 minutes)", "cron(0 6 * * *)", "cron(0 6 * * MON *)", "cron(0 6 L * ? *)",
     "cron(61 6 * * ? *)"],
)  # fmt: skip
def test_unsupported_or_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        due_times(expression, T0, T0, T0 + timedelta(days=1))


def test_context_attributes_are_substituted() -> None:
    text = '{"at": "<aws.scheduler.scheduled-time>", "n": "<aws.scheduler.attempt-number>", "s": "<aws.scheduler.schedule-arn>"}'
    out = render_input(text, schedule_arn="arn:s", at=T0, attempt=2, execution="e")
    assert out == '{"at": "2026-11-30T10:00:30Z", "n": "2", "s": "arn:s"}'
