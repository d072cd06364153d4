"""Which permissions one AWS call needs (modelrail/local/iam/requests.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from modelrail.local.iam.requests import Call, Check, NoRule, PolicyRef, checks_for

REGION, ACCOUNT = "us-east-1", "123456789012"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"


@dataclass
class FakeWorld:
    bucket_keys: dict[str, str] = field(default_factory=dict)
    object_keys: dict[tuple[str, str], str] = field(default_factory=dict)
    table_keys: dict[str, str] = field(default_factory=dict)
    topic_keys: dict[str, str] = field(default_factory=dict)
    queue_keys: dict[str, str] = field(default_factory=dict)
    config_keys: dict[str, str] = field(default_factory=dict)

    def bucket_key(self, bucket: str) -> str | None:
        return self.bucket_keys.get(bucket)

    def object_key(self, bucket: str, key: str, version: str | None) -> str | None:
        return self.object_keys.get((bucket, key))

    def table_key(self, table: str) -> str | None:
        return self.table_keys.get(table)

    def topic_key(self, topic_arn: str) -> str | None:
        return self.topic_keys.get(topic_arn)

    def queue_arn(self, queue_url: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_url.rsplit('/', 1)[-1]}"

    def queue_key(self, queue_arn: str) -> str | None:
        return self.queue_keys.get(queue_arn)

    def function_arn(self, name: str) -> str:
        return (
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        )

    def key_arn(self, key_id: str) -> str:
        return (
            key_id if key_id.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
        )

    def endpoint_config_key(self, config: str) -> str | None:
        return self.config_keys.get(config)


def call(service: str, operation: str, params: dict[str, Any] | None = None, **kw: Any) -> Call:
    return Call(service, operation, params or {}, REGION, ACCOUNT, **kw)


def actions(checks: list[Check]) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in checks]


def test_get_object_in_a_kms_bucket_needs_decrypt_on_the_object_key() -> None:
    world = FakeWorld(object_keys={("b", "data/x.csv"): "k1"})
    checks = checks_for(call("s3", "GetObject", resource="arn:aws:s3:::b/data/x.csv"), world)
    assert actions(checks) == [
        ("s3:GetObject", "arn:aws:s3:::b/data/x.csv"),
        ("kms:Decrypt", KEY),
    ]
    assert checks[0].policy == PolicyRef("s3", "b")
    assert checks[1].policy == PolicyRef("kms", KEY)
    assert checks[1].context["kms:EncryptionContext:aws:s3:arn"] == "arn:aws:s3:::b/data/x.csv"


def test_head_object_of_a_version_is_get_object_version() -> None:
    checks = checks_for(
        call("s3", "GetObject", resource="arn:aws:s3:::b/k", query={"versionId": ["v1"]}),
        FakeWorld(),
    )
    assert actions(checks) == [("s3:GetObjectVersion", "arn:aws:s3:::b/k")]


def test_put_object_uses_the_bucket_default_key_and_a_copy_reads_its_source() -> None:
    world = FakeWorld(bucket_keys={"dst": "k1"})
    checks = checks_for(
        call(
            "s3",
            "PutObject",
            resource="arn:aws:s3:::dst/quarantine/x.csv",
            headers={"x-amz-copy-source": "/src/incoming/x.csv?versionId=v7"},
        ),
        world,
    )
    assert actions(checks) == [
        ("s3:PutObject", "arn:aws:s3:::dst/quarantine/x.csv"),
        ("s3:GetObjectVersion", "arn:aws:s3:::src/incoming/x.csv"),
        ("kms:GenerateDataKey", KEY),
    ]


def test_listing_a_bucket_is_list_bucket_on_the_bucket() -> None:
    checks = checks_for(call("s3", "ListObjectsV2", resource="arn:aws:s3:::b"), FakeWorld())
    assert actions(checks) == [("s3:ListBucket", "arn:aws:s3:::b")]


def test_a_listing_under_a_prefix_carries_the_s3_prefix_condition_key() -> None:
    listing = call("s3", "ListObjectsV2", resource="arn:aws:s3:::b", query={"prefix": ["k/x.gz"]})
    (check,) = checks_for(listing, FakeWorld())
    assert check.context == {"s3:prefix": "k/x.gz"}


def test_a_transaction_needs_each_item_action_on_its_table_and_the_table_key() -> None:
    world = FakeWorld(table_keys={"registry": "k1"})
    params = {
        "TransactItems": [
            {"Put": {"TableName": "registry"}},
            {"ConditionCheck": {"TableName": "registry"}},
        ]
    }
    checks = checks_for(call("dynamodb", "TransactWriteItems", params), world)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/registry"
    assert actions(checks) == [
        ("dynamodb:PutItem", table),
        ("kms:Decrypt", KEY),
        ("dynamodb:ConditionCheckItem", table),
        ("kms:Decrypt", KEY),
    ]
    assert checks[1].context["kms:ViaService"] == "dynamodb.us-east-1.amazonaws.com"


def test_query_on_an_index_is_authorized_on_the_index() -> None:
    checks = checks_for(
        call("dynamodb", "Query", {"TableName": "t", "IndexName": "by-status"}), FakeWorld()
    )
    assert actions(checks) == [
        ("dynamodb:Query", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t/index/by-status")
    ]


def test_task_token_answers_take_no_resource() -> None:
    checks = checks_for(call("stepfunctions", "SendTaskSuccess", {"taskToken": "t"}), FakeWorld())
    assert actions(checks) == [("states:SendTaskSuccess", "*")]


def test_a_training_job_passes_its_role_to_sagemaker() -> None:
    params = {"TrainingJobName": "Modelrail-Dev-Demand-1", "RoleArn": "arn:aws:iam::1:role/train"}
    checks = checks_for(call("sagemaker", "CreateTrainingJob", params), FakeWorld())
    assert actions(checks) == [
        (
            "sagemaker:CreateTrainingJob",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/modelrail-dev-demand-1",
        ),
        ("iam:PassRole", "arn:aws:iam::1:role/train"),
    ]
    assert checks[1].context == {"iam:PassedToService": "sagemaker.amazonaws.com"}


def test_a_processing_job_passes_its_role_and_is_described_by_name() -> None:
    params = {"ProcessingJobName": "modelrail-dev-demand-2", "RoleArn": "arn:aws:iam::1:role/job"}
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/modelrail-dev-demand-2"
    checks = checks_for(call("sagemaker", "CreateProcessingJob", params), FakeWorld())
    assert actions(checks) == [
        ("sagemaker:CreateProcessingJob", arn),
        ("iam:PassRole", "arn:aws:iam::1:role/job"),
    ]
    assert checks[1].context == {"iam:PassedToService": "sagemaker.amazonaws.com"}
    for operation in ("DescribeProcessingJob", "StopProcessingJob"):
        named = call("sagemaker", operation, {"ProcessingJobName": "modelrail-dev-demand-2"})
        assert actions(checks_for(named, FakeWorld())) == [(f"sagemaker:{operation}", arn)]


def test_an_endpoint_on_an_encrypted_config_needs_a_grant_and_its_alarms() -> None:
    world = FakeWorld(config_keys={"cfg": "k1"})
    params = {
        "EndpointName": "modelrail-dev-demand",
        "EndpointConfigName": "cfg",
        "DeploymentConfig": {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a-5xx"}]}},
    }
    checks = checks_for(call("sagemaker", "UpdateEndpoint", params), world)
    assert actions(checks) == [
        (
            "sagemaker:UpdateEndpoint",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/modelrail-dev-demand",
        ),
        ("sagemaker:UpdateEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/cfg"),
        ("kms:CreateGrant", KEY),
        ("kms:DescribeKey", KEY),
        ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a-5xx"),
    ]
    assert checks[2].context["kms:GrantIsForAWSResource"] is True


def test_publishing_to_an_encrypted_topic_needs_its_key() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:notes"
    world = FakeWorld(topic_keys={topic: "k1"})
    checks = checks_for(call("sns", "Publish", {"TopicArn": topic, "Message": "m"}), world)
    assert actions(checks) == [
        ("sns:Publish", topic),
        ("kms:GenerateDataKey", KEY),
        ("kms:Decrypt", KEY),
    ]
    assert checks[0].policy == PolicyRef("sns", topic)


def test_invoking_a_function_by_name_checks_its_resource_policy() -> None:
    checks = checks_for(call("lambda", "Invoke", {"FunctionName": "fn"}), FakeWorld())
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
    assert actions(checks) == [("lambda:InvokeFunction", arn)]
    assert checks[0].policy == PolicyRef("lambda", arn)


def test_a_call_without_a_rule_is_refused_by_name() -> None:
    with pytest.raises(
        NoRule, match=r"no authorization rule for sagemaker:CreateCompilationJob; add one"
    ):
        checks_for(call("sagemaker", "CreateCompilationJob", {}), FakeWorld())
