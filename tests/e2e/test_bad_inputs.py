"""Every file in the bad-input corpus, uploaded to the local cloud: rejected at
ValidateData with its specific message, quarantined, the raw version kept, nothing
trained and nothing registered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.registry import DynamoDBRegistry

pytestmark = pytest.mark.e2e
CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())


@pytest.fixture(scope="module")
def runs(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalCloud, dict[str, PipelineRun]]]:
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("bad-inputs")) as cloud:
        results = {
            name: cloud.upload_and_wait("demand", CORPUS / name, timeout=120)
            for name in sorted(EXPECTED)
        }
        yield cloud, results


def test_the_corpus_has_at_least_twenty_distinct_failures() -> None:
    assert len(EXPECTED) >= 20
    assert len({spec["code"] for spec in EXPECTED.values()}) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file_is_rejected_with_its_own_message(
    runs: tuple[LocalCloud, dict[str, PipelineRun]], name: str
) -> None:
    cloud, results = runs
    run = results[name]
    spec = EXPECTED[name]
    assert run.status == "FAILED" and run.failed_state == "ValidateData", run.to_json()
    assert run.error == "DataValidationError"
    assert run.message is not None and spec["message"] in run.message
    s3 = cloud.client("s3")
    raw = s3.get_object(Bucket=cloud.data_bucket, Key=run.key, VersionId=run.version_id)[
        "Body"
    ].read()
    assert raw == (CORPUS / name).read_bytes()
    folder = f"quarantine/demand/{run.version_id}/"
    assert s3.get_object(Bucket=cloud.data_bucket, Key=folder + name)["Body"].read() == raw
    report = json.loads(
        s3.get_object(Bucket=cloud.data_bucket, Key=folder + "report.json")["Body"].read()
    )
    assert spec["code"] in {v["code"] for v in report["violations"]}


def test_nothing_was_trained_or_registered(runs: tuple[LocalCloud, dict[str, PipelineRun]]) -> None:
    cloud, _ = runs
    assert cloud.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    assert cloud.training.runs == []
    registry = DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))
    assert registry.list_versions("demand") == []
