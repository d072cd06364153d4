"""The local cloud's tuning executor on moto: trials, metrics, failures, the best job."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.local.training_runtime import TrainingRuntime
from modelrail.local.tuning_runtime import TuningRuntime

ACCOUNT = "123456789012"
BUCKET = "tuning-test"
# A stand-in training script: the score peaks at x = 6, x > 8 crashes, and y is only
# echoed. It follows the container contract (SM_* variables, --name value arguments).
SCRIPT = """
import argparse, os, pathlib, sys
p = argparse.ArgumentParser()
p.add_argument("--x", type=int)
p.add_argument("--y", type=float)
p.add_argument("--mode")
a, _ = p.parse_known_args()
if a.x > 8:
    pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text(f"x={a.x} is too large")
    sys.exit(1)
pathlib.Path(os.environ["SM_MODEL_DIR"], "m.txt").write_text(f"{a.x} {a.y} {a.mode}")
print(f"score={10 - (a.x - 6) ** 2 + a.y / 100:.4f}")
"""


def _source() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        data = SCRIPT.encode()
        info = tarfile.TarInfo("t.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        from moto.sagemaker.models import sagemaker_backends

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="code/src.tar.gz", Body=_source())
        s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=b"a\n1\n")
        yield (
            s3,
            boto3.client("sagemaker", region_name="us-east-1"),
            sagemaker_backends[ACCOUNT]["us-east-1"],
        )


def _request(name: str, *, jobs: int, objective: str = "Maximize") -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": objective, "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "14"}],
                "ContinuousParameterRanges": [{"Name": "y", "MinValue": "0", "MaxValue": "1"}],
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": '"t.py"',
                "sagemaker_submit_directory": f'"s3://{BUCKET}/code/src.tar.gz"',
                "mode": '"fast"',
            },
            "AlgorithmSpecification": {
                "TrainingImage": "image",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "score", "Regex": r"score=(\S+)"}],
            },
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/data/",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }


def _tune(aws: tuple[Any, Any, Any], tmp_path: Path, request: dict[str, Any], **kw: Any) -> Any:
    s3, sm, backend = aws
    sm.create_hyper_parameter_tuning_job(**request)
    tmp_path.mkdir(parents=True, exist_ok=True)
    training = TrainingRuntime(tmp_path)
    TuningRuntime(training, **kw).run(request, sagemaker=sm, s3=s3, backend=backend)
    described = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=request["HyperParameterTuningJobName"]
    )
    return described, training


def test_trials_run_and_the_best_one_is_reported(aws: tuple[Any, Any, Any], tmp_path: Path) -> None:
    described, training = _tune(aws, tmp_path, _request("search-1", jobs=8))
    s3, sm, _ = aws
    assert len(training.runs) == 8
    completed = [r for r in training.runs if r.status == "Completed"]
    failed = [r for r in training.runs if r.status == "Failed"]
    assert completed and failed  # x is drawn from 0..14; above 8 crashes
    assert all("is too large" in (r.failure_reason or "") for r in failed)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == len(completed)
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == len(failed)
    best = described["BestTrainingJob"]
    top = max(completed, key=lambda r: r.metrics["score"])
    assert best["TrainingJobName"] == top.name
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == top.metrics["score"]
    assert set(best["TunedHyperParameters"]) == {"x", "y"}

    # each trial is a training job: named like SageMaker's, tied to the tuning job,
    # with the static and tuned hyperparameters and the scraped metric
    job = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert job["TrainingJobName"].startswith("search-1-")
    assert job["TuningJobArn"] == described["HyperParameterTuningJobArn"]
    assert job["HyperParameters"]["mode"] == '"fast"'
    assert job["HyperParameters"]["x"] == best["TunedHyperParameters"]["x"]
    assert [m["MetricName"] for m in job["FinalMetricDataList"]] == ["score"]
    model = s3.get_object(Bucket=BUCKET, Key=f"out/{best['TrainingJobName']}/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(model["Body"].read())) as tar:
        member = tar.extractfile("m.txt")
        assert member is not None
        x, _, mode = member.read().decode().split()
    assert (x, mode) == (best["TunedHyperParameters"]["x"], "fast")


def test_the_local_bound_caps_the_trials(aws: tuple[Any, Any, Any], tmp_path: Path) -> None:
    described, training = _tune(aws, tmp_path, _request("search-2", jobs=50), max_trials=3)
    assert len(training.runs) == 3
    assert sum(described["TrainingJobStatusCounters"].values()) == 3


def test_a_search_where_every_trial_fails_fails_with_their_reasons(
    aws: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    request = _request("search-3", jobs=3)
    request["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"] = [
        {"Name": "x", "MinValue": "9", "MaxValue": "10"}
    ]
    described, training = _tune(aws, tmp_path, request)
    assert [r.status for r in training.runs] == ["Failed"] * 3
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "All 3 training jobs failed" in described["FailureReason"]
    assert "is too large" in described["FailureReason"]
    assert "BestTrainingJob" not in described or not described["BestTrainingJob"]


def test_an_objective_without_a_metric_definition_is_refused(
    aws: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    request = _request("search-4", jobs=2)
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = (
        "validation:auc"
    )
    with pytest.raises(ValueError, match="no MetricDefinition"):
        _tune(aws, tmp_path, request)


def test_the_same_request_draws_the_same_trials(aws: tuple[Any, Any, Any], tmp_path: Path) -> None:
    _, first = _tune(aws, tmp_path / "a", _request("search-5", jobs=4))
    _, sm, backend = aws
    hps = [
        json.dumps(
            sm.describe_training_job(TrainingJobName=r.name)["HyperParameters"], sort_keys=True
        )
        for r in sorted(first.runs, key=lambda r: r.name)
    ]
    assert len(set(hps)) == 4  # distinct draws
    backend.hyper_parameter_tuning_jobs.clear()
    for run in first.runs:
        backend.training_jobs.pop(run.name)
    _, second = _tune(aws, tmp_path / "b", _request("search-5", jobs=4))
    again = [
        json.dumps(
            sm.describe_training_job(TrainingJobName=r.name)["HyperParameters"], sort_keys=True
        )
        for r in sorted(second.runs, key=lambda r: r.name)
    ]
    assert again == hps
