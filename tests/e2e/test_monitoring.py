"""Monitoring end to end on the local cloud (issue 13's acceptance).

v1 of demand is trained on good data and deployed. Then, checked by the deployed
monitoring state machine after each step:

* no traffic yet: insufficient data, nothing decided;
* unshifted traffic: no drift, nothing starts;
* shifted traffic (``sample --variant drifted``) with its late labels: drift in one
  check is not yet persistent (2 of the last 3 are needed); in the second it is, and
  exactly one retraining starts, on v1's data plus the labelled window, through the
  training pipeline (gated, canaried) to production with the trigger in its lineage;
* a check while that retraining runs (or within the cooldown) is recorded as suppressed;
* the same check delivered to RetrainPolicy again starts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelrail.deploy.client import wait_for
from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.local.traffic import replay
from modelrail.monitoring.client import CheckRun, history, start_check, upload_labels, wait_check
from modelrail.registry import AliasName
from modelrail.sample import sample_command
from tests.e2e.registry_waits import registry_of

pytestmark = pytest.mark.e2e
MODEL = "demand"


@dataclass
class Story:
    cloud: LocalCloud
    first: PipelineRun
    checks: dict[str, CheckRun]
    retraining: PipelineRun | None
    retrained_outcome: str | None
    redelivered: dict[str, object]


def _check(cloud: LocalCloud) -> CheckRun:
    cloud.hosting.flush_capture()
    sfn = cloud.client("stepfunctions")
    arn = start_check(
        MODEL,
        state_machine_arn=cloud.output("MonitoringStateMachineArn"),
        sfn=sfn,
        requested_by="e2e",
    )
    return wait_check(arn, sfn=sfn, timeout=300)


def _send(cloud: LocalCloud, path: Path, work: Path) -> None:
    """Traffic from a sample file, and its labels uploaded late (after the requests)."""
    sent = replay(cloud, MODEL, path)
    labels = work / f"{path.stem}-labels.csv"
    labels.write_bytes(sent.labels_csv())
    upload_labels(MODEL, labels, bucket=cloud.data_bucket, s3=cloud.client("s3"))


@pytest.fixture(scope="module")
def story(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    work = tmp_path_factory.mktemp("monitoring-data")
    v1 = sample_command(MODEL, 2000, 1, work / "v1.csv")
    good = sample_command(MODEL, 300, 7, work / "good.csv")
    shifted = [
        sample_command(MODEL, 300, seed, work / f"shifted-{seed}.csv", variant="drifted")
        for seed in (8, 9)
    ]
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("monitoring")) as cloud:
        sfn = cloud.client("stepfunctions")
        first = cloud.upload_and_wait(MODEL, v1)
        wait_for(cloud.deployment_arn_for(first.execution_arn), sfn=sfn, timeout=300)
        checks = {"empty": _check(cloud)}
        replay(cloud, MODEL, good)
        checks["unshifted"] = _check(cloud)
        _send(cloud, shifted[0], work)
        checks["shifted-1"] = _check(cloud)
        _send(cloud, shifted[1], work)
        checks["shifted-2"] = _check(cloud)
        checks["shifted-3"] = _check(cloud)  # while the retraining runs, or just after
        started = checks["shifted-2"].retrain
        retraining = outcome = None
        if started is not None and started.execution_arn:
            retraining = cloud.wait(started.execution_arn, timeout=600)
            deployed = wait_for(
                cloud.deployment_arn_for(started.execution_arn), sfn=sfn, timeout=300
            )
            outcome = deployed.outcome
        again = cloud.client("lambda").invoke(
            FunctionName=_function(cloud, "consider_retrain"),
            Payload=json.dumps({"check": checks["shifted-2"].to_json()["check"]}).encode(),
        )
        redelivered = json.loads(again["Payload"].read())
        yield Story(cloud, first, checks, retraining, outcome, redelivered)


def _function(cloud: LocalCloud, name: str) -> str:
    functions = cloud.client("lambda").list_functions()["Functions"]
    return next(
        f["FunctionName"]
        for f in functions
        if f.get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        == f"modelrail-{name.replace('_', '-')}"
    )


def test_without_traffic_a_check_says_so_and_decides_nothing(story: Story) -> None:
    run = story.checks["empty"]
    assert run.status == "SUCCEEDED", run.to_json()
    assert run.check is not None and run.check.status == "insufficient_data"
    assert run.check.rows == 0
    assert run.retrain is not None and run.retrain.action == "none"


def test_unshifted_traffic_triggers_nothing(story: Story) -> None:
    run = story.checks["unshifted"]
    assert run.check is not None and run.check.status == "ok", run.to_json()
    assert run.check.rows == 300
    assert run.retrain is not None and run.retrain.action == "none"


def test_one_drifted_window_is_not_yet_a_retraining(story: Story) -> None:
    run = story.checks["shifted-1"]
    assert run.check is not None and run.check.status == "drifted", run.to_json()
    assert "price" in run.check.drifted
    assert run.retrain is not None and run.retrain.action == "none", run.to_json()


def test_persistent_drift_starts_exactly_one_retraining_to_production(story: Story) -> None:
    run = story.checks["shifted-2"]
    assert run.check is not None and run.check.status == "drifted", run.to_json()
    assert run.retrain is not None and run.retrain.action == "start", run.to_json()
    assert run.retrain.execution_name is not None
    assert run.retrain.execution_name.startswith(f"retrain-{MODEL}-")
    assert story.retraining is not None and story.retraining.status == "SUCCEEDED", story.retraining
    assert story.retrained_outcome == "PRODUCTION"
    registry = registry_of(story.cloud)
    champion = registry.resolve_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None and champion.version == 2
    cause = champion.lineage.retrain
    assert cause is not None and cause.trigger == run.retrain.trigger
    assert cause.check == run.check.check_id and cause.champion == 1
    assert champion.created_by == "monitoring"
    # trained on v1's data followed by the labelled window
    assert champion.lineage.data.rows == 2000 + run.check.labelled_rows
    starts = [e for e in history(registry, MODEL) if e.type == "retraining.started"]
    assert len(starts) == 1


def test_a_trigger_inside_the_guard_is_recorded_as_suppressed(story: Story) -> None:
    run = story.checks["shifted-3"]
    assert run.retrain is not None and run.retrain.action == "suppressed", run.to_json()
    assert run.retrain.guard in ("in_flight", "cooldown")
    suppressed = [
        e for e in history(registry_of(story.cloud), MODEL) if e.type == "retraining.suppressed"
    ]
    assert suppressed and suppressed[0].detail["guard"] == run.retrain.guard


def test_the_same_check_delivered_again_starts_nothing(story: Story) -> None:
    assert story.redelivered.get("action") == "none", story.redelivered
    assert "already started" in str(story.redelivered.get("reason"))


def test_each_check_is_recorded_with_its_reports(story: Story) -> None:
    cloud = story.cloud
    checks = [e for e in history(registry_of(cloud), MODEL) if e.type == "monitoring.checked"]
    assert len(checks) == len(story.checks)
    run = story.checks["shifted-2"]
    assert run.check is not None and run.check.report_uri
    s3 = cloud.client("s3")
    bucket, prefix = run.check.report_uri[5:].split("/", 1)
    names = {
        o["Key"].rsplit("/", 1)[-1]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    assert {"drift.json", "statistics.json", "constraint_violations.json", "report.html"} <= names
    assert "labelled.csv" in names
