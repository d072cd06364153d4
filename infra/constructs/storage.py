"""Encryption key, buckets and the registry table: the stateful part of an environment."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra import names


class Storage(Construct):
    """The customer-managed key, the data, artifacts and access-log buckets."""

    def __init__(
        self, scope: Construct, construct_id: str, *, environment: str, retain: bool
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY

        self.key = kms.Key(
            self,
            "Key",
            description="modelrail: data, artifacts, registry, topics and logs",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        for statement in service_key_statements(self, environment):
            self.key.add_to_resource_policy(statement)

        # Server access logs cannot be delivered to a bucket encrypted with a KMS key,
        # so this one bucket uses S3-managed keys (see docs/decisions.md).
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=removal,
        )

        self.data = self._bucket("Data", "data/", removal)
        # S3 -> EventBridge through the bucket's own CloudFormation property instead of
        # CDK's `event_bridge_enabled`, which adds a custom resource and a Lambda.
        cfn_data = self.data.node.default_child
        assert isinstance(cfn_data, s3.CfnBucket)
        cfn_data.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.artifacts = self._bucket("Artifacts", "artifacts/", removal)

    def _bucket(self, name: str, log_prefix: str, removal: RemovalPolicy) -> s3.Bucket:
        return s3.Bucket(
            self,
            name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            removal_policy=removal,
        )


class RegistryTable(Construct):
    """The single-table model registry (design: docs/registry.md)."""

    STATUS_INDEX = "gsi1"

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # On wherever data is retained: there the registry is the system of record
            # (RELIABILITY 9). A disposable environment (retain_data: false) must be able to
            # `cdk destroy`; PITR stays on everywhere (docs/decisions.md D34).
            deletion_protection=retain,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.table.add_global_secondary_index(
            index_name=self.STATUS_INDEX,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )


def service_key_statements(scope: Construct, environment: str) -> list[iam.PolicyStatement]:
    """What AWS services that encrypt with the key on the environment's behalf need, each
    narrowed to this environment's resources (CDK adds none of these).

    * CloudWatch Logs (log groups with a KmsKeyId): the regional service principal, with
      the log group's ARN in the encryption context.
    * CloudWatch alarm actions publishing to the encrypted topic: Decrypt and a data key,
      only for this account's alarms of this environment.
    * EventBridge delivering a failed upload event to the encrypted dead-letter queue:
      Decrypt and a data key, only for the upload rule (named, so that the key policy does
      not reference the rule, whose DLQ references the key).
    """
    stack = Stack.of(scope)
    region = stack.region
    log_groups = [
        stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=pattern,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        for pattern in names.log_group_patterns(environment)
    ]
    alarms = stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=names.alarm_pattern(environment),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    rule = stack.format_arn(
        service="events", resource="rule", resource_name=names.upload_rule(environment)
    )
    return [
        iam.PolicyStatement(
            sid="CloudWatchLogsOfThisEnvironment",
            principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        ),
        iam.PolicyStatement(
            sid="AlarmActionsToTheEncryptedTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": alarms},
            },
        ),
        iam.PolicyStatement(
            sid="UploadRuleToTheEncryptedDeadLetterQueue",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnEquals": {"aws:SourceArn": rule},
            },
        ),
    ]


def allow_alarm_notifications(topic: sns.Topic, environment: str) -> None:
    """A topic policy replaces SNS's default one: name the alarms that may publish."""
    stack = Stack.of(topic)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmActionsOfThisEnvironment",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=names.alarm_pattern(environment),
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
            },
        )
    )
