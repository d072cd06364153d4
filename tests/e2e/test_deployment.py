"""Deployment end to end on the local cloud (issue 5's acceptance).

v1 is deployed (the endpoint is created); v2's canary succeeds (champion v2, all traffic
on v2); v3, uploaded with fault-injection metadata, fails its canary: the 5XX alarm
fires, SageMaker rolls back, v3 is ROLLED_BACK naming the alarm, the endpoint serves v2,
the champion is still v2 and one notification says so. Then `modelrail registry
rollback` redeploys the previous champion through the same state machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelrail.cli.registry import main as registry_main
from modelrail.deploy.client import DeploymentRun, wait_for
from modelrail.deploy.naming import alarm_names, endpoint_name
from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.local.traffic import Traffic
from modelrail.monitoring.capture import read_records
from modelrail.registry import AliasName, DynamoDBRegistry, VersionStatus
from modelrail.sample import sample_command

pytestmark = pytest.mark.e2e
MODEL = "demand"
ENDPOINT = endpoint_name("dev", MODEL)


@dataclass
class Story:
    cloud: LocalCloud
    runs: dict[int, PipelineRun]
    deployments: dict[int, DeploymentRun]
    traffic: dict[int, Traffic]
    data: Path
    """The sample the traffic is drawn from."""
    notifications_during_v3: list[dict[str, Any]]


def _registry(cloud: LocalCloud) -> DynamoDBRegistry:
    return DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))


def _deploy_with_traffic(
    cloud: LocalCloud, run: PipelineRun, data: Path
) -> tuple[DeploymentRun, Traffic]:
    with Traffic.from_sample(cloud, MODEL, data, record_config=True) as traffic:
        deployed = wait_for(
            cloud.deployment_arn_for(run.execution_arn),
            sfn=cloud.client("stepfunctions"),
            timeout=300,
        )
    return deployed, traffic


@pytest.fixture(scope="module")
def story(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    data = tmp_path_factory.mktemp("deploy-data")
    small = sample_command(MODEL, 600, 1, data / "v1.csv")
    large = sample_command(MODEL, 3000, 2, data / "v2.csv")
    # More data again, so v3 is significantly better than v2 and reaches its canary (the
    # same data would tie v2, and a tie is rejected: D39).
    faulty = sample_command(MODEL, 12000, 3, data / "v3.csv")
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("deploy-cloud")) as cloud:
        sfn = cloud.client("stepfunctions")
        runs: dict[int, PipelineRun] = {}
        deployments: dict[int, DeploymentRun] = {}
        traffic: dict[int, Traffic] = {}
        runs[1] = cloud.upload_and_wait(MODEL, small)
        deployments[1] = wait_for(
            cloud.deployment_arn_for(runs[1].execution_arn), sfn=sfn, timeout=300
        )
        runs[2] = cloud.upload_and_wait(MODEL, large)
        deployments[2], traffic[2] = _deploy_with_traffic(cloud, runs[2], large)
        before = len(cloud.notifications())
        runs[3] = cloud.upload_and_wait(MODEL, faulty, metadata={"modelrail-fault-error-rate": "1"})
        deployments[3], traffic[3] = _deploy_with_traffic(cloud, runs[3], large)
        yield Story(cloud, runs, deployments, traffic, large, cloud.notifications()[before:])


def test_the_first_version_creates_the_endpoint_and_becomes_champion(story: Story) -> None:
    assert story.runs[1].status == "SUCCEEDED", story.runs[1].message
    first = story.deployments[1]
    assert first.outcome == "PRODUCTION", first.to_json()
    assert first.result is not None and first.result["version"] == 1


def test_a_healthy_canary_moves_all_traffic_and_the_champion(story: Story) -> None:
    cloud = story.cloud
    second = story.deployments[2]
    assert story.runs[2].status == "SUCCEEDED", story.runs[2].message
    assert second.outcome == "PRODUCTION", second.to_json()
    registry = _registry(cloud)
    assert registry.get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]
    assert registry.get_version(MODEL, 2).status is VersionStatus.PRODUCTION
    assert registry.get_version(MODEL, 1).status is VersionStatus.ARCHIVED
    config = second.result["configName"]  # type: ignore[index]
    assert config.startswith("modelrail-dev-demand-v2-")
    answers = story.traffic[2].answers
    assert answers and all(a.ok for a in answers)  # no request failed during the canary
    assert answers[-1].config == config  # all traffic on v2 at the end


def test_a_faulty_canary_is_rolled_back_by_its_alarm_and_nothing_moves(story: Story) -> None:
    cloud = story.cloud
    third = story.deployments[3]
    assert story.runs[3].status == "SUCCEEDED", story.runs[3].message
    assert third.status == "FAILED" and third.error == "DeploymentRolledBack"
    assert third.outcome == "ROLLED_BACK"
    alarm = alarm_names("dev", MODEL)["errors"]
    assert third.result is not None and alarm in third.result["trippedAlarms"]
    assert alarm in (third.cause or "")
    registry = _registry(cloud)
    v3 = registry.get_version(MODEL, 3)
    assert v3.status is VersionStatus.ROLLED_BACK
    assert alarm in v3.status_history[-1].reason
    assert registry.get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]
    # the endpoint serves v2's config again, and serves it well
    live = cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert live["EndpointStatus"] == "InService"
    assert live["EndpointConfigName"] == story.deployments[2].result["configName"]  # type: ignore[index]
    assert story.traffic[3].failed > 0  # the canary really failed requests
    runtime = cloud.client("sagemaker-runtime")
    body = runtime.invoke_endpoint(
        EndpointName=ENDPOINT,
        Body=b"S01,grocery,3.5,False,2,6,21.0,False,3.6",
        ContentType="text/csv",
    )["Body"].read()
    assert body
    # one notification, and it is the rollback's
    messages = story.notifications_during_v3
    deployment_messages = [m for m in messages if m.get("event", "").startswith("deployment.")]
    assert [m["event"] for m in deployment_messages] == ["deployment.rolled_back"]
    assert alarm in json.dumps(deployment_messages[0])
    # the alarm's own action reached the encrypted topic: the topic policy and the key
    # policy let cloudwatch.amazonaws.com publish (the local cloud checks both)
    assert any(m.get("AlarmName") == alarm and m.get("NewStateValue") == "ALARM" for m in messages)


def test_data_capture_records_the_served_requests(story: Story) -> None:
    cloud = story.cloud
    cloud.hosting.flush_capture()
    s3 = cloud.client("s3")
    bucket = cloud.output("ArtifactsBucketName")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"capture/{ENDPOINT}/live/").get(
            "Contents", []
        )
    ]
    assert keys and all(k.endswith(".jsonl") for k in keys)
    line = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode().splitlines()[0]
    record: dict[str, Any] = json.loads(line)
    assert record["captureData"]["endpointInput"]["mode"] == "INPUT"
    assert record["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    assert record["eventMetadata"]["eventId"]
    # the capture reader reads every file; the traffic's requests carry inference ids
    files = [(k, s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    records = read_records(files)
    assert len(records) > 0 and records.corrupt == []
    assert sum(i is not None for i in records.inference_ids) > 0
    assert {e for e in records.input_encodings} <= {"CSV", "JSON", "BASE64"}


def test_registry_rollback_redeploys_the_previous_champion(story: Story) -> None:
    cloud = story.cloud
    code = registry_main(["registry", "rollback", MODEL, "--reason", "drill", "--json"])
    assert code == 0
    registry = _registry(cloud)
    assert registry.get_alias(MODEL, AliasName.CHAMPION).version == 1  # type: ignore[union-attr]
    assert registry.get_version(MODEL, 1).status is VersionStatus.PRODUCTION
    live = cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert live["EndpointConfigName"].startswith("modelrail-dev-demand-v1-")
    history = registry.get_version(MODEL, 1).status_history
    assert any("rollback from v2 to v1: drill" in (h.reason or "") for h in history)


def test_modelrail_deploy_puts_a_chosen_version_on_the_endpoint(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelrail.cli import main as cli_main

    cloud = story.cloud
    capsys.readouterr()
    assert cli_main(["deploy", MODEL, "2", "--reason", "back to v2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "PRODUCTION" and report["result"]["version"] == 2
    registry = _registry(cloud)
    assert registry.get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]
    live = cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert live["EndpointConfigName"] == report["result"]["configName"]
    # old configs beyond the environment's keep count are gone; the live one never is
    configs = {
        c["EndpointConfigName"]
        for c in cloud.client("sagemaker").list_endpoint_configs(NameContains="demand-v")[
            "EndpointConfigs"
        ]
    }
    assert live["EndpointConfigName"] in configs and len(configs) <= 3


def test_modelrail_deploy_with_injected_errors_is_rolled_back_and_exits_3(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelrail.cli import main as cli_main

    cloud = story.cloud
    capsys.readouterr()
    with Traffic.from_sample(cloud, MODEL, story.data):
        code = cli_main(["deploy", MODEL, "3", "--inject-errors", "1", "--reason", "drill"])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "ROLLED_BACK" in out and alarm_names("dev", MODEL)["errors"] in out
    assert _registry(cloud).get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]
