"""The whole loop on the local cloud, from the synthesized assembly.

One cloud per module: a good upload, a bad upload and a repeated event, then checks
that what ran is what `cdk synth` produced.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.naming import training_job_name
from modelrail.registry import DynamoDBRegistry
from modelrail.sample import sample_command
from tests.infra.definition import definition_pattern

pytestmark = pytest.mark.e2e
MODEL = "demand"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data")
    good = sample_command(MODEL, 1500, 11, folder / "good.csv")
    bad = folder / "no-target.csv"
    pd.read_csv(good).drop(columns=["units_sold"]).to_csv(bad, index=False)
    return {"good": good, "bad": bad}


@pytest.fixture(scope="module")
def cloud(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("local-cloud")) as c:
        # a subscriber to registry events, as another team's system would be
        sqs, events = c.client("sqs"), c.client("events")
        url = sqs.create_queue(QueueName="registry-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="registry-events", EventPattern=json.dumps({"source": ["modelrail.registry"]})
        )
        events.put_targets(Rule="registry-events", Targets=[{"Id": "q", "Arn": arn}])
        yield c


@pytest.fixture(scope="module")
def good_run(cloud: LocalCloud, data: dict[str, Path]) -> PipelineRun:
    return cloud.upload_and_wait(MODEL, data["good"], timeout=300)


@pytest.fixture(scope="module")
def bad_run(cloud: LocalCloud, data: dict[str, Path], good_run: PipelineRun) -> PipelineRun:
    return cloud.upload_and_wait(MODEL, data["bad"], timeout=300)


def _registry(cloud: LocalCloud) -> DynamoDBRegistry:
    return DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))


def test_a_good_upload_is_trained_gated_and_registered_with_lineage(
    cloud: LocalCloud, good_run: PipelineRun
) -> None:
    assert good_run.status == "SUCCEEDED", good_run.message
    assert [s.state for s in good_run.steps][:9] == [
        "LargeDataset?",  # a small upload: validated in Lambda
        "ValidateData",
        "FirstRound",
        "PrepareData",
        "Search?",
        "Train",
        "QualityGate",
        "Register",
        "Rejudge?",
    ]
    assert good_run.registered_version == 1
    version = _registry(cloud).get_version(MODEL, 1)
    assert version.lineage.data.key == good_run.key
    assert version.lineage.data.version_id == good_run.version_id
    assert version.lineage.data.rows == 1500
    execution = good_run.execution_arn.rsplit(":", 1)[-1]
    assert version.lineage.training_job_name == training_job_name("dev", MODEL, execution)
    assert version.lineage.pipeline_execution_arn == good_run.execution_arn
    assert version.metrics["rmse"] > 0 and "r2" in version.metrics
    job = cloud.client("sagemaker").describe_training_job(
        TrainingJobName=version.lineage.training_job_name
    )
    assert job["TrainingJobStatus"] == "Completed"
    assert version.lineage.model_artifact_uri == job["ModelArtifacts"]["S3ModelArtifacts"]


def test_registration_is_published_to_eventbridge(cloud: LocalCloud, good_run: PipelineRun) -> None:
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName="registry-events")["QueueUrl"]
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    created = [b for b in bodies if b["detail-type"] == "model_version.created"]
    assert len(created) == 1
    assert created[0]["source"] == "modelrail.registry"
    assert created[0]["detail"]["model"] == MODEL and created[0]["detail"]["version"] == 1


def test_the_gate_publishes_its_decision_as_metrics_through_its_log_lines(
    cloud: LocalCloud, good_run: PipelineRun
) -> None:
    """The QualityGate handler prints EMF lines; the local cloud extracts them as CloudWatch
    Logs does (the function's role may write its log group), so the metric exists."""
    cw = cloud.client("cloudwatch")
    listed = cw.list_metrics(Namespace="modelrail", MetricName="GateDecisions")["Metrics"]
    dims = [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in listed]
    assert {"Environment": "dev", "Model": MODEL, "Outcome": "passed"} in dims
    candidate = cw.list_metrics(Namespace="modelrail", MetricName="CandidatePrimaryMetric")
    assert candidate["Metrics"], "the candidate's primary metric was not published"
    assert cloud.log_metrics.rejected == []


def test_a_contract_violation_fails_at_validate_data_and_loses_nothing(
    cloud: LocalCloud, good_run: PipelineRun, bad_run: PipelineRun
) -> None:
    assert bad_run.status == "FAILED"
    assert bad_run.failed_state == "ValidateData"
    assert bad_run.error == "DataValidationError"
    assert (
        bad_run.message is not None
        and "units_sold" in bad_run.message
        and "missing" in bad_run.message
    )
    # nothing registered beyond the good run's version, no training job for the bad one
    assert [v.version for v in _registry(cloud).list_versions(MODEL)] == [1]
    jobs = cloud.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    execution = good_run.execution_arn.rsplit(":", 1)[-1]
    assert [j["TrainingJobName"] for j in jobs] == [training_job_name("dev", MODEL, execution)]
    # the upload is still there, byte for byte, and its exact version is quarantined with a report
    s3 = cloud.client("s3")
    kept = s3.get_object(Bucket=cloud.data_bucket, Key=bad_run.key, VersionId=bad_run.version_id)[
        "Body"
    ].read()
    prefix = f"quarantine/{MODEL}/{bad_run.version_id}/"
    copy = s3.get_object(Bucket=cloud.data_bucket, Key=prefix + "no-target.csv")["Body"].read()
    assert copy == kept
    report = json.loads(
        s3.get_object(Bucket=cloud.data_bucket, Key=prefix + "report.json")["Body"].read()
    )
    assert "missing_target" in json.dumps(report)


def test_the_failure_path_publishes_one_notification_with_the_execution(
    cloud: LocalCloud, bad_run: PipelineRun
) -> None:
    from moto.sns.models import sns_backends

    topic = sns_backends["123456789012"][cloud.region].topics[cloud.output("NotificationsTopicArn")]
    failures = [json.loads(m[1]) for m in topic.sent_notifications if '"pipeline.failed"' in m[1]]
    assert len(failures) == 1
    assert failures[0]["execution"] == bad_run.execution_arn
    assert failures[0]["failedState"] == "ValidateData"


def test_a_repeated_s3_event_starts_nothing_new(cloud: LocalCloud, good_run: PipelineRun) -> None:
    sfn = cloud.client("stepfunctions")
    before = sfn.list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]
    delivery = next(d for d in cloud.events.deliveries if good_run.execution_arn in d.detail)
    lam = cloud.client("lambda")
    event = {
        "version": "0",
        "id": "replayed",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-22T00:00:00Z",
        "region": cloud.region,
        "resources": [],
        "detail": {
            "version": "0",
            "bucket": {"name": cloud.data_bucket},
            "object": {
                "key": good_run.key,
                "size": 1,
                "etag": "x",
                "version-id": good_run.version_id,
                "sequencer": "1",
            },
            "request-id": "r",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }
    response = lam.invoke(FunctionName=delivery.target_arn, Payload=json.dumps(event))
    result = json.loads(response["Payload"].read())
    assert result == {"status": "duplicate", "executionArn": good_run.execution_arn}
    after = sfn.list_executions(stateMachineArn=cloud.state_machine_arn)["executions"]
    assert len(after) == len(before)
    assert [v.version for v in _registry(cloud).list_versions(MODEL)] == [1]


def test_the_executed_state_machine_is_the_synthesized_definition(
    cloud: LocalCloud, dev_template: dict[str, Any], good_run: PipelineRun
) -> None:
    executed = cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=cloud.state_machine_arn
    )
    assert definition_pattern(dev_template).fullmatch(executed["definition"])
    history = cloud.client("stepfunctions").describe_execution(executionArn=good_run.execution_arn)
    assert history["stateMachineArn"] == cloud.state_machine_arn


