"""One contract for every registry store: the in-memory fake and DynamoDB (on moto).

Every test here runs against both stores through the ``env`` fixture. The DynamoDB
client is guarded: a Scan raises, and after each test the operations used must be
GetItem, Query and TransactWriteItems only.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.registry import (
    TRANSITIONS,
    AliasName,
    ConcurrencyConflict,
    DynamoDBRegistry,
    IllegalTransition,
    InMemoryRegistry,
    InvalidRequest,
    ModelNotFound,
    ModelRegistry,
    ModelVersion,
    NotEligible,
    RegistryEvent,
    StaleAlias,
    StaleStatus,
    StoreError,
    VersionNotFound,
    VersionStatus,
)
from modelrail.registry.models import iso
from tests.conftest_registry import (
    ALLOWED_OPERATIONS,
    REGION,
    TABLE,
    ScanForbidden,
    TickClock,
    create_registry_table,
    gates,
    guard_operations,
    lineage,
    partition_items,
)

MODEL = "demand"
S = VersionStatus
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Env:
    registry: ModelRegistry
    kind: str
    sink: list[RegistryEvent] = field(default_factory=list)
    client: Any = None
    make: Callable[..., ModelRegistry] | None = None  # another registry on the same store

    def item_count(self, model: str = MODEL) -> int | None:
        """Raw items in the model's partition (DynamoDB only; counted with a Query)."""
        return None if self.client is None else len(partition_items(self.client, model))


@contextmanager
def dynamodb_env() -> Iterator[Env]:
    sink: list[RegistryEvent] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        calls = guard_operations(client)

        def make(**kwargs: Any) -> ModelRegistry:
            return DynamoDBRegistry(TABLE, client=client, clock=TickClock(), **kwargs)

        registry = make(event_sink=sink.append)
        yield Env(registry, "dynamodb", sink, client=client, make=make)
        assert "Scan" not in calls
        assert set(calls) <= ALLOWED_OPERATIONS, sorted(set(calls) - ALLOWED_OPERATIONS)


