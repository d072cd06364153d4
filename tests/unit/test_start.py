"""Starting the pipeline: names, idempotency, foreign objects, the handler's event parsing."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from modelrail.naming import dataset_job_name
from modelrail.steps.start import NotAPipelineObject, plan_start, start_pipeline
from tests.conftest import ROOT, load_event

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker training job names
SIZE = 92073  # the sample event's detail.object.size
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:modelrail-dev-training"


def test_the_name_is_a_function_of_bucket_key_and_version() -> None:
    a = plan_start("bkt", "incoming/demand/x.csv", "v1")
    assert plan_start("bkt", "incoming/demand/x.csv", "v1").name == a.name
    assert plan_start("bkt", "incoming/demand/x.csv", "v2").name != a.name
    assert plan_start("bkt", "incoming/demand/y.csv", "v1").name != a.name
    assert plan_start("other", "incoming/demand/x.csv", "v1").name != a.name
    assert a.name.startswith("demand-")
    assert a.input.model == "demand" and a.input.version_id == "v1"


@given(
    model=st.from_regex(r"[a-z][a-z0-9-]{1,30}[a-z0-9]", fullmatch=True),
    filename=st.text(min_size=1, max_size=60).filter(lambda s: "/" not in s),
    version=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
)
def test_every_name_is_a_valid_training_job_name(
    model: str, filename: str, version: str | None
) -> None:
    name = plan_start("bucket", f"incoming/{model}/{filename}", version).name
    assert JOB_NAME.match(name), name


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("raw/demand/x.csv", "is not under incoming/"),
        ("incoming/x.csv", "uploads go to incoming/<model>/<file>"),
        ("incoming/demand/", "uploads go to incoming/<model>/<file>"),
        ("incoming/Demand!/x.csv", "is not a valid model name"),
    ],
)
def test_objects_outside_a_model_folder_do_not_start_a_pipeline(key: str, fragment: str) -> None:
    with pytest.raises(NotAPipelineObject, match=re.escape(fragment)):
        plan_start("bucket", key, "v1")


class _Sfn:
    def __init__(self, exists: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.exists = exists

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.exists:
            raise ClientError(
                {"Error": {"Code": "ExecutionAlreadyExists", "Message": "x"}}, "StartExecution"
            )
        return {"executionArn": SM_ARN.replace("stateMachine", "execution") + ":" + kwargs["name"]}


def test_a_repeated_start_is_reported_as_a_duplicate_not_an_error() -> None:
    plan = plan_start("bkt", "incoming/demand/x.csv", "v1")
    first = start_pipeline(plan, state_machine_arn=SM_ARN, sfn=_Sfn())  # type: ignore[arg-type]
    again = start_pipeline(plan, state_machine_arn=SM_ARN, sfn=_Sfn(exists=True))  # type: ignore[arg-type]
    assert first.started and not again.started
    assert first.execution_arn == again.execution_arn


def test_other_start_errors_propagate() -> None:
    class Throttled(_Sfn):
        def start_execution(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "StartExecution"
            )

    with pytest.raises(ClientError, match="ThrottlingException"):
        start_pipeline(
            plan_start("bkt", "incoming/demand/x.csv", "v1"),
            state_machine_arn=SM_ARN,
            sfn=Throttled(),
        )  # type: ignore[arg-type]


# ---- the handler -----------------------------------------------------------------------------


def _handler_module(name: str) -> ModuleType:
    path = ROOT / "functions" / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"_test_handler_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Context:
    function_name = "start"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:start"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30000


@pytest.fixture
def starter(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, _Sfn]:
    monkeypatch.setenv("STATE_MACHINE_ARN", SM_ARN)
    monkeypatch.setenv("MODELRAIL_ENV", "dev")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    # A fresh service name gives a fresh logger bound to this test's stdout.
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"test-start-{uuid.uuid4().hex[:8]}")
    module = _handler_module("start_pipeline")
    sfn = _Sfn()
    monkeypatch.setattr(module, "_sfn", lambda: sfn)
    monkeypatch.setattr(module, "_s3", lambda: _S3({}))
    return module, sfn


class _S3:
    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = metadata
        self.calls: list[dict[str, str]] = []

    def head_object(self, **kwargs: str) -> dict[str, object]:
        self.calls.append(kwargs)
        return {"Metadata": self.metadata}


def test_the_handler_starts_one_execution_from_a_real_s3_event(
    starter: tuple[ModuleType, _Sfn],
) -> None:
    module, sfn = starter
    result = module.lambda_handler(load_event("s3_object_created_eventbridge.json"), _Context())
    assert result["status"] == "started"
    (call,) = sfn.calls
    payload = json.loads(call["input"])
    assert payload == {
        "model": "demand",
        "bucket": "example-data-bucket",
        "key": "incoming/demand/2026-11.csv",
        "versionId": "3e3be4b8-b585-402d-964a-e6eca94c16d1",
        "reason": "upload",
        "requestedBy": "s3-upload",
        "fault": None,
        # The event's size, and the Processing job the run uses should it be large.
        "sizeBytes": SIZE,
        "processingJobName": dataset_job_name("dev", "demand", call["name"]),
        "retrain": None,  # an upload, not a retraining
    }


def test_fault_metadata_on_the_upload_reaches_the_pipeline(
    starter: tuple[ModuleType, _Sfn], monkeypatch: pytest.MonkeyPatch
) -> None:
    module, sfn = starter
    s3 = _S3({"modelrail-fault-error-rate": "1"})
    monkeypatch.setattr(module, "_s3", lambda: s3)
    module.lambda_handler(load_event("s3_object_created_eventbridge.json"), _Context())
    (call,) = sfn.calls
    assert json.loads(call["input"])["fault"] == {"errorRate": 1.0}
    assert s3.calls == [
        {
            "Bucket": "example-data-bucket",
            "Key": "incoming/demand/2026-11.csv",
            "VersionId": "3e3be4b8-b585-402d-964a-e6eca94c16d1",
        }
    ]
    # bad metadata is ignored, the pipeline still starts
    monkeypatch.setattr(module, "_s3", lambda: _S3({"modelrail-fault-error-rate": "2"}))
    module.lambda_handler(load_event("s3_object_created_eventbridge.json"), _Context())
    assert json.loads(sfn.calls[-1]["input"])["fault"] is None


def test_a_foreign_event_is_a_validation_error_with_no_side_effect(
    starter: tuple[ModuleType, _Sfn],
) -> None:
    module, sfn = starter
    with pytest.raises(ValidationError):
        module.lambda_handler({"source": "aws.ec2", "detail": {"instance-id": "i-1"}}, _Context())
    assert sfn.calls == []


def test_the_handler_does_not_log_the_event(
    caplog: pytest.LogCaptureFixture, starter: tuple[ModuleType, _Sfn]
) -> None:
    module, _ = starter
    event = load_event("s3_object_created_eventbridge.json")
    event["detail"]["source-ip-address"] = "198.51.100.77"
    module.logger.setLevel("DEBUG")
    with caplog.at_level("DEBUG"):
        module.lambda_handler(event, _Context())
    formatter = module.logger.registered_formatter
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "pipeline started" in logged
    assert "198.51.100.77" not in logged


def test_event_samples_are_valid_json() -> None:
    for path in (Path(__file__).resolve().parent.parent / "events").glob("*.json"):
        json.loads(path.read_text())


# ---- fault injection through upload metadata ------------------------------------------------


def test_fault_metadata_is_read_and_range_checked() -> None:
    from modelrail.steps.start import InvalidFault, fault_from_metadata

    assert fault_from_metadata({}) is None
    assert fault_from_metadata({"other": "1"}) is None
    assert fault_from_metadata({"modelrail-fault-error-rate": "1"}) == {"errorRate": 1.0}
    assert fault_from_metadata(
        {"modelrail-fault-error-rate": "0.25", "modelrail-fault-latency-ms": "300"}
    ) == {"errorRate": 0.25, "latencyMs": 300.0}
    for bad in ({"modelrail-fault-error-rate": "1.5"}, {"modelrail-fault-latency-ms": "-1"},
                {"modelrail-fault-error-rate": "lots"}, {"modelrail-fault-latency-ms": "nan"}):  # fmt: skip
        with pytest.raises(InvalidFault):
            fault_from_metadata(bad)


def test_the_fault_travels_in_the_pipeline_input() -> None:
    from modelrail.steps.models import dump
    from modelrail.steps.start import plan_start

    plan = plan_start("bkt", "incoming/demand/x.csv", "v1", fault={"errorRate": 1.0})
    assert dump(plan.input)["fault"] == {"errorRate": 1.0}
    assert dump(plan_start("bkt", "incoming/demand/x.csv", "v1").input)["fault"] is None
    # the execution name does not depend on the fault: one execution per object version
    assert plan.name == plan_start("bkt", "incoming/demand/x.csv", "v1").name


def test_a_plan_names_the_processing_job_only_when_the_size_is_known() -> None:
    key = "incoming/demand/big.csv"
    sized = plan_start("data-bucket", key, "v1", size_bytes=10**9, environment="staging")
    assert sized.input.size_bytes == 10**9
    assert sized.input.processing_job_name == dataset_job_name("staging", "demand", sized.name)
    assert sized.input.processing_job_name.startswith("modelrail-staging-demand-")
    unsized = plan_start("data-bucket", key, "v1", environment="staging")
    assert unsized.input.size_bytes is None and unsized.input.processing_job_name is None
    # Same (bucket, key, version): the same execution, whatever the size says.
    assert unsized.name == sized.name
