"""The retraining policy (modelrail.monitoring.policy): every trigger, every guard, the
order between them, deterministic names; and properties over random histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelrail.monitoring.policy import (
    EXECUTION_NAME_LIMIT,
    Decision,
    DriftCheck,
    Evidence,
    Guard,
    HolderStatus,
    Lease,
    LiveMetric,
    RetrainPolicy,
    RetrainState,
    Trigger,
    decide,
    execution_name,
    fired,
    started,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MODEL = "demand"
POLICY = RetrainPolicy(
    cooldown_hours=24, max_per_week=3, drift_m=2, drift_n=3, min_labelled_rows=200
)


def checks(*statuses: str, step: timedelta = timedelta(hours=1)) -> tuple[DriftCheck, ...]:
    n = len(statuses)
    return tuple(
        DriftCheck(
            window_end=NOW - step * (n - 1 - i), status=s, share=0.6 if s == "drifted" else 0.1
        )  # type: ignore[arg-type]
        for i, s in enumerate(statuses)
    )


def live(value: float, rows: int = 500) -> LiveMetric:
    return LiveMetric(
        name="rmse", value=value, threshold=25.0, greater_is_better=False,
        labelled_rows=rows, window_end=NOW,
    )  # fmt: skip


def go(
    evidence: Evidence,
    state: RetrainState | None = None,
    policy: RetrainPolicy = POLICY,
    holder: HolderStatus = "running",
) -> Decision:
    return decide(MODEL, evidence, state or RetrainState(), policy, holder=holder)


# -- triggers ---------------------------------------------------------------------------


def test_nothing_fires_on_quiet_evidence() -> None:
    decision = go(Evidence(now=NOW, drift=checks("ok", "ok", "drifted"), live=live(20.0)))
    assert (decision.action, decision.trigger) == ("none", None)


@pytest.mark.parametrize(
    ("statuses", "fires"),
    [
        (("drifted",), False),  # one window: not persistent
        (("ok", "drifted", "drifted"), True),
        (("drifted", "drifted", "ok"), False),  # the drift went away
        (("drifted", "insufficient_data", "drifted"), True),
        (("drifted", "ok", "ok", "drifted"), False),  # only the last three count
        (("insufficient_data", "insufficient_data", "insufficient_data"), False),
    ],
)
def test_drift_needs_m_of_the_last_n_checks_and_the_last_one(
    statuses: tuple[str, ...], fires: bool
) -> None:
    decision = go(Evidence(now=NOW, drift=checks(*statuses)))
    assert (decision.action == "start") is fires
    if fires:
        assert decision.trigger is Trigger.DRIFT and "drift in 2 of the last 3" in decision.reason


def test_performance_needs_enough_labelled_rows() -> None:
    assert go(Evidence(now=NOW, live=live(30.0, rows=199))).action == "none"
    decision = go(Evidence(now=NOW, live=live(30.0, rows=200)))
    assert decision.trigger is Trigger.PERFORMANCE
    assert "live rmse 30 is above the threshold 25 on 200 labelled rows" in decision.reason


def test_performance_direction_follows_the_metric() -> None:
    auc = LiveMetric(
        name="roc_auc", value=0.6, threshold=0.7, greater_is_better=True,
        labelled_rows=1000, window_end=NOW,
    )  # fmt: skip
    assert go(Evidence(now=NOW, live=auc)).trigger is Trigger.PERFORMANCE
    better = auc.model_copy(update={"value": 0.75})
    assert go(Evidence(now=NOW, live=better)).action == "none"


def test_volume_and_schedule_are_off_unless_configured() -> None:
    evidence = Evidence(
        now=NOW, champion_trained_at=NOW - timedelta(days=400), new_labelled_rows=10**6
    )
    assert go(evidence).action == "none"
    policy = POLICY.model_copy(update={"max_model_age_days": 30, "min_new_labelled_rows": 5000})
    decision = go(evidence, policy=policy)
    assert decision.trigger is Trigger.VOLUME and decision.also == (Trigger.SCHEDULE,)
    young = evidence.model_copy(update={"champion_trained_at": NOW - timedelta(days=29)})
    assert go(young.model_copy(update={"new_labelled_rows": 10}), policy=policy).action == "none"


def test_the_most_urgent_trigger_wins_and_the_others_are_named() -> None:
    policy = POLICY.model_copy(update={"max_model_age_days": 1})
    evidence = Evidence(
        now=NOW, drift=checks("drifted", "drifted"), live=live(40.0),
        champion_trained_at=NOW - timedelta(days=5),
    )  # fmt: skip
    decision = go(evidence, policy=policy)
    assert decision.trigger is Trigger.PERFORMANCE
    assert decision.also == (Trigger.DRIFT, Trigger.SCHEDULE)
    assert "also drift" in decision.reason and "also schedule" in decision.reason
    assert [f.trigger for f in fired(evidence, policy)] == [
        Trigger.PERFORMANCE, Trigger.DRIFT, Trigger.SCHEDULE,
    ]  # fmt: skip


# -- guards -------------------------------------------------------------------------------

DRIFTING = Evidence(now=NOW, drift=checks("drifted", "drifted"))


def lease(
    holder: str = "retrain-demand-drift-x", *, expires: timedelta = timedelta(hours=6)
) -> Lease:
    return Lease(
        holder=holder,
        trigger=Trigger.DRIFT,
        started_at=NOW - timedelta(hours=30),
        expires_at=NOW + expires,
    )


def test_in_flight_suppresses_while_the_holder_runs() -> None:
    state = RetrainState(revision=1, lease=lease(), starts=(NOW - timedelta(hours=30),))
    decision = go(DRIFTING, state, holder="running")
    assert (decision.action, decision.guard) == ("suppressed", Guard.IN_FLIGHT)
    assert "retraining retrain-demand-drift-x (drift) has been running" in decision.reason
    # its execution ended: the lease is free (and the cooldown passed)
    assert go(DRIFTING, state, holder="ended").action == "start"
    # expired: free even if Step Functions still says running
    stale = state.model_copy(update={"lease": lease(expires=-timedelta(seconds=1))})
    assert go(DRIFTING, stale, holder="running").action == "start"


def test_a_claimed_but_never_started_retraining_is_resumed_not_claimed_again() -> None:
    state = RetrainState(revision=4, lease=lease("retrain-demand-volume-20261130"), starts=(NOW,))
    decision = go(DRIFTING, state, holder="missing")
    assert (decision.action, decision.resume) == ("start", True)
    assert decision.execution_name == "retrain-demand-volume-20261130"
    assert started(state, decision, NOW, POLICY) == state  # no second start recorded


def test_cooldown() -> None:
    state = RetrainState(revision=1, starts=(NOW - timedelta(hours=23),))
    decision = go(DRIFTING, state, holder="ended")
    assert (decision.action, decision.guard) == ("suppressed", Guard.COOLDOWN)
    assert "cooldown until" in decision.reason
    later = RetrainState(revision=1, starts=(NOW - timedelta(hours=24),))
    assert go(DRIFTING, later, holder="ended").action == "start"


def test_weekly_cap_counts_the_last_seven_days() -> None:
    policy = POLICY.model_copy(update={"cooldown_hours": 0})
    three = tuple(NOW - timedelta(days=d) for d in (6, 4, 2))
    decision = go(DRIFTING, RetrainState(revision=3, starts=three), policy, holder="ended")
    assert (decision.action, decision.guard) == ("suppressed", Guard.WEEKLY_CAP)
    old = tuple(NOW - timedelta(days=d) for d in (8, 4, 2))
    assert (
        go(DRIFTING, RetrainState(revision=3, starts=old), policy, holder="ended").action == "start"
    )


def test_the_same_trigger_of_the_same_window_is_not_started_twice() -> None:
    first = go(DRIFTING, holder="ended")
    assert first.action == "start" and first.execution_name is not None
    state = started(RetrainState(), first, NOW, POLICY)
    again = go(DRIFTING, state, holder="running")
    assert (again.action, again.reason) == ("none", f"already started as {first.execution_name}")


# -- names and the ledger step ---------------------------------------------------------------


def test_execution_names_are_deterministic_and_short_enough() -> None:
    name = execution_name("demand", Trigger.DRIFT, "20261130T120000Z")
    assert name == "retrain-demand-drift-20261130T120000Z"
    long = execution_name("m" * 70, Trigger.PERFORMANCE, "20261130T120000Z")
    assert len(long) == EXECUTION_NAME_LIMIT
    assert long == execution_name("m" * 70, Trigger.PERFORMANCE, "20261130T120000Z")
    assert long != execution_name("m" * 70, Trigger.PERFORMANCE, "20261130T130000Z")


def test_started_takes_the_lease_and_keeps_a_week_of_starts() -> None:
    decision = go(DRIFTING, holder="ended")
    before = RetrainState(revision=7, starts=(NOW - timedelta(days=9), NOW - timedelta(days=3)))
    after = started(before, decision, NOW, POLICY)
    assert after.revision == 8
    assert after.starts == (NOW - timedelta(days=3), NOW)
    assert after.lease is not None and after.lease.holder == decision.execution_name
    assert after.lease.expires_at == NOW + timedelta(hours=POLICY.lease_hours)
    with pytest.raises(ValueError, match="only a decision to start"):
        started(before, go(Evidence(now=NOW)), NOW, POLICY)


def test_a_policy_with_m_above_n_is_refused() -> None:
    with pytest.raises(ValueError, match="drift_m"):
        RetrainPolicy(drift_m=4, drift_n=3)


# -- properties -----------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[Evidence, RetrainState, HolderStatus]:
    statuses = draw(st.lists(st.sampled_from(["drifted", "ok", "insufficient_data"]), max_size=6))
    value = draw(st.floats(min_value=0, max_value=60))
    rows = draw(st.integers(min_value=0, max_value=1000))
    starts = sorted(
        NOW - timedelta(hours=h)
        for h in draw(st.lists(st.integers(1, 400), max_size=5, unique=True))
    )
    holder = draw(st.sampled_from(["running", "ended", "missing"]))
    has_lease = draw(st.booleans()) and bool(starts)
    state = RetrainState(
        revision=len(starts),
        lease=Lease(holder="retrain-demand-drift-old", trigger=Trigger.DRIFT,
                    started_at=starts[-1], expires_at=starts[-1] + timedelta(hours=12))
        if has_lease else None,
        starts=tuple(starts),
    )  # fmt: skip
    evidence = Evidence(now=NOW, drift=checks(*statuses), live=live(value, rows))
    return evidence, state, holder


@settings(max_examples=300, deadline=None)
@given(histories())
def test_a_new_start_never_breaks_a_guard(
    case: tuple[Evidence, RetrainState, HolderStatus],
) -> None:
    evidence, state, holder = case
    decision = go(evidence, state, holder=holder)
    assert decision == go(evidence, state, holder=holder)  # deterministic
    if decision.action == "start" and not decision.resume:
        after = started(state, decision, NOW, POLICY)
        week = [s for s in after.starts if NOW - s < timedelta(days=7)]
        assert len(week) <= POLICY.max_per_week
        if state.starts:
            assert NOW - state.starts[-1] >= timedelta(hours=POLICY.cooldown_hours)
        lease_held = state.lease is not None and holder != "ended" and state.lease.expires_at > NOW
        assert not lease_held
    if decision.action == "suppressed":
        assert decision.guard is not None and decision.trigger is not None


# -- the contract's monitoring block -----------------------------------------------------------


def test_the_contract_declares_monitoring_with_defaults() -> None:
    from modelrail.contract import MonitoringConfig, load_contract

    assert load_contract("churn").monitoring.retrain == RetrainPolicy()  # no block: defaults
    demand = load_contract("demand").monitoring  # its own block
    assert demand.retrain == RetrainPolicy(min_labelled_rows=100)
    assert demand.drift.drift_share == 0.3 and demand.drift.distance == 0.1
    assert MonitoringConfig(schedule="cron(0 6 * * ? *)").schedule.startswith("cron")
    for bad in ("every hour", "rate(1 hours)", "rate(2 hour)", "rate(0 days)", "cron(0 6 * *)"):
        with pytest.raises(ValueError, match=r"monitoring\.schedule"):
            MonitoringConfig(schedule=bad)