@pytest.fixture(params=["memory", "dynamodb"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    if request.param == "memory":
        sink: list[RegistryEvent] = []
        yield Env(InMemoryRegistry(event_sink=sink.append, clock=TickClock()), "memory", sink)
    else:
        with dynamodb_env() as dynamodb:
            yield dynamodb


@pytest.fixture
def dynamo() -> Iterator[Env]:
    """The DynamoDB store alone, for the tests of its concurrency handling and layout."""
    with dynamodb_env() as dynamodb:
        yield dynamodb


def register(
    registry: ModelRegistry,
    job: str,
    *,
    model: str = MODEL,
    passed: bool = True,
    status: VersionStatus = S.REGISTERED,
    metrics: dict[str, float] | None = None,
) -> ModelVersion:
    return registry.register_version(
        model,
        metrics={"rmse": 12.5, "r2": 0.81} if metrics is None else metrics,
        lineage=lineage(job),
        gates=gates(passed),
        created_by="pipeline",
        status=status,
    )


def approved(registry: ModelRegistry, job: str, *, model: str = MODEL) -> ModelVersion:
    return register(registry, job, model=model, status=S.APPROVED)


# -- versions ---------------------------------------------------------------------------


def test_versions_are_numbered_one_to_n_and_read_back(env: Env) -> None:
    made = [register(env.registry, f"job-{i}") for i in range(1, 6)]
    assert [v.version for v in made] == [1, 2, 3, 4, 5]
    for v in made:
        assert env.registry.get_version(MODEL, v.version) == v
    assert env.registry.latest_version(MODEL) == made[-1]
    newest = env.registry.list_versions(MODEL)
    assert [v.version for v in newest] == [5, 4, 3, 2, 1]
    oldest = env.registry.list_versions(MODEL, newest_first=False, limit=2)
    assert [v.version for v in oldest] == [1, 2]
    first = made[0]
    assert first.status is S.REGISTERED
    assert first.metrics == {"rmse": 12.5, "r2": 0.81}
    assert first.lineage.training_job_name == "job-1"
    assert first.gates_passed
    assert first.created_by == "pipeline"
    assert first.created_at.endswith("Z")
    assert [(h.from_status, h.to_status) for h in first.status_history] == [(None, S.REGISTERED)]


def test_models_are_independent_and_listed_by_name(env: Env) -> None:
    register(env.registry, "a-1", model="zeta")
    register(env.registry, "b-1", model="alpha")
    register(env.registry, "b-2", model="alpha")
    assert env.registry.list_models() == ["alpha", "zeta"]
    assert env.registry.latest_version("zeta") is not None
    assert [v.version for v in env.registry.list_versions("alpha")] == [2, 1]
    assert [v.version for v in env.registry.list_versions("zeta")] == [1]


def test_absent_things(env: Env) -> None:
    assert env.registry.list_models() == []
    assert env.registry.latest_version(MODEL) is None
    assert env.registry.list_versions(MODEL) == []
    assert env.registry.get_alias(MODEL, "champion") is None
    assert env.registry.alias_history(MODEL, "champion") == []
    assert env.registry.events(MODEL) == []
    with pytest.raises(ModelNotFound, match="model 'demand' is not in the registry"):
        env.registry.get_version(MODEL, 1)
    register(env.registry, "job-1")
    with pytest.raises(VersionNotFound, match="model 'demand' has no version 2"):
        env.registry.get_version(MODEL, 2)
    with pytest.raises(InvalidRequest, match="version numbers start at 1"):
        env.registry.get_version(MODEL, 0)


def test_replay_returns_the_existing_version_and_writes_nothing(env: Env) -> None:
    first = register(env.registry, "job-1")
    items, events, published = env.item_count(), env.registry.events(MODEL), list(env.sink)
    replay = register(env.registry, "job-1", metrics={"rmse": 99.0}, passed=False)
    assert replay == first  # the first registration wins; the replay's payload is ignored
    assert env.item_count() == items
    assert env.registry.events(MODEL) == events
    assert env.sink == published
    assert [v.version for v in env.registry.list_versions(MODEL)] == [1]
    assert register(env.registry, "job-2").version == 2


def test_a_replay_is_recognised_across_registry_instances(dynamo: Env) -> None:
    assert dynamo.make is not None
    first = register(dynamo.registry, "job-1")
    assert register(dynamo.make(), "job-1") == first
    assert register(dynamo.make(), "job-2").version == 2


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_metrics_are_refused_before_writing(env: Env, bad: float) -> None:
    with pytest.raises(InvalidRequest, match=r"metric 'rmse' is .*metrics must be finite"):
        register(env.registry, "job-1", metrics={"rmse": bad})
    assert env.registry.list_models() == []
    assert env.item_count() in (None, 0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"status": "production"}, "cannot be registered as production"),
        ({"status": "nonsense"}, "unknown status 'nonsense'"),
        ({"created_by": "  "}, "created_by must be a non-empty string"),
        ({"model": "has#hash"}, "model name 'has#hash'"),
        ({"metrics": {"rmse": "12"}}, "metric 'rmse' must be a number"),
    ],
)
def test_bad_registrations_are_refused(env: Env, kwargs: dict[str, Any], fragment: str) -> None:
    args: dict[str, Any] = {
        "metrics": {"rmse": 1.0},
        "lineage": lineage("job-1"),
        "gates": gates(),
        "created_by": "pipeline",
    }
    kwargs = dict(kwargs)  # the parametrized dict is shared by both stores
    model = kwargs.pop("model", MODEL)
    args.update(kwargs)
    with pytest.raises(InvalidRequest, match=fragment):
        env.registry.register_version(model, **args)
    assert env.registry.list_models() == []


def test_registration_may_record_the_gate_verdict(env: Env) -> None:
    v = register(env.registry, "job-1", passed=False, status=S.REJECTED)
    assert v.status is S.REJECTED
    assert not v.gates_passed
    assert v.failed_gates == ["rmse"]


# -- status lifecycle -------------------------------------------------------------------


