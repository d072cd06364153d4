"""``modelrail destroy --env dev`` empties the stack's versioned buckets (every version
and delete marker) and deletes the stack; an environment that retains its data is refused
before anything is touched (modelrail/cli/destroy.py, on moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.cli.destroy import DestroyRefused, destroy_stack, empty_bucket, main

REGION = "us-east-1"


def _template(policy: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Data": {"Type": "AWS::S3::Bucket", "DeletionPolicy": policy},
                "Artifacts": {"Type": "AWS::S3::Bucket", "DeletionPolicy": policy},
                "Topic": {"Type": "AWS::SNS::Topic"},
            }
        }
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION) for name in ("cloudformation", "s3")}


def _stack(aws: dict[str, Any], name: str, policy: str) -> list[str]:
    cfn, s3 = aws["cloudformation"], aws["s3"]
    cfn.create_stack(StackName=name, TemplateBody=_template(policy))
    buckets = [
        r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
        if r["ResourceType"] == "AWS::S3::Bucket"
    ]
    for bucket in buckets:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"one", b"two"):
            s3.put_object(Bucket=bucket, Key="incoming/demand/a.csv", Body=body)
        s3.delete_object(Bucket=bucket, Key="incoming/demand/a.csv")  # a delete marker
    return buckets


def test_destroy_empties_every_version_then_deletes_the_stack(aws: dict[str, Any]) -> None:
    buckets = _stack(aws, "modelrail-dev", "Delete")
    report = destroy_stack("dev", cloudformation=aws["cloudformation"], s3=aws["s3"])
    assert sorted(report.emptied) == sorted(buckets)
    assert report.deleted_objects == 2 * 3  # two versions and a delete marker per bucket
    stacks = aws["cloudformation"].list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in stacks if s["StackName"] == "modelrail-dev"] == [
        "DELETE_COMPLETE"
    ]


def test_an_environment_that_retains_its_data_is_refused_untouched(aws: dict[str, Any]) -> None:
    buckets = _stack(aws, "modelrail-prod", "Retain")
    with pytest.raises(DestroyRefused, match="modelrail-prod retains its data"):
        destroy_stack("prod", cloudformation=aws["cloudformation"], s3=aws["s3"])
    for bucket in buckets:
        assert len(aws["s3"].list_object_versions(Bucket=bucket)["Versions"]) == 2
    assert aws["cloudformation"].describe_stacks(StackName="modelrail-prod")["Stacks"]


def test_the_command_reports_a_missing_stack_and_exits_2(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--env", "dev", "--yes"]) == 2
    assert "cannot find stack 'modelrail-dev'" in capsys.readouterr().err


def test_the_command_asks_for_confirmation(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    _stack(aws, "modelrail-dev", "Delete")
    assert main(["--env", "dev"], confirm=lambda _prompt: "no") == 1
    assert "nothing was deleted" in capsys.readouterr().err
    assert aws["cloudformation"].describe_stacks(StackName="modelrail-dev")["Stacks"]


def test_emptying_a_bucket_deletes_every_version_and_delete_marker(aws: dict[str, Any]) -> None:
    s3 = aws["s3"]
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    for i in range(1205):  # more than one DeleteObjects batch
        s3.put_object(Bucket="versioned", Key=f"k{i % 3}", Body=b"x")
    s3.delete_object(Bucket="versioned", Key="k0")
    assert empty_bucket(s3, "versioned") == 1206
    listing = s3.list_object_versions(Bucket="versioned")
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
