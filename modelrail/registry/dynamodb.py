"""DynamoDB registry: single-table design, conditional transactions, no Scan.

The table (created by the CDK stack) has partition key ``pk`` (S), sort key ``sk`` (S)
and one GSI ``gsi1`` (``gsi1pk`` S, ``gsi1sk`` S, projection ALL). Per model, in the
partition ``MODEL#<name>``:

=============================================  ===============================================
sk                                             item
=============================================  ===============================================
``MODEL``                                      counter ``latest_version``; gsi1 ``MODELS``/<name>
``VERSION#<10-digit version>``                 a version; gsi1 ``STATUS#<name>#<status>``/<version>
``JOB#<training job name>``                    idempotency: the version made by that job
``ALIAS#<alias>``                              where the alias points, with its revision
``ALIASHIST#<alias>#<10-digit revision>``      one alias move
``EVENT#<ISO timestamp>#<uuid hex>``           one registry event
=============================================  ===============================================

Entities are stored as a JSON string attribute ``doc`` next to the key, index and
condition attributes (``status``, ``gates_passed``, ``rev``, ``version``, ``revision``).
JSON rather than native DynamoDB maps because the entities are nested pydantic models
with float metrics: native maps would need a float<->Decimal conversion on every nested
value (and DynamoDB numbers cap at 38 digits), while JSON round-trips a float64 exactly
and is validated by pydantic on the way back. Nothing ever filters on a nested field, so
nothing is lost. Non-finite metrics are refused before any write (JSON has no NaN).

See docs/registry.md for the access patterns and the concurrency argument.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from modelrail.registry.errors import (
    ConcurrencyConflict,
    ModelNotFound,
    StaleRegistration,
    StoreError,
    VersionNotFound,
)
from modelrail.registry.models import (
    ALIAS_ELIGIBLE,
    Alias,
    AliasChange,
    AliasName,
    GateResult,
    Lineage,
    ModelVersion,
    RegistryEvent,
    VersionStatus,
    check_text,
)
from modelrail.registry.port import (
    Clock,
    EventSink,
    ModelRegistry,
    Registration,
    as_alias,
    as_status,
    check_limit,
    check_version_number,
    plan_alias_move,
    plan_transition,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
    )

    Item = dict[str, AttributeValueTypeDef]

GSI = "gsi1"
MODELS_PK = "MODELS"
MODEL_SK = "MODEL"

# Positions of the items in the register_version transaction (CancellationReasons are
# reported in the same order).
_REG_COUNTER, _REG_VERSION, _REG_JOB = 0, 1, 2
_ALIAS_ITEM, _ALIAS_TARGET = 0, 2

_CONDITION_FAILED = "ConditionalCheckFailed"
_CONFLICT = "TransactionConflict"
_RETRYABLE_ERRORS = frozenset(
    {
        "IdempotentParameterMismatchException",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)


def model_pk(model: str) -> str:
    return f"MODEL#{model}"


def version_sk(version: int) -> str:
    return f"VERSION#{version:010d}"


def job_sk(training_job_name: str) -> str:
    return f"JOB#{training_job_name}"


def alias_sk(alias: AliasName) -> str:
    return f"ALIAS#{alias.value}"


def alias_history_sk(alias: AliasName, revision: int) -> str:
    return f"ALIASHIST#{alias.value}#{revision:010d}"


def event_sk(event: RegistryEvent) -> str:
    return f"EVENT#{event.at}#{event.id}"


def status_gsi_pk(model: str, status: VersionStatus) -> str:
    return f"STATUS#{model}#{status.value}"


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


def _corrupt(item: Item, what: str) -> StoreError:
    key = f"{item.get('pk', {}).get('S')}/{item.get('sk', {}).get('S')}"
    return StoreError(f"registry item {key} is corrupt: {what}")


def _int(item: Item, name: str) -> int:
    try:
        return int(item[name]["N"])
    except (KeyError, ValueError):
        raise _corrupt(item, f"no numeric attribute {name!r}") from None


_Entity = TypeVar("_Entity", bound=BaseModel)


def _parse(cls: type[_Entity], item: Item) -> _Entity:
    """The entity stored in the item's ``doc`` attribute, validated by pydantic."""
    try:
        return cls.model_validate_json(item["doc"]["S"])
    except KeyError:
        raise _corrupt(item, "no 'doc' attribute") from None
    except ValidationError as exc:
        raise _corrupt(item, f"invalid {cls.__name__}: {exc}") from exc