def test_a_full_lifecycle_records_who_when_and_why(env: Env) -> None:
    register(env.registry, "job-1")
    path = [S.PENDING_APPROVAL, S.APPROVED, S.DEPLOYING, S.PRODUCTION, S.ARCHIVED, S.DEPLOYING]
    for i, to in enumerate(path):
        v = env.registry.transition(MODEL, 1, to, by=f"user-{i}", reason=f"step {i}")
        assert v.status is to
    stored = env.registry.get_version(MODEL, 1)
    assert stored == v
    history = stored.status_history
    assert [h.to_status for h in history] == [S.REGISTERED, *path]
    assert [h.from_status for h in history] == [None, S.REGISTERED, *path[:-1]]
    assert [h.by for h in history[1:]] == [f"user-{i}" for i in range(len(path))]
    assert [h.reason for h in history[1:]] == [f"step {i}" for i in range(len(path))]
    assert [h.at for h in history] == sorted(h.at for h in history)
    assert len({h.at for h in history}) == len(history)


def test_an_illegal_transition_names_from_to_and_the_allowed_set(env: Env) -> None:
    register(env.registry, "job-1")
    with pytest.raises(IllegalTransition) as caught:
        env.registry.transition(MODEL, 1, S.PRODUCTION, by="me", reason="yolo")
    message = str(caught.value)
    assert "from registered to production" in message
    assert "allowed from registered: approved, pending_approval, rejected" in message
    assert caught.value.allowed == ("approved", "pending_approval", "rejected")
    assert env.registry.get_version(MODEL, 1).status is S.REGISTERED


def test_rejected_is_terminal(env: Env) -> None:
    register(env.registry, "job-1")
    env.registry.transition(MODEL, 1, S.REJECTED, by="gate", reason="rmse too high")
    for to in VersionStatus:
        with pytest.raises(IllegalTransition, match="allowed from rejected: none"):
            env.registry.transition(MODEL, 1, to, by="me", reason="try")


def test_every_transition_in_the_table_and_no_other_is_allowed(env: Env) -> None:
    # Walk each allowed edge on a fresh version driven to its source status.
    route = {
        S.REGISTERED: [],
        S.PENDING_APPROVAL: [S.PENDING_APPROVAL],
        S.APPROVED: [S.APPROVED],
        S.REJECTED: [S.REJECTED],
        S.DEPLOYING: [S.APPROVED, S.DEPLOYING],
        S.ARCHIVED: [S.APPROVED, S.ARCHIVED],
        S.PRODUCTION: [S.APPROVED, S.DEPLOYING, S.PRODUCTION],
        S.ROLLED_BACK: [S.APPROVED, S.DEPLOYING, S.ROLLED_BACK],
        S.FAILED: [S.APPROVED, S.DEPLOYING, S.FAILED],
        S.SUPERSEDED: [S.APPROVED, S.SUPERSEDED],
    }
    jobs = iter(range(1000))

    def at(source: VersionStatus) -> int:
        v = register(env.registry, f"job-{next(jobs)}")
        for step in route[source]:
            env.registry.transition(MODEL, v.version, step, by="t", reason="setup")
        return v.version

    for source in VersionStatus:
        refused = at(source)
        for to in VersionStatus:
            if to in TRANSITIONS[source]:
                v = env.registry.transition(MODEL, at(source), to, by="t", reason="x")
                assert (v.status_history[-2].to_status, v.status) == (source, to)
            else:
                with pytest.raises(IllegalTransition, match=f"from {source} to {to};"):
                    env.registry.transition(MODEL, refused, to, by="t", reason="x")
        assert env.registry.get_version(MODEL, refused).status is source


def test_a_registration_conditional_on_the_latest_version_is_refused_when_it_moved(
    env: Env,
) -> None:
    from modelrail.registry import StaleRegistration

    first = env.registry.register_version(
        MODEL, metrics={"rmse": 1.0}, lineage=lineage("job-1"), gates=gates(), created_by="t",
        expected_latest=0,
    )  # fmt: skip
    assert first.version == 1
    with pytest.raises(StaleRegistration, match="'demand' has 1 version"):
        env.registry.register_version(
            MODEL, metrics={"rmse": 1.0}, lineage=lineage("job-2"), gates=gates(),
            created_by="t", expected_latest=0,
        )  # fmt: skip
    assert [v.version for v in env.registry.list_versions(MODEL)] == [1]
    assert len(env.registry.events(MODEL)) == 1
    # A replay of a registered job returns it whatever it expected (a retried call).
    again = env.registry.register_version(
        MODEL, metrics={"rmse": 1.0}, lineage=lineage("job-1"), gates=gates(), created_by="t",
        expected_latest=0,
    )  # fmt: skip
    assert again == first
    second = env.registry.register_version(
        MODEL, metrics={"rmse": 1.0}, lineage=lineage("job-2"), gates=gates(), created_by="t",
        expected_latest=1,
    )  # fmt: skip
    assert second.version == 2


