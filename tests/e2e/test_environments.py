"""dev, staging and prod share one account and region (one local cloud) and never touch
each other's resources: a deployment in one, with its clean-up of old endpoint configs,
leaves the others' endpoints, configs and registries as they were."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from modelrail.cli.registry import main as registry_main
from modelrail.deploy.client import start_deployment, wait_for
from modelrail.deploy.naming import endpoint_name
from modelrail.local.cloud import LocalCloud
from modelrail.registry import AliasName, VersionStatus
from modelrail.sample import sample_command
from tests.e2e.registry_waits import registry_of, wait_for_status

pytestmark = pytest.mark.e2e
MODEL = "demand"
ENVIRONMENTS = ("dev", "staging", "prod")


def _configs(cloud: LocalCloud) -> set[str]:
    listed = cloud.client("sagemaker").list_endpoint_configs(MaxResults=100)["EndpointConfigs"]
    return {c["EndpointConfigName"] for c in listed}


@pytest.fixture(scope="module")
def clouds(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, LocalCloud]]:
    with ExitStack() as stack:
        yield {
            env: stack.enter_context(
                LocalCloud(
                    environment=env,
                    assembly=assembly,
                    work_dir=tmp_path_factory.mktemp(f"{env}-cloud"),
                )
            )
            for env in ENVIRONMENTS
        }


def _release_v1(
    clouds: dict[str, LocalCloud], data: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Train v1 in every environment at once; approve it where approval is required;
    return each environment's live endpoint config."""
    monkeypatch.setenv("MODELRAIL_ACTOR", "reviewer")
    uploads = {env: cloud.upload(MODEL, data) for env, cloud in clouds.items()}
    arns = {env: clouds[env].execution_arn_for(*uploads[env]) for env in clouds}
    for env in ("staging", "prod"):
        wait_for_status(clouds[env], MODEL, 1, VersionStatus.PENDING_APPROVAL)
        assert (
            registry_main(
                ["registry", "approve", MODEL, "1", "--reason", "same artifact", "--env", env]
            )
            == 0
        )
    live: dict[str, str] = {}
    for env, cloud in clouds.items():
        assert cloud.wait(arns[env], timeout=300).status == "SUCCEEDED"
        deployed = wait_for(
            cloud.deployment_arn_for(arns[env]), sfn=cloud.client("stepfunctions"), timeout=300
        )
        assert deployed.outcome == "PRODUCTION", deployed.to_json()
        described = cloud.client("sagemaker").describe_endpoint(
            EndpointName=endpoint_name(env, MODEL)
        )
        live[env] = described["EndpointConfigName"]
    return live


def test_a_deployment_in_one_environment_leaves_the_others_untouched(
    clouds: dict[str, LocalCloud],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path_factory.mktemp("environments-data")
    live = _release_v1(clouds, sample_command(MODEL, 1500, 4, data / "one.csv"), monkeypatch)
    assert {
        env: config.startswith(f"modelrail-{env}-{MODEL}-v1-") for env, config in live.items()
    } == {env: True for env in ENVIRONMENTS}
    dev = clouds["dev"]
    before = _configs(dev)
    # dev moves on: v2, then two redeployments of it; each deployment cleans up dev's
    # configs beyond keep_endpoint_configs (3), so dev's v1 config goes
    run = dev.upload_and_wait(MODEL, sample_command(MODEL, 4000, 11, data / "two.csv"))
    assert run.status == "SUCCEEDED", run.message
    sfn = dev.client("stepfunctions")
    arn = dev.deployment_arn_for(run.execution_arn)
    for attempt in range(3):
        deployed = wait_for(arn, sfn=sfn, timeout=300)
        assert deployed.outcome == "PRODUCTION", deployed.to_json()
        if attempt < 2:
            arn = start_deployment(
                MODEL, 2, env="dev", reason=f"redeploy {attempt}", requested_by="test",
                sfn=sfn, arn=dev.output("DeploymentStateMachineArn"),
            )  # fmt: skip
    after = _configs(dev)
    assert live["dev"] in before and live["dev"] not in after, "dev cleaned up nothing"
    sagemaker = dev.client("sagemaker")
    for env in ("staging", "prod"):
        cloud = clouds[env]
        mine = {c for c in before if c.startswith(f"modelrail-{env}-")}
        assert mine and mine <= after, f"dev's clean-up touched {env}'s configs"
        described = sagemaker.describe_endpoint(EndpointName=endpoint_name(env, MODEL))
        assert described["EndpointStatus"] == "InService"
        assert described["EndpointConfigName"] == live[env]
        registry = registry_of(cloud)
        assert registry.get_alias(MODEL, AliasName.CHAMPION).version == 1  # type: ignore[union-attr]
        assert [v.version for v in registry.list_versions(MODEL)] == [1]
    assert registry_of(dev).get_alias(MODEL, AliasName.CHAMPION).version == 2  # type: ignore[union-attr]