def test_handlers_ran_from_the_synthesized_assets(
    cloud: LocalCloud, assembly: Path, good_run: PipelineRun
) -> None:
    lam = cloud.client("lambda")
    invoked = {i.function_name for i in cloud.lambdas.invocations}
    # starter, validate, prepare, gate, register (and the deployment's, which runs on)
    for fragment in ("StartPipeline", "ValidateData", "PrepareData", "QualityGate", "Register"):
        assert any(fragment in name for name in invoked), fragment
    for name in invoked:
        code = lam.get_function(FunctionName=name)
        config = code["Configuration"]
        from moto.awslambda.models import lambda_backends

        fn = lambda_backends["123456789012"][cloud.region].get_function(name)
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
            handler_src = archive.read("handler.py")
        # the zip moto holds is the asset directory cdk synth wrote, published to S3
        matches = [p for p in assembly.glob("asset.*/handler.py") if p.read_bytes() == handler_src]
        assert matches, f"{name}: handler.py is not from any synthesized asset"
        loaded = cloud.lambdas.loaded_files()
        assert any(Path(f).read_bytes() == handler_src and "lambda" in f for f in loaded), name
        assert config["Handler"] == "handler.lambda_handler"


def test_local_run_cli_reports_one_accepted_and_one_rejected_upload(
    assembly: Path, data: dict[str, Path], tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "modelrail.cli", "local", "run", "--model", MODEL,
         "--data", str(data["good"]), "--data", str(data["bad"]), "--json"],
        capture_output=True, text=True, check=False, timeout=600,
        env={**__import__("os").environ, "MODELRAIL_ASSEMBLY": str(assembly)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    runs = report["runs"]
    assert [r["status"] for r in runs] == ["SUCCEEDED", "FAILED"]
    assert runs[0]["accepted"] and runs[0]["registeredVersion"] == 1
    assert runs[1]["failedState"] == "ValidateData" and "units_sold" in runs[1]["message"]
    assert runs[1]["registeredVersion"] is None
    assert [(r["model"], r["version"]) for r in report["registry"]] == [(MODEL, 1)]
    # The whole story: what v1 was judged against, and what became of its deployment.
    (row,) = report["registry"]
    assert row["comparedWith"]["role"] == "none" and row["execution"] == runs[0]["executionArn"]
    assert runs[0]["deployment"]["outcome"] == "PRODUCTION"
    assert runs[1]["deployment"] is None