def test_expected_status_guards_a_transition(env: Env) -> None:
    register(env.registry, "job-1")
    with pytest.raises(StaleStatus, match="'demand' v1 is registered, not approved as expected"):
        env.registry.transition(
            MODEL, 1, S.DEPLOYING, by="me", reason="r", expected_status=S.APPROVED
        )
    v = env.registry.transition(
        MODEL, 1, S.APPROVED, by="me", reason="r", expected_status="registered"
    )
    assert v.status is S.APPROVED


def test_transitions_need_a_known_version_and_an_audit_trail(env: Env) -> None:
    with pytest.raises(ModelNotFound):
        env.registry.transition(MODEL, 1, S.APPROVED, by="me", reason="r")
    register(env.registry, "job-1")
    with pytest.raises(VersionNotFound):
        env.registry.transition(MODEL, 7, S.APPROVED, by="me", reason="r")
    with pytest.raises(InvalidRequest, match="reason must be a non-empty string"):
        env.registry.transition(MODEL, 1, S.APPROVED, by="me", reason="")
    with pytest.raises(InvalidRequest, match="unknown status 'shipped'"):
        env.registry.transition(MODEL, 1, "shipped", by="me", reason="r")


def test_list_by_status_follows_transitions(env: Env) -> None:
    for i in range(1, 5):
        register(env.registry, f"job-{i}")
    env.registry.transition(MODEL, 2, S.APPROVED, by="me", reason="ok")
    env.registry.transition(MODEL, 4, S.APPROVED, by="me", reason="ok")
    env.registry.transition(MODEL, 3, S.REJECTED, by="me", reason="bad")
    by_status = env.registry.list_versions
    assert [v.version for v in by_status(MODEL, status=S.APPROVED)] == [4, 2]
    assert [v.version for v in by_status(MODEL, status="approved", newest_first=False)] == [2, 4]
    assert [v.version for v in by_status(MODEL, status=S.REGISTERED)] == [1]
    assert [v.version for v in by_status(MODEL, status=S.REJECTED)] == [3]
    assert by_status(MODEL, status=S.PRODUCTION) == []
    assert [v.version for v in by_status(MODEL, status=S.APPROVED, limit=1)] == [4]
    assert all(v.status is S.APPROVED for v in by_status(MODEL, status=S.APPROVED))


# -- aliases ----------------------------------------------------------------------------


def test_alias_compare_and_swap(env: Env) -> None:
    for i in range(1, 4):
        approved(env.registry, f"job-{i}")
    first = env.registry.move_alias(
        MODEL, "champion", to_version=1, expected_version=None, by="alice", reason="first"
    )
    assert (first.name, first.version, first.revision) == (AliasName.CHAMPION, 1, 1)
    assert env.registry.get_alias(MODEL, AliasName.CHAMPION) == first

    with pytest.raises(StaleAlias, match=r"champion of 'demand' is v1, not unset as expected"):
        env.registry.move_alias(
            MODEL, "champion", to_version=2, expected_version=None, by="bob", reason="race"
        )
    second = env.registry.move_alias(
        MODEL, "champion", to_version=3, expected_version=1, by="bob", reason="better rmse"
    )
    assert (second.version, second.revision, second.updated_by) == (3, 2, "bob")

    with pytest.raises(StaleAlias) as caught:
        env.registry.move_alias(
            MODEL, "champion", to_version=2, expected_version=1, by="carol", reason="stale view"
        )
    assert str(caught.value) == "champion of 'demand' is v3, not v1 as expected"
    assert (caught.value.expected, caught.value.actual) == (1, 3)
    assert env.registry.get_alias(MODEL, "champion") == second

    with pytest.raises(StaleAlias, match="challenger of 'demand' is unset, not v2 as expected"):
        env.registry.move_alias(
            MODEL, "challenger", to_version=1, expected_version=2, by="d", reason="r"
        )


