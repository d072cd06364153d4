"""RetrainPolicy's side effects on moto: the retraining dataset (the champion's snapshot,
joined in memory or server-side by UploadPartCopy, then the labelled window in the
snapshot's column order), the start through the training pipeline with its deterministic
name, and the registry events it records (started, suppressed, a repeat that starts nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.contract import load_contract
from modelrail.monitoring.ledger import InMemoryRetrainLedger
from modelrail.monitoring.models import CheckOutput
from modelrail.monitoring.retraining import (
    PART,
    RetrainContext,
    RetrainDataError,
    build_dataset,
    run_retrain,
)
from modelrail.registry import AliasName, DataRef, InMemoryRegistry, VersionStatus
from modelrail.registry.aliases import promote
from tests.conftest_registry import REGION, gates, lineage

MODEL = "demand"
DATA, ARTIFACTS = "modelrail-dev-data", "modelrail-dev-artifacts"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:modelrail-dev-training"
HEADER = "store_id,product_category,price,promotion,day_of_week,month,temperature,holiday,competitor_price,units_sold\n"
WINDOW = (
    # the check's column order: features, then the target
    "store_id,product_category,price,promotion,day_of_week,month,temperature,holiday,competitor_price,units_sold\n"
    "S01,toys,99.5,true,1,7,30.5,false,,12\n"
    "S02,home,12.0,false,3,8,29.0,true,11.5,40\n"
)


class FakeSfn:
    """start_execution / describe_execution of the training machine, recorded."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.status = "RUNNING"

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        from botocore.exceptions import ClientError

        if name in self.started:
            raise ClientError(
                {"Error": {"Code": "ExecutionAlreadyExists", "Message": name}}, "StartExecution"
            )
        self.started[name] = json.loads(input)
        return {
            "executionArn": f"{stateMachineArn.replace(':stateMachine:', ':execution:')}:{name}"
        }

    def describe_execution(self, *, executionArn: str) -> dict[str, str]:
        from botocore.exceptions import ClientError

        if executionArn.rsplit(":", 1)[-1] not in self.started:
            raise ClientError(
                {"Error": {"Code": "ExecutionDoesNotExist", "Message": executionArn}},
                "DescribeExecution",
            )
        return {"status": self.status}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (DATA, ARTIFACTS):
            client.create_bucket(Bucket=bucket)
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        yield client


def _champion(registry: InMemoryRegistry, s3: Any, snapshot: bytes) -> None:
    key = "datasets/demand/abc/data/train.csv"
    version = s3.put_object(Bucket=ARTIFACTS, Key=key, Body=snapshot)["VersionId"]
    data = DataRef(
        bucket=ARTIFACTS, key=key, version_id=version, sha256="b" * 64, rows=2,
        size_bytes=len(snapshot),
    )  # fmt: skip
    registry.register_version(
        MODEL, metrics={"rmse": 20.0}, lineage=lineage("train-demand-1", data=data),
        gates=gates(True), created_by="pipeline",
    )  # fmt: skip
    registry.transition(MODEL, 1, VersionStatus.APPROVED, by="t", reason="ok")
    promote(registry, MODEL, 1, by="t", reason="ok", expected=None)


def _check(
    s3: Any, ident: str, *, status: str = "drifted", window: str | None = WINDOW
) -> CheckOutput:
    uri = None
    if window is not None:
        key = f"monitoring/demand/{ident}/labelled.csv"
        s3.put_object(Bucket=ARTIFACTS, Key=key, Body=window.encode())
        uri = f"s3://{ARTIFACTS}/{key}"
    return CheckOutput(
        check_id=ident, model=MODEL, status=status, champion=1,  # type: ignore[arg-type]
        window_end=NOW, rows=400, drift_share=0.6, labelled_rows=2, labelled_uri=uri,
    )  # fmt: skip


def _ctx(
    registry: InMemoryRegistry,
    s3: Any,
    sfn: FakeSfn,
    ledger: InMemoryRetrainLedger,
    now: datetime = NOW,
) -> RetrainContext:
    return RetrainContext(
        contract=load_contract(MODEL), registry=registry, ledger=ledger, s3=s3, sfn=sfn,  # type: ignore[arg-type]
        data_bucket=DATA, state_machine_arn=MACHINE, environment="dev", now=now,
    )  # fmt: skip


def _object(s3: Any, uri: str) -> bytes:
    bucket, key = uri[5:].split("/", 1)
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_a_small_snapshot_is_followed_by_the_window_in_its_own_column_order(s3: Any) -> None:
    registry = InMemoryRegistry()
    # the snapshot's columns in another order than the check's
    snapshot = (
        "units_sold,store_id,product_category,price,promotion,day_of_week,month,temperature,holiday,competitor_price\n"
        "10,S03,grocery,3.5,false,2,6,21.0,false,3.6"  # no final newline
    )
    _champion(registry, s3, snapshot.encode())
    ctx = _ctx(registry, s3, FakeSfn(), InMemoryRetrainLedger())
    champion = registry.resolve_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None
    build_dataset(_check(s3, "c1"), champion, ctx, "retraining/demand/x/data.csv")
    lines = (
        s3.get_object(Bucket=DATA, Key="retraining/demand/x/data.csv")["Body"]
        .read()
        .decode()
        .splitlines()
    )
    assert lines[:2] == snapshot.splitlines()
    assert lines[2:] == [
        "12,S01,toys,99.5,true,1,7,30.5,false,",
        "40,S02,home,12.0,false,3,8,29.0,true,11.5",
    ]


