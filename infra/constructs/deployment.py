"""The deployment state machine: a registered version onto its model's endpoint.

PlanDeployment (checks, per-endpoint lock, names, DEPLOYING) → CreateModel →
CreateEndpointConfig (the ``live`` variant, KMS, data capture) → CreateEndpoint the first
time, otherwise UpdateEndpoint with a blue/green CANARY DeploymentConfig and the model's
rollback alarms (CDK's SageMakerUpdateEndpoint cannot carry DeploymentConfig, hence
CallAwsService) → Wait/DescribeEndpoint until the endpoint settles → FinishDeployment
(verifies the live config is the requested one; PRODUCTION and the champion moved by
compare-and-swap, or ROLLED_BACK naming the alarm, or FAILED; old configs cleaned up;
lock released) → exactly one notification → Succeed or Fail.

One endpoint per model (``modelrail-<env>-<model>``); its three rollback alarms are
created here from the contracts known at synth, with names from
``modelrail.deploy.naming`` that the functions compute the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import names
from infra.config import EnvironmentConfig
from infra.constructs.common import (
    LAMBDA_TRANSIENT,
    SAGEMAKER_SDK_TRANSIENT,
    SNS_TRANSIENT,
    grant_container_basics,
    retry_transient,
    state_machine_logs,
)
from infra.constructs.functions import PipelineFunction
from modelrail.contract import load_contracts
from modelrail.deploy.naming import NAMESPACE, VARIANT, alarm_names, endpoint_name
from modelrail.deploy.plan import LOCK_MARGIN_SECONDS
from modelrail.layout import CAPTURE, TRAINING_OUTPUT
from modelrail.naming import resource_prefix

# How often the state machine looks at an endpoint that is still changing.
POLL_SECONDS = 30
# The rollback error alarms (D40): the share of a minute's requests answered with a 5XX
# (or failed by the model) at which a deployment rolls back, and the fewest invocations
# that share is taken of, so one failed request in a quiet minute is not a failing model.
ERROR_RATE = 0.1
ERROR_MIN_INVOCATIONS = 20
# Minutes the p99 model latency must stay above budget before the latency alarm fires.
LATENCY_MINUTES = 3
SETTLING = ("Creating", "Updating", "SystemUpdating", "RollingBack")


def queue_looks(deployment_max_seconds: int) -> int:
    """How many times a queued deployment looks at a busy endpoint, POLL_SECONDS apart:
    long enough for the deployment ahead to end or its lock to expire (modelrail.release:
    older queued versions are superseded, so at most one waits behind another)."""
    return math.ceil((deployment_max_seconds + LOCK_MARGIN_SECONDS) / POLL_SECONDS) + 1


@dataclass(frozen=True)
class DeploymentResources:
    config: EnvironmentConfig
    key: kms.IKey
    artifacts_bucket: s3.IBucket
    registry_table: dynamodb.ITable
    topic: sns.ITopic


class Deployment(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, res: DeploymentResources) -> None:
        super().__init__(scope, construct_id)
        self._res = res
        cfg = res.config
        common_env = {
            "REGISTRY_TABLE": res.registry_table.table_name,
            "EVENT_BUS_NAME": "default",
            "REQUIRE_APPROVAL": str(cfg.require_approval).lower(),
            "ALLOW_FAULT_INJECTION": str(cfg.allow_fault_injection).lower(),
            "DEPLOYMENT_MAX_SECONDS": str(cfg.deployment_max_seconds),
            "DEPLOYMENT_QUEUE_LOOKS": str(queue_looks(cfg.deployment_max_seconds)),
            "KEEP_ENDPOINT_CONFIGS": str(cfg.keep_endpoint_configs),
        }
        self.plan_fn = PipelineFunction(
            self,
            "PlanFn",
            name="plan_deployment",
            config=cfg,
            key=res.key,
            memory_mb=512,
            timeout=Duration.seconds(60),
            reserved_concurrency=cfg.lambda_reserved_concurrency,
            description="modelrail: check a version, lock its endpoint and plan the deployment",
            environment=common_env,
        ).function
        self.finish_fn = PipelineFunction(
            self,
            "FinishFn",
            name="finish_deployment",
            config=cfg,
            key=res.key,
            memory_mb=512,
            timeout=Duration.seconds(120),
            description="modelrail: verify the live config, update the registry, clean up",
            environment=common_env,
        ).function
        stack = Stack.of(self)
        for fn in (self.plan_fn, self.finish_fn):
            res.registry_table.grant_read_write_data(fn)
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["events:PutEvents"],
                    resources=[
                        stack.format_arn(
                            service="events", resource="event-bus", resource_name="default"
                        )
                    ],
                )
            )
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpoint"],
                    resources=[self._ours("endpoint")],
                )
            )
        self.finish_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:ListEndpointConfigs"],
                resources=["*"],  # a List action takes no resource
            )
        )
        self.finish_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DeleteEndpointConfig", "sagemaker:DescribeEndpointConfig"],
                resources=[self._ours("endpoint-config")],
            )
        )
        self.finish_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=f"modelrail-{cfg.name}-*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )

        self.hosting_role = self._hosting_role()
        self.alarms = self._alarms()
        self.log_group = state_machine_logs(self, config=cfg, key=res.key, machine="deploy")
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"modelrail-{cfg.name}-deploy",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            # The wait in the queue, then the deployment itself.
            timeout=Duration.seconds(
                queue_looks(cfg.deployment_max_seconds) * POLL_SECONDS
                + cfg.deployment_max_seconds
                + 1800
            ),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        res.key.grant_encrypt_decrypt(self.state_machine)
        # CreateEndpoint, and UpdateEndpoint's new fleet, on a config with a KmsKeyId: the
        # caller lets SageMaker create a grant for the instances' volumes; only for an AWS
        # resource (SageMaker calling on the role's behalf).
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[res.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:DescribeKey"], resources=[res.key.key_arn])
        )
        # Deployment guardrails read the rollback alarms named in UpdateEndpoint.
        self.state_machine.add_to_role_policy(self._describe_alarms())

    # ------------------------------------------------------------------------------
    def _describe_alarms(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["cloudwatch:DescribeAlarms"],
            resources=[
                Stack.of(self).format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name=names.alarm_pattern(self._res.config.name),
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )

    def _ours(self, resource: str) -> str:
        """This environment's SageMaker resources of one type: every name the deployment
        makes starts with modelrail-<env>- (modelrail.naming)."""
        return Stack.of(self).format_arn(
            service="sagemaker",
            resource=resource,
            resource_name=f"{resource_prefix(self._res.config.name)}*",
        )

    def _hosting_role(self) -> iam.Role:
        """What a SageMaker model runs as: read its artifact, pull the image, write logs
        and metrics. No AmazonSageMakerFullAccess."""
        cfg = self._res.config
        role = iam.Role(
            self,
            "HostingRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="modelrail: SageMaker endpoints",
        )
        self._res.artifacts_bucket.grant_read(role, TRAINING_OUTPUT.objects)
        self._res.key.grant_decrypt(role)
        # Data capture is written with the model's role: the capture prefix only, encrypted
        # with the key (SSE-KMS needs a data key).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self._res.artifacts_bucket.arn_for_objects(CAPTURE.objects)],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Encrypt"], resources=[self._res.key.key_arn]
            )
        )
        # The guardrails' alarm reads: SageMaker's guide asks it of the execution role.
        role.add_to_policy(self._describe_alarms())
        grant_container_basics(
            role,
            config=cfg,
            log_group="/aws/sagemaker/Endpoints/*",
            metric_namespace="/aws/sagemaker/Endpoints",
        )
        return role

    def _alarms(self) -> dict[str, list[cloudwatch.Alarm]]:
        """Per model, on the live variant: the 5XX rate, the model-error rate (each over
        at least ERROR_MIN_INVOCATIONS a minute, D40) and p99 model latency."""
        cfg = self._res.config
        action = cw_actions.SnsAction(self._res.topic)
        made: dict[str, list[cloudwatch.Alarm]] = {}
        for model, contract in sorted(load_contracts().items()):
            names = alarm_names(cfg.name, model)
            dims = {"EndpointName": endpoint_name(cfg.name, model), "VariantName": VARIANT}
            budget_ms = contract.quality.max_latency_ms or cfg.default_latency_budget_ms

            def metric(name: str, statistic: str = "Sum", dims: dict[str, str] = dims) -> Any:
                return cloudwatch.Metric(
                    namespace=NAMESPACE,
                    metric_name=name,
                    dimensions_map=dims,
                    statistic=statistic,
                    period=Duration.minutes(1),
                )

            rate = f"{ERROR_RATE:.0%} of a minute's requests (at least {ERROR_MIN_INVOCATIONS} counted)"
            # (signal, threshold, consecutive minutes, meaning): an error rate alarms in
            # one minute; latency must stay above budget for LATENCY_MINUTES, so one slow
            # request (a cold worker, a noisy neighbour) does not roll a model back.
            specs: dict[str, tuple[Any, float, int, str]] = {
                "errors": (
                    self._error_rate("Invocation5XXErrors", metric),
                    ERROR_RATE,
                    1,
                    f"5XX answers for {rate}",
                ),
                "latency": (
                    metric("ModelLatency", "p99"),
                    budget_ms * 1000.0,  # ModelLatency is in microseconds
                    LATENCY_MINUTES,
                    f"p99 model latency above the {budget_ms:g} ms budget for "
                    f"{LATENCY_MINUTES} minutes",
                ),
                "model_errors": (
                    self._error_rate("InvocationModelErrors", metric),
                    ERROR_RATE,
                    1,
                    f"requests the model failed to answer for {rate}",
                ),
            }
            alarms = []
            for role, (signal, threshold, minutes, meaning) in specs.items():
                alarm = cloudwatch.Alarm(
                    self,
                    f"{model}-{role}",
                    alarm_name=names[role],
                    alarm_description=f"modelrail {model}: {meaning} (rolls back a deployment)",
                    metric=signal,
                    threshold=threshold,
                    evaluation_periods=minutes,
                    datapoints_to_alarm=minutes,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                    if role != "latency"
                    else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                alarm.add_alarm_action(action)
                alarms.append(alarm)
            made[model] = alarms
        return made

    @staticmethod
    def _error_rate(errors: str, metric: Callable[[str], Any]) -> cloudwatch.MathExpression:
        """errors / invocations in the minute, the invocations counted as at least
        ERROR_MIN_INVOCATIONS: one failed request in a quiet minute is not a failing
        model, and a minute without errors published is no errors (FILL)."""
        floor = ERROR_MIN_INVOCATIONS
        return cloudwatch.MathExpression(
            expression=f"IF(invocations < {floor}, FILL(errors, 0) / {floor}, "
            "FILL(errors, 0) / invocations)",
            using_metrics={"errors": metric(errors), "invocations": metric("Invocations")},
            label=f"{errors} rate",
            period=Duration.minutes(1),
        )

    def _definition(self) -> sfn.IChainable:
        res = self._res
        cfg = res.config

        def notify(
            state_id: str, subject: str, event: str, fields: Mapping[str, object]
        ) -> sfn.TaskStateBase:
            task = tasks.SnsPublish(
                self,
                state_id,
                topic=res.topic,
                subject=subject,
                message=sfn.TaskInput.from_object(
                    {"event": event, "execution": sfn.JsonPath.execution_id, **fields}
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
            return retry_transient(task, SNS_TRANSIENT)

        failed = sfn.Fail(
            self, "DeploymentFailed", error_path="$.error.Error", cause_path="$.error.Cause"
        )
        notify_failed = notify(
            "NotifyDeployFailed",
            "modelrail: deployment failed",
            "deployment.failed",
            {
                "model": sfn.JsonPath.string_at("$.model"),
                "version": sfn.JsonPath.number_at("$.version"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
        )
        notify_failed.add_catch(failed, errors=["States.ALL"], result_path="$.notifyError")
        fail_chain = notify_failed.next(failed)

        def invoke(
            state_id: str, fn: lambda_.IFunction, payload: dict[str, object], result_path: str
        ) -> sfn.TaskStateBase:
            """A Lambda task: the function's answer at ``result_path``, transient retries."""
            return retry_transient(
                tasks.LambdaInvoke(
                    self,
                    state_id,
                    lambda_function=fn,
                    payload=sfn.TaskInput.from_object(payload),
                    payload_response_only=True,
                    retry_on_service_exceptions=False,
                    result_path=result_path,
                ),
                LAMBDA_TRANSIENT,
            )

        plan = invoke(
            "PlanDeployment",
            self.plan_fn,
            {
                "model": sfn.JsonPath.string_at("$.model"),
                "version": sfn.JsonPath.number_at("$.version"),
                "reason": sfn.JsonPath.string_at("$.reason"),
                "requestedBy": sfn.JsonPath.string_at("$.requestedBy"),
                "fault": sfn.JsonPath.object_at("$.fault"),
                "executionName": sfn.JsonPath.string_at("$$.Execution.Name"),
                "startedAt": sfn.JsonPath.string_at("$$.Execution.StartTime"),
                "attempt": sfn.JsonPath.number_at("$$.State.RetryCount"),
            },
            "$.plan",
        )
        # The endpoint is busy: look again (the queue, modelrail.release). The last look
        # fails the version with DeploymentQueueTimeout instead.
        plan.add_retry(
            errors=["DeploymentInProgress"],
            interval=Duration.seconds(POLL_SECONDS),
            max_attempts=queue_looks(cfg.deployment_max_seconds),
            backoff_rate=1,
        )
        superseded = notify(
            "NotifySuperseded",
            "modelrail: deployment superseded",
            "deployment.superseded",
            {
                "model": sfn.JsonPath.string_at("$.model"),
                "version": sfn.JsonPath.number_at("$.version"),
                "reason": sfn.JsonPath.string_at("$.error.Cause"),
            },
        )
        superseded_done = sfn.Succeed(self, "Superseded")
        superseded.add_catch(superseded_done, errors=["States.ALL"], result_path="$.notifyError")
        plan.add_catch(
            superseded.next(superseded_done),
            errors=["DeploymentSuperseded"],
            result_path="$.error",
        )
        # Nothing was locked or changed if planning failed: notify and fail.
        plan.add_catch(fail_chain, errors=["States.ALL"], result_path="$.error")

        # After planning, every failure goes through FinishDeployment, which records it
        # and releases the endpoint's lock.
        finish_error = invoke(
            "RecordFailure",
            self.finish_fn,
            {
                "plan": sfn.JsonPath.object_at("$.plan"),
                "endpoint": None,
                "error": sfn.JsonPath.object_at("$.error"),
            },
            "$.result",
        )
        finish_error.add_catch(fail_chain, errors=["States.ALL"], result_path="$.finishError")
        finish_error.next(fail_chain)

        def guarded(task: sfn.TaskStateBase) -> sfn.TaskStateBase:
            retry_transient(task, SAGEMAKER_SDK_TRANSIENT)
            task.add_catch(finish_error, errors=["States.ALL"], result_path="$.error")
            return task

        create_model = guarded(
            tasks.CallAwsService(
                self,
                "CreateModel",
                service="sagemaker",
                action="createModel",
                parameters={
                    "ModelName": sfn.JsonPath.string_at("$.plan.modelName"),
                    "ExecutionRoleArn": self.hosting_role.role_arn,
                    "PrimaryContainer": {
                        "Image": sfn.JsonPath.string_at("$.plan.image"),
                        "ModelDataUrl": sfn.JsonPath.string_at("$.plan.modelDataUrl"),
                        "Environment": sfn.JsonPath.object_at("$.plan.environment"),
                    },
                    "EnableNetworkIsolation": True,
                },
                iam_resources=[self._ours("model")],
                additional_iam_statements=[
                    iam.PolicyStatement(
                        actions=["iam:PassRole"],
                        resources=[self.hosting_role.role_arn],
                        conditions={
                            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                        },
                    )
                ],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        capture_uri = res.artifacts_bucket.s3_url_for_object(CAPTURE.name)
        create_config = guarded(
            tasks.CallAwsService(
                self,
                "CreateEndpointConfig",
                service="sagemaker",
                action="createEndpointConfig",
                parameters={
                    "EndpointConfigName": sfn.JsonPath.string_at("$.plan.configName"),
                    "KmsKeyId": res.key.key_arn,
                    "ProductionVariants": [
                        {
                            "VariantName": VARIANT,
                            "ModelName": sfn.JsonPath.string_at("$.plan.modelName"),
                            "InstanceType": cfg.endpoint_instance_type,
                            "InitialInstanceCount": cfg.endpoint_instance_count,
                        }
                    ],
                    "DataCaptureConfig": {
                        "EnableCapture": cfg.capture_percent > 0,
                        "InitialSamplingPercentage": max(cfg.capture_percent, 1),
                        "DestinationS3Uri": capture_uri,
                        "KmsKeyId": res.key.key_arn,
                        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                        "CaptureContentTypeHeader": {
                            "CsvContentTypes": ["text/csv"],
                            "JsonContentTypes": ["application/json"],
                        },
                    },
                },
                iam_resources=[self._ours("endpoint-config")],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        endpoint_resources = [self._ours("endpoint")]
        create_endpoint = guarded(
            tasks.CallAwsService(
                self,
                "CreateEndpoint",
                service="sagemaker",
                action="createEndpoint",
                parameters={
                    "EndpointName": sfn.JsonPath.string_at("$.plan.endpointName"),
                    "EndpointConfigName": sfn.JsonPath.string_at("$.plan.configName"),
                },
                iam_resources=[*endpoint_resources, self._ours("endpoint-config")],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        update_endpoint = guarded(
            tasks.CallAwsService(
                self,
                "UpdateEndpoint",
                service="sagemaker",
                action="updateEndpoint",
                parameters={
                    "EndpointName": sfn.JsonPath.string_at("$.plan.endpointName"),
                    "EndpointConfigName": sfn.JsonPath.string_at("$.plan.configName"),
                    "DeploymentConfig": {
                        "BlueGreenUpdatePolicy": {
                            "TrafficRoutingConfiguration": {
                                "Type": "CANARY",
                                "CanarySize": {
                                    "Type": "INSTANCE_COUNT",
                                    "Value": cfg.canary_instances,
                                },
                                "WaitIntervalInSeconds": cfg.bake_seconds,
                            },
                            "TerminationWaitInSeconds": cfg.termination_wait_seconds,
                            "MaximumExecutionTimeoutInSeconds": cfg.deployment_max_seconds,
                        },
                        "AutoRollbackConfiguration": {
                            "Alarms": sfn.JsonPath.object_at("$.plan.rollbackAlarms")
                        },
                    },
                },
                iam_resources=[*endpoint_resources, self._ours("endpoint-config")],
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        wait = sfn.Wait(
            self, "WaitForEndpoint", time=sfn.WaitTime.duration(Duration.seconds(POLL_SECONDS))
        )
        describe = guarded(
            tasks.CallAwsService(
                self,
                "DescribeEndpoint",
                service="sagemaker",
                action="describeEndpoint",
                parameters={"EndpointName": sfn.JsonPath.string_at("$.plan.endpointName")},
                iam_resources=endpoint_resources,
                result_path="$.endpoint",
            )
        )
        finish = invoke(
            "FinishDeployment",
            self.finish_fn,
            {
                "plan": sfn.JsonPath.object_at("$.plan"),
                "endpoint": sfn.JsonPath.object_at("$.endpoint"),
                "error": None,
            },
            "$.result",
        )
        finish.add_catch(fail_chain, errors=["States.ALL"], result_path="$.error")

        result_fields = {
            "model": sfn.JsonPath.string_at("$.result.model"),
            "version": sfn.JsonPath.number_at("$.result.version"),
            "endpoint": sfn.JsonPath.string_at("$.result.endpointName"),
            "message": sfn.JsonPath.string_at("$.result.message"),
        }
        deployed = notify(
            "NotifyDeployed", "modelrail: model deployed", "deployment.succeeded", result_fields
        )
        deployed.add_catch(sfn.Succeed(self, "DeployedUnnotified"), errors=["States.ALL"])
        rolled_back_fail = sfn.Fail(
            self,
            "RolledBack",
            error="DeploymentRolledBack",
            cause_path="$.result.message",
        )
        rolled_back = notify(
            "NotifyRolledBack",
            "modelrail: deployment rolled back",
            "deployment.rolled_back",
            {**result_fields, "alarms": sfn.JsonPath.object_at("$.result.trippedAlarms")},
        )
        rolled_back.add_catch(rolled_back_fail, errors=["States.ALL"], result_path="$.notifyError")
        unverified_fail = sfn.Fail(
            self, "NotVerified", error="DeploymentFailed", cause_path="$.result.message"
        )
        unverified = notify(
            "NotifyNotVerified",
            "modelrail: deployment failed",
            "deployment.failed",
            result_fields,
        )
        unverified.add_catch(unverified_fail, errors=["States.ALL"], result_path="$.notifyError")

        outcome = (
            sfn.Choice(self, "Outcome?")
            .when(
                sfn.Condition.string_equals("$.result.outcome", "PRODUCTION"),
                deployed.next(sfn.Succeed(self, "Deployed")),
            )
            .when(
                sfn.Condition.string_equals("$.result.outcome", "ROLLED_BACK"),
                rolled_back.next(rolled_back_fail),
            )
            .otherwise(unverified.next(unverified_fail))
        )
        settle = (
            sfn.Choice(self, "Settled?")
            .when(
                sfn.Condition.or_(
                    *[
                        sfn.Condition.string_equals("$.endpoint.EndpointStatus", status)
                        for status in SETTLING
                    ]
                ),
                wait,
            )
            .otherwise(finish.next(outcome))
        )
        wait.next(describe).next(settle)
        start = (
            sfn.Choice(self, "EndpointExists?")
            .when(sfn.Condition.boolean_equals("$.plan.endpointExists", True), update_endpoint)
            .otherwise(create_endpoint)
        )
        create_endpoint.next(wait)
        update_endpoint.next(wait)
        return plan.next(create_model).next(create_config).next(start)
