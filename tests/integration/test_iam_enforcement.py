"""The local cloud authorizes calls as AWS does (modelrail/local/iam/enforce.py), on moto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from modelrail.local.iam import enforce
from modelrail.local.iam.principals import Principals

ACCOUNT, REGION = "123456789012", "us-east-1"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[enforce.Enforcer]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        enforcer = enforce.Enforcer(Principals(), ACCOUNT, REGION)
        undo = [enforce.install(enforcer), enforce.install_interpreter_roles(enforcer.principals)]
        try:
            yield enforcer
        finally:
            for step in reversed(undo):
                step()


def role(name: str, statements: list[dict[str, Any]]) -> str:
    iam = boto3.client("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return arn


def as_role(cloud: enforce.Enforcer, service: str, role_arn: str) -> Any:
    return boto3.client(
        service, region_name=REGION, **cloud.principals.client_kwargs(role_arn, "test")
    )


def test_a_role_reads_only_what_it_is_granted_and_the_denial_names_it(
    cloud: enforce.Enforcer,
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="in/a.csv", Body=b"x")
    s3.put_object(Bucket="data", Key="secret/b.csv", Body=b"y")
    arn = role(
        "reader",
        [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/in/*"}],
    )
    reader = as_role(cloud, "s3", arn)

    assert reader.get_object(Bucket="data", Key="in/a.csv")["Body"].read() == b"x"
    with pytest.raises(ClientError) as denied:
        reader.get_object(Bucket="data", Key="secret/b.csv")
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/reader/test is not authorized to perform: "
        "s3:GetObject on resource: arn:aws:s3:::data/secret/b.csv because no identity-based "
        "policy allows the s3:GetObject action"
    )
    assert [d.action for d in cloud.denials] == ["s3:GetObject"]


def test_the_operator_is_not_restricted(cloud: enforce.Enforcer) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="ops")
    s3.put_object(Bucket="ops", Key="k", Body=b"v")
    assert cloud.denials == []


def test_an_encrypted_bucket_needs_the_key_and_the_key_policy(cloud: enforce.Enforcer) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="enc")
    s3.put_bucket_encryption(
        Bucket="enc",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    }
                }
            ]
        },
    )
    put = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::enc/*"}
    without_key = as_role(cloud, "s3", role("nokey", [put]))
    with pytest.raises(ClientError, match="kms:GenerateDataKey on resource: " + key):
        without_key.put_object(Bucket="enc", Key="a", Body=b"1")

    data_key = {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key}
    with_key = as_role(cloud, "s3", role("withkey", [put, data_key]))
    with_key.put_object(Bucket="enc", Key="a", Body=b"1")  # the default key policy delegates to IAM

    kms.put_key_policy(
        KeyId=key,
        PolicyName="default",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:role/someone-else"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError, match="because no resource-based policy allows"):
        with_key.put_object(Bucket="enc", Key="b", Body=b"2")


def test_a_bucket_policy_deny_applies_and_tls_is_assumed(cloud: enforce.Enforcer) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="tls")
    deny = [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::tls", "arn:aws:s3:::tls/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:DeleteObject",
            "Resource": "arn:aws:s3:::tls/*",
        },
    ]
    s3.put_bucket_policy(
        Bucket="tls", Policy=json.dumps({"Version": "2012-10-17", "Statement": deny})
    )
    writer = as_role(
        cloud,
        "s3",
        role(
            "writer",
            [{"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::tls/*"}],
        ),
    )
    writer.put_object(Bucket="tls", Key="k", Body=b"v")
    with pytest.raises(ClientError, match="with an explicit deny in a resource-based policy"):
        writer.delete_object(Bucket="tls", Key="k")


def test_a_call_the_local_cloud_has_no_rule_for_is_refused(cloud: enforce.Enforcer) -> None:
    lister = as_role(
        cloud, "sagemaker", role("lister", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    )
    with pytest.raises(
        ClientError, match="no authorization rule for sagemaker:ListNotebookInstances"
    ):
        lister.list_notebook_instances()


def test_state_machine_tasks_call_as_the_machine_role(cloud: enforce.Enforcer) -> None:
    """Each state runs on a thread of its own; the calls still carry the execution's role."""
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="t")["TopicArn"]
    machine_role = role(
        "machine",
        [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:*:*:other"}],
    )
    definition = {
        "StartAt": "Notify",
        "States": {
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": topic, "Message": "hello"},
                "End": True,
            }
        },
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="m", definition=json.dumps(definition), roleArn=machine_role
    )
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1")
    for _ in range(200):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.02)
    assert described["status"] == "FAILED"
    assert described["error"] == "SNS.AuthorizationErrorException"
    assert "assumed-role/machine/e1 is not authorized to perform: sns:Publish" in described["cause"]
    assert [d.principal for d in cloud.denials] == [
        "arn:aws:sts::123456789012:assumed-role/machine/e1"
    ]


def _queue_with_key(key_policy_statements: list[dict[str, Any]]) -> tuple[str, str]:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.put_key_policy(
        KeyId=key,
        PolicyName="default",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": key_policy_statements}),
    )
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(
        QueueName=f"dlq-{len(key_policy_statements)}", Attributes={"KmsMasterKeyId": key}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    allow_events = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [allow_events]})},
    )
    return url, arn


def test_eventbridge_dead_letters_only_through_a_key_policy_that_names_it(
    cloud: enforce.Enforcer,
) -> None:
    """A target EventBridge may not invoke (no function policy) goes to the target's DLQ,
    written as events.amazonaws.com: the queue's key policy must allow it too."""
    from modelrail.local.events_delivery import EventsDelivery

    root = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    events_key = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
    }
    sqs = boto3.client("sqs", region_name=REGION)
    for statements, delivered in (([root], 0), ([root, events_key], 1)):
        url, queue = _queue_with_key(statements)
        delivery = EventsDelivery(principals=cloud.principals, enforcer=cloud)
        target = {
            "Id": "t",
            "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nobody-allowed-events",
            "DeadLetterConfig": {"Arn": queue},
        }
        delivery.submit(
            "rule", target, {"detail": {}}, REGION, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r"
        )
        delivery.drain()
        delivery.stop()
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert int(attributes["Attributes"]["ApproximateNumberOfMessages"]) == delivered
    assert {d.principal for d in cloud.denials} == {"events.amazonaws.com"}
    assert {d.action for d in cloud.denials} == {"lambda:InvokeFunction", "kms:GenerateDataKey"}
