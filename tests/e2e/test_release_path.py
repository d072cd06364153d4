"""The release path (modelrail.release) on the local cloud: uploads in a row are judged
against the version still deploying, an equivalent re-upload deploys nothing. Concurrent
uploads: test_concurrent_uploads.py (a local cloud of their own)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.registry import AliasName, VersionStatus
from modelrail.sample import sample_command
from tests.e2e.registry_waits import registry_of

pytestmark = pytest.mark.e2e
MODEL = "demand"
S = VersionStatus


def _cloud(assembly: Path, work: Path) -> LocalCloud:
    return LocalCloud(assembly=assembly, work_dir=work)


@pytest.fixture(scope="module")
def dev(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with _cloud(assembly, tmp_path_factory.mktemp("release-cloud")) as cloud:
        yield cloud


def deployed(cloud: LocalCloud, run: PipelineRun) -> str:
    """The outcome of the deployment ``run`` started, once it is over."""
    deployment = cloud.deployment_of(run, timeout=300)
    assert deployment is not None, f"{run.execution_arn} started no deployment"
    assert deployment.status != "RUNNING", deployment.to_json()
    return deployment.outcome


def _deployments(cloud: LocalCloud) -> int:
    sfn = cloud.client("stepfunctions")
    arn = cloud.output("DeploymentStateMachineArn")
    return len(sfn.list_executions(stateMachineArn=arn)["executions"])


def test_two_uploads_in_a_row_the_second_is_judged_against_the_first(
    dev: LocalCloud, tmp_path: Path
) -> None:
    first = dev.upload_and_wait(MODEL, sample_command(MODEL, 2000, 7, tmp_path / "a.csv"))
    assert first.status == "SUCCEEDED", first.message
    # Uploaded as soon as the first run ends: v1 is still being deployed.
    second = dev.upload_and_wait(MODEL, sample_command(MODEL, 4000, 11, tmp_path / "b.csv"))
    assert second.status == "SUCCEEDED", second.message
    registry = registry_of(dev)
    v2 = registry.get_version(MODEL, 2)
    compared = v2.lineage.compared_with
    assert compared is not None and compared.version == 1, compared
    assert compared.role in ("pending_champion", "champion")
    quality = next(g for g in v2.gates if g.name == "quality")
    assert quality.comparison is not None and quality.comparison.significant
    # The gate compared with v1's model: the evaluation names it.
    assert second.output is not None
    assert second.output["prepared"]["championVersion"] == 1

    assert deployed(dev, first) == "PRODUCTION"
    assert deployed(dev, second) == "PRODUCTION"
    champion = registry.get_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None and champion.version == 2
    assert registry.get_version(MODEL, 1).status is S.ARCHIVED


def test_an_equivalent_reupload_is_rejected_and_nothing_is_redeployed(
    dev: LocalCloud, tmp_path: Path
) -> None:
    registry = registry_of(dev)
    champion = registry.get_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None, "runs after the test above"
    before = _deployments(dev)
    same = sample_command(MODEL, 4000, 11, tmp_path / "b-again.csv")  # v2's data, again
    again = dev.upload_and_wait(MODEL, same)
    assert again.status == "FAILED" and again.failed_state == "QualityGate", again.message
    assert again.message is not None and "no significant improvement" in again.message
    latest = registry.latest_version(MODEL)
    assert latest is not None and latest.status is S.REJECTED
    assert latest.lineage.compared_with is not None
    assert latest.lineage.compared_with.version == champion.version
    time.sleep(1.0)  # a deployment would have started by now
    assert _deployments(dev) == before
    assert registry.get_alias(MODEL, AliasName.CHAMPION) == champion
