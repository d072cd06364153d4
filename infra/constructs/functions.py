"""Shared Lambda defaults in one construct: runtime, memory, timeout, tracing, logs, layers."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import layers, names
from infra.assets import stage_lambda
from infra.config import EnvironmentConfig

# The runtime the managed layers are chosen for (infra/layers.py); both layers publish
# python3.14 too, but the local cloud runs handlers on the machine's Python, 3.13 at most
# (docs/decisions.md D35).
RUNTIME = lambda_.Runtime(layers.RUNTIME, lambda_.RuntimeFamily.PYTHON)
HANDLER = "handler.lambda_handler"


class PipelineFunction(Construct):
    """A Lambda built from ``functions/<name>/`` with the project's defaults."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        config: EnvironmentConfig,
        key: kms.IKey,
        environment: dict[str, str],
        memory_mb: int = 1024,
        ephemeral_mb: int = 512,
        timeout: Duration | None = None,
        reserved_concurrency: int | None = None,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # Named so that the key policy can match it (infra/names.py).
            log_group_name=names.function_log_group(config.name, name),
            retention=_retention(config.log_retention_days),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        # An explicit role instead of AWSLambdaBasicExecutionRole: writes to its own log group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"modelrail {name} function",
        )
        self.log_group.grant_write(self.role)
        layers = [
            lambda_.LayerVersion.from_layer_version_arn(self, f"Layer{i}", arn)
            for i, arn in enumerate(config.layer_arns())
        ]
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(stage_lambda(name))),
            memory_size=memory_mb,
            ephemeral_storage_size=Size.mebibytes(ephemeral_mb),
            timeout=timeout or Duration.minutes(5),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            layers=layers,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": f"modelrail-{name.replace('_', '-')}",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "MODELRAIL_ENV": config.name,
                **environment,
            },
        )


def _retention(days: int) -> logs.RetentionDays:
    """Map a validated number of days to the RetentionDays enum value."""
    by_days = {
        1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
        30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
        150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
        545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
        3653: "TEN_YEARS",
    }  # fmt: skip
    return logs.RetentionDays[by_days[days]]
