"""One deployment per endpoint: a lock item in the registry table.

The item is ``pk = ENDPOINT#<endpoint>``, ``sk = LOCK`` with ``holder`` (the deployment
execution's name), ``model``, ``version``, ``acquiredAt`` (ISO) and ``expiresAt`` (epoch
seconds). Acquiring is a conditional put: it succeeds when there is no lock, when the
caller already holds it (a retried Lambda) or when the lock expired (its deployment
died without releasing it). Releasing is a conditional delete on the holder.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from modelrail.registry.errors import StoreError
from modelrail.registry.models import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

LOCK_SK = "LOCK"
_CONDITION_FAILED = "ConditionalCheckFailedException"


def lock_pk(endpoint: str) -> str:
    return f"ENDPOINT#{endpoint}"


@dataclass(frozen=True)
class LockState:
    endpoint: str
    holder: str
    model: str
    version: int
    acquired_at: str
    expires_at: int


class EndpointBusy(Exception):
    """Another deployment holds the endpoint."""

    def __init__(self, state: LockState) -> None:
        self.state = state
        super().__init__(
            f"endpoint {state.endpoint} is busy: execution {state.holder} has been deploying "
            f"{state.model} v{state.version} there since {state.acquired_at}; "
            "retry when it finishes"
        )


def _epoch(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return int(at.astimezone(UTC).timestamp())


class EndpointLock(ABC):
    """The per-endpoint deployment lock port."""

    @abstractmethod
    def acquire(
        self,
        endpoint: str,
        holder: str,
        model: str,
        version: int,
        now: datetime,
        ttl_seconds: int,
    ) -> None:
        """Take the endpoint for ``holder`` until ``now + ttl_seconds``; EndpointBusy when
        another holder has it and its lock has not expired. Idempotent for one holder."""

    @abstractmethod
    def release(self, endpoint: str, holder: str) -> bool:
        """Drop the lock if ``holder`` has it (True); otherwise change nothing (False)."""


class InMemoryEndpointLock(EndpointLock):
    """The lock for tests and demos: the same semantics, in a dict."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locks: dict[str, LockState] = {}

    def acquire(
        self,
        endpoint: str,
        holder: str,
        model: str,
        version: int,
        now: datetime,
        ttl_seconds: int,
    ) -> None:
        at = _epoch(now)
        with self._mutex:
            current = self._locks.get(endpoint)
            if current is not None and current.holder != holder and current.expires_at >= at:
                raise EndpointBusy(current)
            self._locks[endpoint] = LockState(
                endpoint, holder, model, version, iso(now), at + ttl_seconds
            )

    def release(self, endpoint: str, holder: str) -> bool:
        with self._mutex:
            current = self._locks.get(endpoint)
            if current is None or current.holder != holder:
                return False
            del self._locks[endpoint]
            return True

    def get(self, endpoint: str) -> LockState | None:
        """The current lock (expired or not), for tests."""
        with self._mutex:
            return self._locks.get(endpoint)


class DynamoDBEndpointLock(EndpointLock):
    """The lock as one item of the registry table (conditional PutItem/DeleteItem)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        if not table_name:
            raise ValueError("table_name is required")
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _key(self, endpoint: str) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": lock_pk(endpoint)}, "sk": {"S": LOCK_SK}}

    def acquire(
        self,
        endpoint: str,
        holder: str,
        model: str,
        version: int,
        now: datetime,
        ttl_seconds: int,
    ) -> None:
        at = _epoch(now)
        item: dict[str, AttributeValueTypeDef] = {
            **self._key(endpoint),
            "holder": {"S": holder},
            "model": {"S": model},
            "version": {"N": str(version)},
            "acquiredAt": {"S": iso(now)},
            "expiresAt": {"N": str(at + ttl_seconds)},
        }
        for _ in range(3):
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=item,
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR #holder = :holder OR #expires < :now"
                    ),
                    ExpressionAttributeNames={"#holder": "holder", "#expires": "expiresAt"},
                    ExpressionAttributeValues={":holder": {"S": holder}, ":now": {"N": str(at)}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                    raise self._store_error("PutItem", exc) from exc
                old: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
                state = self._state(endpoint, old) if old else self._read(endpoint)
                if state is not None:
                    raise EndpointBusy(state) from None
                # released between the put and the read: try again
            except BotoCoreError as exc:
                raise self._store_error("PutItem", exc) from exc
        raise StoreError(f"the lock of {endpoint} kept changing; try again")

    def release(self, endpoint: str, holder: str) -> bool:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=self._key(endpoint),
                ConditionExpression="#holder = :holder",
                ExpressionAttributeNames={"#holder": "holder"},
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                return False
            raise self._store_error("DeleteItem", exc) from exc
        except BotoCoreError as exc:
            raise self._store_error("DeleteItem", exc) from exc
        return True

    def get(self, endpoint: str) -> LockState | None:
        """The current lock item (expired or not), read consistently."""
        return self._read(endpoint)

    def _read(self, endpoint: str) -> LockState | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name, Key=self._key(endpoint), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._store_error("GetItem", exc) from exc
        item = response.get("Item")
        return None if item is None else self._state(endpoint, dict(item))

    def _state(self, endpoint: str, item: dict[str, Any]) -> LockState:
        try:
            return LockState(
                endpoint=endpoint,
                holder=item["holder"]["S"],
                model=item["model"]["S"],
                version=int(item["version"]["N"]),
                acquired_at=item["acquiredAt"]["S"],
                expires_at=int(item["expiresAt"]["N"]),
            )
        except (KeyError, ValueError) as exc:
            raise StoreError(
                f"lock item {lock_pk(endpoint)}/{LOCK_SK} in {self.table_name!r} is corrupt: "
                f"missing or invalid {exc}"
            ) from None

    def _store_error(self, action: str, exc: ClientError | BotoCoreError) -> StoreError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            detail = f"{error.get('Code', '?')}: {error.get('Message', exc)}"
        else:
            detail = str(exc)
        return StoreError(f"DynamoDB {action} on table {self.table_name!r} failed: {detail}")
