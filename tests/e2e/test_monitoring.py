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
* the same check delivered to RetrainPolicy again starts nothing;
* a day of local time later the schedule starts the check itself.

The performance trigger has its own cloud: tests/e2e/test_monitoring_decay.py.
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
from modelrail.monitoring.client import CheckRun, history, upload_labels
from modelrail.registry import AliasName
from modelrail.sample import sample_command
from tests.e2e.monitoring_helpers import MODEL, check, scheduled_check, set_schedules
from tests.e2e.registry_waits import registry_of

pytestmark = pytest.mark.e2e


@dataclass
class Story:
    cloud: LocalCloud
    first: PipelineRun
    checks: dict[str, CheckRun]
    retraining: PipelineRun | None
    retrained_outcome: str | None
    redelivered: dict[str, dict[str, object]]
    scheduled: CheckRun | None


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
        # The checks below are started one by one; the schedules wait until the end.
        set_schedules(cloud, "DISABLED")
        first = cloud.upload_and_wait(MODEL, v1)
        wait_for(cloud.deployment_arn_for(first.execution_arn), sfn=sfn, timeout=300)
        checks = {"empty": check(cloud)}
        replay(cloud, MODEL, good)
        checks["unshifted"] = check(cloud)
        _send(cloud, shifted[0], work)
        checks["shifted-1"] = check(cloud)
        _send(cloud, shifted[1], work)
        checks["shifted-2"] = check(cloud)
        redelivered = {"at once": _redeliver(cloud, checks["shifted-2"])}
        checks["shifted-3"] = check(cloud)  # while the retraining runs, or just after
        started = checks["shifted-2"].retrain
        retraining = outcome = None
        if started is not None and started.execution_arn:
            retraining = cloud.wait(started.execution_arn, timeout=600)
            deployed = wait_for(
                cloud.deployment_arn_for(started.execution_arn), sfn=sfn, timeout=300
            )
            outcome = deployed.outcome
        redelivered["after"] = _redeliver(cloud, checks["shifted-2"])
        scheduled = scheduled_check(cloud)
        yield Story(cloud, first, checks, retraining, outcome, redelivered, scheduled)


def _redeliver(cloud: LocalCloud, run: CheckRun) -> dict[str, object]:
    """The same check handed to RetrainPolicy again (a retried state, a second trigger)."""
    answer = cloud.client("lambda").invoke(
        FunctionName=_function(cloud, "consider_retrain"),
        Payload=json.dumps({"check": run.to_json()["check"]}).encode(),
    )
    decided: dict[str, object] = json.loads(answer["Payload"].read())
    return decided


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
    # judged on the labelled window's newest half, which neither model was trained on
    assert cause.holdout_rows == run.check.labelled_rows // 2 == 300
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
    at_once, after = story.redelivered["at once"], story.redelivered["after"]
    assert at_once.get("action") == "none", at_once
    assert "already started" in str(at_once.get("reason")), at_once
    # once the retrained version is champion, the old check is about a model gone
    assert after.get("action") == "none", after
    assert "the champion is now v2" in str(after.get("reason")), after


def test_each_check_is_recorded_with_its_reports(story: Story) -> None:
    cloud = story.cloud
    checks = [e for e in history(registry_of(cloud), MODEL) if e.type == "monitoring.checked"]
    mine = [e for e in checks if e.detail["requestedBy"] == "e2e"]
    assert len(mine) == len(story.checks), [
        (e.version, e.detail["status"], e.detail["rows"], e.detail["requestedBy"]) for e in checks
    ]
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


def test_the_schedule_starts_the_check_on_the_local_clock(story: Story) -> None:
    run = story.scheduled
    assert run is not None, "no scheduled check within a day of local time"
    assert run.status == "SUCCEEDED", run.to_json()
    # it watches the retrained champion, over the same day of traffic
    assert run.check is not None and run.check.requested_by == "schedule"
    assert run.check.champion == 2 and run.check.rows == 900, run.check
