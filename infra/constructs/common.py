"""What the training pipeline and the deployment state machine share: the transient errors
a Task retries, the retry policy itself, and the permissions every SageMaker container
role needs (pull the framework image, write its logs and metrics)."""

from __future__ import annotations

from typing import Any, TypeVar

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.images import sklearn_image_uri
from infra.timeouts import INVOKE_OVERHEAD_SECONDS

# Errors worth retrying on a Task: the service's, never the handler's own.
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# The optimized SageMaker integration (arn:aws:states:::sagemaker:*) reports throttling and
# other service exceptions as SageMaker.AmazonSageMakerException; a quota that is full
# for now (concurrent jobs, instances) as SageMaker.ResourceLimitExceededException.
SAGEMAKER_JOB_TRANSIENT = ["SageMaker.AmazonSageMakerException"]
SAGEMAKER_JOB_QUOTA = ["SageMaker.ResourceLimitExceededException"]
# The AWS SDK integration (aws-sdk:sagemaker:*) names the API's error, always with the
# Exception suffix (Step Functions' naming rule, even where the API omits it).
SAGEMAKER_SDK_TRANSIENT = [
    "SageMaker.ThrottlingException",
    "SageMaker.InternalFailureException",
    "SageMaker.ServiceUnavailableException",
]
SNS_TRANSIENT = ["SNS.ThrottledException", "SNS.InternalErrorException"]
SFN_TRANSIENT = ["StepFunctions.ThrottlingException", "StepFunctions.ServiceUnavailableException"]

_Retryable = TypeVar("_Retryable", sfn.TaskStateBase, sfn.CustomState)


def retry_transient(task: _Retryable, errors: list[str]) -> _Retryable:
    """Bounded retries with exponential backoff and full jitter (RELIABILITY 24)."""
    task.add_retry(
        errors=errors,
        interval=Duration.seconds(2),
        max_attempts=3,
        backoff_rate=2.0,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def retry_quota(task: _Retryable) -> _Retryable:
    """A SageMaker quota that is full for now frees up as other jobs end: wait minutes,
    not seconds (60 s, then 120 s, 240 s; full jitter)."""
    task.add_retry(
        errors=SAGEMAKER_JOB_QUOTA,
        interval=Duration.seconds(60),
        max_attempts=3,
        backoff_rate=2.0,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def grant_container_basics(
    role: iam.Role, *, config: EnvironmentConfig, log_group: str, metric_namespace: str
) -> None:
    """Pull the framework image, write logs under ``log_group`` and metrics in
    ``metric_namespace``: what a SageMaker job or endpoint needs, and no more."""
    stack = Stack.of(role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=log_group,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": metric_namespace}},
        )
    )
    registry_account = sklearn_image_uri(config).split(".", 1)[0]
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            resources=[
                f"arn:{Aws.PARTITION}:ecr:{config.region}:{registry_account}:repository/sagemaker-scikit-learn"
            ],
        )
    )
    role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))


def invoke_seconds(fn: lambda_.IFunction) -> int:
    """A LambdaInvoke task's timeout: the function's own plus the invoke's overhead."""
    timeout = fn.timeout if isinstance(fn, lambda_.Function) else None
    assert timeout is not None, "modelrail functions have an explicit timeout"
    return int(timeout.to_seconds()) + INVOKE_OVERHEAD_SECONDS


def invoke_timeout(fn: lambda_.IFunction) -> sfn.Timeout:
    return sfn.Timeout.duration(Duration.seconds(invoke_seconds(fn)))


def state_machine_logs(
    scope: Construct, *, config: EnvironmentConfig, key: kms.IKey, machine: str
) -> logs.LogGroup:
    """A state machine's log group: named for the key policy (infra/names.py), encrypted,
    kept a year where the environment retains data (else a month)."""
    from infra import names

    return logs.LogGroup(
        scope,
        "StateMachineLogs",
        log_group_name=names.state_machine_log_group(config.name, machine),
        retention=logs.RetentionDays.ONE_YEAR
        if config.retain_data
        else logs.RetentionDays.ONE_MONTH,
        encryption_key=key,
        removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
    )


def notify_and_fail(
    scope: Construct,
    *,
    topic: sns.ITopic,
    subject: str,
    message: dict[str, Any],
    fail_id: str,
    timeout: sfn.Timeout,
) -> sfn.Chain:
    """NotifyFailure (SNS) then a Fail state carrying ``$.error``; if even the
    notification fails, the execution still fails with the original error."""
    notify = tasks.SnsPublish(
        scope,
        "NotifyFailure",
        topic=topic,
        subject=subject,
        task_timeout=timeout,
        message=sfn.TaskInput.from_object(message),
        result_path=sfn.JsonPath.DISCARD,
    )
    retry_transient(notify, SNS_TRANSIENT)
    failed = sfn.Fail(scope, fail_id, error_path="$.error.Error", cause_path="$.error.Cause")
    notify.add_catch(failed, errors=["States.ALL"], result_path="$.notifyError")
    return notify.next(failed)
