"""The local cloud's hosting executor on moto: endpoints, canaries, alarms, rollback, capture.

A stand-in model (``code/inference.py`` in ``model.tar.gz``) answers ``{"v": <tag>}`` and
fails when its container environment asks for it, so each fleet is recognisable.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from modelrail.local import clock, cloudwatch, hosting_runtime
from modelrail.local.cloudwatch import CloudWatchRuntime
from modelrail.local.hosting_runtime import HostingRuntime

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "hosting-test"
ENDPOINT = "ep"
ALARM = "ep-5xx"
INFERENCE = """
import json, os
def model_fn(model_dir):
    with open(os.path.join(model_dir, "tag.txt")) as f:
        return f.read()
def input_fn(body, content_type):
    if content_type == "text/plain":
        raise ValueError("raised in input_fn")
    if content_type != "application/json":
        return None
    return json.loads(body)
def predict_fn(data, model):
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("broken model")
    return data if data is None else {"v": model, "n": len(data)}
def output_fn(prediction, accept):
    if prediction is None:
        from sagemaker_containers.beta.framework import worker
        return worker.Response(response="send JSON", status=415, mimetype="text/plain")
    return json.dumps(prediction), "application/json"
"""


def _artifact(tag: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, text in (("tag.txt", tag), ("code/inference.py", INFERENCE)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


class Cloud:
    def __init__(self, runtime: HostingRuntime) -> None:
        self.runtime = runtime
        self.sm: Any = boto3.client("sagemaker", region_name=REGION)
        self.rt: Any = boto3.client("sagemaker-runtime", region_name=REGION)
        self.cw: Any = boto3.client("cloudwatch", region_name=REGION)
        self.s3: Any = boto3.client("s3", region_name=REGION)

    def config(self, tag: str, *, fail: bool = False, capture: bool = True) -> str:
        self.s3.put_object(Bucket=BUCKET, Key=f"{tag}/model.tar.gz", Body=_artifact(tag))
        self.sm.create_model(
            ModelName=f"m-{tag}",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
            PrimaryContainer={
                "Image": "img",
                "ModelDataUrl": f"s3://{BUCKET}/{tag}/model.tar.gz",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "FAIL": "1" if fail else "0"},
            },
        )
        self.sm.create_endpoint_config(
            EndpointConfigName=f"c-{tag}",
            ProductionVariants=[
                {
                    "VariantName": "live",
                    "ModelName": f"m-{tag}",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 2,
                }
            ],
            DataCaptureConfig={
                "EnableCapture": capture,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"s3://{BUCKET}/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
            },
        )
        return f"c-{tag}"

    def settle(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sm.describe_endpoint(EndpointName=ENDPOINT)
            if described["EndpointStatus"] not in ("Creating", "Updating", "RollingBack"):
                return dict(described)
            assert time.monotonic() < deadline, described
            time.sleep(0.05)

    def ask(self) -> str:
        body = self.rt.invoke_endpoint(
            EndpointName=ENDPOINT, Body=b"[1, 2]", ContentType="application/json"
        )["Body"].read()
        return str(json.loads(body)["v"])

    def update(self, config: str, *, bake: int = 60, termination: int = 30) -> None:
        self.sm.update_endpoint(
            EndpointName=ENDPOINT,
            EndpointConfigName=config,
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                        "WaitIntervalInSeconds": bake,
                    },
                    "TerminationWaitInSeconds": termination,
                    "MaximumExecutionTimeoutInSeconds": 1800,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]},
            },
        )


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Cloud]:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        local_clock = clock.LocalClock(speed=60)
        watcher = CloudWatchRuntime(local_clock, account_id=ACCOUNT, region=REGION)
        runtime = HostingRuntime(
            tmp_path, local_clock, account_id=ACCOUNT, region=REGION, cloudwatch=watcher
        )
        undos = [hosting_runtime.install(runtime), cloudwatch.install(watcher)]
        watcher.start()
        try:
            c = Cloud(runtime)
            c.s3.create_bucket(Bucket=BUCKET)
            c.cw.put_metric_alarm(
                AlarmName=ALARM,
                Namespace="AWS/SageMaker",
                MetricName="Invocation5XXErrors",
                Dimensions=[
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": "live"},
                ],
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="notBreaching",
            )
            yield c
        finally:
            runtime.shutdown()
            watcher.shutdown()
            for undo in undos:
                undo()


def _traffic(cloud: Cloud, stop: threading.Event, answers: list[str]) -> None:
    while not stop.is_set():
        try:
            answers.append(cloud.ask())
        except ClientError as exc:
            answers.append(exc.response["Error"]["Code"])
        time.sleep(0.01)


def test_an_endpoint_is_created_then_serves_its_model(cloud: Cloud) -> None:
    cloud.sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=cloud.config("a"))
    assert cloud.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "Creating"
    described = cloud.settle()
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert cloud.ask() == "a"
    answer = cloud.rt.invoke_endpoint(
        EndpointName=ENDPOINT, Body=b"[1]", ContentType="application/json"
    )
    assert answer["InvokedProductionVariant"] == "live"


def test_a_model_that_cannot_load_fails_the_endpoint_with_its_reason(cloud: Cloud) -> None:
    cloud.s3.put_object(Bucket=BUCKET, Key="bad/model.tar.gz", Body=_artifact("bad"))
    cloud.sm.create_model(
        ModelName="m-bad",
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
        PrimaryContainer={
            "Image": "img",
            "ModelDataUrl": f"s3://{BUCKET}/bad/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "missing.py"},
        },
    )
    cloud.sm.create_endpoint_config(
        EndpointConfigName="c-bad",
        ProductionVariants=[
            {"VariantName": "live", "ModelName": "m-bad", "InstanceType": "ml.m5.large"}
        ],
    )
    cloud.sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c-bad")
    described = cloud.settle()
    assert described["EndpointStatus"] == "Failed"
    assert "missing" in described["FailureReason"]


def _counts(cloud: Cloud) -> dict[str, float]:
    counts: dict[str, float] = {}
    for datum in cloud.runtime.cloudwatch._cloudwatch().metric_data:
        if datum.name.startswith("Invocation"):
            counts[datum.name] = counts.get(datum.name, 0.0) + float(datum.value)
    return counts


def test_model_errors_are_model_error_and_bad_input_is_4xx(cloud: Cloud) -> None:
    cloud.sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=cloud.config("a"))
    cloud.settle()
    # a response object from output_fn carries its status, as in the container
    with pytest.raises(ClientError) as caught:
        cloud.rt.invoke_endpoint(EndpointName=ENDPOINT, Body=b"x", ContentType="text/csv")
    error = caught.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 415
    assert error["OriginalMessage"] == "send JSON"
    assert "Received client error (415)" in error["Error"]["Message"]
    assert _counts(cloud) == {
        "Invocations": 1.0,
        "Invocation4XXErrors": 1.0,
        "Invocation5XXErrors": 0.0,
        "InvocationModelErrors": 0.0,
    }
    # whatever a handler raises is a 500 (sagemaker-containers wraps it), ValueError too
    with pytest.raises(ClientError) as raised:
        cloud.rt.invoke_endpoint(EndpointName=ENDPOINT, Body=b"x", ContentType="text/plain")
    assert raised.value.response["OriginalStatusCode"] == 500
    assert raised.value.response["OriginalMessage"] == "ValueError in input_fn: raised in input_fn"
    assert _counts(cloud)["Invocation5XXErrors"] == 1.0
    assert _counts(cloud)["InvocationModelErrors"] == 1.0
    with pytest.raises(ClientError) as unknown:
        cloud.rt.invoke_endpoint(EndpointName="nope", Body=b"[1]", ContentType="application/json")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"


def test_a_healthy_canary_shifts_all_traffic_and_retires_the_old_fleet(cloud: Cloud) -> None:
    cloud.sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=cloud.config("a"))
    cloud.settle()
    stop, answers = threading.Event(), []  # type: ignore[var-annotated]
    worker = threading.Thread(target=_traffic, args=(cloud, stop, answers))
    worker.start()
    try:
        cloud.update(cloud.config("b"))
        during = cloud.sm.describe_endpoint(EndpointName=ENDPOINT)
        assert during["EndpointStatus"] == "Updating"
        assert during["EndpointConfigName"] == "c-a"  # the old config until it completes
        assert during["PendingDeploymentSummary"]["EndpointConfigName"] == "c-b"
        with pytest.raises(ClientError, match="in-progress"):
            cloud.update(cloud.config("c"))
        described = cloud.settle()
    finally:
        stop.set()
        worker.join()
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "c-b"
    assert "FailureReason" not in described
    assert "a" in answers and "b" in answers  # both fleets served during the canary
    assert answers[-1] == "b" and "ModelError" not in answers
    assert cloud.ask() == "b"
    events = [what for _, what in cloud.runtime.endpoints[ENDPOINT].events]
    assert any("canary: 50%" in e for e in events), events


def test_a_failing_canary_trips_its_alarm_and_rolls_back_silently(cloud: Cloud) -> None:
    cloud.sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=cloud.config("a"))
    cloud.settle()
    started = time.time()
    stop, answers = threading.Event(), []  # type: ignore[var-annotated]
    worker = threading.Thread(target=_traffic, args=(cloud, stop, answers))
    worker.start()
    try:
        cloud.update(cloud.config("bad", fail=True), bake=600)
        described = cloud.settle(timeout=30)  # long before the 10 s bake ends
    finally:
        stop.set()
        worker.join()
    # As SageMaker reports it: InService, on the OLD config, no failure reason.
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "c-a"
    assert "FailureReason" not in described
    assert "ModelError" in answers
    assert cloud.ask() == "a"
    history = cloud.cw.describe_alarm_history(
        AlarmName=ALARM, HistoryItemType="StateUpdate", StartDate=started
    )["AlarmHistoryItems"]
    assert any("to ALARM" in item["HistorySummary"] for item in history)
    datapoints = cloud.runtime.cloudwatch._cloudwatch().metric_data
    assert any(d.name == "Invocation5XXErrors" and d.value == 1.0 for d in datapoints)


def test_the_alarm_returns_to_ok_once_errors_stop(cloud: Cloud) -> None:
    cloud.sm.create_endpoint(
        EndpointName=ENDPOINT, EndpointConfigName=cloud.config("bad", fail=True)
    )
    cloud.settle()
    with pytest.raises(ClientError):
        cloud.ask()
    deadline = time.monotonic() + 5
    states = []
    while time.monotonic() < deadline:
        state = cloud.cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"]
        if not states or states[-1] != state:
            states.append(state)
        if states[-2:] == ["ALARM", "OK"]:
            break
        time.sleep(0.05)
    assert states[-2:] == ["ALARM", "OK"], states


def test_data_capture_is_written_as_sagemaker_json_lines(cloud: Cloud) -> None:
    cloud.sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=cloud.config("a"))
    cloud.settle()
    cloud.rt.invoke_endpoint(
        EndpointName=ENDPOINT,
        Body=b"[1, 2, 3]",
        ContentType="application/json",
        InferenceId="req-1",
    )
    cloud.runtime.flush_capture()
    keys = [
        o["Key"]
        for o in cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"capture/{ENDPOINT}/live/")[
            "Contents"
        ]
    ]
    assert len(keys) == 1 and keys[0].endswith(".jsonl")
    record = json.loads(cloud.s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": "[1, 2, 3]",
        "encoding": "JSON",
    }
    assert json.loads(record["captureData"]["endpointOutput"]["data"]) == {"v": "a", "n": 3}
    assert record["eventMetadata"]["inferenceId"] == "req-1"
    assert record["eventMetadata"]["eventId"]
