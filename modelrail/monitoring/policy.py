"""When a live model is retrained: triggers, guards and the decision. Pure.

**Triggers** (each from evidence the monitoring checks gathered):

* ``performance``: the live primary metric is on the wrong side of the contract's
  threshold, measured on at least ``min_labelled_rows`` labelled rows;
* ``drift``: the dataset was judged drifted in at least ``drift_m`` of the last
  ``drift_n`` checks (persistence: one noisy window does not retrain); a check without
  enough rows counts as not drifted;
* ``volume``: at least ``min_new_labelled_rows`` labelled rows arrived since the
  champion's training data was cut;
* ``schedule``: the champion is older than ``max_model_age_days``.

When several fire, the first in that order is the trigger (a failing model is the most
urgent reason) and the others are named in the reason.

**Guards** (a trigger that fires is *suppressed*, with the guard's name, when):

* ``in_flight``: a retraining of the model is running (the lease is held by an execution
  that has not ended and has not expired);
* ``cooldown``: the last retraining started less than ``cooldown_hours`` ago;
* ``weekly_cap``: ``max_per_week`` retrainings started in the last 7 days.

A started retraining is named deterministically from (model, trigger, window): two
checks of the same window that both decide to retrain start one execution (Step
Functions names are unique), and the lease (:mod:`modelrail.monitoring.ledger`) is taken
by compare-and-swap, so two racing triggers of different windows start one retraining.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

WEEK = timedelta(days=7)
EXECUTION_NAME_LIMIT = 80


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Trigger(StrEnum):
    PERFORMANCE = "performance"
    DRIFT = "drift"
    VOLUME = "volume"
    SCHEDULE = "schedule"


class Guard(StrEnum):
    IN_FLIGHT = "in_flight"
    COOLDOWN = "cooldown"
    WEEKLY_CAP = "weekly_cap"


class RetrainPolicy(_Frozen):
    """The contract's ``monitoring.retrain`` block."""

    cooldown_hours: float = Field(default=24.0, ge=0)
    max_per_week: int = Field(default=3, ge=1)
    drift_m: int = Field(default=2, ge=1)
    drift_n: int = Field(default=3, ge=1)
    min_labelled_rows: int = Field(default=200, ge=1)
    max_model_age_days: float | None = Field(default=None, gt=0)
    min_new_labelled_rows: int | None = Field(default=None, ge=1)
    lease_hours: float = Field(default=12.0, gt=0)
    """How long a started retraining holds the lease if its end is never seen."""
    include_champion_data: bool = True
    """A retraining learns from the champion's training data followed by the labelled
    production window (a sliding window over what the model has seen); false: the
    labelled window alone."""

    @model_validator(mode="after")
    def _check(self) -> RetrainPolicy:
        if self.drift_m > self.drift_n:
            raise ValueError(f"drift_m ({self.drift_m}) cannot exceed drift_n ({self.drift_n})")
        return self


DriftStatus = Literal["drifted", "ok", "insufficient_data"]
HolderStatus = Literal["running", "ended", "missing"]
"""What Step Functions says of the lease holder's execution (``missing``: it was never
started, say the caller died between taking the lease and StartExecution)."""


class DriftCheck(_Frozen):
    window_end: datetime
    status: DriftStatus
    share: float | None = None


class LiveMetric(_Frozen):
    name: str
    value: float
    threshold: float
    greater_is_better: bool
    labelled_rows: int = Field(ge=0)
    window_end: datetime

    @property
    def failing(self) -> bool:
        if self.greater_is_better:
            return self.value < self.threshold
        return self.value > self.threshold


class Evidence(_Frozen):
    """What the checks know at ``now``."""

    now: datetime
    drift: tuple[DriftCheck, ...] = ()
    """Drift checks, oldest first."""
    live: LiveMetric | None = None
    champion_trained_at: datetime | None = None
    new_labelled_rows: int = Field(default=0, ge=0)
    """Labelled rows since the champion's training data was cut."""


class Lease(_Frozen):
    holder: str
    """The retraining execution's name."""
    trigger: Trigger
    started_at: datetime
    expires_at: datetime


class RetrainState(_Frozen):
    """The model's retraining ledger (one item, compare-and-swap by ``revision``)."""

    revision: int = Field(default=0, ge=0)
    lease: Lease | None = None
    starts: tuple[datetime, ...] = ()
    """When retrainings started, oldest first (the last 7 days are kept)."""


class Fired(_Frozen):
    trigger: Trigger
    window: str
    """What the trigger is about, for the execution name: a window's end or a day."""
    reason: str


class Decision(_Frozen):
    action: Literal["start", "suppressed", "none"]
    trigger: Trigger | None = None
    reason: str
    guard: Guard | None = None
    execution_name: str | None = None
    also: tuple[Trigger, ...] = ()
    """Triggers that fired besides ``trigger``."""
    resume: bool = False
    """Start the lease holder's execution, claimed but never started (no new claim)."""


# -- triggers ---------------------------------------------------------------------------


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%SZ")


def _performance(evidence: Evidence, policy: RetrainPolicy) -> Fired | None:
    live = evidence.live
    if live is None or not live.failing:
        return None
    if live.labelled_rows < policy.min_labelled_rows:
        return None
    side = "below" if live.greater_is_better else "above"
    reason = (
        f"live {live.name} {live.value:g} is {side} the threshold {live.threshold:g} "
        f"on {live.labelled_rows} labelled rows"
    )
    return Fired(trigger=Trigger.PERFORMANCE, window=_stamp(live.window_end), reason=reason)


