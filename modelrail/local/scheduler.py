"""EventBridge Scheduler on the local cloud: schedules fire their targets on the local clock.

moto stores schedules and never fires them. This runtime does, as the Scheduler does:

* **When.** ``rate(N minutes|hours|days)`` fires every N units of local time, counted
  from the schedule's creation; ``cron(min hour day month weekday year)`` (numbers,
  ``*``, ``?``, ranges, lists and ``/`` steps; UTC) and ``at(yyyy-mm-ddThh:mm:ss)`` fire
  at those instants of a *local wall clock* that starts at the real time the runtime was
  made and runs at the clock's speed. ``State: DISABLED`` schedules do not fire; a
  flexible time window fires at its start (the earliest moment AWS may choose).
* **As whom.** The Scheduler assumes the target's ``RoleArn``: the role's trust policy
  must allow ``scheduler.amazonaws.com`` (with ``aws:SourceArn`` / ``aws:SourceAccount``
  set to the schedule), and the call (``states:StartExecution``, ``lambda:InvokeFunction``)
  is made with the role's credentials, so its policies are enforced as any caller's.
* **Input.** ``Target.Input`` with the context attributes ``<aws.scheduler.schedule-arn>``,
  ``<aws.scheduler.scheduled-time>``, ``<aws.scheduler.execution-id>`` and
  ``<aws.scheduler.attempt-number>`` substituted.
* **Failures.** Throttling and service errors are retried (``RetryPolicy``: at most
  ``MaximumRetryAttempts`` within ``MaximumEventAgeInSeconds``, backing off on the local
  clock); a refused call is not. What could not be delivered goes to the
  ``DeadLetterConfig`` queue, sent with the execution role (which needs
  ``sqs:SendMessage`` and, for an encrypted queue, the key).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from modelrail.local.clock import LocalClock

if TYPE_CHECKING:
    from modelrail.local.iam.enforce import Enforcer
    from modelrail.local.iam.principals import Principals

logger = logging.getLogger(__name__)

TICK = 0.05  # real seconds between looks at the schedules
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_RATE = re.compile(r"^rate\((\d+) (minutes?|hours?|days?)\)$")
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_RETRIED = frozenset({"ThrottlingException", "TooManyRequestsException", "ServiceUnavailable",
                      "InternalFailure", "ServiceException"})  # fmt: skip


class ExpressionError(ValueError):
    """A schedule expression the local Scheduler cannot read."""


# ---- expressions (pure) ---------------------------------------------------------------


def _field(text: str, low: int, high: int) -> frozenset[int]:
    if text in ("*", "?"):
        return frozenset(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", ""):
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        elif not base.isdigit():
            raise ExpressionError(
                f"cron field {text!r}: only numbers, *, ?, -, / and , are supported"
            )
        else:
            start = int(base)
            end = high if step_text else start
        if not low <= start <= end <= high or step < 1:
            raise ExpressionError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 1 = Sunday ... 7 = Saturday, as AWS counts
    years: frozenset[int]

    @classmethod
    def parse(cls, body: str) -> Cron:
        parts = body.split()
        if len(parts) != 6:
            raise ExpressionError(f"cron({body}) needs 6 fields: min hour day month weekday year")
        names = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
        if (parts[2] == "?") == (parts[4] == "?"):
            raise ExpressionError(
                f"cron({body}): exactly one of day-of-month and day-of-week must be ?"
            )
        weekday = parts[4].upper()
        for name, number in names.items():
            weekday = weekday.replace(name, str(number))
        return cls(
            _field(parts[0], 0, 59), _field(parts[1], 0, 23), _field(parts[2], 1, 31),
            _field(parts[3], 1, 12), _field(weekday, 1, 7), _field(parts[5], 1970, 2199),
        )  # fmt: skip

    def matches(self, at: datetime) -> bool:
        weekday = (at.isoweekday() % 7) + 1  # Monday=1 in isoweekday -> 2 here
        return (
            at.minute in self.minutes and at.hour in self.hours and at.day in self.days
            and at.month in self.months and weekday in self.weekdays and at.year in self.years
        )  # fmt: skip


def due_times(
    expression: str, created: datetime, since: datetime, until: datetime
) -> list[datetime]:
    """The instants in ``(since, until]`` at which the expression fires (wall times)."""
    rate = _RATE.match(expression)
    if rate:
        period = timedelta(seconds=int(rate[1]) * _UNITS[rate[2]])
        if period <= timedelta(0):
            raise ExpressionError(f"{expression}: the rate must be positive")
        first = max(1, int((since - created) / period) + 1)
        out = []
        k = first
        while created + period * k <= until:
            out.append(created + period * k)
            k += 1
        return out
    at = _AT.match(expression)
    if at:
        when = datetime.fromisoformat(at[1]).replace(tzinfo=UTC)
        return [when] if since < when <= until else []
    if expression.startswith("cron(") and expression.endswith(")"):
        cron = Cron.parse(expression[5:-1])
        minute = since.replace(second=0, microsecond=0) + timedelta(minutes=1)
        out = []
        while minute <= until:
            if cron.matches(minute):
                out.append(minute)
            minute += timedelta(minutes=1)
        return out
    raise ExpressionError(f"unsupported schedule expression {expression!r}")


def render_input(
    text: str | None, *, schedule_arn: str, at: datetime, attempt: int, execution: str
) -> str:
    """``Target.Input`` with the Scheduler's context attributes substituted."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": execution,
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    out = text or ""
    for key, value in values.items():
        out = out.replace(key, value)
    return out


# ---- the runtime -------------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    schedule: str
    scheduled_time: datetime
    ok: bool
    detail: str
    attempts: int


