"""The retraining ledger of each model: its lease and recent starts, by compare-and-swap.

One item per model in the registry table, ``pk = RETRAIN#<model>``, ``sk = LEDGER``,
holding the :class:`~modelrail.monitoring.policy.RetrainState` as JSON and its
``revision``. A write names the revision it read; a write from a state that moved on
meanwhile raises :class:`StaleLedger`, and the caller reads again and re-decides, so of
two triggers racing for the same model one starts a retraining and the other sees it
in flight (or in its cooldown).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from modelrail.monitoring.policy import RetrainState
from modelrail.registry.errors import StoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LEDGER_SK = "LEDGER"
_CONDITION_FAILED = "ConditionalCheckFailedException"


def ledger_pk(model: str) -> str:
    return f"RETRAIN#{model}"


class StaleLedger(Exception):
    """The ledger moved on since it was read."""

    def __init__(self, model: str, expected: int) -> None:
        self.model = model
        self.expected = expected
        super().__init__(f"the retraining ledger of {model!r} is no longer at revision {expected}")


class RetrainLedger(ABC):
    @abstractmethod
    def read(self, model: str) -> RetrainState:
        """The model's ledger (revision 0 and empty when it has none)."""

    @abstractmethod
    def write(self, model: str, state: RetrainState, *, expected_revision: int) -> None:
        """Store ``state`` if the ledger is still at ``expected_revision``, else StaleLedger.
        ``state.revision`` must be ``expected_revision + 1``."""


def _check_step(state: RetrainState, expected: int) -> None:
    if state.revision != expected + 1:
        raise ValueError(f"a write from revision {expected} must carry revision {expected + 1}")


class InMemoryRetrainLedger(RetrainLedger):
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._states: dict[str, RetrainState] = {}

    def read(self, model: str) -> RetrainState:
        with self._mutex:
            return self._states.get(model, RetrainState())

    def write(self, model: str, state: RetrainState, *, expected_revision: int) -> None:
        _check_step(state, expected_revision)
        with self._mutex:
            if self._states.get(model, RetrainState()).revision != expected_revision:
                raise StaleLedger(model, expected_revision)
            self._states[model] = state


class DynamoDBRetrainLedger(RetrainLedger):
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

    def read(self, model: str) -> RetrainState:
        try:
            got = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": ledger_pk(model)}, "sk": {"S": LEDGER_SK}},
                ConsistentRead=True,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"reading the retraining ledger of {model!r} failed: {exc}") from exc
        item = got.get("Item")
        if item is None:
            return RetrainState()
        return RetrainState.model_validate_json(item["doc"]["S"])

    def write(self, model: str, state: RetrainState, *, expected_revision: int) -> None:
        _check_step(state, expected_revision)
        condition = (
            "attribute_not_exists(pk)" if expected_revision == 0 else "#revision = :expected"
        )
        extra: dict[str, object] = {}
        if expected_revision:
            extra = {
                "ExpressionAttributeNames": {"#revision": "revision"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_revision)}},
            }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": ledger_pk(model)},
                    "sk": {"S": LEDGER_SK},
                    "kind": {"S": "retrain-ledger"},
                    "revision": {"N": str(state.revision)},
                    "doc": {"S": state.model_dump_json()},
                },
                ConditionExpression=condition,
                **extra,  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
                raise StaleLedger(model, expected_revision) from None
            raise StoreError(f"writing the retraining ledger of {model!r} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"writing the retraining ledger of {model!r} failed: {exc}") from exc
