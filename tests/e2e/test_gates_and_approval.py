"""Champion vs challenger on the same holdout, rejected versions kept, manual approval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelrail.cli.registry import main as registry_main
from modelrail.deploy.client import wait_for
from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.registry import AliasName, DynamoDBRegistry, VersionStatus
from modelrail.sample import sample_command
from tests.e2e.registry_waits import wait_for_status

pytestmark = pytest.mark.e2e
MODEL = "demand"


def _registry(cloud: LocalCloud) -> DynamoDBRegistry:
    return DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))


def _crown(cloud: LocalCloud, run: PipelineRun, version: int) -> None:
    """dev deploys every registered version: wait until it is the champion."""
    deployed = wait_for(
        cloud.deployment_arn_for(run.execution_arn), sfn=cloud.client("stepfunctions"), timeout=300
    )
    assert deployed.outcome == "PRODUCTION", deployed.to_json()
    assert _registry(cloud).get_alias(MODEL, AliasName.CHAMPION).version == version  # type: ignore[union-attr]


def _evaluation(cloud: LocalCloud, run: PipelineRun) -> dict[str, object]:
    s3 = cloud.client("s3")
    uri = run.output["gate"]["evaluationUri"] if run.output else None
    if uri is None:  # a failed run has no output: read the job's archive directly
        job = run.execution_arn.rsplit(":", 1)[-1]
        described = cloud.client("sagemaker").describe_training_job(TrainingJobName=job)
        uri = described["ModelArtifacts"]["S3ModelArtifacts"].replace(
            "model.tar.gz", "output.tar.gz"
        )
    from modelrail.steps.gate import read_evaluation

    return read_evaluation(uri, s3=s3)


@pytest.fixture(scope="module")
def dev(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalCloud, Path]]:
    data = tmp_path_factory.mktemp("champion-data")
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("champion-cloud")) as cloud:
        yield cloud, data


def test_champion_vs_challenger_on_the_same_holdout(dev: tuple[LocalCloud, Path]) -> None:
    cloud, data = dev
    small = cloud.upload_and_wait(MODEL, sample_command(MODEL, 300, 1, data / "small.csv"))
    assert small.status == "SUCCEEDED", small.message
    _crown(cloud, small, 1)

    # More data from the same process: a better model, judged against v1 on its own holdout.
    big = cloud.upload_and_wait(MODEL, sample_command(MODEL, 3000, 2, data / "big.csv"))
    assert big.status == "SUCCEEDED", big.message
    evaluation = _evaluation(cloud, big)
    champion = evaluation["champion"]
    assert isinstance(champion, dict) and champion["version"] == 1
    assert champion["metrics"]["rmse"] > evaluation["metrics"]["rmse"]  # type: ignore[index,operator]
    v2 = _registry(cloud).get_version(MODEL, 2)
    assert v2.status_history[0].to_status is VersionStatus.REGISTERED
    assert v2.lineage.champion_at_training == 1
    assert v2.lineage.baseline_profile_uri and v2.lineage.baseline_profile_uri.endswith(
        "/profile.json"
    )
    _crown(cloud, big, 2)

    # Too little data: worse than the champion on the same rows -> rejected, and kept.
    weak = cloud.upload_and_wait(MODEL, sample_command(MODEL, 220, 3, data / "weak.csv"))
    assert weak.status == "FAILED" and weak.failed_state == "QualityGate"
    assert weak.error == "QualityGateRejected"
    assert weak.message is not None and "no significant improvement: rmse" in weak.message
    assert "paired holdout rows (1000 resamples)" in weak.message
    v3 = _registry(cloud).get_version(MODEL, 3)
    assert v3.status is VersionStatus.REJECTED
    quality = next(g for g in v3.gates if g.name == "quality")
    assert not quality.passed and any("champion" in r for r in quality.reasons)
    assert quality.comparison is not None and not quality.comparison.significant
    assert quality.comparison.upper < 0  # significantly worse, on the challenger's 44 rows
    # v2's interval cleared the margin; the registry keeps the evidence.
    kept = next(g for g in v2.gates if g.name == "quality").comparison
    assert kept is not None and kept.significant and kept.lower > 0 and kept.rows == 600
    assert _registry(cloud).get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]


def test_the_baseline_profile_is_stored_beside_the_snapshot(dev: tuple[LocalCloud, Path]) -> None:
    cloud, _ = dev
    version = _registry(cloud).get_version(MODEL, 1)
    uri = version.lineage.baseline_profile_uri
    assert uri is not None
    bucket, key = uri[5:].split("/", 1)
    s3 = cloud.client("s3")
    profile = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert profile["rows"] == 300 and set(profile["features"]) >= {"price", "store_id"}
    folder = key.rsplit("/", 1)[0]
    statistics = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{folder}/statistics.json")["Body"].read()
    )
    assert statistics["dataset"]["item_count"] == 300


def test_the_drift_baseline_is_in_the_training_output(dev: tuple[LocalCloud, Path]) -> None:
    """The monitoring check reads the champion's drift baseline from its output.tar.gz."""
    from modelrail.drift import DriftBaseline, NumericReference
    from modelrail.drift_summary import BASELINE_FILE
    from modelrail.steps.gate import output_archive_uri, read_output_file

    cloud, _ = dev
    version = _registry(cloud).get_version(MODEL, 1)
    uri = output_archive_uri(version.lineage.model_artifact_uri)
    body = read_output_file(uri, BASELINE_FILE, s3=cloud.client("s3"))
    assert body is not None, f"{uri} has no {BASELINE_FILE}"
    baseline = DriftBaseline.from_json(body)
    assert set(baseline.features) >= {"price", "store_id", "promotion"}
    assert baseline.features["price"].rows == 60  # the holdout of the 300 rows
    assert isinstance(baseline.prediction, NumericReference) and baseline.prediction.n == 60


