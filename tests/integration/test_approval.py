"""The approval step's pieces against moto S3 and a stubbed Step Functions client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.layout import approval_key
from modelrail.registry import (
    DataRef,
    GateResult,
    IllegalTransition,
    InMemoryRegistry,
    Lineage,
    StaleStatus,
    VersionStatus,
)
from modelrail.steps.approval import (
    ApprovalEvent,
    answer_approval,
    close_approval,
    request_approval,
)

BUCKET = "modelrail-test-artifacts"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:modelrail-prod-training:demand-abc"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def registry() -> InMemoryRegistry:
    store = InMemoryRegistry()
    store.register_version(
        "demand",
        metrics={"rmse": 18.0},
        lineage=Lineage(
            data=DataRef(
                bucket="bkt", key="incoming/demand/a.csv", sha256="b" * 64, rows=10, size_bytes=100
            ),
            code_version="c",
            training_image="img",
            training_job_name="demand-abc",
            model_artifact_uri="s3://x/model.tar.gz",
        ),
        gates=[GateResult(name="quality", passed=True)],
        created_by="test",
    )
    return store


class _Sfn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, **kwargs: Any) -> None:
        self.calls.append(("success", kwargs))

    def send_task_failure(self, **kwargs: Any) -> None:
        self.calls.append(("failure", kwargs))


def _event(action: str, **extra: Any) -> ApprovalEvent:
    return ApprovalEvent.model_validate(
        {"action": action, "model": "demand", "version": 1, "execution": EXECUTION, **extra}
    )


def test_request_parks_the_version_and_stores_the_token(
    s3: Any, registry: InMemoryRegistry
) -> None:
    request_approval(_event("request", taskToken="tok-1"), registry=registry, s3=s3, bucket=BUCKET)
    assert registry.get_version("demand", 1).status is VersionStatus.PENDING_APPROVAL
    record = json.loads(s3.get_object(Bucket=BUCKET, Key=approval_key("demand", 1))["Body"].read())
    assert record["taskToken"] == "tok-1" and record["execution"] == EXECUTION


def test_the_token_is_stored_before_anyone_can_see_the_version_waiting(
    s3: Any, registry: InMemoryRegistry
) -> None:
    """A reviewer who approves the moment the version is PENDING_APPROVAL finds the token
    (stored after the move, such an approval answered nothing and the run waited on)."""
    seen: list[bool] = []
    transition = registry.transition

    def observing(*args: Any, **kwargs: Any) -> Any:
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=approval_key("demand", 1))
        seen.append(listed.get("KeyCount", 0) == 1)
        return transition(*args, **kwargs)

    registry.transition = observing  # type: ignore[method-assign]
    request_approval(_event("request", taskToken="tok-1"), registry=registry, s3=s3, bucket=BUCKET)
    assert seen == [True]


def test_a_request_without_a_token_is_refused(s3: Any, registry: InMemoryRegistry) -> None:
    with pytest.raises(ValueError, match=r"needs the task token"):
        request_approval(_event("request"), registry=registry, s3=s3, bucket=BUCKET)
    assert registry.get_version("demand", 1).status is VersionStatus.REGISTERED


def test_a_repeated_request_does_not_move_the_version_twice(
    s3: Any, registry: InMemoryRegistry
) -> None:
    request_approval(_event("request", taskToken="tok-1"), registry=registry, s3=s3, bucket=BUCKET)
    with pytest.raises((StaleStatus, IllegalTransition)):
        request_approval(
            _event("request", taskToken="tok-2"), registry=registry, s3=s3, bucket=BUCKET
        )


def test_approve_answers_the_token_and_clears_the_record(
    s3: Any, registry: InMemoryRegistry
) -> None:
    request_approval(_event("request", taskToken="tok-1"), registry=registry, s3=s3, bucket=BUCKET)
    sfn = _Sfn()
    execution = answer_approval(
        "demand", 1, approved=True, by="ana", reason="ok", s3=s3, sfn=sfn, bucket=BUCKET
    )  # type: ignore[arg-type]
    assert execution == EXECUTION
    assert sfn.calls == [
        (
            "success",
            {"taskToken": "tok-1", "output": json.dumps({"approvedBy": "ana", "reason": "ok"})},
        )
    ]
    assert (
        answer_approval(
            "demand", 1, approved=True, by="ana", reason="ok", s3=s3, sfn=sfn, bucket=BUCKET
        )
        is None
    )  # type: ignore[arg-type]


def test_reject_fails_the_token_with_a_named_error(s3: Any, registry: InMemoryRegistry) -> None:
    request_approval(_event("request", taskToken="tok-9"), registry=registry, s3=s3, bucket=BUCKET)
    sfn = _Sfn()
    answer_approval(
        "demand", 1, approved=False, by="bo", reason="too risky", s3=s3, sfn=sfn, bucket=BUCKET
    )  # type: ignore[arg-type]
    assert sfn.calls == [
        ("failure", {"taskToken": "tok-9", "error": "ApprovalRejected", "cause": "bo: too risky"})
    ]


def test_close_after_a_timeout_rejects_a_waiting_version(
    s3: Any, registry: InMemoryRegistry
) -> None:
    request_approval(_event("request", taskToken="tok-1"), registry=registry, s3=s3, bucket=BUCKET)
    status = close_approval(
        _event("close", error={"Error": "States.Timeout", "Cause": ""}), registry=registry
    )
    assert status == "rejected"
    version = registry.get_version("demand", 1)
    assert (
        version.status is VersionStatus.REJECTED
        and version.status_history[-1].reason == "approval timed out"
    )


def test_close_leaves_an_already_decided_version_alone(s3: Any, registry: InMemoryRegistry) -> None:
    request_approval(_event("request", taskToken="tok-1"), registry=registry, s3=s3, bucket=BUCKET)
    registry.transition("demand", 1, VersionStatus.REJECTED, by="bo", reason="no")
    assert (
        close_approval(_event("close", error={"Error": "ApprovalRejected"}), registry=registry)
        == "rejected"
    )
    assert registry.get_version("demand", 1).status_history[-1].by == "bo"
