"""Two triggers race for one model (modelrail.monitoring.retrain.consider over the
retraining ledger, in memory and on DynamoDB/moto): each guard holds under the race —
the in-flight lease, the cooldown, the weekly cap and the idempotent execution name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.monitoring.ledger import (
    LEDGER_SK,
    DynamoDBRetrainLedger,
    InMemoryRetrainLedger,
    RetrainLedger,
    StaleLedger,
    ledger_pk,
)
from modelrail.monitoring.policy import (
    Decision,
    DriftCheck,
    Evidence,
    Guard,
    HolderStatus,
    LiveMetric,
    RetrainPolicy,
    RetrainState,
)
from modelrail.monitoring.retrain import consider
from tests.conftest_registry import REGION, TABLE, create_registry_table

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MODEL = "demand"
DRIFT = Evidence(
    now=NOW,
    drift=(
        DriftCheck(window_end=NOW - timedelta(hours=1), status="drifted", share=0.6),
        DriftCheck(window_end=NOW, status="drifted", share=0.7),
    ),
)
DECAY = Evidence(
    now=NOW,
    live=LiveMetric(
        name="rmse", value=31.0, threshold=25.0, greater_is_better=False,
        labelled_rows=800, window_end=NOW,
    ),
)  # fmt: skip


@pytest.fixture(params=["memory", "dynamodb"])
def ledger(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RetrainLedger]:
    if request.param == "memory":
        yield InMemoryRetrainLedger()
        return
    for key, value in {
        "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        yield DynamoDBRetrainLedger(TABLE, client)


class Together(RetrainLedger):
    """A ledger whose first read by each of ``n`` threads waits for the others, so every
    racer decides from the same state before anyone writes."""

    def __init__(self, inner: RetrainLedger, n: int = 2) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(n, timeout=10)
        self.seen: set[int] = set()
        self.lost = 0

    def read(self, model: str) -> RetrainState:
        state = self.inner.read(model)
        me = threading.get_ident()
        if me not in self.seen:
            self.seen.add(me)
            self.barrier.wait()
        return state

    def write(self, model: str, state: RetrainState, *, expected_revision: int) -> None:
        try:
            self.inner.write(model, state, expected_revision=expected_revision)
        except StaleLedger:
            self.lost += 1
            raise


class Pipeline:
    """Step Functions as the racers see it: started names, each running or ended."""

    def __init__(self, after_start: HolderStatus = "running") -> None:
        self.after_start = after_start
        self.started: list[str] = []
        self.recorded: list[Decision] = []
        self._lock = threading.Lock()

    def status(self, name: str) -> HolderStatus:
        with self._lock:
            return self.after_start if name in self.started else "missing"

    def start(self, decision: Decision) -> None:
        assert decision.execution_name is not None
        with self._lock:
            if decision.execution_name not in self.started:  # names are unique
                self.started.append(decision.execution_name)

    def record(self, decision: Decision) -> None:
        with self._lock:
            self.recorded.append(decision)


def race(
    ledger: RetrainLedger, policy: RetrainPolicy, evidence: list[Evidence], pipeline: Pipeline
) -> list[Decision]:
    together = Together(ledger, len(evidence))
    results: list[Any] = [None] * len(evidence)

    def run(i: int) -> None:
        results[i] = consider(
            MODEL, evidence[i], policy, ledger=together,
            holder_status=pipeline.status, start=pipeline.start, record=pipeline.record,
        )  # fmt: skip

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(evidence))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert together.lost == 1, "both racers read the same state and one lost the write"
    return results


def test_in_flight_lease_two_different_triggers_start_one_retraining(ledger: RetrainLedger) -> None:
    pipeline = Pipeline(after_start="running")
    decisions = race(ledger, RetrainPolicy(cooldown_hours=0), [DRIFT, DECAY], pipeline)
    assert len(pipeline.started) == 1
    actions = sorted(d.action for d in decisions)
    assert actions == ["start", "suppressed"]
    loser = next(d for d in decisions if d.action == "suppressed")
    assert loser.guard is Guard.IN_FLIGHT and pipeline.started[0] in loser.reason
    assert ledger.read(MODEL).lease is not None


def test_cooldown_holds_when_the_winner_already_ended(ledger: RetrainLedger) -> None:
    pipeline = Pipeline(after_start="ended")  # the winner's run finished at once
    decisions = race(ledger, RetrainPolicy(cooldown_hours=24), [DRIFT, DECAY], pipeline)
    assert len(pipeline.started) == 1
    loser = next(d for d in decisions if d.action != "start")
    assert (loser.action, loser.guard) == ("suppressed", Guard.COOLDOWN)


def test_weekly_cap_holds_under_the_race(ledger: RetrainLedger) -> None:
    earlier = (NOW - timedelta(days=3), NOW - timedelta(days=2))
    ledger.write(MODEL, RetrainState(revision=1, starts=earlier), expected_revision=0)
    pipeline = Pipeline(after_start="ended")
    policy = RetrainPolicy(cooldown_hours=0, max_per_week=3)
    decisions = race(ledger, policy, [DRIFT, DECAY], pipeline)
    assert len(pipeline.started) == 1
    loser = next(d for d in decisions if d.action != "start")
    assert (loser.action, loser.guard) == ("suppressed", Guard.WEEKLY_CAP)
    assert len(ledger.read(MODEL).starts) == 3


def test_a_duplicate_trigger_starts_nothing(ledger: RetrainLedger) -> None:
    pipeline = Pipeline(after_start="running")
    decisions = race(ledger, RetrainPolicy(cooldown_hours=0), [DRIFT, DRIFT], pipeline)
    assert len(pipeline.started) == 1
    loser = next(d for d in decisions if d.action != "start")
    assert (loser.action, loser.reason) == ("none", f"already started as {pipeline.started[0]}")
    assert [d.action for d in pipeline.recorded] == ["start"]  # a duplicate records nothing


def test_a_stale_write_is_refused_by_the_store(ledger: RetrainLedger) -> None:
    ledger.write(MODEL, RetrainState(revision=1), expected_revision=0)
    with pytest.raises(StaleLedger):
        ledger.write(MODEL, RetrainState(revision=1), expected_revision=0)
    with pytest.raises(ValueError, match="must carry revision 3"):
        ledger.write(MODEL, RetrainState(revision=5), expected_revision=2)


def test_the_dynamodb_item_has_the_documented_key() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        DynamoDBRetrainLedger(TABLE, client).write(
            MODEL, RetrainState(revision=1), expected_revision=0
        )
        item = client.get_item(
            TableName=TABLE, Key={"pk": {"S": ledger_pk(MODEL)}, "sk": {"S": LEDGER_SK}}
        )["Item"]
        assert item["revision"] == {"N": "1"} and item["kind"] == {"S": "retrain-ledger"}