def test_alias_history_records_every_move_with_who_when_why(env: Env) -> None:
    for i in range(1, 4):
        approved(env.registry, f"job-{i}")
    moves = [(None, 1, "alice", "first"), (1, 2, "bob", "better"), (2, 1, "carol", "rollback")]
    for expected, to, by, why in moves:
        env.registry.move_alias(
            MODEL, "champion", to_version=to, expected_version=expected, by=by, reason=why
        )
    env.registry.move_alias(
        MODEL, "previous", to_version=2, expected_version=None, by="carol", reason="rollback"
    )
    history = env.registry.alias_history(MODEL, "champion")
    assert [(h.from_version, h.to_version, h.by, h.reason) for h in history] == moves
    assert [h.revision for h in history] == [1, 2, 3]
    assert [h.at for h in history] == sorted({h.at for h in history})
    assert all(h.alias is AliasName.CHAMPION for h in history)
    assert [h.to_version for h in env.registry.alias_history(MODEL, "previous")] == [2]
    assert env.registry.alias_history(MODEL, "challenger") == []


def test_an_ineligible_version_cannot_be_champion(env: Env) -> None:
    register(env.registry, "job-1", passed=False)  # v1: a gate failed
    env.registry.transition(MODEL, 1, S.APPROVED, by="human", reason="override")
    register(env.registry, "job-2")  # v2: passed, but only registered
    env.registry.register_version(  # v3: no gate results at all
        MODEL, metrics={}, lineage=lineage("job-3"), gates=[], created_by="p", status="approved"
    )
    approved(env.registry, "job-4")  # v4: eligible
    cases = [
        (1, "gates failed: rmse"),
        (2, "it is registered; champion needs one of approved, archived, deploying, production"),
        (3, "it has no gate results"),
    ]
    for version, why in cases:
        with pytest.raises(NotEligible) as caught:
            env.registry.move_alias(
                MODEL, "champion", to_version=version, expected_version=None, by="x", reason="r"
            )
        assert str(caught.value) == f"'demand' v{version} cannot be champion: {why}"
    assert env.registry.get_alias(MODEL, "champion") is None
    assert env.registry.alias_history(MODEL, "champion") == []
    assert (
        env.registry.move_alias(
            MODEL, "champion", to_version=4, expected_version=None, by="x", reason="r"
        ).version
        == 4
    )


def test_rolled_back_and_failed_versions_are_not_eligible_until_redeployed(env: Env) -> None:
    approved(env.registry, "job-1")
    for to in (S.DEPLOYING, S.ROLLED_BACK):
        env.registry.transition(MODEL, 1, to, by="deployer", reason="canary alarm")
    with pytest.raises(NotEligible, match="it is rolled_back"):
        env.registry.move_alias(
            MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
        )
    env.registry.transition(MODEL, 1, S.DEPLOYING, by="oncall", reason="alarm was noise")
    assert (
        env.registry.move_alias(
            MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
        ).version
        == 1
    )


def test_an_archived_version_can_be_champion_again(env: Env) -> None:
    approved(env.registry, "job-1")
    env.registry.transition(MODEL, 1, S.ARCHIVED, by="x", reason="superseded")
    assert (
        env.registry.move_alias(
            MODEL, "previous", to_version=1, expected_version=None, by="x", reason="rollback target"
        ).version
        == 1
    )


def test_a_challenger_may_await_approval_but_needs_passing_gates(env: Env) -> None:
    register(env.registry, "job-1")
    register(env.registry, "job-2", passed=False)
    assert (
        env.registry.move_alias(
            MODEL, "challenger", to_version=1, expected_version=None, by="x", reason="shadow"
        ).version
        == 1
    )
    with pytest.raises(NotEligible, match="'demand' v2 cannot be challenger: gates failed"):
        env.registry.move_alias(
            MODEL, "challenger", to_version=2, expected_version=1, by="x", reason="shadow"
        )


def test_alias_moves_need_a_known_target(env: Env) -> None:
    with pytest.raises(ModelNotFound):
        env.registry.move_alias(
            MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
        )
    approved(env.registry, "job-1")
    with pytest.raises(VersionNotFound, match="has no version 9"):
        env.registry.move_alias(
            MODEL, "champion", to_version=9, expected_version=None, by="x", reason="r"
        )
    with pytest.raises(InvalidRequest, match="unknown alias 'king'"):
        env.registry.move_alias(
            MODEL, "king", to_version=1, expected_version=None, by="x", reason="r"
        )
    with pytest.raises(InvalidRequest, match="by must be a non-empty string"):
        env.registry.move_alias(
            MODEL, "champion", to_version=1, expected_version=None, by="", reason="r"
        )