def test_a_large_snapshot_is_joined_server_side(s3: Any) -> None:
    registry = InMemoryRegistry()
    row = "S03,grocery,3.5,false,2,6,21.0,false,3.6,10\n"
    snapshot = (HEADER + row * (PART // len(row) + 10)).encode()
    assert len(snapshot) >= PART
    _champion(registry, s3, snapshot)
    ctx = _ctx(registry, s3, FakeSfn(), InMemoryRetrainLedger())
    champion = registry.resolve_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None
    build_dataset(_check(s3, "c1"), champion, ctx, "retraining/demand/y/data.csv")
    body = s3.get_object(Bucket=DATA, Key="retraining/demand/y/data.csv")["Body"].read()
    assert body == snapshot + WINDOW.split("\n", 1)[1].encode()


def test_a_window_with_a_column_the_snapshot_lacks_is_refused(s3: Any) -> None:
    registry = InMemoryRegistry()
    _champion(registry, s3, (HEADER + "S03,grocery,3.5,false,2,6,21.0,false,3.6,10\n").encode())
    ctx = _ctx(registry, s3, FakeSfn(), InMemoryRetrainLedger())
    champion = registry.resolve_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None
    odd = "store_id,weather,units_sold\nS01,sunny,3\n"
    with pytest.raises(RetrainDataError, match="no column weather"):
        build_dataset(_check(s3, "c1", window=odd), champion, ctx, "retraining/demand/z/data.csv")


def test_persistent_drift_starts_once_then_suppresses_and_a_repeat_starts_nothing(s3: Any) -> None:
    registry = InMemoryRegistry()
    _champion(registry, s3, (HEADER + "S03,grocery,3.5,false,2,6,21.0,false,3.6,10\n").encode())
    sfn, ledger = FakeSfn(), InMemoryRetrainLedger()
    # the first drifted check is recorded (as CheckDrift does); one window is not persistent
    first = _check(s3, "c1")
    registry.record(MODEL, 1, "monitoring.checked", first.model_dump(mode="json", by_alias=True))
    out, points = run_retrain(first, _ctx(registry, s3, sfn, ledger))
    assert out.action == "none" and not sfn.started and not points
    second = _check(s3, "c2").model_copy(update={"window_end": NOW + timedelta(hours=1)})
    registry.record(MODEL, 1, "monitoring.checked", second.model_dump(mode="json", by_alias=True))
    later = NOW + timedelta(hours=1)
    out, points = run_retrain(second, _ctx(registry, s3, sfn, ledger, later))
    assert out.action == "start" and out.trigger == "drift", out
    assert list(sfn.started) == [out.execution_name]
    run = sfn.started[out.execution_name]  # type: ignore[index]
    assert run["requestedBy"] == "monitoring" and run["retrain"]["check"] == "c2"
    assert (
        run["bucket"] == DATA and run["key"] == f"retraining/demand/{out.execution_name}/data.csv"
    )
    assert _object(s3, out.dataset_uri or "").count(b"\n") == 4  # header, snapshot row, 2 labelled
    assert [p.spec.name for p in points] == ["RetrainDecisions"]
    # the same check again: already started, nothing new
    again, _ = run_retrain(second, _ctx(registry, s3, sfn, ledger, later))
    assert again.action == "none" and "already started" in again.reason
    # a third drifted window while the retraining runs: suppressed, recorded
    third = _check(s3, "c3").model_copy(update={"window_end": NOW + timedelta(hours=2)})
    registry.record(MODEL, 1, "monitoring.checked", third.model_dump(mode="json", by_alias=True))
    out3, _ = run_retrain(third, _ctx(registry, s3, sfn, ledger, NOW + timedelta(hours=2)))
    assert out3.action == "suppressed" and out3.guard == "in_flight"
    # ... and once it ended, still inside the cooldown
    sfn.status = "SUCCEEDED"
    out4, _ = run_retrain(third, _ctx(registry, s3, sfn, ledger, NOW + timedelta(hours=3)))
    assert out4.action == "suppressed" and out4.guard == "cooldown"
    kinds = [e.type for e in registry.monitoring_events(MODEL)]
    assert kinds.count("retraining.started") == 1
    assert kinds.count("retraining.suppressed") == 2
    assert len(sfn.started) == 1


def test_only_monitoring_events_may_be_recorded_and_only_on_a_version(s3: Any) -> None:
    from modelrail.registry import InvalidRequest, VersionNotFound

    registry = InMemoryRegistry()
    _champion(registry, s3, HEADER.encode())
    with pytest.raises(InvalidRequest, match="not a monitoring event"):
        registry.record(MODEL, 1, "alias.moved", {})  # type: ignore[arg-type]
    with pytest.raises(VersionNotFound):
        registry.record(MODEL, 7, "monitoring.checked", {})


def test_monitoring_events_round_trip_through_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelrail.registry import DynamoDBRegistry
    from tests.conftest_registry import TABLE, create_registry_table

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        ticks = iter(NOW + timedelta(seconds=s) for s in range(60))
        registry = DynamoDBRegistry(TABLE, client=client, clock=lambda: next(ticks))
        registry.register_version(
            MODEL, metrics={"rmse": 20.0}, lineage=lineage("train-demand-1"),
            gates=gates(True), created_by="pipeline",
        )  # fmt: skip
        registry.record(MODEL, 1, "monitoring.checked", {"checkId": "c1", "status": "ok"})
        registry.record(MODEL, 1, "retraining.suppressed", {"guard": "cooldown"})
        events = registry.monitoring_events(MODEL)
        assert [e.type for e in events] == ["retraining.suppressed", "monitoring.checked"]
        assert events[1].detail == {"checkId": "c1", "status": "ok"} and events[1].version == 1
        # the version's own events are still there, and not monitoring's
        assert [e.type for e in registry.events(MODEL)][-1] == "model_version.created"
