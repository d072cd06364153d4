"""What the monitoring e2e tests share: a check started now, the schedules paused or
resumed as an operator would, and the check a schedule starts by itself."""

from __future__ import annotations

from modelrail.local.cloud import LocalCloud
from modelrail.monitoring.client import CheckRun

MODEL = "demand"


def check(cloud: LocalCloud) -> CheckRun:
    return cloud.check_now(MODEL, requested_by="e2e")


def set_schedules(cloud: LocalCloud, state: str) -> None:
    """Pause or resume every schedule, as an operator would (UpdateSchedule replaces the
    whole schedule, so the rest is sent as it is)."""
    scheduler = cloud.client("scheduler")
    for summary in scheduler.list_schedules()["Schedules"]:
        got = scheduler.get_schedule(Name=summary["Name"])
        scheduler.update_schedule(
            Name=got["Name"],
            ScheduleExpression=got["ScheduleExpression"],
            FlexibleTimeWindow=got["FlexibleTimeWindow"],
            Target=got["Target"],
            State=state,
        )


def scheduled_check(cloud: LocalCloud) -> CheckRun | None:
    """A day of local time passes: the Scheduler starts each model's check itself."""
    set_schedules(cloud, "ENABLED")
    cloud.clock.fast_forward(86400 + 120, within=5)
    return cloud.scheduled_check(MODEL)