def test_resolve_alias(env: Env) -> None:
    assert env.registry.resolve_alias(MODEL, "champion") is None
    v = approved(env.registry, "job-1")
    env.registry.move_alias(
        MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
    )
    assert env.registry.resolve_alias(MODEL, "champion") == v


# -- events -----------------------------------------------------------------------------


def test_every_write_records_an_event_and_publishes_it(env: Env) -> None:
    register(env.registry, "job-1")
    env.registry.transition(MODEL, 1, S.APPROVED, by="alice", reason="looks good")
    env.registry.move_alias(
        MODEL, "champion", to_version=1, expected_version=None, by="alice", reason="first"
    )
    events = env.registry.events(MODEL)
    assert [e.type for e in events] == [
        "alias.moved",
        "model_version.status_changed",
        "model_version.created",
    ]
    assert all(e.model == MODEL and e.version == 1 for e in events)
    moved, changed, created = events
    assert moved.detail == {
        "alias": "champion",
        "from_version": None,
        "to_version": 1,
        "revision": 1,
        "by": "alice",
        "reason": "first",
    }
    assert changed.detail == {
        "from": "registered",
        "to": "approved",
        "by": "alice",
        "reason": "looks good",
    }
    assert created.detail["training_job_name"] == "job-1"
    assert created.detail["metrics"] == {"rmse": 12.5, "r2": 0.81}
    assert env.sink == list(reversed(events))
    assert len({e.id for e in events}) == 3
    assert env.registry.events(MODEL, limit=2) == events[:2]
    assert env.registry.events("other") == []


def test_failed_writes_record_no_event(env: Env) -> None:
    register(env.registry, "job-1")
    before = env.registry.events(MODEL)
    with pytest.raises(IllegalTransition):
        env.registry.transition(MODEL, 1, S.PRODUCTION, by="x", reason="r")
    with pytest.raises(NotEligible):
        env.registry.move_alias(
            MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
        )
    assert env.registry.events(MODEL) == before
    assert len(env.sink) == 1


def test_a_failing_sink_does_not_undo_the_write(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: RegistryEvent) -> None:
        raise RuntimeError("eventbridge is down")

    registry: ModelRegistry
    if env.make is None:
        registry = InMemoryRegistry(event_sink=broken)
    else:
        registry = env.make(event_sink=broken)
    v = register(registry, "job-1")
    assert registry.get_version(MODEL, 1) == v
    assert [e.type for e in registry.events(MODEL)] == ["model_version.created"]
    assert "registry event sink failed" in caplog.text


# -- DynamoDB specifics -----------------------------------------------------------------


def test_the_single_table_layout(dynamo: Env) -> None:
    approved(dynamo.registry, "train-1")
    dynamo.registry.move_alias(
        MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
    )
    items = partition_items(dynamo.client, MODEL)
    keys = sorted(i["sk"]["S"] for i in items)
    patterns = [
        r"ALIAS#champion",
        r"ALIASHIST#champion#0000000001",
        r"EVENT#2025-01-01T00:00:00\.\d{6}Z#[0-9a-f]{32}",  # created
        r"EVENT#2025-01-01T00:00:00\.\d{6}Z#[0-9a-f]{32}",  # alias moved
        r"JOB#train-1",
        r"MODEL",
        r"VERSION#0000000001",
    ]
    assert len(keys) == len(patterns)
    for key, pattern in zip(keys, patterns, strict=True):
        assert re.fullmatch(pattern, key), (key, pattern)
    by_sk = {i["sk"]["S"]: i for i in items}
    model_item = by_sk["MODEL"]
    assert model_item["latest_version"] == {"N": "1"}
    assert (model_item["gsi1pk"]["S"], model_item["gsi1sk"]["S"]) == ("MODELS", MODEL)
    version_item = by_sk["VERSION#0000000001"]
    assert version_item["gsi1pk"] == {"S": "STATUS#demand#approved"}
    assert version_item["gsi1sk"] == {"S": "0000000001"}
    assert version_item["gates_passed"] == {"BOOL": True}
    assert ModelVersion.model_validate_json(version_item["doc"]["S"]).version == 1
    assert by_sk["JOB#train-1"]["version"] == {"N": "1"}
    assert by_sk["ALIAS#champion"]["version"] == {"N": "1"}
    assert by_sk["ALIAS#champion"]["revision"] == {"N": "1"}