@dataclass
class SchedulerRuntime:
    clock: LocalClock
    account_id: str
    region: str
    principals: Principals | None = None
    enforcer: Enforcer | None = None
    firings: list[Firing] = field(default_factory=list)
    _wall_start: datetime = field(default_factory=lambda: datetime.now(UTC))
    _local_start: float = 0.0
    _seen: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._local_start = self.clock.now()

    def wall_now(self) -> datetime:
        """The local wall clock: real start time plus local seconds elapsed."""
        return self._wall_start + timedelta(seconds=self.clock.now() - self._local_start)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
            self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.fire_due()
            except Exception:  # keep scheduling; one bad schedule must not stop the others
                logger.exception("the local scheduler failed a round")

    def _schedules(self) -> list[Any]:
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[self.account_id][self.region]
        return [s for group in backend.schedule_groups.values() for s in group.schedules.values()]

    def fire_due(self) -> list[Firing]:
        """Fire every schedule whose next instant has come (one look; the thread loops)."""
        now = self.wall_now()
        fired = []
        for schedule in self._schedules():
            with self._lock:
                created, last = self._seen.setdefault(schedule.arn, (now, now))
                self._seen[schedule.arn] = (created, now)
            if schedule.state != "ENABLED":
                continue
            for at in due_times(schedule.schedule_expression, created, last, now):
                fired.append(self.fire(schedule, at))
        return fired

    def fire(self, schedule: Any, at: datetime) -> Firing:
        """Invoke the schedule's target for instant ``at``, with retries and the DLQ."""
        target = schedule.target
        policy = target.get("RetryPolicy") or {}
        attempts_allowed = 1 + int(policy.get("MaximumRetryAttempts", 185))
        max_age = float(policy.get("MaximumEventAgeInSeconds", 86400))
        execution = str(uuid.uuid4())
        started_local = self.clock.now()
        attempt, error, code = 0, "", ""
        while attempt < attempts_allowed and self.clock.now() - started_local <= max_age:
            attempt += 1
            payload = render_input(
                target.get("Input"),
                schedule_arn=schedule.arn,
                at=at,
                attempt=attempt,
                execution=execution,
            )
            try:
                detail = self._invoke(schedule, target, payload)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                error = str(exc)
                if code not in _RETRIED:
                    break
                self.clock.sleep(min(60.0, 2.0**attempt), self._stop)
                continue
            return self._record(Firing(schedule.name, at, True, detail, attempt))
        self._dead_letter(schedule, target, at, error, code, attempt)
        return self._record(Firing(schedule.name, at, False, error, attempt))

    def _record(self, firing: Firing) -> Firing:
        with self._lock:
            self.firings.append(firing)
        if not firing.ok:
            logger.warning(
                "schedule %s could not invoke its target: %s", firing.schedule, firing.detail
            )
        return firing

    def _as_role(self, service: str, role: str) -> Any:
        kwargs = {} if self.principals is None else self.principals.client_kwargs(role, "Scheduler")
        return boto3.client(service, region_name=self.region, **kwargs)  # type: ignore[call-overload]

    def _assume(self, schedule: Any, role: str) -> None:
        if self.enforcer is None:
            return
        from modelrail.local.iam.enforce import AccessDenied
        from modelrail.local.iam.requests import Check, PolicyRef

        context = {"aws:SourceArn": schedule.arn, "aws:SourceAccount": self.account_id}
        try:
            self.enforcer.require_service(
                "scheduler.amazonaws.com",
                Check("sts:AssumeRole", role, context, PolicyRef("trust", role)),
            )
        except AccessDenied as exc:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": str(exc)}}, "AssumeRole"
            ) from None

    def _invoke(self, schedule: Any, target: dict[str, Any], payload: str) -> str:
        arn, role = str(target["Arn"]), str(target.get("RoleArn") or "")
        self._assume(schedule, role)
        if ":states:" in arn:
            started = self._as_role("stepfunctions", role).start_execution(
                stateMachineArn=arn, input=payload or "{}"
            )
            return str(started["executionArn"])
        if ":lambda:" in arn:
            self._as_role("lambda", role).invoke(
                FunctionName=arn, InvocationType="Event", Payload=payload.encode()
            )
            return arn
        raise ClientError(
            {
                "Error": {
                    "Code": "ValidationException",
                    "Message": f"target {arn} is not supported locally",
                }
            },
            "Invoke",
        )

    def _dead_letter(
        self,
        schedule: Any,
        target: dict[str, Any],
        at: datetime,
        error: str,
        code: str,
        attempts: int,
    ) -> None:
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue:
            return
        name, account = queue.rsplit(":", 1)[-1], queue.split(":")[4]
        try:
            # The Scheduler knows the queue by its ARN: only the send is the role's.
            url = boto3.client("sqs", region_name=self.region).get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
            sqs = self._as_role("sqs", str(target.get("RoleArn") or ""))

            def attribute(value: str) -> dict[str, str]:
                return {"DataType": "String", "StringValue": value[:256] or "-"}

            sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps(
                    {"scheduledTime": at.isoformat(), "input": target.get("Input")}
                ),
                MessageAttributes={
                    "ERROR_CODE": attribute(code or "Unknown"),
                    "ERROR_MESSAGE": attribute(error),
                    "RETRY_ATTEMPTS": attribute(str(attempts - 1)),
                    "SCHEDULE_ARN": attribute(schedule.arn),
                    "TARGET_ARN": attribute(str(target["Arn"])),
                },
            )
        except ClientError as exc:  # the role may not send to its DLQ: the event is lost
            logger.warning(
                "schedule %s dropped an event: its DLQ refused it: %s", schedule.name, exc
            )


def install(runtime: SchedulerRuntime) -> Callable[[], None]:
    runtime.start()
    return runtime.shutdown