class DynamoDBRegistry(ModelRegistry):
    """The registry on one DynamoDB table (see the module docstring for the layout).

    ``client`` is injected for tests and the local cloud; without it a boto3 client is
    built on first use. Contention is retried ``max_attempts`` times with full-jitter
    exponential backoff (``backoff_base`` doubling up to ``backoff_cap`` seconds), then
    ConcurrencyConflict.
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        event_sink: EventSink | None = None,
        clock: Clock | None = None,
        max_attempts: int = 10,
        backoff_base: float = 0.02,
        backoff_cap: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(event_sink=event_sink, clock=clock)
        if not table_name:
            raise ValueError("table_name is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.table_name = table_name
        self._client = client
        self._client_lock = threading.Lock()
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3

                    self._client = boto3.client("dynamodb")
        return self._client

    # -- low-level helpers --------------------------------------------------------------

    @contextmanager
    def _store_errors(self, action: str) -> Iterator[None]:
        """Translate SDK failures into StoreError: the core never sees botocore."""
        try:
            yield
        except ClientError as exc:
            raise self._store_error(exc, action) from exc
        except BotoCoreError as exc:
            raise StoreError(
                f"DynamoDB {action} on table {self.table_name!r} failed: {exc}"
            ) from exc

    def _store_error(self, exc: ClientError, action: str) -> StoreError:
        error = exc.response.get("Error", {})
        return StoreError(
            f"DynamoDB {action} on table {self.table_name!r} failed: "
            f"{error.get('Code', '?')}: {error.get('Message', exc)}"
        )

    def _get(self, pk: str, sk: str) -> Item | None:
        with self._store_errors("GetItem"):
            response = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": _s(pk), "sk": _s(sk)},
                ConsistentRead=True,
            )
        return response.get("Item")

    def _query(
        self,
        key_condition: str,
        values: Mapping[str, AttributeValueTypeDef],
        *,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
    ) -> list[Item]:
        """Every item matching the key condition (up to ``limit``), following pagination.

        Base-table queries are strongly consistent; GSI queries cannot be.
        """
        names = {"#pk": "gsi1pk", "#sk": "gsi1sk"} if index else {"#pk": "pk", "#sk": "sk"}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeNames": {k: v for k, v in names.items() if k in key_condition},
            "ExpressionAttributeValues": dict(values),
            "ScanIndexForward": forward,
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        items: list[Item] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            with self._store_errors("Query"):
                page = self.client.query(**kwargs)
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            kwargs["ExclusiveStartKey"] = last

    def _query_prefix(
        self, pk: str, prefix: str, *, forward: bool = True, limit: int | None = None
    ) -> list[Item]:
        return self._query(
            "#pk = :pk AND begins_with(#sk, :prefix)",
            {":pk": _s(pk), ":prefix": _s(prefix)},
            forward=forward,
            limit=limit,
        )

    def _transact(self, items: list[TransactWriteItemTypeDef], token: str | None = None) -> None:
        kwargs: dict[str, Any] = {"TransactItems": items}
        if token is not None:
            kwargs["ClientRequestToken"] = token
        try:
            self.client.transact_write_items(**kwargs)
        except BotoCoreError as exc:
            raise StoreError(
                f"DynamoDB TransactWriteItems on table {self.table_name!r} failed: {exc}"
            ) from exc

    def _backoff(self, attempt: int) -> None:
        self._sleep(random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**attempt)))

    def _event_put(self, event: RegistryEvent) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": {
                    "pk": _s(model_pk(event.model)),
                    "sk": _s(event_sk(event)),
                    "kind": _s("event"),
                    "doc": _s(event.model_dump_json()),
                },
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }

    def _version_item(self, entity: ModelVersion, rev: int) -> Item:
        return {
            "pk": _s(model_pk(entity.model)),
            "sk": _s(version_sk(entity.version)),
            "kind": _s("version"),
            "version": _n(entity.version),
            "status": _s(entity.status.value),
            "gates_passed": {"BOOL": entity.gates_passed},
            "rev": _n(rev),
            "gsi1pk": _s(status_gsi_pk(entity.model, entity.status)),
            "gsi1sk": _s(f"{entity.version:010d}"),
            "doc": _s(entity.model_dump_json()),
        }

    def _missing(self, model: str, version: int) -> ModelNotFound | VersionNotFound:
        if self._get(model_pk(model), MODEL_SK) is None:
            return ModelNotFound(model)
        return VersionNotFound(model, version)

    def _read_version(self, model: str, version: int) -> tuple[ModelVersion, int]:
        """The version and its item revision (``rev``, the optimistic-lock counter)."""
        check_version_number(version)
        item = self._get(model_pk(model), version_sk(version))
        if item is None:
            raise self._missing(model, version)
        return _parse(ModelVersion, item), _int(item, "rev")

    # -- versions -----------------------------------------------------------------------

    def register_version(
        self,
        model: str,
        *,
        metrics: Mapping[str, float],
        lineage: Lineage,
        gates: Sequence[GateResult],
        created_by: str,
        status: VersionStatus | str = VersionStatus.REGISTERED,
        expected_latest: int | None = None,
    ) -> ModelVersion:
        request = Registration(
            model,
            metrics=metrics,
            lineage=lineage,
            gates=gates,
            created_by=created_by,
            status=status,
        )
        pk = model_pk(model)
        for attempt in range(self._max_attempts):
            replay = self._replay(model, request.job)
            if replay is not None:
                return replay
            counter = self._get(pk, MODEL_SK)
            latest = 0 if counter is None else _int(counter, "latest_version")
            if expected_latest is not None and latest != expected_latest:
                raise StaleRegistration(model, expected_latest, latest)
            number = latest + 1
            at = self._now()
            entity, event = request.build(number, at)
            if number == 1:
                counter_condition = "attribute_not_exists(pk)"
                counter_values: dict[str, AttributeValueTypeDef] = {}
            else:
                counter_condition = "#latest = :previous"
                counter_values = {":previous": _n(latest)}
            items: list[TransactWriteItemTypeDef] = [
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"pk": _s(pk), "sk": _s(MODEL_SK)},
                        "UpdateExpression": (
                            "SET #latest = :n, #model = :model, #g1pk = :models, "
                            "#g1sk = :model, #kind = :kind, #updated = :at, "
                            "#created = if_not_exists(#created, :at)"
                        ),
                        "ConditionExpression": counter_condition,
                        "ExpressionAttributeNames": {
                            "#latest": "latest_version",
                            "#model": "model",
                            "#g1pk": "gsi1pk",
                            "#g1sk": "gsi1sk",
                            "#kind": "kind",
                            "#updated": "updated_at",
                            "#created": "created_at",
                        },
                        "ExpressionAttributeValues": {
                            ":n": _n(number),
                            ":model": _s(model),
                            ":models": _s(MODELS_PK),
                            ":kind": _s("model"),
                            ":at": _s(at),
                            **counter_values,
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": self._version_item(entity, rev=1),
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": _s(pk),
                            "sk": _s(job_sk(request.job)),
                            "kind": _s("job"),
                            "version": _n(number),
                            "created_at": _s(at),
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
                self._event_put(event),
            ]
            # The token lets DynamoDB recognise an SDK-level resend of this very request
            # (e.g. after a timeout on a committed write). It includes the version number
            # because every retry of the loop below is a different request.
            token = hashlib.sha256(f"{model}\n{request.job}\n{number}".encode()).hexdigest()[:36]
            try:
                self._transact(items, token)
            except ClientError as exc:
                reasons = _cancellation_reasons(exc)
                if reasons and reasons[_REG_JOB] == _CONDITION_FAILED:
                    replay = self._replay(model, request.job)
                    if replay is not None:
                        return replay
                if not _is_contention(exc, reasons):
                    raise self._store_error(exc, "TransactWriteItems") from exc
                self._backoff(attempt)
                continue
            self._publish([event])
            return entity
        raise ConcurrencyConflict("register_version", model, self._max_attempts)

    def _replay(self, model: str, job: str) -> ModelVersion | None:
        item = self._get(model_pk(model), job_sk(job))
        if item is None:
            return None
        version, _ = self._read_version(model, _int(item, "version"))
        return version

    def get_version(self, model: str, version: int, *, consistent: bool = True) -> ModelVersion:
        check_version_number(version)
        with self._store_errors("GetItem"):
            response = self.client.get_item(
                TableName=self.table_name,
                Key={"pk": _s(model_pk(model)), "sk": _s(version_sk(version))},
                ConsistentRead=consistent,
            )
        item = response.get("Item")
        if item is None:
            raise self._missing(model, version)
        return _parse(ModelVersion, item)

    def list_versions(
        self,
        model: str,
        *,
        status: VersionStatus | str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> list[ModelVersion]:
        check_limit(limit)
        if status is None:
            items = self._query_prefix(
                model_pk(model), "VERSION#", forward=not newest_first, limit=limit
            )
        else:
            items = self._query(
                "#pk = :pk",
                {":pk": _s(status_gsi_pk(model, as_status(status)))},
                index=GSI,
                forward=not newest_first,
                limit=limit,
            )
        return [_parse(ModelVersion, item) for item in items]

    def latest_version(self, model: str) -> ModelVersion | None:
        items = self._query_prefix(model_pk(model), "VERSION#", forward=False, limit=1)
        return _parse(ModelVersion, items[0]) if items else None

    def transition(
        self,
        model: str,
        version: int,
        to_status: VersionStatus | str,
        *,
        by: str,
        reason: str,
        expected_status: VersionStatus | str | None = None,
    ) -> ModelVersion:
        target = as_status(to_status)
        expected = None if expected_status is None else as_status(expected_status)
        check_text("by", by)
        check_text("reason", reason)
        for attempt in range(self._max_attempts):
            current, rev = self._read_version(model, version)
            updated, event = plan_transition(
                current, target, by=by, reason=reason, expected_status=expected, at=self._now()
            )
            items: list[TransactWriteItemTypeDef] = [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": self._version_item(updated, rev=rev + 1),
                        # rev, not just status: a concurrent A->B->A round trip must not
                        # let this write replace the history it did not see.
                        "ConditionExpression": "#rev = :rev AND #status = :from",
                        "ExpressionAttributeNames": {"#rev": "rev", "#status": "status"},
                        "ExpressionAttributeValues": {
                            ":rev": _n(rev),
                            ":from": _s(current.status.value),
                        },
                    }
                },
                self._event_put(event),
            ]
            try:
                self._transact(items)
            except ClientError as exc:
                reasons = _cancellation_reasons(exc)
                if not _is_contention(exc, reasons):
                    raise self._store_error(exc, "TransactWriteItems") from exc
                if _CONFLICT in reasons or not reasons:
                    self._backoff(attempt)
                continue  # re-read: the plan decides between StaleStatus, Illegal.. or retry
            self._publish([event])
            return updated
        raise ConcurrencyConflict("transition", model, self._max_attempts)

    # -- aliases ------------------------------------------------------------------------

    def _read_alias(self, model: str, alias: AliasName) -> Alias | None:
        item = self._get(model_pk(model), alias_sk(alias))
        return None if item is None else _parse(Alias, item)

    def get_alias(self, model: str, alias: AliasName | str) -> Alias | None:
        return self._read_alias(model, as_alias(alias))

    def move_alias(
        self,
        model: str,
        alias: AliasName | str,
        *,
        to_version: int,
        expected_version: int | None,
        by: str,
        reason: str,
    ) -> Alias:
        name = as_alias(alias)
        check_text("by", by)
        check_text("reason", reason)
        if expected_version is not None:
            check_version_number(expected_version)
        pk = model_pk(model)
        eligible = sorted(s.value for s in ALIAS_ELIGIBLE[name])
        for attempt in range(self._max_attempts):
            target, _ = self._read_version(model, to_version)
            current = self._read_alias(model, name)
            moved, change, event = plan_alias_move(
                model=model,
                alias=name,
                current=current,
                target=target,
                expected_version=expected_version,
                by=by,
                reason=reason,
                at=self._now(),
            )
            alias_put: PutTypeDef = {
                "TableName": self.table_name,
                "Item": {
                    "pk": _s(pk),
                    "sk": _s(alias_sk(name)),
                    "kind": _s("alias"),
                    "version": _n(moved.version),
                    "revision": _n(moved.revision),
                    "doc": _s(moved.model_dump_json()),
                },
                "ConditionExpression": "attribute_not_exists(sk)",
            }
            if current is not None:
                # The revision as well as the version: if the alias moved away and back
                # since it was read, this write retries with the new revision.
                alias_put["ConditionExpression"] = "#version = :expected AND #revision = :rev"
                alias_put["ExpressionAttributeNames"] = {
                    "#version": "version",
                    "#revision": "revision",
                }
                alias_put["ExpressionAttributeValues"] = {
                    ":expected": _n(current.version),
                    ":rev": _n(current.revision),
                }
            status_values = {f":s{i}": _s(s) for i, s in enumerate(eligible)}
            items: list[TransactWriteItemTypeDef] = [
                {"Put": alias_put},
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "pk": _s(pk),
                            "sk": _s(alias_history_sk(name, change.revision)),
                            "kind": _s("alias_change"),
                            "doc": _s(change.model_dump_json()),
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
                {
                    # The target must still be eligible when the alias moves.
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": {"pk": _s(pk), "sk": _s(version_sk(to_version))},
                        "ConditionExpression": (
                            "attribute_exists(sk) AND #gates = :true AND "
                            f"#status IN ({', '.join(status_values)})"
                        ),
                        "ExpressionAttributeNames": {"#gates": "gates_passed", "#status": "status"},
                        "ExpressionAttributeValues": {":true": {"BOOL": True}, **status_values},
                    }
                },
                self._event_put(event),
            ]
            try:
                self._transact(items)
            except ClientError as exc:
                reasons = _cancellation_reasons(exc)
                if not _is_contention(exc, reasons):
                    raise self._store_error(exc, "TransactWriteItems") from exc
                if _CONFLICT in reasons or not reasons:
                    self._backoff(attempt)
                # Re-read: the plan raises StaleAlias (the alias moved elsewhere) or
                # NotEligible (the target changed status), or this retries (the alias moved
                # away and back, so only its revision changed).
                continue
            self._publish([event])
            return moved
        raise ConcurrencyConflict("move_alias", model, self._max_attempts)

    def alias_history(self, model: str, alias: AliasName | str) -> list[AliasChange]:
        name = as_alias(alias)
        items = self._query_prefix(model_pk(model), f"ALIASHIST#{name.value}#")
        return [_parse(AliasChange, item) for item in items]

    # -- events and models --------------------------------------------------------------

    def events(self, model: str, limit: int = 100) -> list[RegistryEvent]:
        check_limit(limit)
        items = self._query_prefix(model_pk(model), "EVENT#", forward=False, limit=limit)
        return [_parse(RegistryEvent, item) for item in items]

    def _store_event(self, event: RegistryEvent) -> None:
        self._transact([self._event_put(event)])

    def list_models(self) -> list[str]:
        items = self._query("#pk = :pk", {":pk": _s(MODELS_PK)}, index=GSI)
        return [item["gsi1sk"]["S"] for item in items]


def _cancellation_reasons(exc: ClientError) -> list[str]:
    """The per-item codes of a cancelled transaction ("None" for items that were fine)."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    raw: Any = exc.response.get("CancellationReasons") or []
    return [str(reason.get("Code") or "None") for reason in raw]


def _is_contention(exc: ClientError, reasons: list[str]) -> bool:
    """True when another writer got there first, so re-reading and retrying makes sense."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code in _RETRYABLE_ERRORS:
        return True
    if code != "TransactionCanceledException":
        return False
    if not reasons:
        return True  # cancelled without reasons: re-read and let the plan decide
    return all(r in ("None", _CONDITION_FAILED, _CONFLICT) for r in reasons)