def test_the_scan_guard_trips(dynamo: Env) -> None:
    with pytest.raises(ScanForbidden):
        dynamo.client.scan(TableName=TABLE)
    # the guard's own call would fail the fixture's post-check; forget it
    dynamo.client.meta.events.unregister("before-call.dynamodb.Scan")


def _interfere(client: Any, action: Callable[[], object], times: int = 1) -> None:
    """Run ``action`` (another writer) just before the next ``times`` transactions."""
    state = {"left": times, "busy": False}

    def hook(**_: Any) -> None:
        if state["left"] and not state["busy"]:
            state["left"] -= 1
            state["busy"] = True
            try:
                action()
            finally:
                state["busy"] = False

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", hook)


def test_a_lost_counter_race_retries_and_takes_the_next_number(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    register(dynamo.registry, "job-1")
    _interfere(dynamo.client, lambda: register(other, "job-other"))
    mine = register(dynamo.registry, "job-mine")
    assert mine.version == 3
    assert dynamo.registry.get_version(MODEL, 2).lineage.training_job_name == "job-other"
    assert [v.version for v in dynamo.registry.list_versions(MODEL)] == [3, 2, 1]


def test_a_racing_replay_of_the_same_job_returns_the_winner(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    winner: list[ModelVersion] = []
    _interfere(dynamo.client, lambda: winner.append(register(other, "job-1")))
    mine = register(dynamo.registry, "job-1")
    assert mine == winner[0]
    assert [v.version for v in dynamo.registry.list_versions(MODEL)] == [1]
    assert len(dynamo.registry.events(MODEL)) == 1


def test_contention_beyond_the_retry_budget_is_a_concurrency_conflict(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    mine = dynamo.make(max_attempts=3, sleep=lambda _: None)
    jobs = iter(range(100))
    _interfere(dynamo.client, lambda: register(other, f"other-{next(jobs)}"), times=3)
    with pytest.raises(
        ConcurrencyConflict,
        match="register_version on 'demand' gave up after 3 attempt",
    ):
        register(mine, "job-mine")
    assert [v.version for v in dynamo.registry.list_versions(MODEL, newest_first=False)] == [
        1,
        2,
        3,
    ]


def test_a_status_change_between_read_and_write_is_detected(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    register(dynamo.registry, "job-1")
    _interfere(
        dynamo.client,
        lambda: other.transition(MODEL, 1, S.REJECTED, by="gate", reason="bad"),
    )
    with pytest.raises(IllegalTransition, match="from rejected to approved"):
        dynamo.registry.transition(MODEL, 1, S.APPROVED, by="me", reason="ok")
    v = dynamo.registry.get_version(MODEL, 1)
    assert v.status is S.REJECTED
    assert [h.to_status for h in v.status_history] == [S.REGISTERED, S.REJECTED]


def test_an_aba_status_round_trip_keeps_the_full_history(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    approved(dynamo.registry, "job-1")
    dynamo.registry.transition(MODEL, 1, S.DEPLOYING, by="d", reason="deploy")

    def round_trip() -> None:  # DEPLOYING -> ROLLED_BACK -> DEPLOYING behind our back
        other.transition(MODEL, 1, S.ROLLED_BACK, by="o", reason="alarm")
        other.transition(MODEL, 1, S.DEPLOYING, by="o", reason="retry")

    _interfere(dynamo.client, round_trip)
    v = dynamo.registry.transition(MODEL, 1, S.PRODUCTION, by="me", reason="healthy")
    assert [h.to_status for h in v.status_history] == [
        S.APPROVED,
        S.DEPLOYING,
        S.ROLLED_BACK,
        S.DEPLOYING,
        S.PRODUCTION,
    ]
    assert dynamo.registry.get_version(MODEL, 1) == v


def test_a_concurrent_alias_move_makes_the_loser_stale(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    for i in range(1, 4):
        approved(dynamo.registry, f"job-{i}")
    dynamo.registry.move_alias(
        MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
    )
    _interfere(
        dynamo.client,
        lambda: other.move_alias(
            MODEL, "champion", to_version=2, expected_version=1, by="o", reason="faster"
        ),
    )
    with pytest.raises(StaleAlias, match="champion of 'demand' is v2, not v1 as expected"):
        dynamo.registry.move_alias(
            MODEL, "champion", to_version=3, expected_version=1, by="me", reason="slower"
        )
    assert [h.to_version for h in dynamo.registry.alias_history(MODEL, "champion")] == [1, 2]


def test_a_target_that_turns_ineligible_mid_move_is_refused(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    approved(dynamo.registry, "job-1")
    _interfere(
        dynamo.client,
        lambda: (
            other.transition(MODEL, 1, S.DEPLOYING, by="o", reason="d")
            and other.transition(MODEL, 1, S.FAILED, by="o", reason="boom")
        ),
    )
    with pytest.raises(NotEligible, match="it is failed"):
        dynamo.registry.move_alias(
            MODEL, "champion", to_version=1, expected_version=None, by="me", reason="r"
        )
    assert dynamo.registry.get_alias(MODEL, "champion") is None


def test_an_aba_alias_round_trip_still_honours_the_expected_version(dynamo: Env) -> None:
    assert dynamo.make is not None
    other = dynamo.make()
    for i in range(1, 4):
        approved(dynamo.registry, f"job-{i}")
    dynamo.registry.move_alias(
        MODEL, "champion", to_version=1, expected_version=None, by="x", reason="r"
    )

    def away_and_back() -> None:
        other.move_alias(MODEL, "champion", to_version=2, expected_version=1, by="o", reason="a")
        other.move_alias(MODEL, "champion", to_version=1, expected_version=2, by="o", reason="b")

    _interfere(dynamo.client, away_and_back)
    moved = dynamo.registry.move_alias(
        MODEL, "champion", to_version=3, expected_version=1, by="me", reason="c"
    )
    assert (moved.version, moved.revision) == (3, 4)
    assert [h.revision for h in dynamo.registry.alias_history(MODEL, "champion")] == [1, 2, 3, 4]


def test_store_failures_become_store_errors() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        registry = DynamoDBRegistry("no-such-table", client=client)
        with pytest.raises(StoreError, match="ResourceNotFoundException"):
            registry.latest_version(MODEL)
        with pytest.raises(StoreError, match="no-such-table"):
            register(registry, "job-1")


def test_a_corrupt_item_is_a_store_error_not_a_crash(dynamo: Env) -> None:
    register(dynamo.registry, "job-1")
    raw = boto3.client("dynamodb", region_name=REGION)  # unguarded: PutItem is test-only
    raw.put_item(
        TableName=TABLE,
        Item={"pk": {"S": "MODEL#demand"}, "sk": {"S": "VERSION#0000000001"}, "doc": {"S": "{}"}},
    )
    with pytest.raises(StoreError, match="VERSION#0000000001 is corrupt: invalid ModelVersion"):
        dynamo.registry.get_version(MODEL, 1)
    raw.put_item(TableName=TABLE, Item={"pk": {"S": "MODEL#demand"}, "sk": {"S": "MODEL"}})
    with pytest.raises(StoreError, match="no numeric attribute 'latest_version'"):
        register(dynamo.registry, "job-2")


def test_timestamps_are_fixed_width_utc() -> None:
    at = datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=timezone(timedelta(hours=2)))
    assert iso(at) == "2025-03-04T03:06:07.000089Z"
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        iso(datetime(2025, 1, 1))


# -- no Scan anywhere -------------------------------------------------------------------


def _scan_uses(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.lower() == "scan":
                lines.append(node.lineno)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.strip().lower() == "scan"
        ):
            lines.append(node.lineno)
    return lines


def test_the_scan_detector_detects() -> None:
    assert _scan_uses("client.scan(TableName='t')") == [1]
    assert _scan_uses("client.get_paginator('scan')") == [1]
    assert _scan_uses("op = 'Scan'") == [1]
    assert _scan_uses("client.query(TableName='t')  # no scan here") == []


def test_nothing_in_modelrail_scans() -> None:
    offenders = {
        str(path.relative_to(REPO)): lines
        for path in sorted((REPO / "modelrail").rglob("*.py"))
        if (lines := _scan_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
