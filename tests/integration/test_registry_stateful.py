"""Random sequences of registry calls, checked against a tiny model of the rules.

The same state machine drives the in-memory store and the DynamoDB store (on moto, a
fresh table per example). After every step: versions are numbered 1..N with no gap,
every stored status equals the model's, each alias (so at most one champion) is where
the model says and its version passed its gates. After every registration, replay or
not, exactly one "created" event exists per version: replays never create anything.
Each alias move that succeeds was checked against the eligibility table first.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws

from modelrail.registry import (
    ALIAS_ELIGIBLE,
    INITIAL_STATUSES,
    TRANSITIONS,
    AliasName,
    DynamoDBRegistry,
    IllegalTransition,
    InMemoryRegistry,
    ModelRegistry,
    NotEligible,
    StaleAlias,
    StaleStatus,
    VersionStatus,
)
from tests.conftest_registry import (
    REGION,
    TABLE,
    TickClock,
    create_registry_table,
    gates,
    guard_operations,
    lineage,
)

MODEL = "demand"
JOBS = [f"job-{i}" for i in range(8)]  # few names, so replays are frequent


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.registry = self.make_registry()
        self.statuses: list[VersionStatus] = []  # statuses[n - 1] is vn's status
        self.passed: list[bool] = []
        self.jobs: dict[str, int] = {}
        self.aliases: dict[AliasName, int] = {}
        self.history: dict[AliasName, list[int]] = {}

    def make_registry(self) -> ModelRegistry:
        raise NotImplementedError

    def pick(self, data: st.DataObject) -> int:
        return data.draw(st.integers(1, len(self.statuses)), label="version")

    @rule(
        job=st.sampled_from(JOBS),
        passed=st.booleans(),
        status=st.sampled_from(sorted(INITIAL_STATUSES)),
        rmse=st.floats(0, 1e6, allow_nan=False),
    )
    def register(self, job: str, passed: bool, status: VersionStatus, rmse: float) -> None:
        v = self.registry.register_version(
            MODEL,
            metrics={"rmse": rmse},
            lineage=lineage(job),
            gates=gates(passed),
            created_by="pipeline",
            status=status,
        )
        if job in self.jobs:
            assert v.version == self.jobs[job], "a replay must return the original version"
        else:
            assert v.version == len(self.statuses) + 1
            assert (v.status, v.gates_passed, v.metrics["rmse"]) == (status, passed, rmse)
            self.statuses.append(status)
            self.passed.append(passed)
            self.jobs[job] = v.version
        latest = self.registry.latest_version(MODEL)
        assert latest is not None and latest.version == len(self.statuses)
        created = [
            e for e in self.registry.events(MODEL, limit=1000) if e.type == "model_version.created"
        ]
        assert sorted(e.version for e in created) == list(range(1, len(self.statuses) + 1))

    @precondition(lambda self: self.statuses)
    @rule(data=st.data(), to=st.sampled_from(list(VersionStatus)), guard=st.booleans())
    def transition(self, data: st.DataObject, to: VersionStatus, guard: bool) -> None:
        n = self.pick(data)
        current = self.statuses[n - 1]
        expected = None
        if guard:  # sometimes name an expected status, sometimes a wrong one
            expected = data.draw(st.sampled_from(list(VersionStatus)), label="expected")
        if expected is not None and expected != current:
            with pytest.raises(StaleStatus):
                self.registry.transition(MODEL, n, to, by="t", reason="r", expected_status=expected)
        elif to in TRANSITIONS[current]:
            v = self.registry.transition(MODEL, n, to, by="t", reason="r", expected_status=expected)
            assert v.status is to
            self.statuses[n - 1] = to
        else:
            with pytest.raises(IllegalTransition, match=f"from {current} to {to};"):
                self.registry.transition(MODEL, n, to, by="t", reason="r", expected_status=expected)

    @precondition(lambda self: self.statuses)
    @rule(data=st.data(), alias=st.sampled_from(list(AliasName)), stale=st.booleans())
    def move_alias(self, data: st.DataObject, alias: AliasName, stale: bool) -> None:
        n = self.pick(data)
        actual = self.aliases.get(alias)
        expected = actual
        if stale:
            choices: list[int | None] = [None, *range(1, len(self.statuses) + 2)]
            expected = data.draw(st.sampled_from([c for c in choices if c != actual]))
        eligible = self.passed[n - 1] and self.statuses[n - 1] in ALIAS_ELIGIBLE[alias]

        def move() -> Any:
            return self.registry.move_alias(
                MODEL, alias, to_version=n, expected_version=expected, by="m", reason="r"
            )

        if not eligible:
            with pytest.raises(NotEligible):
                move()
        elif expected != actual:
            with pytest.raises(StaleAlias) as caught:
                move()
            assert (caught.value.expected, caught.value.actual) == (expected, actual)
        else:
            moved = move()
            assert (moved.version, moved.revision) == (n, len(self.history.get(alias, [])) + 1)
            self.aliases[alias] = n
            self.history.setdefault(alias, []).append(n)
            history = self.registry.alias_history(MODEL, alias)
            assert [h.to_version for h in history] == self.history[alias]

    @invariant()
    def versions_are_gap_free_and_aliases_point_at_passed_versions(self) -> None:
        listed = self.registry.list_versions(MODEL, newest_first=False, limit=1000)
        assert [v.version for v in listed] == list(range(1, len(self.statuses) + 1))
        assert [v.status for v in listed] == self.statuses
        for alias in AliasName:  # one item per alias: "at most one champion" by construction
            stored = self.registry.get_alias(MODEL, alias)
            assert (stored.version if stored else None) == self.aliases.get(alias)
            if stored is not None:
                assert listed[stored.version - 1].gates_passed


class InMemoryMachine(RegistryMachine):
    def make_registry(self) -> ModelRegistry:
        return InMemoryRegistry(clock=TickClock())


class DynamoDBMachine(RegistryMachine):
    def make_registry(self) -> ModelRegistry:
        self._mock = mock_aws()
        self._mock.start()
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        self._calls = guard_operations(client)
        return DynamoDBRegistry(TABLE, client=client, clock=TickClock())

    def teardown(self) -> None:
        self._mock.stop()
        assert "Scan" not in self._calls


TestInMemoryRegistry = InMemoryMachine.TestCase
TestInMemoryRegistry.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TestDynamoDBRegistry = DynamoDBMachine.TestCase
TestDynamoDBRegistry.settings = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