# ---- manual approval (prod configuration) -------------------------------------------------


@pytest.fixture(scope="module")
def prod(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalCloud, Path]]:
    data = tmp_path_factory.mktemp("approval-data")
    with LocalCloud(
        environment="prod", assembly=assembly, work_dir=tmp_path_factory.mktemp("prod-cloud")
    ) as cloud:
        yield cloud, data


def test_prod_waits_for_approval_and_approve_resumes_it(
    prod: tuple[LocalCloud, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, data = prod
    monkeypatch.setenv("MODELRAIL_ACTOR", "reviewer")
    key, version_id = cloud.upload(MODEL, sample_command(MODEL, 1500, 4, data / "one.csv"))
    arn = cloud.execution_arn_for(key, version_id)
    wait_for_status(cloud, MODEL, 1, VersionStatus.PENDING_APPROVAL, timeout=120)
    sfn = cloud.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert (
        registry_main(
            ["registry", "approve", MODEL, "1", "--reason", "looks right", "--env", "prod"]
        )
        == 0
    )
    run = cloud.wait(arn, timeout=60)
    assert run.status == "SUCCEEDED"
    version = _registry(cloud).get_version(MODEL, 1)
    statuses = [c.to_status for c in version.status_history]
    assert statuses[:3] == [
        VersionStatus.REGISTERED,
        VersionStatus.PENDING_APPROVAL,
        VersionStatus.APPROVED,
    ]
    assert version.status_history[2].by == "reviewer"
    # approved, so the pipeline started its deployment to prod
    deployed = wait_for(cloud.deployment_arn_for(arn), sfn=sfn, timeout=300)
    assert deployed.outcome == "PRODUCTION", deployed.to_json()


def test_reject_stops_the_waiting_run(
    prod: tuple[LocalCloud, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, data = prod
    monkeypatch.setenv("MODELRAIL_ACTOR", "reviewer")
    # v1 is the prod champion now: v2 has more data, so it passes the champion gates and
    # waits for a reviewer
    key, version_id = cloud.upload(MODEL, sample_command(MODEL, 4000, 11, data / "two.csv"))
    arn = cloud.execution_arn_for(key, version_id)
    wait_for_status(cloud, MODEL, 2, VersionStatus.PENDING_APPROVAL, timeout=120)
    assert (
        registry_main(
            ["registry", "reject", MODEL, "2", "--reason", "not this week", "--env", "prod"]
        )
        == 0
    )
    run = cloud.wait(arn, timeout=60)
    assert run.status == "FAILED" and run.failed_state == "RequestApproval"
    assert run.error == "ApprovalRejected"
    assert _registry(cloud).get_version(MODEL, 2).status is VersionStatus.REJECTED


# ---- an approval nobody answers (prod configuration) --------------------------------------


def test_an_unanswered_approval_rejects_the_version_and_fails_the_run(
    prod: tuple[LocalCloud, Path],
) -> None:
    """D20: when the approval's wait runs out, CloseApproval leaves the version REJECTED and
    the run fails with a notification. The execution's own limit must outlast that wait,
    or the run ends TIMED_OUT first and nothing closes the approval.

    The run reaches the approval at the normal clock speed (the training job and the
    Lambdas take real time); only the wait for a reviewer is fast-forwarded."""
    cloud, data = prod
    sfn = cloud.client("stepfunctions")
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=cloud.state_machine_arn)["definition"]
    )
    approval_seconds = definition["States"]["RequestApproval"]["TimeoutSeconds"]
    # churn has no prod champion (the tests above use demand): the version passes its gates
    # on its own merits (tests/e2e/test_search.py) and waits for a reviewer
    model = "churn"
    latest = _registry(cloud).latest_version(model)
    number = (latest.version if latest else 0) + 1
    key, version_id = cloud.upload(model, sample_command(model, 1500, 5, data / "subs.csv"))
    arn = cloud.execution_arn_for(key, version_id)
    try:
        wait_for_status(cloud, model, number, VersionStatus.PENDING_APPROVAL, timeout=120)
    except AssertionError as exc:
        try:
            found = sfn.describe_execution(executionArn=arn)
            where = f"{found['status']} {found.get('error')}: {str(found.get('cause'))[:500]}"
        except sfn.exceptions.ExecutionDoesNotExist:
            where = "not started"
        pytest.fail(f"the run never waited for approval ({where}): {exc}")
    cloud.clock.fast_forward(approval_seconds, within=5.0)  # nobody answers: 72 h in 5 s
    run = cloud.wait(arn, timeout=60)
    version = _registry(cloud).get_version(model, number)
    assert run.status == "FAILED", (
        f"the run ended {run.status} (the execution's limit is {definition['TimeoutSeconds']} s,"
        f" the approval's {approval_seconds} s); v{number} is {version.status.value}"
    )
    assert run.failed_state == "RequestApproval" and run.error == "States.Timeout"
    assert version.status is VersionStatus.REJECTED
    closed = version.status_history[-1]
    assert (closed.by, closed.reason) == ("pipeline", "approval timed out")
    failures = [n for n in cloud.notifications() if n.get("execution") == arn]
    assert [(n["event"], n["failedState"], n["error"]) for n in failures] == [
        ("pipeline.failed", "RequestApproval", "States.Timeout")
    ]