def _drift(evidence: Evidence, policy: RetrainPolicy) -> Fired | None:
    recent = evidence.drift[-policy.drift_n :]
    drifted = [c for c in recent if c.status == "drifted"]
    if len(drifted) < policy.drift_m:
        return None
    last = recent[-1]
    if last.status != "drifted":  # act on a persistent drift that is still there
        return None
    share = "" if last.share is None else f" (drifted share {last.share:.2f} in the last)"
    reason = f"drift in {len(drifted)} of the last {len(recent)} checks{share}"
    return Fired(trigger=Trigger.DRIFT, window=_stamp(last.window_end), reason=reason)


def _volume(evidence: Evidence, policy: RetrainPolicy) -> Fired | None:
    needed = policy.min_new_labelled_rows
    if needed is None or evidence.new_labelled_rows < needed:
        return None
    reason = f"{evidence.new_labelled_rows} new labelled rows (at least {needed})"
    return Fired(trigger=Trigger.VOLUME, window=evidence.now.strftime("%Y%m%d"), reason=reason)


def _schedule(evidence: Evidence, policy: RetrainPolicy) -> Fired | None:
    limit = policy.max_model_age_days
    trained = evidence.champion_trained_at
    if limit is None or trained is None:
        return None
    age = evidence.now - trained
    if age < timedelta(days=limit):
        return None
    reason = f"the champion is {age.total_seconds() / 86400:.1f} days old (limit {limit:g})"
    return Fired(trigger=Trigger.SCHEDULE, window=evidence.now.strftime("%Y%m%d"), reason=reason)


_TRIGGERS = (_performance, _drift, _volume, _schedule)


def fired(evidence: Evidence, policy: RetrainPolicy) -> list[Fired]:
    """Every trigger that fires on ``evidence``, most urgent first."""
    return [f for f in (rule(evidence, policy) for rule in _TRIGGERS) if f is not None]


# -- guards and the decision --------------------------------------------------------------


def execution_name(model: str, trigger: Trigger, window: str) -> str:
    """The retraining execution's name: the same (model, trigger, window) always gives
    the same name, within Step Functions' 80 characters."""
    name = f"retrain-{model}-{trigger.value}-{window}"
    if len(name) <= EXECUTION_NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: EXECUTION_NAME_LIMIT - 13]}-{digest}"


def in_flight(state: RetrainState, now: datetime, holder: HolderStatus) -> Lease | None:
    """The lease if it still holds: its execution has not ended and it has not expired."""
    lease = state.lease
    if lease is None or holder == "ended" or lease.expires_at <= now:
        return None
    return lease


def _guard(
    state: RetrainState, policy: RetrainPolicy, now: datetime, holder: HolderStatus
) -> tuple[Guard, str] | None:
    lease = in_flight(state, now, holder)
    if lease is not None:
        return Guard.IN_FLIGHT, (
            f"retraining {lease.holder} ({lease.trigger.value}) has been running since "
            f"{lease.started_at.isoformat()}"
        )
    if state.starts:
        last = state.starts[-1]
        cooldown = timedelta(hours=policy.cooldown_hours)
        if now - last < cooldown:
            until = (last + cooldown).isoformat()
            return (
                Guard.COOLDOWN,
                f"the last retraining started at {last.isoformat()}; cooldown until {until}",
            )
    week = [s for s in state.starts if now - s < WEEK]
    if len(week) >= policy.max_per_week:
        return (
            Guard.WEEKLY_CAP,
            f"{len(week)} retrainings in the last 7 days (at most {policy.max_per_week})",
        )
    return None


def decide(
    model: str,
    evidence: Evidence,
    state: RetrainState,
    policy: RetrainPolicy,
    *,
    holder: HolderStatus,
) -> Decision:
    """Start a retraining, record a suppressed trigger, or do nothing.

    ``holder`` is what Step Functions says of the lease holder's execution: a lease whose
    execution ended is free; one that was claimed but never started is resumed first."""
    lease = in_flight(state, evidence.now, holder)
    if lease is not None and holder == "missing":
        return Decision(
            action="start",
            trigger=lease.trigger,
            reason=f"resuming retraining {lease.holder}: it was claimed at "
            f"{lease.started_at.isoformat()} but never started",
            execution_name=lease.holder,
            resume=True,
        )
    found = fired(evidence, policy)
    if not found:
        return Decision(action="none", reason="no trigger fired")
    first, others = found[0], tuple(f.trigger for f in found[1:])
    reason = first.reason + "".join(f"; also {f.trigger.value}: {f.reason}" for f in found[1:])
    name = execution_name(model, first.trigger, first.window)
    if any(name == lease.holder for lease in (state.lease,) if lease is not None):
        # the same trigger of the same window, delivered again: it already started
        return Decision(action="none", trigger=first.trigger, reason=f"already started as {name}")
    blocked = _guard(state, policy, evidence.now, holder)
    if blocked is not None:
        guard, why = blocked
        return Decision(
            action="suppressed",
            trigger=first.trigger,
            reason=f"{reason} — suppressed: {why}",
            guard=guard,
            also=others,
        )
    return Decision(
        action="start",
        trigger=first.trigger,
        reason=reason,
        execution_name=name,
        also=others,
    )


def started(
    state: RetrainState, decision: Decision, now: datetime, policy: RetrainPolicy
) -> RetrainState:
    """The ledger after ``decision`` (a start) took the lease at ``now``."""
    if decision.action != "start" or decision.execution_name is None or decision.trigger is None:
        raise ValueError("only a decision to start takes the lease")
    if decision.resume:
        return state
    lease = Lease(
        holder=decision.execution_name,
        trigger=decision.trigger,
        started_at=now,
        expires_at=now + timedelta(hours=policy.lease_hours),
    )
    recent = tuple(s for s in state.starts if now - s < WEEK)
    return RetrainState(revision=state.revision + 1, lease=lease, starts=(*recent, now))
