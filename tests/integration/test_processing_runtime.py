"""The local Processing executor (modelrail/local/processing_runtime.py) on moto's S3:
inputs in, the entry point run with /opt/ml mapped, outputs and the exit message out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.local.processing_runtime import ProcessingRuntime

BUCKET = "processing-test"
SCRIPT = """
import pathlib, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
data = pathlib.Path(args["--in"])
out = pathlib.Path(args["--out"])
listing = sorted(p.name for p in data.iterdir())
(out / "sub").mkdir(parents=True, exist_ok=True)
(out / "sub" / "seen.txt").write_text(",".join(listing))
pathlib.Path(args["--msg"]).write_text("verdict:" + args["--mode"])
if args["--mode"] == "fail":
    sys.exit(3)
if args["--mode"] == "hang":
    import time
    time.sleep(60)
"""


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="code/job.py", Body=SCRIPT.encode())
        client.put_object(Bucket=BUCKET, Key="incoming/m/data.csv", Body=b"a,b\n1,2\n")
        client.put_object(Bucket=BUCKET, Key="incoming/m/data.csv.bak", Body=b"old")
        client.put_object(Bucket=BUCKET, Key="incoming/m/other.csv", Body=b"no")
        yield client


def _job(mode: str, *, max_runtime: int = 600, entry: str = "python3") -> dict[str, Any]:
    s3_input = {"S3DataType": "S3Prefix", "S3InputMode": "File"}
    return {
        "ProcessingJobName": f"job-{mode}",
        "AppSpecification": {
            "ImageUri": "sklearn",
            "ContainerEntrypoint": [entry, "/opt/ml/processing/input/code/job.py"],
            "ContainerArguments": [
                "--in",
                "/opt/ml/processing/input/data",
                "--out",
                "/opt/ml/processing/output/r",
                "--msg",
                "/opt/ml/output/message",
                "--mode",
                mode,
            ],
        },
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/incoming/m/data.csv",
                    "LocalPath": "/opt/ml/processing/input/data",
                    **s3_input,
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/job.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    **s3_input,
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "r",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/results/{mode}/",
                        "LocalPath": "/opt/ml/processing/output/r",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def test_a_job_reads_its_inputs_and_its_outputs_and_message_come_back(
    s3: Any, tmp_path: Path
) -> None:
    run = ProcessingRuntime(tmp_path).run(_job("ok"), s3=s3)
    assert run.status == "Completed" and run.failure_reason is None, run
    assert run.exit_message == "verdict:ok"
    assert run.uploaded == (f"s3://{BUCKET}/results/ok/sub/seen.txt",)
    seen = s3.get_object(Bucket=BUCKET, Key="results/ok/sub/seen.txt")["Body"].read()
    # the prefix brings the key that extends it, beside the object (as on SageMaker)
    assert seen == b"data.csv,data.csv.bak"
    assert not list(tmp_path.iterdir())  # the job's folder is removed


def test_a_failed_job_uploads_nothing_and_reports_its_message(s3: Any, tmp_path: Path) -> None:
    run = ProcessingRuntime(tmp_path).run(_job("fail"), s3=s3)
    assert run.status == "Failed"
    assert run.failure_reason == "AlgorithmError: verdict:fail"
    assert run.exit_message == "verdict:fail"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="results/fail/")


def test_the_max_runtime_stops_the_job(s3: Any, tmp_path: Path) -> None:
    run = ProcessingRuntime(tmp_path).run(_job("hang", max_runtime=1), s3=s3)
    assert run.status == "Failed"
    assert run.failure_reason == "MaxRuntimeExceeded: the job ran longer than 1 seconds"


def test_only_python_entry_points_run_here(s3: Any, tmp_path: Path) -> None:
    run = ProcessingRuntime(tmp_path, python=sys.executable).run(_job("ok", entry="/bin/sh"), s3=s3)
    assert run.status == "Failed"
    assert run.failure_reason is not None
    assert "runs Python entry points" in run.failure_reason
