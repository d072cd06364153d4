"""CDK assertions on the synthesized templates: the properties that matter (RELIABILITY.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Match, Template


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


@pytest.fixture(scope="module")
def dev(dev_template: dict[str, Any]) -> Template:
    return Template.from_json(dev_template)


@pytest.fixture(scope="module")
def prod(prod_template: dict[str, Any]) -> Template:
    return Template.from_json(prod_template)


# ---- data at the S3 boundary -------------------------------------------------------------


def test_every_bucket_blocks_public_access_and_is_versioned(dev_template: dict[str, Any]) -> None:
    buckets = _resources(dev_template, "AWS::S3::Bucket")
    assert len(buckets) == 3
    for logical, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical


def test_data_and_artifact_buckets_use_the_customer_managed_key(
    dev: Template, dev_template: dict[str, Any]
) -> None:
    key_id = next(iter(_resources(dev_template, "AWS::KMS::Key")))
    kms_buckets = [
        b
        for b in _resources(dev_template, "AWS::S3::Bucket").values()
        if b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "aws:kms"
    ]
    assert len(kms_buckets) == 2
    for bucket in kms_buckets:
        default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert default["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
            "Fn::GetAtt": [key_id, "Arn"]
        }
        assert bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"][
            "Ref"
        ].startswith("StorageAccessLogs")


def test_every_bucket_denies_requests_without_tls(dev_template: dict[str, Any]) -> None:
    buckets = set(_resources(dev_template, "AWS::S3::Bucket"))
    protected = set()
    for policy in _resources(dev_template, "AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                protected.add(policy["Properties"]["Bucket"]["Ref"])
    assert protected == buckets


def test_data_bucket_sends_events_to_eventbridge_without_a_custom_resource(
    dev_template: dict[str, Any],
) -> None:
    data = next(
        v
        for k, v in dev_template["Resources"].items()
        if k.startswith("StorageData") and v["Type"] == "AWS::S3::Bucket"
    )
    assert data["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert not [r for r in dev_template["Resources"].values() if r["Type"].startswith("Custom::")]


def test_upload_rule_starts_on_object_created_under_incoming(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "object": {"key": [{"prefix": "incoming/"}]},
                    "bucket": Match.any_value(),
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "DeadLetterConfig": Match.object_like({"Arn": Match.any_value()}),
                        "RetryPolicy": {
                            "MaximumEventAgeInSeconds": 86400,
                            "MaximumRetryAttempts": 8,
                        },
                    }
                )
            ],
        },
    )


# ---- keys, registry ----------------------------------------------------------------------


def test_key_rotates(dev: Template) -> None:
    dev.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_registry_table_has_pitr_kms_deletion_protection_and_status_index(
    prod: Template,
) -> None:
    # dev has no deletion protection (it must `cdk destroy`): see the test below
    prod.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": Match.any_value(),
            },
            "DeletionProtectionEnabled": True,
            "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "gsi1"})],
        },
    )


@pytest.mark.parametrize(
    "kind", ["AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup"]
)
def test_stateful_resources_are_retained_in_prod_and_not_in_dev(
    kind: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    assert {r.get("DeletionPolicy") for r in _resources(prod_template, kind).values()} == {"Retain"}
    assert {r.get("DeletionPolicy") for r in _resources(dev_template, kind).values()} == {"Delete"}


# ---- Lambda ---------------------------------------------------------------------------------


def test_functions_have_runtime_timeout_memory_tracing_and_own_log_group(
    dev_template: dict[str, Any],
) -> None:
    functions = _resources(dev_template, "AWS::Lambda::Function")
    # validate, prepare, gate, register, start (training); plan, finish (deployment);
    # check_drift, consider_retrain (monitoring)
    assert len(functions) == 9
    for logical, fn in functions.items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.13", logical
        assert props["TracingConfig"] == {"Mode": "Active"}, logical
        assert 3 <= props["Timeout"] <= 900 and props["MemorySize"] >= 256, logical
        assert "LoggingConfig" in props, logical
        assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"].startswith("modelrail-")
        assert len(props["Layers"]) == 2


def test_the_data_functions_have_temporary_storage_for_their_spills(
    dev_template: dict[str, Any],
) -> None:
    """ValidateData and PrepareData spill to /tmp (D44): 6 bytes a byte of the largest
    upload they take (the processing threshold, 256 MiB by default); the others keep 512."""
    functions = _resources(dev_template, "AWS::Lambda::Function")
    storage = {
        fn["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: fn["Properties"][
            "EphemeralStorage"
        ]["Size"]
        for fn in functions.values()
    }
    assert storage.pop("modelrail-validate-data") == 1536
    assert storage.pop("modelrail-prepare-data") == 1536
    assert set(storage.values()) == {512}


def test_the_starter_has_retry_limits_a_failure_destination_and_configured_concurrency(
    dev: Template, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    def starter(template: dict[str, Any]) -> dict[str, Any]:
        return next(
            v["Properties"]
            for k, v in _resources(template, "AWS::Lambda::Function").items()
            if "StartPipeline" in k
        )

    # reserved where the environment asks for it (prod), unreserved in dev (cdk.json)
    assert starter(prod_template)["ReservedConcurrentExecutions"] == 10
    assert "ReservedConcurrentExecutions" not in starter(dev_template)
    dev.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )


def test_queues_are_encrypted_with_the_key(dev: Template) -> None:
    dev.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})
    dev.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


# ---- IAM ----------------------------------------------------------------------------------------


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def test_no_statement_allows_every_action(dev_template: dict[str, Any]) -> None:
    for statement in _statements(dev_template):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement


def test_no_role_uses_sagemaker_full_access_or_managed_lambda_policies(
    dev_template: dict[str, Any],
) -> None:
    text = json.dumps(_resources(dev_template, "AWS::IAM::Role"))
    assert "AmazonSageMakerFullAccess" not in text
    assert "ManagedPolicyArns" not in text


def test_the_sagemaker_role_is_assumed_by_sagemaker_only(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})
                ],
                "Version": "2012-10-17",
            }
        },
    )


# ---- Step Functions -----------------------------------------------------------------------------


def test_state_machine_is_standard_with_full_logging_and_tracing(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like(
                {"Level": "ALL", "IncludeExecutionData": True}
            ),
        },
    )
    dev.has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": Match.string_like_regexp("^/aws/vendedlogs/states/"),
            "KmsKeyId": Match.any_value(),
        },
    )


def test_the_state_machine_may_tune_and_pass_only_the_training_role(
    dev_template: dict[str, Any],
) -> None:
    policies = _resources(dev_template, "AWS::IAM::Policy")
    (search,) = [p for k, p in policies.items() if "SearchPolicy" in k]
    statements = search["Properties"]["PolicyDocument"]["Statement"]
    by_action = {
        a: s
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    tuning = by_action["sagemaker:CreateHyperParameterTuningJob"]
    assert "hyper-parameter-tuning-job/modelrail-dev-*" in json.dumps(tuning["Resource"])
    assert "training-job" not in json.dumps(tuning["Resource"])
    rule = by_action["events:PutRule"]
    assert "StepFunctionsGetEventsForSageMakerTuningJobsRule" in json.dumps(rule["Resource"])
    passing = by_action["iam:PassRole"]
    assert "TrainingRole" in json.dumps(passing["Resource"])
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    roles = search["Properties"]["Roles"]
    assert len(roles) == 1 and "StateMachineRole" in json.dumps(roles)


def _policy_statements(template: dict[str, Any], part: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical, policy in _resources(template, "AWS::IAM::Policy").items()
        if part in logical
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_training_role_reads_no_s3_object_on_every_resource(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    template = dev_template if env == "dev" else prod_template
    statements = _policy_statements(template, "TrainingTrainingRole")
    assert statements
    for statement in statements:
        s3 = [a for a in _as_list(statement["Action"]) if a.startswith("s3:")]
        if s3:
            assert "*" not in _as_list(statement["Resource"]), statement


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_sagemaker_actions_are_scoped_to_this_environments_names(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    """Jobs, models and endpoint configs are named modelrail-<env>-... (modelrail.naming):
    no role may act on another environment's."""
    from tests.infra.test_key_policy import render

    template = dev_template if env == "dev" else prod_template
    seen = set()
    for statement in _policy_statements(template, ""):
        actions = [a for a in _as_list(statement["Action"]) if a.startswith("sagemaker:")]
        if not actions:
            continue
        for resource in _as_list(statement["Resource"]):
            arn = str(render(resource))
            if arn == "*":
                assert set(actions) <= {"sagemaker:ListEndpointConfigs"}, statement
                continue
            kind, _, name = arn.split(":", 5)[-1].partition("/")
            seen.add(kind)
            assert name == f"modelrail-{env}-*", (actions, arn)
    assert seen >= {
        "training-job",
        "hyper-parameter-tuning-job",
        "processing-job",
        "model",
        "endpoint-config",
        "endpoint",
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_machine_that_hands_out_task_tokens_logs_no_execution_data(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    """With execution data, the TaskScheduled event of a waitForTaskToken task logs its
    parameters, the task token among them, to the log group."""
    template = dev_template if env == "dev" else prod_template
    machines = _resources(template, "AWS::StepFunctions::StateMachine").values()
    tokens = 0
    for machine in machines:
        props = machine["Properties"]
        hands_out = ".waitForTaskToken" in json.dumps(props["DefinitionString"])
        tokens += hands_out
        logging = props["LoggingConfiguration"]
        assert logging["Level"] == "ALL"
        assert logging["IncludeExecutionData"] is (not hands_out), props["StateMachineName"]
    assert tokens == (1 if env == "prod" else 0)


def test_dev_can_be_destroyed_and_prod_keeps_its_registry(
    dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    """``cdk destroy modelrail-dev`` (after ``modelrail destroy`` empties the buckets) must
    not stop at a protected table; prod's table keeps deletion protection and is retained."""
    (dev_table,) = _resources(dev_template, "AWS::DynamoDB::Table").values()
    (prod_table,) = _resources(prod_template, "AWS::DynamoDB::Table").values()
    assert dev_table["DeletionPolicy"] == "Delete"
    assert dev_table["Properties"].get("DeletionProtectionEnabled", False) is False
    assert prod_table["DeletionPolicy"] == "Retain"
    assert prod_table["Properties"]["DeletionProtectionEnabled"] is True
    for table in (dev_table, prod_table):
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
    # buckets are emptied by the command, not by CDK's auto-delete custom resource (D3)
    for template in (dev_template, prod_template):
        assert not [r for r in template["Resources"].values() if r["Type"].startswith("Custom::")]
        assert "AWS::Lambda::Function" not in {
            r["Type"] for k, r in template["Resources"].items() if "AutoDelete" in k
        }
