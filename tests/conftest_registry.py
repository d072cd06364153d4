"""Shared helpers for the registry tests (imported as ``tests.conftest_registry``).

The real table is created by the CDK stack; ``create_registry_table`` mirrors its schema
for tests on moto: ``pk``/``sk`` strings plus the ``gsi1`` index (``gsi1pk``/``gsi1sk``,
projection ALL).
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from modelrail.registry import DataRef, GateResult, Lineage

REGION = "us-east-1"
TABLE = "modelrail-registry"
ALLOWED_OPERATIONS = frozenset({"GetItem", "Query", "TransactWriteItems"})


def create_registry_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "gsi1pk", "AttributeType": "S"},
            {"AttributeName": "gsi1sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


class ScanForbidden(AssertionError):
    pass


def guard_operations(client: Any) -> list[str]:
    """Make any Scan on ``client`` fail loudly; return the (live) list of operations called."""
    calls: list[str] = []
    lock = threading.Lock()

    def record(model: Any, **_: Any) -> None:
        with lock:
            calls.append(model.name)

    def forbid(**_: Any) -> None:
        raise ScanForbidden("the registry must never Scan: every read is GetItem or Query")

    client.meta.events.register("before-call.dynamodb", record)
    client.meta.events.register("before-call.dynamodb.Scan", forbid)
    return calls


def partition_items(client: Any, model: str, table: str = TABLE) -> list[dict[str, Any]]:
    """Every raw item in a model's partition (a Query, so the tests never Scan either)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"MODEL#{model}"}},
        "ConsistentRead": True,
    }
    while True:
        page = client.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class TickClock:
    """A clock that moves 1 ms per reading, so timestamps are distinct and ordered."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2025, 1, 1, tzinfo=UTC)
        self._ticks = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._start + timedelta(milliseconds=next(self._ticks))


def lineage(job: str = "train-demand-1", **overrides: Any) -> Lineage:
    fields: dict[str, Any] = {
        "data": DataRef(
            bucket="modelrail-data",
            key="datasets/demand/2025-01-01.csv",
            version_id="v1",
            sha256="a" * 64,
            rows=1000,
            size_bytes=12345,
        ),
        "baseline_profile_uri": "s3://modelrail-data/profiles/demand.json",
        "code_version": "c0de",
        "git_commit": None,
        "training_image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.4-2",
        "hyperparameters": {"max_depth": "6"},
        "seed": 42,
        "training_job_name": job,
        "training_job_arn": None,
        "pipeline_execution_arn": None,
        "champion_at_training": None,
        "model_artifact_uri": f"s3://modelrail-artifacts/{job}/model.tar.gz",
    }
    fields.update(overrides)
    return Lineage(**fields)


def gates(passed: bool = True) -> list[GateResult]:
    return [
        GateResult(name="schema", passed=True),
        GateResult(name="rmse", passed=passed, reasons=[] if passed else ["rmse 31.2 > 25"]),
    ]
