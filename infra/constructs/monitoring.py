"""Monitoring: per model an EventBridge Scheduler schedule starts the monitoring state
machine, CheckDrift (Lambda) -> Watching? -> RetrainPolicy (Lambda) -> notify.

CheckDrift compares the champion's captured traffic of the last window with its drift
baseline, joins late labels for the live metric, writes the reports and records the
check on the champion version; RetrainPolicy decides (cooldown, weekly cap, lease,
deterministic names) and starts the training pipeline on a retraining dataset. Every
Task retries transient errors; a failure notifies and fails the execution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.common import (
    LAMBDA_TRANSIENT,
    SNS_TRANSIENT,
    invoke_seconds,
    invoke_timeout,
    notify_and_fail,
    retry_transient,
    state_machine_logs,
)
from infra.constructs.functions import PipelineFunction
from infra.timeouts import API_CALL_SECONDS
from modelrail.contract import load_contracts
from modelrail.layout import (
    CAPTURE,
    GROUND_TRUTH,
    INCOMING,
    MONITORING,
    RETRAINING,
    TRAINING_OUTPUT,
)
from modelrail.naming import resource_prefix

_API_CALL = sfn.Timeout.duration(Duration.seconds(API_CALL_SECONDS))
#: The Scheduler retries a start that failed for the service's reasons this often, within
#: an hour; what still fails goes to the dead-letter queue.
SCHEDULE_RETRIES = 3
SCHEDULE_EVENT_AGE_SECONDS = 3600


@dataclass
class MonitoringResources:
    config: EnvironmentConfig
    key: kms.IKey
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    registry_table: dynamodb.ITable
    topic: sns.ITopic
    training: sfn.IStateMachine
    dead_letters: sqs.IQueue


def training_machine_name(environment: str) -> str:
    return f"{resource_prefix(environment)}training"


def schedule_name(environment: str, model: str) -> str:
    return f"{resource_prefix(environment)}{model}-monitor"


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, res: MonitoringResources) -> None:
        super().__init__(scope, construct_id)
        cfg = res.config
        self._res = res
        self.check_fn = PipelineFunction(
            self,
            "CheckDriftFn",
            name="check_drift",
            config=cfg,
            key=res.key,
            memory_mb=2048,
            timeout=Duration.minutes(5),
            description="modelrail: the champion's captured traffic against its drift baseline",
            environment={
                "ARTIFACTS_BUCKET": res.artifacts_bucket.bucket_name,
                "DATA_BUCKET": res.data_bucket.bucket_name,
                "REGISTRY_TABLE": res.registry_table.table_name,
            },
        ).function
        res.registry_table.grant_read_write_data(self.check_fn)
        res.artifacts_bucket.grant_read(self.check_fn, TRAINING_OUTPUT.objects)
        res.artifacts_bucket.grant_read(self.check_fn, CAPTURE.objects)
        res.artifacts_bucket.grant_put(self.check_fn, MONITORING.objects)
        res.data_bucket.grant_read(self.check_fn, GROUND_TRUTH.objects)

        self.retrain_fn = PipelineFunction(
            self,
            "RetrainPolicyFn",
            name="consider_retrain",
            config=cfg,
            key=res.key,
            memory_mb=1024,
            timeout=Duration.minutes(5),
            description="modelrail: decide on a check's evidence and start a retraining",
            environment={
                "DATA_BUCKET": res.data_bucket.bucket_name,
                "REGISTRY_TABLE": res.registry_table.table_name,
                "TRAINING_STATE_MACHINE_ARN": res.training.state_machine_arn,
            },
        ).function
        res.registry_table.grant_read_write_data(self.retrain_fn)
        res.artifacts_bucket.grant_read(self.retrain_fn, MONITORING.objects)
        # The champion's training data: the exact upload version (or retraining dataset)
        # its lineage names, read and copied server-side into the new dataset.
        res.data_bucket.grant_read(self.retrain_fn, INCOMING.objects)
        res.data_bucket.grant_read(self.retrain_fn, RETRAINING.objects)
        res.data_bucket.grant_put(self.retrain_fn, RETRAINING.objects)
        res.training.grant_start_execution(self.retrain_fn)
        # DescribeExecution of the lease holder: is the retraining still running?
        self.retrain_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[
                    Stack.of(self).format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{training_machine_name(cfg.name)}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )

        self.log_group = state_machine_logs(self, config=cfg, key=res.key, machine="monitoring")
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"{resource_prefix(cfg.name)}monitoring",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            timeout=Duration.seconds(
                invoke_seconds(self.check_fn) + invoke_seconds(self.retrain_fn) + 4 * 60
            ),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        res.key.grant_encrypt_decrypt(self.state_machine)
        self.schedule_role = self._schedule_role()
        self.schedules = self._schedules()

    # ------------------------------------------------------------------------------------
    def _definition(self) -> sfn.IChainable:
        res = self._res
        failure_chain = notify_and_fail(
            self,
            topic=res.topic,
            subject="modelrail: monitoring check failed",
            message={
                "event": "monitoring.failed",
                "execution": sfn.JsonPath.execution_id,
                "model": sfn.JsonPath.string_at("$.model"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
            fail_id="MonitoringFailed",
            timeout=_API_CALL,
        )

        check = tasks.LambdaInvoke(
            self,
            "CheckDrift",
            lambda_function=self.check_fn,
            task_timeout=invoke_timeout(self.check_fn),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.check",
        )
        retrain = tasks.LambdaInvoke(
            self,
            "RetrainPolicy",
            lambda_function=self.retrain_fn,
            task_timeout=invoke_timeout(self.retrain_fn),
            payload=sfn.TaskInput.from_object({"check": sfn.JsonPath.object_at("$.check")}),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.retrain",
        )
        for task in (check, retrain):
            retry_transient(task, LAMBDA_TRANSIENT)
            task.add_catch(failure_chain, errors=["States.ALL"], result_path="$.error")
        notify_retrain = tasks.SnsPublish(
            self,
            "NotifyRetraining",
            topic=res.topic,
            subject="modelrail: retraining started",
            task_timeout=_API_CALL,
            message=sfn.TaskInput.from_object(
                {
                    "event": "retraining.started",
                    "model": sfn.JsonPath.string_at("$.model"),
                    "trigger": sfn.JsonPath.string_at("$.retrain.trigger"),
                    "reason": sfn.JsonPath.string_at("$.retrain.reason"),
                    "execution": sfn.JsonPath.string_at("$.retrain.executionArn"),
                    "check": sfn.JsonPath.string_at("$.check.reportUri"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        retry_transient(notify_retrain, SNS_TRANSIENT)
        notify_retrain.add_catch(failure_chain, errors=["States.ALL"], result_path="$.error")
        done = sfn.Succeed(self, "Checked")
        decided = (
            sfn.Choice(self, "Retraining?")
            .when(
                sfn.Condition.string_equals("$.retrain.action", "start"), notify_retrain.next(done)
            )
            .otherwise(done)
        )
        watching = (
            sfn.Choice(self, "Watching?")
            .when(
                sfn.Condition.string_equals("$.check.status", "no_champion"),
                sfn.Succeed(self, "NothingToWatch"),
            )
            .otherwise(retrain.next(decided))
        )
        return check.next(watching)

    def _schedule_role(self) -> iam.Role:
        """What the Scheduler assumes: start this machine, dead-letter what it cannot."""
        role = iam.Role(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="modelrail: EventBridge Scheduler starts monitoring checks",
        )
        self.state_machine.grant_start_execution(role)
        self._res.dead_letters.grant_send_messages(role)
        return role

    def _schedules(self) -> list[scheduler.CfnSchedule]:
        cfg = self._res.config
        made = []
        for name, contract in sorted(load_contracts().items()):
            monitoring = contract.monitoring
            made.append(
                scheduler.CfnSchedule(
                    self,
                    f"Schedule-{name}",
                    name=schedule_name(cfg.name, name),
                    description=f"modelrail: check {name}'s live traffic for drift",
                    schedule_expression=monitoring.schedule,
                    schedule_expression_timezone="UTC",
                    state="ENABLED" if monitoring.enabled else "DISABLED",
                    flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(
                        mode="OFF"
                    ),
                    target=scheduler.CfnSchedule.TargetProperty(
                        arn=self.state_machine.state_machine_arn,
                        role_arn=self.schedule_role.role_arn,
                        input=json.dumps(
                            {
                                "model": name,
                                "requestedBy": "schedule",
                                "scheduledTime": "<aws.scheduler.scheduled-time>",
                            }
                        ),
                        retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                            maximum_retry_attempts=SCHEDULE_RETRIES,
                            maximum_event_age_in_seconds=SCHEDULE_EVENT_AGE_SECONDS,
                        ),
                        dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                            arn=self._res.dead_letters.queue_arn
                        ),
                    ),
                )
            )
        return made
