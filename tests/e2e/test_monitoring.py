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

A second cloud: v1 serves inputs like its training data, but the late labels say demand
tripled. No drift, the live rmse crosses the threshold on 400 labelled rows, and a
performance retraining runs through the pipeline's gates (which refuse it: see the test).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelrail.deploy.client import wait_for
from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.local.traffic import replay
from modelrail.monitoring.client import CheckRun, history, upload_labels, wait_check
from modelrail.registry import AliasName, ModelVersion, VersionStatus
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
    redelivered: dict[str, dict[str, object]]
    scheduled: dict[str, object] | None


def _check(cloud: LocalCloud) -> CheckRun:
    return cloud.check_now(MODEL, requested_by="e2e")


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
        _schedules(cloud, "DISABLED")
        first = cloud.upload_and_wait(MODEL, v1)
        wait_for(cloud.deployment_arn_for(first.execution_arn), sfn=sfn, timeout=300)
        checks = {"empty": _check(cloud)}
        replay(cloud, MODEL, good)
        checks["unshifted"] = _check(cloud)
        _send(cloud, shifted[0], work)
        checks["shifted-1"] = _check(cloud)
        _send(cloud, shifted[1], work)
        checks["shifted-2"] = _check(cloud)
        redelivered = {"at once": _redeliver(cloud, checks["shifted-2"])}
        checks["shifted-3"] = _check(cloud)  # while the retraining runs, or just after
        started = checks["shifted-2"].retrain
        retraining = outcome = None
        if started is not None and started.execution_arn:
            retraining = cloud.wait(started.execution_arn, timeout=600)
            deployed = wait_for(
                cloud.deployment_arn_for(started.execution_arn), sfn=sfn, timeout=300
            )
            outcome = deployed.outcome
        redelivered["after"] = _redeliver(cloud, checks["shifted-2"])
        scheduled = _scheduled_check(cloud)
        yield Story(cloud, first, checks, retraining, outcome, redelivered, scheduled)


def _schedules(cloud: LocalCloud, state: str) -> None:
    """Pause or resume every schedule, as an operator would (UpdateSchedule replaces the
    whole schedule, so the rest is sent as it is)."""
    scheduler = cloud.client("scheduler")
    for summary in scheduler.list_schedules()["Schedules"]:
        got = scheduler.get_schedule(Name=summary["Name"])
        scheduler.update_schedule(
            Name=got["Name"],
            ScheduleExpression=got["ScheduleExpression"],
            FlexibleTimeWindow=got["FlexibleTimeWindow"],
            Target=got["Target"],
            State=state,
        )


def _scheduled_check(cloud: LocalCloud) -> dict[str, object] | None:
    """A day of local time passes: the Scheduler starts each model's check itself."""
    sfn = cloud.client("stepfunctions")
    machine = cloud.output("MonitoringStateMachineArn")
    _schedules(cloud, "ENABLED")
    cloud.clock.fast_forward(86400 + 120, within=5)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            payload = json.loads(described["input"])
            mine = payload.get("model") == MODEL and payload.get("requestedBy") == "schedule"
            if mine and described["status"] != "RUNNING":
                run = wait_check(execution["executionArn"], sfn=sfn)
                return {"status": described["status"], "input": payload, "check": run.check}
        time.sleep(0.5)
    return None


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
    assert story.scheduled is not None, "no scheduled check within a day of local time"
    assert story.scheduled["status"] == "SUCCEEDED", story.scheduled
    scheduled_input = story.scheduled["input"]
    assert isinstance(scheduled_input, dict) and scheduled_input["scheduledTime"].endswith("Z")
    check = story.scheduled["check"]
    # it watches the retrained champion, over the same day of traffic
    assert check is not None and check.champion == 2 and check.rows == 900, check  # type: ignore[attr-defined]


# ---- a model that decays without drift: the world changed, the inputs did not -------------


@dataclass
class Decay:
    check: CheckRun
    retraining: PipelineRun | None
    retrained: ModelVersion | None


@pytest.fixture(scope="module")
def decay(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Decay]:
    work = tmp_path_factory.mktemp("decay-data")
    v1 = sample_command(MODEL, 2000, 1, work / "v1.csv")
    live = sample_command(MODEL, 400, 31, work / "live.csv")
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("decay")) as cloud:
        _schedules(cloud, "DISABLED")
        sfn = cloud.client("stepfunctions")
        first = cloud.upload_and_wait(MODEL, v1)
        wait_for(cloud.deployment_arn_for(first.execution_arn), sfn=sfn, timeout=300)
        sent = replay(cloud, MODEL, live)
        # Demand tripled (a competitor closed): the labels that arrive late say so.
        tripled = [str(round(float(v) * 3)) for v in sent.labels]
        labels = work / "late-labels.csv"
        labels.write_bytes(type(sent)(sent.row_ids, tripled).labels_csv())
        upload_labels(MODEL, labels, bucket=cloud.data_bucket, s3=cloud.client("s3"))
        check = _check(cloud)
        retraining = retrained = None
        if check.retrain is not None and check.retrain.execution_arn:
            retraining = cloud.wait(check.retrain.execution_arn, timeout=600)
            retrained = registry_of(cloud).latest_version(MODEL)
        yield Decay(check, retraining, retrained)


def test_late_labels_make_the_live_metric_fall_and_retrain_for_performance(decay: Decay) -> None:
    check, decided = decay.check.check, decay.check.retrain
    assert check is not None and check.status == "ok", decay.check.to_json()  # no input drift
    assert check.live is not None and check.live.failing, check.live
    assert check.live.labelled_rows == 400 and check.labelled_rows == 400
    assert decided is not None and decided.action == "start", decided
    assert decided.trigger == "performance" and "live rmse" in decided.reason
    # through the same pipeline and its gates, the trigger in the version's lineage
    version = decay.retrained
    assert version is not None and version.version == 2, version
    assert version.lineage.retrain is not None
    assert version.lineage.retrain.trigger == "performance"
    # The sliding window (v1's 2000 rows of the old world, then 400 of the new) cannot
    # reach the contract's bar on the new world: the gate refuses it and nothing deploys.
    # A team whose world changed sets include_champion_data: false.
    assert version.status is VersionStatus.REJECTED, version.status
    assert decay.retraining is not None and decay.retraining.error == "QualityGateRejected"
    assert "threshold 25" in (decay.retraining.cause or "")
