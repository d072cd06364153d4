"""One contract for the endpoint lock: in memory and on DynamoDB (moto).

The DynamoDB client is guarded like the registry's: a Scan raises.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from modelrail.deploy.lock import (
    DynamoDBEndpointLock,
    EndpointBusy,
    EndpointLock,
    InMemoryEndpointLock,
    LockState,
    lock_pk,
)
from modelrail.registry import StoreError
from tests.conftest_registry import REGION, TABLE, create_registry_table, guard_operations

ENDPOINT = "modelrail-dev-demand"
OTHER = "modelrail-dev-churn"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL = 600


@dataclass
class Env:
    lock: EndpointLock
    kind: str
    client: Any = None

    def state(self, endpoint: str = ENDPOINT) -> LockState | None:
        assert isinstance(self.lock, InMemoryEndpointLock | DynamoDBEndpointLock)
        return self.lock.get(endpoint)


@pytest.fixture(params=["memory", "dynamodb"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    if request.param == "memory":
        yield Env(InMemoryEndpointLock(), "memory")
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        calls = guard_operations(client)
        yield Env(DynamoDBEndpointLock(TABLE, client=client), "dynamodb", client)
        assert "Scan" not in calls
        assert set(calls) <= {"PutItem", "DeleteItem", "GetItem"}, sorted(set(calls))


def test_acquire_records_the_holder_and_the_expiry(env: Env) -> None:
    env.lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
    assert env.state() == LockState(
        endpoint=ENDPOINT,
        holder="exec-1",
        model="demand",
        version=3,
        acquired_at="2025-03-01T12:00:00.000000Z",
        expires_at=int(T0.timestamp()) + TTL,
    )


def test_another_holder_is_refused_with_who_what_and_since_when(env: Env) -> None:
    env.lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
    with pytest.raises(EndpointBusy) as caught:
        env.lock.acquire(ENDPOINT, "exec-2", "demand", 4, T0 + timedelta(seconds=TTL), TTL)
    assert str(caught.value) == (
        "endpoint modelrail-dev-demand is busy: execution exec-1 has been deploying demand v3 "
        "there since 2025-03-01T12:00:00.000000Z; retry when it finishes"
    )
    assert caught.value.state.holder == "exec-1"
    state = env.state()
    assert state is not None and (state.holder, state.version) == ("exec-1", 3)


def test_acquire_is_idempotent_for_the_same_holder(env: Env) -> None:
    env.lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
    env.lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0 + timedelta(seconds=5), TTL)
    state = env.state()
    assert state is not None and state.holder == "exec-1"
    assert state.expires_at == int(T0.timestamp()) + 5 + TTL


def test_an_expired_lock_may_be_taken_over(env: Env) -> None:
    env.lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
    late = T0 + timedelta(seconds=TTL + 1)
    env.lock.acquire(ENDPOINT, "exec-2", "demand", 4, late, TTL)
    state = env.state()
    assert state is not None and (state.holder, state.version) == ("exec-2", 4)
    assert env.lock.release(ENDPOINT, "exec-1") is False  # the old holder lost it
    assert env.lock.release(ENDPOINT, "exec-2") is True


def test_release_only_by_the_holder_and_only_once(env: Env) -> None:
    assert env.lock.release(ENDPOINT, "exec-1") is False  # nothing to release
    env.lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
    assert env.lock.release(ENDPOINT, "exec-2") is False
    assert env.state() is not None
    assert env.lock.release(ENDPOINT, "exec-1") is True
    assert env.state() is None
    assert env.lock.release(ENDPOINT, "exec-1") is False
    env.lock.acquire(ENDPOINT, "exec-2", "demand", 4, T0, TTL)  # free again


def test_endpoints_are_locked_independently(env: Env) -> None:
    env.lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
    env.lock.acquire(OTHER, "exec-2", "churn", 1, T0, TTL)
    assert env.lock.release(ENDPOINT, "exec-1") is True
    state = env.state(OTHER)
    assert state is not None and state.holder == "exec-2"


def test_the_dynamodb_item_has_the_documented_key_and_attributes() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        DynamoDBEndpointLock(TABLE, client=client).acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
        item = client.get_item(
            TableName=TABLE, Key={"pk": {"S": lock_pk(ENDPOINT)}, "sk": {"S": "LOCK"}}
        )["Item"]
    assert item == {
        "pk": {"S": "ENDPOINT#modelrail-dev-demand"},
        "sk": {"S": "LOCK"},
        "holder": {"S": "exec-1"},
        "model": {"S": "demand"},
        "version": {"N": "3"},
        "acquiredAt": {"S": "2025-03-01T12:00:00.000000Z"},
        "expiresAt": {"N": str(int(T0.timestamp()) + TTL)},
    }


def test_a_missing_table_is_a_store_error() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        lock = DynamoDBEndpointLock("no-such-table", client=client)
        with pytest.raises(StoreError, match="no-such-table"):
            lock.acquire(ENDPOINT, "exec-1", "demand", 3, T0, TTL)
        with pytest.raises(StoreError, match="DeleteItem"):
            lock.release(ENDPOINT, "exec-1")


@pytest.fixture
def serialized_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """One DynamoDB request at a time inside moto, as DynamoDB guarantees (moto does not
    serialise requests across threads; see tests/integration/test_registry_races.py)."""
    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


@pytest.mark.usefixtures("serialized_moto")
def test_of_concurrent_acquirers_exactly_one_wins(env: Env) -> None:
    winners: list[str] = []
    busy: list[str] = []
    start = threading.Barrier(8)

    def contend(holder: str) -> None:
        start.wait()
        try:
            env.lock.acquire(ENDPOINT, holder, "demand", 1, T0, TTL)
        except EndpointBusy:
            busy.append(holder)
        else:
            winners.append(holder)

    threads = [threading.Thread(target=contend, args=(f"exec-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(busy) == 7
    state = env.state()
    assert state is not None and state.holder == winners[0]
