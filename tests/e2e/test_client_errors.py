"""Client errors are not model errors, end to end on the local cloud (issue 12, item 4).

v1 creates the endpoint. v2's canary bakes under steady traffic and receives one
malformed request (a row of the dataset itself, target included, without a header): it
is answered 400 naming the columns, counted in Invocation4XXErrors only, and v2 is
promoted. v3, uploaded with fault-injection metadata, gets the same traffic and the same
malformed request and is still rolled back by the 5XX rate alarm. `modelrail predict`
sends the training file itself (columns in any order, target included).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from modelrail.deploy.client import DeploymentRun, wait_for
from modelrail.deploy.naming import alarm_names, endpoint_name
from modelrail.local.cloud import LocalCloud
from modelrail.local.traffic import Traffic
from modelrail.registry import AliasName, DynamoDBRegistry, VersionStatus
from modelrail.sample import sample_command

pytestmark = pytest.mark.e2e
MODEL = "demand"
ENDPOINT = endpoint_name("dev", MODEL)


@dataclass
class Canary:
    deployment: DeploymentRun
    malformed: dict[str, Any]
    """The error response of the malformed request sent during the bake."""
    with_header: bytes | None
    """The answer to the same row sent with the dataset's header (None if it failed)."""
    traffic: Traffic
    alarmed: list[str]
    """The error alarms that went to ALARM during this canary."""
    client_errors: float
    """Invocation4XXErrors published during this canary."""


@dataclass
class Story:
    cloud: LocalCloud
    good: Canary
    faulty: Canary
    data: Path
    """The training file (target column included)."""


def _wait_for_bake(cloud: LocalCloud, timeout: float = 300) -> None:
    """Until the endpoint's new fleet is baking."""
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        if '"Baking"' in json.dumps(described.get("PendingDeploymentSummary", {}), default=str):
            return
        time.sleep(0.05)
    raise AssertionError(f"{ENDPOINT} never started baking a canary")


def _alarmed(cloud: LocalCloud) -> list[tuple[str, str]]:
    names = alarm_names("dev", MODEL)
    cw = cloud.client("cloudwatch")
    return [
        (name, str(item["Timestamp"]))
        for name in (names["errors"], names["model_errors"])
        for item in cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
        if "to ALARM" in item.get("HistorySummary", "")
    ]


def _client_errors(cloud: LocalCloud) -> float:
    data = cloud.cloudwatch._cloudwatch().metric_data
    return sum(float(d.value) for d in data if d.name == "Invocation4XXErrors")


def _canary(cloud: LocalCloud, data: Path, run_arn: str) -> Canary:
    runtime = cloud.client("sagemaker-runtime")
    alarmed_before, client_errors_before = set(_alarmed(cloud)), _client_errors(cloud)
    row = pd.read_csv(data).head(1)
    with Traffic.from_sample(cloud, MODEL, data) as traffic:
        _wait_for_bake(cloud)
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(
                EndpointName=ENDPOINT,
                Body=row.to_csv(index=False, header=False).encode(),
                ContentType="text/csv",
            )
        try:  # a faulty canary may fail it, as it fails any request it serves
            with_header: bytes | None = runtime.invoke_endpoint(
                EndpointName=ENDPOINT,
                Body=row.to_csv(index=False).encode(),
                ContentType="text/csv",
            )["Body"].read()
        except ClientError:
            with_header = None
        deployed = wait_for(
            cloud.deployment_arn_for(run_arn), sfn=cloud.client("stepfunctions"), timeout=300
        )
    alarmed = sorted({name for name, at in set(_alarmed(cloud)) - alarmed_before})
    client_errors = _client_errors(cloud) - client_errors_before
    return Canary(deployed, caught.value.response, with_header, traffic, alarmed, client_errors)


@pytest.fixture(scope="module")
def story(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    folder = tmp_path_factory.mktemp("client-errors-data")
    data = sample_command(MODEL, 600, 1, folder / "v1.csv")
    # each next version significantly better (a tie would be rejected at the gate, D39)
    copies = {
        2: sample_command(MODEL, 3000, 2, folder / "v2.csv"),
        3: sample_command(MODEL, 12000, 3, folder / "v3.csv"),
    }
    with LocalCloud(
        assembly=assembly, work_dir=tmp_path_factory.mktemp("client-errors-cloud")
    ) as cloud:
        first = cloud.upload_and_wait(MODEL, data)
        wait_for(cloud.deployment_arn_for(first.execution_arn), sfn=cloud.client("stepfunctions"))
        second = cloud.upload_and_wait(MODEL, copies[2])
        good = _canary(cloud, data, second.execution_arn)
        third = cloud.upload_and_wait(
            MODEL, copies[3], metadata={"modelrail-fault-error-rate": "1"}
        )
        faulty = _canary(cloud, data, third.execution_arn)
        yield Story(cloud, good, faulty, data)


def _registry(cloud: LocalCloud) -> DynamoDBRegistry:
    return DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))


def test_a_malformed_request_is_a_4xx_naming_the_columns(story: Story) -> None:
    error = story.good.malformed
    assert error["Error"]["Code"] == "ModelError"
    assert error["OriginalStatusCode"] == 400
    message = json.loads(error["OriginalMessage"])["error-message"]
    assert message.startswith("CSV row 1 has 10 values; expected 9 (store_id, product_category")
    assert message.endswith("a row with other columns (the target too) needs a header row")
    # the same row with the dataset's header is mapped by name, the target dropped
    assert story.good.with_header is not None
    assert len(json.loads(story.good.with_header)["predictions"]) == 1


def test_one_malformed_request_during_the_bake_does_not_roll_back(story: Story) -> None:
    deployed = story.good.deployment
    assert deployed.outcome == "PRODUCTION", deployed.to_json()
    assert deployed.result is not None and deployed.result["version"] == 2
    registry = _registry(story.cloud)
    assert registry.get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]
    assert story.good.traffic.sent > 0 and story.good.traffic.failed == 0
    # the 4XX was counted as the caller's error, and no error alarm fired
    assert story.good.client_errors == 1.0
    assert story.good.alarmed == []


def test_a_failing_model_is_still_rolled_back_by_the_error_rate(story: Story) -> None:
    deployed = story.faulty.deployment
    assert deployed.status == "FAILED" and deployed.error == "DeploymentRolledBack"
    assert deployed.outcome == "ROLLED_BACK"
    alarm = alarm_names("dev", MODEL)["errors"]
    assert deployed.result is not None and alarm in deployed.result["trippedAlarms"]
    registry = _registry(story.cloud)
    assert registry.get_version(MODEL, 3).status is VersionStatus.ROLLED_BACK
    assert registry.get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]
    assert story.faulty.traffic.failed > 0
    assert alarm in story.faulty.alarmed


def test_modelrail_predict_sends_the_training_file_itself(
    story: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelrail.cli import main as cli_main

    head = tmp_path / "head.csv"
    frame = pd.read_csv(story.data).head(5)
    frame[list(reversed(frame.columns))].to_csv(head, index=False)  # any column order
    capsys.readouterr()
    assert cli_main(["predict", MODEL, "--data", str(head)]) == 0
    assert len(json.loads(capsys.readouterr().out)["predictions"]) == 5
