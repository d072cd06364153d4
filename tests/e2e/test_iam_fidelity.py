"""The local cloud fails where AWS would: a grant the loop needs, removed from the
synthesized template, makes the local run fail with an access error that names the
principal, the action and the resource (modelrail/local/iam)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelrail.local.cloud import LocalCloud
from modelrail.local.provision import ProvisioningError
from modelrail.sample import sample_command

pytestmark = pytest.mark.e2e
MODEL = "demand"
ACCOUNT = "123456789012"

Template = dict[str, Any]


def edited_assembly(assembly: Path, target: Path, edit: Callable[[Template], int]) -> Path:
    """A copy of the assembly whose dev template went through ``edit`` (which returns how
    many things it removed: a test that removes nothing proves nothing)."""
    target.mkdir(parents=True)
    for entry in assembly.iterdir():
        if entry.suffix == ".json":
            shutil.copy(entry, target / entry.name)
        else:
            (target / entry.name).symlink_to(entry.resolve())
    path = target / "modelrail-dev.template.json"
    template: Template = json.loads(path.read_text())
    assert edit(template) > 0, "the edit removed nothing"
    path.write_text(json.dumps(template))
    return target


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def without_action(role_fragment: str, action: str) -> Callable[[Template], int]:
    """Remove ``action`` from every statement of the policies attached to the role whose
    logical id contains ``role_fragment``."""

    def edit(template: Template) -> int:
        removed = 0
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            roles = json.dumps(resource["Properties"].get("Roles", []))
            if role_fragment not in roles:
                continue
            document = resource["Properties"]["PolicyDocument"]
            kept = []
            for statement in document["Statement"]:
                actions = _actions(statement)
                if action in actions:
                    actions.remove(action)
                    removed += 1
                if actions:
                    kept.append({**statement, "Action": actions})
            document["Statement"] = kept
        return removed

    return edit


def without_key_statement_for(service_fragment: str) -> Callable[[Template], int]:
    def edit(template: Template) -> int:
        removed = 0
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::KMS::Key":
                continue
            document = resource["Properties"]["KeyPolicy"]
            before = len(document["Statement"])
            document["Statement"] = [
                s
                for s in document["Statement"]
                if service_fragment not in json.dumps(s.get("Principal", {}))
            ]
            removed += before - len(document["Statement"])
        return removed

    return edit


@pytest.fixture(scope="module")
def good_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("iam-data") / "good.csv"
    return sample_command(model=MODEL, rows=800, seed=7, out=out)


def test_the_training_machine_without_create_training_job_fails_at_train(
    assembly: Path, tmp_path: Path, good_data: Path
) -> None:
    edited = edited_assembly(
        assembly,
        tmp_path / "cdk.out",
        without_action("TrainingStateMachineRole", "sagemaker:CreateTrainingJob"),
    )
    with LocalCloud(assembly=edited, work_dir=tmp_path / "cloud") as cloud:
        run = cloud.upload_and_wait(MODEL, good_data)
        registered = cloud.client("dynamodb").scan(TableName=cloud.output("RegistryTableName"))[
            "Count"
        ]
    assert run.status == "FAILED"
    assert run.failed_state == "Train"
    message = run.message or ""
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/modelrail-dev-TrainingStateMachineRole" in message
    assert "is not authorized to perform: sagemaker:CreateTrainingJob on resource: " in message
    assert f":{ACCOUNT}:training-job/modelrail-dev-demand-" in message
    assert registered == 0  # nothing trained, nothing registered


def test_a_key_policy_without_cloudwatch_logs_cannot_be_deployed(
    assembly: Path, tmp_path: Path
) -> None:
    edited = edited_assembly(assembly, tmp_path / "cdk.out", without_key_statement_for("logs."))
    cloud = LocalCloud(assembly=edited, work_dir=tmp_path / "cloud")
    with pytest.raises(ProvisioningError) as failed:
        cloud.__enter__()
    message = str(failed.value)
    assert "cannot be created: the KMS key arn:aws:kms:us-east-1:" in message
    assert "User: logs.us-east-1.amazonaws.com is not authorized to perform: kms:" in message
    assert "because no resource-based policy allows" in message


def test_an_endpoint_role_without_capture_write_serves_but_captures_nothing(
    assembly: Path, tmp_path: Path, good_data: Path
) -> None:
    edited = edited_assembly(
        assembly, tmp_path / "cdk.out", without_action("DeployHostingRole", "s3:PutObject")
    )
    with LocalCloud(assembly=edited, work_dir=tmp_path / "cloud") as cloud:
        run = cloud.upload_and_wait(MODEL, good_data)
        assert run.status == "SUCCEEDED", run.message
        deployment = cloud.wait(cloud.deployment_arn_for(run.execution_arn), timeout=300)
        assert deployment.status == "SUCCEEDED", deployment.message
        served = (
            cloud.client("sagemaker-runtime")
            .invoke_endpoint(
                EndpointName="modelrail-dev-demand",
                Body=b"S01,grocery,3.5,False,2,6,21.0,False,3.6",
                ContentType="text/csv",
            )["Body"]
            .read()
        )
        cloud.hosting.flush_capture()
        written = cloud.client("s3").list_objects_v2(
            Bucket=cloud.output("ArtifactsBucketName"), Prefix="capture/"
        )
        denials = [d for d in cloud.iam.denials if d.action == "s3:PutObject"]
    assert served  # SageMaker keeps serving when it cannot write capture
    assert written.get("KeyCount", 0) == 0
    assert denials and "assumed-role/modelrail-dev-DeployHostingRole" in denials[0].principal
    assert (
        ":::" in denials[0].resource
        and "/capture/modelrail-dev-demand/live/" in denials[0].resource
    )
    assert cloud.hosting.capture_errors


def test_the_data_gate_without_its_s3_read_fails_at_validate_data(
    assembly: Path, tmp_path: Path, good_data: Path
) -> None:
    edited = edited_assembly(
        assembly,
        tmp_path / "cdk.out",
        without_action("TrainingValidateDataFnRole", "s3:GetObject*"),
    )
    with LocalCloud(assembly=edited, work_dir=tmp_path / "cloud") as cloud:
        run = cloud.upload_and_wait(MODEL, good_data)
        quarantined = cloud.client("s3").list_objects_v2(
            Bucket=cloud.data_bucket, Prefix="quarantine/"
        )
        denials = list(cloud.iam.denials)
    assert run.status == "FAILED"
    assert run.failed_state == "ValidateData"
    # S3 answers a HEAD without a body, so the handler sees only "403 Forbidden", as on
    # AWS; the local cloud's record names who was refused what.
    assert "(403) when calling the HeadObject operation: Forbidden" in (run.message or "")
    denial = denials[0]
    assert denial.principal.startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/modelrail-dev-TrainingValidateDataFnRole"
    )
    assert denial.action == "s3:GetObjectVersion"
    assert denial.resource.endswith("/incoming/demand/good.csv")
    assert (
        "is not authorized to perform: s3:GetObjectVersion on resource: arn:aws:s3:::"
        in denial.message
    )
    assert quarantined.get("KeyCount", 0) == 0  # an access error is not a bad upload
