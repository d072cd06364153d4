"""An upload above the environment's threshold is validated and profiled by a SageMaker
Processing job, not the Lambdas, and training is sized from it; an invalid one is
quarantined and fails the run with the same error as the Lambda path (D42).

The threshold is lowered for this module (a synth of dev with 1 KB), the standard CDK
way: context in ``CDK_CONTEXT_JSON`` overrides cdk.json's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelrail.local.cloud import ROOT, LocalCloud, PipelineRun, synthesize
from modelrail.sample import sample_command

pytestmark = pytest.mark.e2e
MODEL = "demand"
THRESHOLD = 1024
BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
#: Small datasets on m5.large, the sample (larger than 4 KB) on m5.xlarge with 40 GB.
BANDS = [
    {"max_bytes": 4096, "instance_type": "ml.m5.large", "volume_gb": 30},
    {"instance_type": "ml.m5.xlarge", "volume_gb": 40},
]


@pytest.fixture(scope="module")
def lowered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    environments: dict[str, Any] = context["modelrail:environments"]
    environments["dev"].update(
        processing_threshold_bytes=THRESHOLD, training_size_bands=BANDS, bake_seconds=0
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDK_CONTEXT_JSON", json.dumps({"modelrail:environments": environments}))
        yield synthesize(tmp_path_factory.mktemp("cdk.out-processing"), environments=("dev",))


@pytest.fixture(scope="module")
def cloud(lowered: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(assembly=lowered, work_dir=tmp_path_factory.mktemp("processing")) as c:
        yield c


@pytest.fixture(scope="module")
def good_run(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    data = sample_command(MODEL, 1500, 11, tmp_path_factory.mktemp("data") / "good.csv")
    assert data.stat().st_size > 4096
    return cloud.upload_and_wait(MODEL, data, timeout=300)


def _states(run: PipelineRun) -> list[str]:
    return [s.state for s in run.steps]


def test_a_large_upload_is_validated_by_the_processing_job_and_trains(
    cloud: LocalCloud, good_run: PipelineRun
) -> None:
    assert good_run.status == "SUCCEEDED", good_run.to_json()
    states = _states(good_run)
    assert "ProcessDataset" in states and "ValidateData" not in states
    (job,) = cloud.processing.runs
    assert job.status == "Completed", job
    verdict = json.loads(job.exit_message or "")
    assert verdict["ok"] is True and verdict["rows"] == 1500
    described = cloud.client("sagemaker").describe_processing_job(ProcessingJobName=job.name)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert job.name.startswith("modelrail-dev-demand-")

    # The rest of the pipeline saw the shape the Lambda path leaves.
    output = good_run.output or {}
    validation = output["validation"]
    name = good_run.execution_arn.rsplit(":", 1)[-1]
    folder = f"datasets/{MODEL}/{name}/"
    assert validation["trainUri"].endswith(f"/{folder}data/")
    assert validation["dataset"]["sha256"] == verdict["sha256"]
    assert output["prepared"]["profileUri"].endswith(f"/{folder}profile.json")
    assert output["prepared"]["fingerprint"] == verdict["fingerprint"]
    s3 = cloud.client("s3")
    keys = {
        o["Key"]
        for o in s3.list_objects_v2(Bucket=cloud.output("ArtifactsBucketName"), Prefix=folder)[
            "Contents"
        ]
    }
    assert keys == {
        folder + n
        for n in (
            "data/train.csv",
            "validation.json",
            "profile.json",
            "statistics.json",
            "constraints.json",
        )
    }


def test_training_is_sized_from_the_dataset(cloud: LocalCloud, good_run: PipelineRun) -> None:
    job = (good_run.output or {})["training"]["jobName"]
    described = cloud.client("sagemaker").describe_training_job(TrainingJobName=job)
    config = described["ResourceConfig"]
    assert (config["InstanceType"], config["InstanceCount"], config["VolumeSizeInGB"]) == (
        "ml.m5.xlarge",
        1,
        40,
    )


def test_an_invalid_large_upload_is_quarantined_with_the_lambdas_error(
    cloud: LocalCloud,
) -> None:
    source = BAD / "ragged.csv"
    assert source.stat().st_size > THRESHOLD
    run = cloud.upload_and_wait(MODEL, source, timeout=120)
    assert run.status == "FAILED", run.to_json()
    assert run.error == "DataValidationError"
    assert run.failed_state == "ProcessDataset"
    assert run.message is not None and "[ragged_rows]" in run.message
    s3 = cloud.client("s3")
    folder = f"quarantine/{MODEL}/{run.version_id}/"
    raw = s3.get_object(Bucket=cloud.data_bucket, Key=folder + "ragged.csv")["Body"].read()
    assert raw == source.read_bytes()
    report = json.loads(
        s3.get_object(Bucket=cloud.data_bucket, Key=folder + "report.json")["Body"].read()
    )
    assert report["ok"] is False and "ragged_rows" in {v["code"] for v in report["violations"]}
