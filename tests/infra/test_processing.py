"""The large-dataset path in the synthesized templates: the Choice by size, the
createProcessingJob.sync task, its grants and the job role's (D42)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import load_environments
from modelrail.local.cloud import ROOT
from tests.infra.definition import PLACEHOLDER, definition


def _config(env: str) -> Any:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return load_environments(context["modelrail:environments"])[env]


@pytest.fixture(scope="module")
def states(dev_template: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = definition(dev_template)["States"]
    return result


def _policies(template: dict[str, Any], part: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy" and part in logical
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_run_starts_by_choosing_lambda_or_processing_by_size(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    body = definition(dev_template if env == "dev" else prod_template)
    choice = body["States"][body["StartAt"]]
    assert body["StartAt"] == "LargeDataset?" and choice["Default"] == "ValidateData"
    (rule,) = choice["Choices"]
    assert rule["Next"] == "ProcessDataset"
    assert {
        "Variable": "$.sizeBytes",
        "NumericGreaterThan": _config(env).processing_threshold_bytes,
    } in rule["And"]
    assert {"Variable": "$.processingJobName", "IsPresent": True} in rule["And"]


def test_both_paths_meet_at_prepare_data_with_the_same_validation_output(
    states: dict[str, Any],
) -> None:
    # Through FirstRound: PrepareData is also where a re-judgement starts (modelrail.release).
    assert states["FirstRound"]["Next"] == "PrepareData"
    assert states["ValidateData"]["Next"] == "FirstRound"
    assert states["ValidateData"]["ResultPath"] == "$.validation"
    assert states["ProcessDataset"]["Next"] == "DatasetValid?"
    verdict = states["DatasetValid?"]
    assert verdict["Choices"] == [
        {"Variable": "$.processing.verdict.ok", "BooleanEquals": True, "Next": "DatasetAccepted"}
    ]
    accepted = states["DatasetAccepted"]
    assert accepted["Next"] == "FirstRound" and accepted["ResultPath"] == "$.validation"
    # modelrail.steps.models.ValidationOutput, with the profile the job built
    assert set(accepted["Parameters"]) == {
        "model.$", "dataset", "trainUri.$", "reportUri.$", "warnings.$", "profile",
    }  # fmt: skip
    assert set(accepted["Parameters"]["dataset"]) == {
        "bucket.$", "key.$", "versionId.$", "sha256.$", "rows.$", "sizeBytes.$",
    }  # fmt: skip


def test_a_rejected_dataset_fails_with_the_lambdas_error_name(states: dict[str, Any]) -> None:
    rejected = states[states["DatasetValid?"]["Default"]]
    assert rejected["Parameters"] == {
        "Error": "DataValidationError",
        "Cause.$": "$.processing.verdict.summary",
    }
    mark = states[rejected["Next"]]
    assert mark["Result"] == "ProcessDataset" and mark["ResultPath"] == "$.failedState"
    assert mark["Next"] == "NotifyFailure"


def test_the_processing_job_runs_the_dataset_job_encrypted_bounded_and_named(
    states: dict[str, Any],
) -> None:
    task = states["ProcessDataset"]
    assert task["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    params = task["Parameters"]
    assert params["ProcessingJobName.$"] == "$.processingJobName"
    app = params["AppSpecification"]
    assert app["ImageUri"].endswith("sagemaker-scikit-learn:1.4-2-py312-cpu-py3")
    assert app["ContainerEntrypoint"][0] == "python3"
    assert app["ContainerEntrypoint"][1].startswith("/opt/ml/processing/input/code/")
    assert app["ContainerEntrypoint"][1].endswith(".pyz")
    assert "--message-file', '/opt/ml/output/message'" in app["ContainerArguments.$"]
    inputs = {i["InputName"]: i["S3Input"] for i in params["ProcessingInputs"]}
    assert inputs["data"]["S3Uri.$"] == "States.Format('s3://{}/{}', $.bucket, $.key)"
    outputs = {o["OutputName"]: o["S3Output"] for o in params["ProcessingOutputConfig"]["Outputs"]}
    assert set(outputs) == {"dataset", "quarantine"}
    assert "/datasets/{}/{}/', $.model, $$.Execution.Name)" in outputs["dataset"]["S3Uri.$"]
    assert "/quarantine/{}/{}/', $.model, $.versionId)" in outputs["quarantine"]["S3Uri.$"]
    assert params["ProcessingOutputConfig"]["KmsKeyId"] == PLACEHOLDER
    cluster = params["ProcessingResources"]["ClusterConfig"]
    dev = _config("dev")
    assert cluster == {
        "InstanceCount": 1,
        "InstanceType": dev.processing_instance_type,
        "VolumeSizeInGB": dev.processing_volume_gb,
        "VolumeKmsKeyId": PLACEHOLDER,
    }
    assert params["StoppingCondition"] == {
        "MaxRuntimeInSeconds": dev.processing_max_runtime_seconds
    }
    assert task["TimeoutSeconds"] > dev.processing_max_runtime_seconds
    assert task["ResultSelector"]["verdict.$"] == "States.StringToJson($.ExitMessage)"


def test_the_state_machine_may_run_processing_jobs_and_pass_only_the_job_role(
    dev_template: dict[str, Any],
) -> None:
    statements = _policies(dev_template, "ProcessPolicy")
    by_action = {a: s for s in statements for a in _actions(s)}
    job = by_action["sagemaker:CreateProcessingJob"]
    assert set(_actions(job)) == {
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:ListTags",
    }
    assert "processing-job/modelrail-dev-*" in json.dumps(job["Resource"])
    rule = by_action["events:PutRule"]
    assert set(_actions(rule)) == {"events:PutTargets", "events:PutRule", "events:DescribeRule"}
    assert "StepFunctionsGetEventsForSageMakerProcessingJobsRule" in json.dumps(rule["Resource"])
    passing = by_action["iam:PassRole"]
    assert "DatasetJobRole" in json.dumps(passing["Resource"])
    assert "TrainingRole" not in json.dumps(passing["Resource"])
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_the_job_role_reads_uploads_and_writes_snapshots_and_quarantine_only(
    dev_template: dict[str, Any],
) -> None:
    statements = _policies(dev_template, "DatasetJobRole")
    text = {json.dumps(s["Resource"]): _actions(s) for s in statements}
    s3_resources = [r for r, actions in text.items() if any(a.startswith("s3:") for a in actions)]
    for resource in s3_resources:
        assert '"*"' not in resource
    writes = [r for r, a in text.items() if "s3:PutObject" in a]
    assert writes and all(("/datasets/*" in r or "/quarantine/*" in r) for r in writes)
    assert any("/incoming/*" in r for r, a in text.items() if "s3:GetObject*" in a)
    # the code: one object, and a listing of that key only
    (listing,) = [s for s in statements if _actions(s) == ["s3:ListBucket"]]
    assert "s3:prefix" in listing["Condition"]["StringLike"]
    assert any("kms:Decrypt" in _actions(s) for s in statements)
    (grant,) = [s for s in statements if "kms:CreateGrant" in _actions(s)]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    logs = [r for r, a in text.items() if "logs:PutLogEvents" in a]
    assert logs and "/aws/sagemaker/ProcessingJobs:*" in logs[0]


def test_prepare_data_receives_the_training_size_bands(dev_template: dict[str, Any]) -> None:
    from modelrail.sizing import bands_from_json

    (fn,) = [
        r
        for r in dev_template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "TRAINING_SIZE_BANDS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]
    bands = bands_from_json(fn["Properties"]["Environment"]["Variables"]["TRAINING_SIZE_BANDS"])
    assert bands == _config("dev").size_bands()
    assert len(bands) >= 2 and bands[-1].max_bytes is None
