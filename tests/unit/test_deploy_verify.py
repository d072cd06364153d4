"""The deployment verdict over DescribeEndpoint results, as SageMaker reports them.

Each sequence is what successive DescribeEndpoint calls return during one deployment;
the last element is the settled state FinishDeployment judges. No element before it may
be judged a success.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelrail.deploy.verify import Verdict, verify

ENDPOINT = "modelrail-dev-demand"
OLD = "demand-v1-c-0123456789"
NEW = "demand-v2-c-abcdef0123"


def described(status: str, config: str, **extra: Any) -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": "2025-01-01T12:00:00Z",
        "LastModifiedTime": "2025-01-01T12:05:00Z",
        **extra,
    }


def pending(config: str) -> dict[str, Any]:
    return {"PendingDeploymentSummary": {"EndpointConfigName": config, "StartTime": "x"}}


CREATE = [described("Creating", NEW), described("Creating", NEW), described("InService", NEW)]
CANARY_OK = [
    described("Updating", OLD, **pending(NEW)),
    described("Updating", OLD, **pending(NEW)),
    described("InService", NEW),
]
# SageMaker's blue/green rollback is silent: back to InService on the old config, no
# FailureReason, no RollingBack status on the way.
SILENT_ROLLBACK = [
    described("Updating", OLD, **pending(NEW)),
    described("Updating", OLD, **pending(NEW)),
    described("InService", OLD, FailureReason=""),
]
ROLLBACK_FAILED = [
    described("Updating", OLD, **pending(NEW)),
    described("RollingBack", OLD),
    described("UpdateRollbackFailed", OLD, FailureReason="Failed to roll back: capacity"),
]
CREATE_FAILED = [
    described("Creating", NEW),
    described(
        "Failed",
        NEW,
        FailureReason="The primary container for production variant live did not pass the ping health check.",
    ),
]


@pytest.mark.parametrize(
    ("sequence", "final", "words"),
    [
        (CREATE, Verdict.SUCCEEDED, ["InService on", NEW]),
        (CANARY_OK, Verdict.SUCCEEDED, ["InService on", NEW]),
        (SILENT_ROLLBACK, Verdict.ROLLED_BACK, [OLD, NEW, "rolled back"]),
        (ROLLBACK_FAILED, Verdict.FAILED, ["UpdateRollbackFailed", "capacity"]),
        (CREATE_FAILED, Verdict.FAILED, ["Failed", "ping health check"]),
    ],
    ids=["create", "canary-ok", "silent-rollback", "rollback-failed", "create-failed"],
)
def test_a_recorded_sequence_settles_on_the_right_verdict(
    sequence: list[dict[str, Any]], final: Verdict, words: list[str]
) -> None:
    verdicts = [verify(state, NEW) for state in sequence]
    assert verdicts[-1].verdict is final
    for word in words:
        assert word in verdicts[-1].explanation
    assert all(v.verdict is Verdict.IN_PROGRESS for v in verdicts[:-1])
    assert Verdict.SUCCEEDED not in [v.verdict for v in verdicts[:-1]]


def test_in_service_on_another_config_is_never_a_success() -> None:
    for config in (OLD, "demand-v2-c-ffffffffff", ""):
        result = verify(described("InService", config), NEW)
        assert result.verdict is Verdict.ROLLED_BACK
    assert verify({"EndpointStatus": "InService"}, NEW).verdict is Verdict.ROLLED_BACK


@pytest.mark.parametrize("status", ["UpdateRollbackFailed", "Failed", "OutOfService", "Deleting"])
def test_broken_statuses_fail_even_on_the_requested_config(status: str) -> None:
    result = verify(described(status, NEW), NEW)
    assert result.verdict is Verdict.FAILED
    assert status in result.explanation


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack"])
def test_settling_statuses_are_in_progress(status: str) -> None:
    assert verify(described(status, NEW), NEW).verdict is Verdict.IN_PROGRESS


def test_an_unknown_status_fails_and_names_it() -> None:
    result = verify(described("Exploding", NEW), NEW)
    assert result.verdict is Verdict.FAILED
    assert "'Exploding'" in result.explanation


def test_the_failure_reason_is_in_the_explanation_and_the_live_config_reported() -> None:
    result = verify(described("Failed", NEW, FailureReason="image not found"), NEW)
    assert result.explanation == f"{ENDPOINT} is Failed: image not found"
    assert result.live_config == NEW
