"""Threaded races against the registry: gap-free numbering and compare-and-swap promotion.

What moto does under threads (moto 5.2.5, observed): ``TransactWriteItems`` is not atomic
across threads. The backend checks and applies the items of a transaction one by one,
snapshots the whole table with ``copy.deepcopy`` first and, on a cancelled transaction,
puts the snapshot back, with no lock anywhere. Eight threads doing a plain
"read counter, then conditional transaction" loop saw (1) two transactions with the same
``latest_version = n - 1`` condition both succeed, (2) committed versions vanish when
another thread's cancelled transaction restored its older snapshot, and (3)
``RuntimeError: dictionary changed size during iteration`` from the deepcopy itself.
Real DynamoDB serialises each request and makes a transaction all-or-nothing, so none
of that can happen there.

So these tests make moto honest first: ``serialized_moto`` holds one lock around each
DynamoDB request inside moto, which gives exactly the per-request atomicity DynamoDB
guarantees and nothing more. The races under test, between a registry's read and its
conditional write, stay fully open: threads interleave freely between requests, and a
barrier makes every thread read the same state before any of them writes, so the
conditions must do the work. ``test_the_barrier_forces_contention`` checks that they did.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from modelrail.registry import (
    AliasName,
    DynamoDBRegistry,
    InMemoryRegistry,
    ModelRegistry,
    ModelVersion,
    StaleAlias,
    VersionStatus,
)
from tests.conftest_registry import (
    ALLOWED_OPERATIONS,
    REGION,
    TABLE,
    create_registry_table,
    gates,
    guard_operations,
    lineage,
)

MODEL = "demand"
THREADS = 8


@pytest.fixture
def serialized_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """One DynamoDB request at a time inside moto, as DynamoDB itself guarantees."""
    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


class Race:
    """A registry plus a barrier that holds each thread's first write until all are ready."""

    def __init__(self, registry: ModelRegistry, client: Any = None) -> None:
        self.registry = registry
        self.client = client
        self.cancelled = 0
        self._barrier = threading.Barrier(THREADS, timeout=30)
        self._local = threading.local()
        self._lock = threading.Lock()
        if client is not None:
            client.meta.events.register(
                "before-call.dynamodb.TransactWriteItems", self._hold_first_write
            )
            client.meta.events.register(
                "after-call.dynamodb.TransactWriteItems", self._count_cancellations
            )

    def _hold_first_write(self, **_: Any) -> None:
        if getattr(self._local, "racing", False):
            self._local.racing = False
            self._barrier.wait()

    def _count_cancellations(self, parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Error", {}).get("Code") == "TransactionCanceledException":
            with self._lock:
                self.cancelled += 1

    def run(self, work: Callable[[int], Any]) -> list[Any]:
        """Run ``work(i)`` for i in 0..THREADS-1, one thread each; results or exceptions."""
        results: list[Any] = [None] * THREADS

        def racer(i: int) -> None:
            self._local.racing = True  # this thread's first write waits for the others
            try:
                results[i] = work(i)
            except Exception as exc:
                results[i] = exc

        threads = [threading.Thread(target=racer, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a racer hung"
        return results


@pytest.fixture(params=["dynamodb", "memory"])
def race(request: pytest.FixtureRequest) -> Iterator[Race]:
    if request.param == "memory":
        yield Race(InMemoryRegistry())
        return
    request.getfixturevalue("serialized_moto")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        calls = guard_operations(client)
        registry = DynamoDBRegistry(TABLE, client=client, max_attempts=20, backoff_base=0.005)
        yield Race(registry, client)
        assert set(calls) <= ALLOWED_OPERATIONS


def register(registry: ModelRegistry, job: str, status: VersionStatus) -> ModelVersion:
    return registry.register_version(
        MODEL,
        metrics={"rmse": 10.0},
        lineage=lineage(job),
        gates=gates(),
        created_by="race",
        status=status,
    )


def test_concurrent_registrations_get_versions_one_to_n(race: Race) -> None:
    results = race.run(lambda i: register(race.registry, f"job-{i}", VersionStatus.REGISTERED))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.version for r in results) == list(range(1, THREADS + 1))
    stored = race.registry.list_versions(MODEL, newest_first=False, limit=100)
    assert [v.version for v in stored] == list(range(1, THREADS + 1))
    by_job = {v.lineage.training_job_name: v.version for v in stored}
    assert by_job == {r.lineage.training_job_name: r.version for r in results}
    created = [e for e in race.registry.events(MODEL) if e.type == "model_version.created"]
    assert sorted(e.version for e in created) == list(range(1, THREADS + 1))


def test_concurrent_replays_of_one_job_make_one_version(race: Race) -> None:
    results = race.run(lambda i: register(race.registry, "job-same", VersionStatus.REGISTERED))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {r.version for r in results} == {1}
    assert len({r.created_at for r in results}) == 1  # all got the one stored version
    assert [v.version for v in race.registry.list_versions(MODEL)] == [1]
    assert len(race.registry.events(MODEL)) == 1


def test_concurrent_promotions_with_the_same_expectation_have_one_winner(race: Race) -> None:
    for i in range(THREADS + 1):
        register(race.registry, f"job-{i}", VersionStatus.APPROVED)
    race.registry.move_alias(
        MODEL, AliasName.CHAMPION, to_version=1, expected_version=None, by="setup", reason="r"
    )
    results = race.run(
        lambda i: race.registry.move_alias(
            MODEL,
            AliasName.CHAMPION,
            to_version=i + 2,
            expected_version=1,
            by=f"promoter-{i}",
            reason="promote",
        )
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert all(isinstance(r, StaleAlias) for r in losers), losers
    winner = winners[0].version
    for loser in losers:
        assert (loser.expected, loser.actual) == (1, winner)
        assert f"champion of 'demand' is v{winner}, not v1 as expected" in str(loser)
    champion = race.registry.get_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None and (champion.version, champion.revision) == (winner, 2)
    history = race.registry.alias_history(MODEL, AliasName.CHAMPION)
    assert [(h.from_version, h.to_version) for h in history] == [(None, 1), (1, winner)]


def test_the_barrier_forces_contention(race: Race) -> None:
    if race.client is None:
        pytest.skip("the in-memory store takes a lock instead of racing")
    race.run(lambda i: register(race.registry, f"job-{i}", VersionStatus.REGISTERED))
    # All eight read "no versions yet" before anyone wrote, so at least seven
    # transactions must have been cancelled by the counter condition.
    assert race.cancelled >= THREADS - 1


# ---- the Register step: judged against a reference that moves under it ----------------------


def _judged(registry: ModelRegistry, job: str, round_number: int) -> Any:
    """What Register receives from a run whose PrepareData read the reference just now."""
    from modelrail.release import comparison_reference
    from modelrail.steps.models import RegisterInput

    reference = comparison_reference(registry, MODEL)
    return RegisterInput.model_validate(
        {
            "model": MODEL,
            "execution": f"arn:aws:states:{REGION}:123456789012:execution:training:{job}",
            "round": round_number,
            "validation": {
                "model": MODEL,
                "dataset": {"bucket": "data", "key": "incoming/demand/x.csv", "versionId": "v1",
                            "sha256": "a" * 64, "rows": 500, "sizeBytes": 1234},
                "trainUri": "s3://artifacts/datasets/demand/a/data/",
                "reportUri": "s3://artifacts/datasets/demand/a/validation.json",
            },
            "prepared": {
                "trainingJobName": f"{job}-r{round_number}", "championUri": "s3://artifacts/c/",
                "championVersion": reference.number, "profileUri": "s3://artifacts/p.json",
                "fingerprint": "f", "comparedWith": reference.compared_with().model_dump(),
                "resources": {"instanceType": "ml.m5.large", "instanceCount": 1,
                              "volumeSizeInGB": 30},
            },
            "training": {
                "jobName": f"{job}-r{round_number}", "jobArn": f"arn:job/{job}",
                "modelArtifacts": f"s3://artifacts/{job}/model.tar.gz", "image": "sklearn",
            },
            "gate": {"passed": True, "summary": "ok", "metrics": {"rmse": 10.0}, "checks": [],
                     "evaluationUri": "s3://x/y"},
        }
    )  # fmt: skip


def _pipeline_run(registry: ModelRegistry, job: str) -> Any:
    """PrepareData -> (training) -> Register, again while Register asks to judge again."""
    from modelrail.contract import load_contract
    from modelrail.steps.register import run_register

    contract = load_contract(MODEL)
    round_number = 1
    while True:
        result = run_register(
            _judged(registry, job, round_number), contract=contract, registry=registry
        )
        if not result.rejudge:
            return result
        round_number = result.next_round


def test_runs_racing_to_register_form_one_chain_of_judgements(race: Race) -> None:
    from modelrail.release import MAX_ROUNDS, ReferenceKeptMoving

    results = race.run(lambda i: _pipeline_run(race.registry, f"run-{i}"))
    registered = [r for r in results if not isinstance(r, Exception)]
    gave_up = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, ReferenceKeptMoving) for r in gave_up), gave_up
    # A run gives up only after losing MAX_ROUNDS judgements in a row.
    assert len(registered) >= MAX_ROUNDS, results
    stored = race.registry.list_versions(MODEL, newest_first=False, limit=100)
    assert [v.version for v in stored] == list(range(1, len(registered) + 1))
    # Each version was judged against the one registered before it: one chain, no two
    # versions registered on the same reference.
    assert [v.lineage.compared_with.version for v in stored if v.lineage.compared_with] == [
        None,
        *range(1, len(stored)),
    ]
