"""The pipeline steps against moto S3 and the in-memory registry."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from modelrail.contract import CONTRACTS_DIR, load_contract
from modelrail.registry import InMemoryRegistry
from modelrail.sample import generate
from modelrail.sizing import SizeBand
from modelrail.steps.gate import EvaluationMissing, output_archive_uri, run_gate
from modelrail.steps.models import GateInput, PipelineInput, RegisterInput, dump
from modelrail.steps.register import run_register
from modelrail.steps.validate import UnknownModel, run_validation
from modelrail.validation import DataValidationError

DATA = "modelrail-test-data"
ARTIFACTS = "modelrail-test-artifacts"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in (DATA, ARTIFACTS):
            client.create_bucket(Bucket=bucket)
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        yield client


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def _upload(s3: Any, body: bytes, key: str = "incoming/demand/day.csv") -> PipelineInput:
    version = s3.put_object(Bucket=DATA, Key=key, Body=body)["VersionId"]
    return PipelineInput.model_validate(
        {"model": "demand", "bucket": DATA, "key": key, "versionId": version}
    )


def _validate(s3: Any, request: PipelineInput) -> Any:
    return run_validation(
        request,
        s3=s3,
        contracts_dir=CONTRACTS_DIR,
        artifacts_bucket=ARTIFACTS,
    )


def test_a_valid_upload_is_snapshotted_by_content_hash(s3: Any) -> None:
    body = _csv(generate(load_contract("demand"), rows=400, seed=3))
    request = _upload(s3, body)
    result = _validate(s3, request)
    digest = hashlib.sha256(body).hexdigest()
    assert result.dataset.sha256 == digest and result.dataset.rows == 400
    assert result.dataset.version_id == request.version_id
    assert result.train_uri == f"s3://{ARTIFACTS}/datasets/demand/{digest}/data/"
    snapshot = s3.get_object(Bucket=ARTIFACTS, Key=f"datasets/demand/{digest}/data/train.csv")[
        "Body"
    ].read()
    assert snapshot == body
    report = json.loads(
        s3.get_object(Bucket=ARTIFACTS, Key=f"datasets/demand/{digest}/validation.json")[
            "Body"
        ].read()
    )
    assert report["rows"] == 400


def test_the_exact_version_validated_is_the_one_snapshotted(s3: Any) -> None:
    contract = load_contract("demand")
    first = _csv(generate(contract, rows=300, seed=1))
    request = _upload(s3, first)
    s3.put_object(
        Bucket=DATA, Key=request.key, Body=_csv(generate(contract, rows=350, seed=2))
    )  # overwritten
    result = _validate(s3, request)
    assert result.dataset.rows == 300 and result.dataset.sha256 == hashlib.sha256(first).hexdigest()


def test_an_oversized_upload_names_its_true_size_and_is_never_read(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _csv(generate(load_contract("demand"), rows=300, seed=3))
    request = _upload(s3, body)
    small = load_contract("demand").model_copy(update={"max_bytes": 1000})
    monkeypatch.setattr("modelrail.steps.validate.contract_for", lambda *a: small)
    reads: list[dict[str, Any]] = []
    s3.meta.events.register("before-call.s3.GetObject", lambda params, **k: reads.append(params))
    with pytest.raises(DataValidationError, match=f"is {len(body):,} bytes; the contract"):
        _validate(s3, request)
    assert reads == []  # HeadObject gave the size; CopyObject quarantined it


def test_the_snapshot_is_a_server_side_copy_of_a_streamed_read(s3: Any) -> None:
    body = _csv(generate(load_contract("demand"), rows=400, seed=4))
    request = _upload(s3, body)
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **k: calls.append(model.name))
    result = _validate(s3, request)
    assert calls == ["HeadObject", "GetObject", "CopyObject", "PutObject"]  # PutObject: the report
    key = f"datasets/demand/{result.dataset.sha256}/data/train.csv"
    assert s3.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read() == body


def test_a_parquet_upload_is_validated_from_the_stream(s3: Any) -> None:
    frame = generate(load_contract("demand"), rows=300, seed=5)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    request = _upload(s3, buf.getvalue(), key="incoming/demand/day.parquet")
    result = _validate(s3, request)
    assert result.dataset.rows == 300
    assert result.dataset.sha256 == hashlib.sha256(buf.getvalue()).hexdigest()


def test_a_bad_upload_is_quarantined_and_the_original_kept(s3: Any) -> None:
    df = generate(load_contract("demand"), rows=300, seed=3).drop(columns=["units_sold"])
    body = _csv(df)
    request = _upload(s3, body)
    with pytest.raises(
        DataValidationError, match="required column 'units_sold' \\(the target\\) is missing"
    ):
        _validate(s3, request)
    folder = f"quarantine/demand/{request.version_id}/"
    assert s3.get_object(Bucket=DATA, Key=folder + "day.csv")["Body"].read() == body
    report = json.loads(s3.get_object(Bucket=DATA, Key=folder + "report.json")["Body"].read())
    assert any(v["code"] == "missing_target" for v in report["violations"])
    original = s3.get_object(Bucket=DATA, Key=request.key, VersionId=request.version_id)[
        "Body"
    ].read()
    assert original == body
    assert "Contents" not in s3.list_objects_v2(Bucket=ARTIFACTS)


def test_an_upload_for_an_undeclared_model_names_the_known_ones(s3: Any) -> None:
    request = PipelineInput.model_validate(
        {"model": "fraud", "bucket": DATA, "key": "incoming/fraud/x.csv", "versionId": None}
    )
    with pytest.raises(
        UnknownModel, match=r"no contract named 'fraud'.*known: \['churn', 'demand'\]"
    ):
        _validate(s3, request)


# ---- quality gate ----------------------------------------------------------------------------


def _evaluation(rmse: float, model: str = "demand") -> dict[str, Any]:
    return {
        "model": model,
        "problem_type": "regression",
        "primary_metric": {
            "name": "rmse",
            "value": rmse,
            "threshold": 25.0,
            "greater_is_better": False,
        },
        "metrics": {"rmse": rmse, "mae": rmse / 2, "r2": 0.8},
        "rows": {"train": 800, "holdout": 200},
        "latency_ms": {"single_p50": 1.0, "single_p95": 2.0},
        "model_size_bytes": 300_000,
        "champion": None,
    }


def _put_output(s3: Any, job: str, evaluation: dict[str, Any] | None) -> GateInput:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        if evaluation is not None:
            data = json.dumps(evaluation).encode()
            info = tarfile.TarInfo("evaluation.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    model_uri = f"s3://{ARTIFACTS}/training-output/{job}/output/model.tar.gz"
    bucket, key = output_archive_uri(model_uri)[5:].split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=raw.getvalue())
    return GateInput.model_validate(
        {
            "model": "demand",
            "training": {
                "jobName": job,
                "jobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}",
                "modelArtifacts": model_uri,
                "image": "img",
                "hyperparameters": {},
            },
        }
    )


def test_the_gate_passes_a_model_under_the_threshold_and_rejects_one_over(s3: Any) -> None:
    contract = load_contract("demand")
    good = run_gate(_put_output(s3, "job-good", _evaluation(19.0)), contract=contract, s3=s3)
    bad = run_gate(_put_output(s3, "job-bad", _evaluation(31.0)), contract=contract, s3=s3)
    assert good.passed and good.metrics["rmse"] == 19.0
    assert not bad.passed and "rmse" in bad.summary and "25" in bad.summary


def test_a_tie_with_the_champion_is_rejected_and_its_interval_reaches_the_registry(
    s3: Any,
) -> None:
    contract = load_contract("demand")
    tie = _evaluation(19.0)
    comparison = {
        "metric": "rmse",
        "confidence": 0.95,
        "resamples": 1000,
        "rows": 200,
        "point": 0.0,
        "lower": 0.0,
        "upper": 0.0,
        "slices": {},
    }
    tie["champion"] = {"version": 1, "metrics": {"rmse": 19.0}, "comparison": comparison}
    gate = run_gate(_put_output(s3, "job-tie", tie), contract=contract, s3=s3)
    assert not gate.passed
    assert "no significant improvement: rmse 19 against the champion's 19" in gate.summary
    assert gate.comparison == {
        "metric": "rmse",
        "point": 0.0,
        "lower": 0.0,
        "upper": 0.0,
        "confidence": 0.95,
        "resamples": 1000,
        "rows": 200,
        "margin": 0.0,
        "significant": False,
    }
    request = _register_input().model_copy(update={"gate": gate})
    registry = InMemoryRegistry()
    run_register(request, contract=contract, registry=registry)
    quality = registry.get_version("demand", 1).gates[1]
    assert quality.comparison is not None and quality.comparison.model_dump() == gate.comparison
    assert quality.reasons[0].startswith("no significant improvement")  # fmt: skip


def test_a_job_without_an_evaluation_is_an_explicit_error(s3: Any) -> None:
    with pytest.raises(EvaluationMissing, match=r"has no evaluation\.json"):
        run_gate(_put_output(s3, "job-empty", None), contract=load_contract("demand"), s3=s3)


# ---- register ----------------------------------------------------------------------------------


def _register_input(
    job: str = "demand-abc",
    *,
    compared: dict[str, Any] | None = None,
    passed: bool = True,
    round_number: int = 1,
) -> RegisterInput:
    prepared = (
        None
        if compared is None
        else {
            "trainingJobName": job,
            "championUri": f"s3://{ARTIFACTS}/runs/x/champion/",
            "championVersion": compared.get("version"),
            "profileUri": f"s3://{ARTIFACTS}/p.json",
            "fingerprint": "f",
            "comparedWith": compared,
            "resources": {"instanceType": "ml.m5.large", "instanceCount": 1, "volumeSizeInGB": 30},
        }
    )
    return RegisterInput.model_validate(
        {
            "prepared": prepared,
            "round": round_number,
            "model": "demand",
            "execution": f"arn:aws:states:us-east-1:123456789012:execution:modelrail-dev-training:{job}",
            "requestedBy": "s3-upload",
            "validation": {
                "model": "demand",
                "dataset": {"bucket": DATA, "key": "incoming/demand/x.csv", "versionId": "v1",
                            "sha256": "a" * 64, "rows": 500, "sizeBytes": 1234},
                "trainUri": f"s3://{ARTIFACTS}/datasets/demand/{'a' * 64}/data/",
                "reportUri": f"s3://{ARTIFACTS}/datasets/demand/{'a' * 64}/validation.json",
                "warnings": [],
            },
            "training": {
                "jobName": job,
                "jobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}",
                "modelArtifacts": f"s3://{ARTIFACTS}/training-output/{job}/output/model.tar.gz",
                "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3",
                "hyperparameters": {"sagemaker_submit_directory": '"/opt/ml/input/data/code/abc123.gz"', "model-name": '"demand"'},
            },
            "gate": {"passed": passed, "summary": "ok", "metrics": {"rmse": 19.0}, "checks": [], "evaluationUri": "s3://x/y"},
        }
    )  # fmt: skip


def test_register_writes_lineage_and_is_idempotent_by_training_job() -> None:
    registry = InMemoryRegistry()
    contract = load_contract("demand")
    first = run_register(_register_input(), contract=contract, registry=registry)
    again = run_register(_register_input(), contract=contract, registry=registry)
    other = run_register(_register_input("demand-def"), contract=contract, registry=registry)
    assert (first.version, again.version, other.version) == (1, 1, 2)
    version = registry.get_version("demand", 1)
    assert version.lineage.code_version == "abc123"
    assert version.lineage.data.version_id == "v1" and version.lineage.data.sha256 == "a" * 64
    assert version.lineage.seed == contract.seed
    assert [g.name for g in version.gates] == ["data_validation", "quality"]


def test_register_records_the_champion_at_training_and_the_commit() -> None:
    from modelrail.registry import AliasName, VersionStatus

    registry = InMemoryRegistry()
    contract = load_contract("demand")
    run_register(_register_input("demand-one"), contract=contract, registry=registry)
    registry.transition("demand", 1, VersionStatus.APPROVED, by="t", reason="ok")
    registry.move_alias(
        "demand", AliasName.CHAMPION, to_version=1, expected_version=None, by="t", reason="first"
    )
    compared = {"version": 1, "role": "champion", "champion": 1, "reason": "v1 is the champion"}
    run_register(
        _register_input("demand-two", compared=compared), contract=contract, registry=registry,
        git_commit="abc1234",
    )  # fmt: skip
    second = registry.get_version("demand", 2)
    assert second.lineage.champion_at_training == 1
    assert second.lineage.compared_with is not None
    assert second.lineage.compared_with.reason == "v1 is the champion"
    assert second.lineage.git_commit == "abc1234"
    assert registry.get_version("demand", 1).lineage.champion_at_training is None


NOTHING = {"version": None, "role": "none", "champion": None, "reason": "no champion"}


def test_a_passing_run_judged_against_a_reference_that_moved_is_judged_again() -> None:
    registry = InMemoryRegistry()
    contract = load_contract("demand")
    first = run_register(
        _register_input("run-a", compared=NOTHING), contract=contract, registry=registry
    )
    late = run_register(
        _register_input("run-b", compared=NOTHING), contract=contract, registry=registry
    )
    assert (first.version, first.rejudge) == (1, False)
    assert late.rejudge and late.version is None and late.next_round == 2
    assert late.reference == 1 and "judging again against v1" in late.reason
    assert [v.version for v in registry.list_versions("demand")] == [1]  # nothing written
    # A failing run is registered REJECTED as it is: beating a newer reference is harder.
    failed = run_register(
        _register_input("run-c", compared=NOTHING, passed=False),
        contract=contract,
        registry=registry,
    )
    assert (failed.version, failed.status) == (2, "rejected")
    # Judged again against v1 (the rejected v2 does not move the reference): registered.
    pending = {
        "version": 1,
        "role": "pending_champion",
        "champion": None,
        "reason": "v1 is registered",
    }
    again = run_register(
        _register_input("run-b-r2", compared=pending, round_number=2), contract=contract,
        registry=registry,
    )  # fmt: skip
    assert (again.version, again.reference) == (3, 1)
    # A retried invocation of a registered run returns its version: never its own reference.
    assert run_register(
        _register_input("run-b-r2", compared=pending, round_number=2), contract=contract,
        registry=registry,
    ).version == 3  # fmt: skip


def test_a_run_whose_reference_keeps_moving_gives_up_without_writing() -> None:
    from modelrail.release import MAX_ROUNDS, ReferenceKeptMoving

    registry = InMemoryRegistry()
    contract = load_contract("demand")
    run_register(_register_input("run-a", compared=NOTHING), contract=contract, registry=registry)
    with pytest.raises(ReferenceKeptMoving, match=f"judged {MAX_ROUNDS} times"):
        run_register(
            _register_input("run-b", compared=NOTHING, round_number=MAX_ROUNDS),
            contract=contract, registry=registry,
        )  # fmt: skip
    assert [v.version for v in registry.list_versions("demand")] == [1]


def test_contracts_dir_is_the_repository_folder() -> None:
    assert Path(CONTRACTS_DIR, "demand.yaml").is_file()


# ---- prepare ---------------------------------------------------------------------------------

BANDS = (SizeBand(1000, "ml.m5.large", 30), SizeBand(None, "ml.m5.xlarge", 40))


def _prepare_input(s3: Any) -> Any:
    from modelrail.steps.models import PrepareInput

    body = _csv(generate(load_contract("demand"), rows=300, seed=8))
    validation = _validate(s3, _upload(s3, body))
    return PrepareInput.model_validate(
        {
            "model": "demand",
            "executionName": "demand-exec1",
            "validation": validation.model_dump(by_alias=True),
        }
    )


def test_prepare_without_a_champion_writes_a_marker_and_the_profile(s3: Any) -> None:
    from modelrail.steps.prepare import run_prepare

    result = run_prepare(
        _prepare_input(s3), contract=load_contract("demand"), registry=InMemoryRegistry(), s3=s3,
        artifacts_bucket=ARTIFACTS, environment="dev", size_bands=BANDS,
    )  # fmt: skip
    assert result.champion_version is None
    assert result.training_job_name.startswith("modelrail-dev-demand-")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="runs/")["Contents"]]
    assert keys == ["runs/demand/demand-exec1/champion/NONE"]
    bucket, key = result.profile_uri[5:].split("/", 1)
    profile = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert profile["rows"] == 300 and profile["fingerprint"] == result.fingerprint
    # the snapshot is larger than 1000 bytes: the second band trains it
    assert dump(result.resources) == {
        "instanceType": "ml.m5.xlarge",
        "instanceCount": 1,
        "volumeSizeInGB": 40,
    }


def test_prepare_reuses_the_profile_the_processing_job_built(s3: Any) -> None:
    from modelrail.steps.models import PrepareInput
    from modelrail.steps.prepare import run_prepare

    request = _prepare_input(s3)
    built = {"uri": "s3://artifacts/datasets/demand/run/profile.json", "fingerprint": "f" * 64}
    validation = {**request.validation.model_dump(by_alias=True), "profile": built}
    request = PrepareInput.model_validate({**dump(request), "validation": validation})
    result = run_prepare(
        request, contract=load_contract("demand"), registry=InMemoryRegistry(), s3=s3,
        artifacts_bucket=ARTIFACTS, environment="dev", size_bands=BANDS,
    )  # fmt: skip
    assert (result.profile_uri, result.fingerprint) == (built["uri"], built["fingerprint"])
    folder = request.validation.train_uri.split("/", 3)[3].rsplit("data/", 1)[0]
    listed = s3.list_objects_v2(Bucket=ARTIFACTS, Prefix=folder)["Contents"]
    assert not any(o["Key"].endswith("profile.json") for o in listed)


def test_prepare_copies_the_champion_artifact_into_the_run(s3: Any) -> None:
    from modelrail.registry import AliasName, VersionStatus
    from modelrail.steps.prepare import run_prepare

    registry = InMemoryRegistry()
    contract = load_contract("demand")
    s3.put_object(
        Bucket=ARTIFACTS,
        Key="training-output/demand-old/output/model.tar.gz",
        Body=b"champion-bytes",
    )
    request = _register_input("demand-old")
    run_register(request, contract=contract, registry=registry)
    registry.transition("demand", 1, VersionStatus.APPROVED, by="t", reason="ok")
    registry.move_alias(
        "demand", AliasName.CHAMPION, to_version=1, expected_version=None, by="t", reason="x"
    )
    result = run_prepare(
        _prepare_input(s3), contract=contract, registry=registry, s3=s3, artifacts_bucket=ARTIFACTS,
        environment="dev", size_bands=BANDS,
    )  # fmt: skip
    assert result.champion_version == 1
    prefix = "runs/demand/demand-exec1/champion/"
    assert (
        s3.get_object(Bucket=ARTIFACTS, Key=prefix + "model.tar.gz")["Body"].read()
        == b"champion-bytes"
    )
    assert (
        json.loads(s3.get_object(Bucket=ARTIFACTS, Key=prefix + "champion.json")["Body"].read())[
            "version"
        ]
        == 1
    )


def test_prepare_judges_against_the_version_on_its_way_to_replace_the_champion(s3: Any) -> None:
    from modelrail.registry import AliasName, VersionStatus
    from modelrail.steps.prepare import run_prepare

    registry = InMemoryRegistry()
    contract = load_contract("demand")
    for job in ("demand-old", "demand-new"):
        s3.put_object(
            Bucket=ARTIFACTS, Key=f"training-output/{job}/output/model.tar.gz", Body=job.encode()
        )
        run_register(_register_input(job), contract=contract, registry=registry)
    registry.transition("demand", 1, VersionStatus.APPROVED, by="t", reason="ok")
    registry.move_alias(
        "demand", AliasName.CHAMPION, to_version=1, expected_version=None, by="t", reason="x"
    )
    registry.transition("demand", 2, VersionStatus.APPROVED, by="t", reason="ok")
    registry.transition("demand", 2, VersionStatus.DEPLOYING, by="t", reason="canary")
    request = _prepare_input(s3).model_copy(update={"round": 2})
    result = run_prepare(
        request, contract=contract, registry=registry, s3=s3, artifacts_bucket=ARTIFACTS,
        environment="dev", size_bands=BANDS,
    )  # fmt: skip
    assert result.champion_version == 2
    assert result.compared_with == {
        "version": 2,
        "role": "pending_champion",
        "champion": 1,
        "reason": "v2 is deploying, on its way to replace champion v1",
    }
    prefix = "runs/demand/demand-exec1-r2/champion/"  # a second round has its own folder
    body = s3.get_object(Bucket=ARTIFACTS, Key=prefix + "model.tar.gz")["Body"].read()
    assert body == b"demand-new"
    first_round = run_prepare(
        _prepare_input(s3), contract=contract, registry=registry, s3=s3,
        artifacts_bucket=ARTIFACTS, environment="dev", size_bands=BANDS,
    )  # fmt: skip
    assert first_round.training_job_name != result.training_job_name
    # A later round reuses the profile round 1 stored: written once, the same fingerprint.
    third = run_prepare(
        request.model_copy(update={"round": 3}), contract=contract, registry=registry, s3=s3,
        artifacts_bucket=ARTIFACTS, environment="dev", size_bands=BANDS,
    )  # fmt: skip
    assert (third.profile_uri, third.fingerprint) == (
        first_round.profile_uri,
        first_round.fingerprint,
    )
    bucket, key = first_round.profile_uri[5:].split("/", 1)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 2  # round 2 (nothing stored yet) and round 1; not round 3
