"""The training pipeline: S3 upload -> EventBridge -> starter -> Step Functions.

LargeDataset? -> ValidateData (Lambda) or, above the environment's threshold, ProcessDataset
(SageMaker createProcessingJob.sync, the same validation and profile code) -> PrepareData
-> Train (SageMaker createTrainingJob.sync) -> QualityGate (Lambda)
-> Register (Lambda, registry) -> notify. Every Task retries transient errors and has a
Catch that records the failed state, notifies and fails the execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from aws_cdk import Aws, Duration, Size, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import names
from infra.assets import stage_dataset_job, stage_training_source
from infra.config import EnvironmentConfig
from infra.constructs.common import (
    LAMBDA_TRANSIENT,
    SAGEMAKER_JOB_TRANSIENT,
    SAGEMAKER_SDK_TRANSIENT,
    SFN_TRANSIENT,
    SNS_TRANSIENT,
    grant_container_basics,
    invoke_seconds,
    invoke_timeout,
    notify_and_fail,
    retry_quota,
    retry_transient,
    state_machine_logs,
)
from infra.constructs.functions import PipelineFunction
from infra.images import sklearn_image_uri
from infra.timeouts import (
    API_CALL_SECONDS,
    StepTimeouts,
    job_timeout,
    pipeline_timeout,
    tuning_timeout,
)
from modelrail.contract import load_contracts
from modelrail.layout import (
    APPROVALS,
    DATASETS,
    INCOMING,
    QUARANTINE,
    RETRAINING,
    RUNS,
    TRAINING_OUTPUT,
    dataset_folder,
    quarantine_folder,
)
from modelrail.naming import resource_prefix
from modelrail.release import MAX_ROUNDS, PIPELINE
from modelrail.sizing import bands_to_json

#: The dataset Processing job's folders in its container (modelrail.dataset_job.JobPaths).
PROCESSING_ROOT = "/opt/ml/processing"
JOB_INPUT = f"{PROCESSING_ROOT}/input/data"
JOB_CODE = f"{PROCESSING_ROOT}/input/code"
JOB_DATASET = f"{PROCESSING_ROOT}/output/dataset"
JOB_QUARANTINE = f"{PROCESSING_ROOT}/output/quarantine"
# Where the job's outputs go, as States.Format templates of (model, execution / version id).
JOB_FOLDER = dataset_folder("{}", "{}")
JOB_QUARANTINE_FOLDER = quarantine_folder("{}", "{}")
#: DescribeProcessingJob's ExitMessage is the first KB of this file (the job's verdict).
JOB_MESSAGE = "/opt/ml/output/message"

_Guardable = TypeVar("_Guardable", sfn.TaskStateBase, sfn.CustomState)


_API_CALL = sfn.Timeout.duration(Duration.seconds(API_CALL_SECONDS))


_invoke_seconds = invoke_seconds
_invoke_timeout = invoke_timeout


class _RunLocation(tasks.S3Location):
    """An S3 channel whose URI is in the state's input. Unlike
    ``S3Location.from_json_expression`` it grants nothing: the pipeline grants the prefixes
    its runs use (datasets/, runs/), never s3:GetObject on "*"."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def bind(
        self,
        task: tasks.ISageMakerTask,
        *,
        for_reading: bool | None = None,
        for_writing: bool | None = None,
    ) -> tasks.S3LocationConfig:
        return tasks.S3LocationConfig(uri=sfn.JsonPath.string_at(self._path))


@dataclass(frozen=True)
class PipelineResources:
    config: EnvironmentConfig
    key: kms.IKey
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    registry_table: dynamodb.ITable
    topic: sns.ITopic
    # Started (not awaited) once a version is registered and, where required, approved.
    deployment: sfn.IStateMachine | None = None


class TrainingPipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, res: PipelineResources) -> None:
        super().__init__(scope, construct_id)
        cfg = res.config
        self._res = res

        # ---- functions ------------------------------------------------------------
        self.validate_fn = PipelineFunction(
            self,
            "ValidateDataFn",
            name="validate_data",
            config=cfg,
            key=res.key,
            memory_mb=3008,
            ephemeral_mb=cfg.scratch_mb(),
            timeout=Duration.minutes(10),
            description="modelrail: validate an uploaded dataset against its model contract",
            environment={
                "ARTIFACTS_BUCKET": res.artifacts_bucket.bucket_name,
            },
        ).function
        res.data_bucket.grant_read(self.validate_fn, INCOMING.objects)
        # Retraining datasets, written by monitoring (modelrail.monitoring.retraining).
        res.data_bucket.grant_read(self.validate_fn, RETRAINING.objects)
        res.data_bucket.grant_put(self.validate_fn, QUARANTINE.objects)
        res.artifacts_bucket.grant_put(self.validate_fn, DATASETS.objects)

        self.prepare_fn = PipelineFunction(
            self,
            "PrepareDataFn",
            name="prepare_data",
            config=cfg,
            key=res.key,
            memory_mb=3008,
            ephemeral_mb=cfg.scratch_mb(),
            timeout=Duration.minutes(10),
            description="modelrail: champion channel and baseline profile for a training run",
            environment={
                "ARTIFACTS_BUCKET": res.artifacts_bucket.bucket_name,
                "REGISTRY_TABLE": res.registry_table.table_name,
                "TRAINING_SIZE_BANDS": bands_to_json(cfg.size_bands()),
            },
        ).function
        res.registry_table.grant_read_data(self.prepare_fn)
        res.artifacts_bucket.grant_read(self.prepare_fn, TRAINING_OUTPUT.objects)
        res.artifacts_bucket.grant_read_write(self.prepare_fn, DATASETS.objects)
        res.artifacts_bucket.grant_put(self.prepare_fn, RUNS.objects)

        self.gate_fn = PipelineFunction(
            self,
            "QualityGateFn",
            name="quality_gate",
            config=cfg,
            key=res.key,
            memory_mb=512,
            timeout=Duration.minutes(2),
            description="modelrail: judge a trained model against its contract",
            environment={"ARTIFACTS_BUCKET": res.artifacts_bucket.bucket_name},
        ).function
        res.artifacts_bucket.grant_read(self.gate_fn, TRAINING_OUTPUT.objects)

        self.register_fn = PipelineFunction(
            self,
            "RegisterFn",
            name="register_model",
            config=cfg,
            key=res.key,
            memory_mb=256,
            timeout=Duration.minutes(1),
            description="modelrail: write a model version with its lineage to the registry",
            environment={
                "REGISTRY_TABLE": res.registry_table.table_name,
                "EVENT_BUS_NAME": "default",
            },
        ).function
        res.registry_table.grant_read_write_data(self.register_fn)
        # Registry events (model_version.created, ...) go to the account's default bus.
        events.EventBus.from_event_bus_name(self, "DefaultBus", "default").grant_put_events_to(
            self.register_fn
        )

        self.approval_fn: lambda_.Function | None = None
        if cfg.require_approval:
            self.approval_fn = PipelineFunction(
                self,
                "ApprovalFn",
                name="approval",
                config=cfg,
                key=res.key,
                memory_mb=256,
                timeout=Duration.seconds(30),
                description="modelrail: park a trained model for manual approval",
                environment={
                    "ARTIFACTS_BUCKET": res.artifacts_bucket.bucket_name,
                    "REGISTRY_TABLE": res.registry_table.table_name,
                    "EVENT_BUS_NAME": "default",
                },
            ).function
            res.registry_table.grant_read_write_data(self.approval_fn)
            res.artifacts_bucket.grant_put(self.approval_fn, APPROVALS.objects)
            events.EventBus.from_event_bus_name(self, "ApprovalBus", "default").grant_put_events_to(
                self.approval_fn
            )

        # ---- state machine ----------------------------------------------------------
        self.state_machine_log_group = state_machine_logs(
            self, config=cfg, key=res.key, machine="training"
        )
        self.training_role = self._training_role()
        self.dataset_job_role = self._dataset_job_role()
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"modelrail-{cfg.name}-training",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            timeout=Duration.seconds(pipeline_timeout(self._step_timeouts())),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.state_machine_log_group,
                level=sfn.LogLevel.ALL,
                # RequestApproval's TaskScheduled event carries the task token in its
                # parameters: with execution data it would reach the log group, and anyone
                # who reads the logs could approve. Events are still logged, without data.
                include_execution_data=self.approval_fn is None,
            ),
        )
        res.key.grant_encrypt_decrypt(self.state_machine)
        self.search_policy.attach_to_role(self.state_machine.role)
        self._train_policy().attach_to_role(self.state_machine.role)
        self._process_policy().attach_to_role(self.state_machine.role)

        # ---- S3 -> EventBridge -> starter ------------------------------------------------
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=res.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.starter_fn = PipelineFunction(
            self,
            "StartPipelineFn",
            name="start_pipeline",
            config=cfg,
            key=res.key,
            memory_mb=256,
            timeout=Duration.seconds(30),
            reserved_concurrency=cfg.lambda_reserved_concurrency,
            description="modelrail: start the training pipeline once per uploaded object version",
            environment={"STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
        ).function
        self.starter_fn.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        self.state_machine.grant_start_execution(self.starter_fn)
        # HeadObject on the upload: its fault-injection metadata, if any.
        res.data_bucket.grant_read(self.starter_fn, INCOMING.objects)
        self.upload_rule = events.Rule(
            self,
            "UploadRule",
            # Named: the key policy matches it by ARN (infra/names.py).
            rule_name=names.upload_rule(cfg.name),
            description=f"modelrail: a dataset uploaded under {INCOMING.prefix} starts the training pipeline",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [res.data_bucket.bucket_name]},
                    "object": {"key": [{"prefix": INCOMING.prefix}]},
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.starter_fn,
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=8,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

    # ------------------------------------------------------------------------------------
    def _training_role(self) -> iam.Role:
        """The SageMaker execution role: least privilege, no AmazonSageMakerFullAccess."""
        role = iam.Role(
            self,
            "TrainingRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="modelrail: SageMaker training jobs",
        )
        grant_container_basics(
            role,
            config=self._res.config,
            log_group="/aws/sagemaker/TrainingJobs:*",
            metric_namespace="/aws/sagemaker/TrainingJobs",
        )
        self._res.key.grant_encrypt_decrypt(role)
        return role

    def _dataset_job_role(self) -> iam.Role:
        """The dataset Processing job's role: read the uploads, write snapshots and
        quarantine copies, nothing else (the code object's read is added where the asset
        is made, in _process_state)."""
        res = self._res
        role = iam.Role(
            self,
            "DatasetJobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="modelrail: SageMaker Processing jobs that validate large datasets",
        )
        grant_container_basics(
            role,
            config=res.config,
            log_group="/aws/sagemaker/ProcessingJobs:*",
            metric_namespace="/aws/sagemaker/ProcessingJobs",
        )
        res.key.grant_encrypt_decrypt(role)
        # The volume is encrypted with the key (VolumeKmsKeyId): SageMaker creates a grant
        # for the instance with the role's permissions, as for a training job's volume.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[res.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        res.data_bucket.grant_read(role, INCOMING.objects)
        res.data_bucket.grant_read(role, RETRAINING.objects)
        res.data_bucket.grant_put(role, QUARANTINE.objects)
        res.artifacts_bucket.grant_put(role, DATASETS.objects)
        return role

    def _tune_seconds(self) -> int:
        """The slowest search of the contracts (a job's timeout when none searches: the
        state exists either way)."""
        cfg = self._res.config
        budgets = [
            (c.tuning.max_jobs, c.tuning.max_parallel_jobs)
            for c in load_contracts().values()
            if c.tuning is not None
        ]
        return max(
            tuning_timeout(cfg.training_max_runtime_seconds, budgets),
            job_timeout(cfg.training_max_runtime_seconds),
        )

    def _step_timeouts(self) -> StepTimeouts:
        """The Task states' TimeoutSeconds, as set on them below (infra/timeouts.py)."""
        cfg = self._res.config
        api = API_CALL_SECONDS
        return StepTimeouts(
            validate=_invoke_seconds(self.validate_fn),
            process=job_timeout(cfg.processing_max_runtime_seconds),
            prepare=_invoke_seconds(self.prepare_fn),
            train=job_timeout(cfg.training_max_runtime_seconds),
            tune=self._tune_seconds() + api,  # then DescribeBestTrial
            gate=_invoke_seconds(self.gate_fn),
            register=_invoke_seconds(self.register_fn),
            approval=cfg.approval_timeout_hours * 3600 if self.approval_fn else 0,
            close_approval=_invoke_seconds(self.approval_fn) if self.approval_fn else 0,
            notify=api,
            start_deployment=api if self._res.deployment is not None else 0,
            rounds=MAX_ROUNDS,
        )

    def _jobs(self, kind: str) -> str:
        """This environment's SageMaker jobs of one kind (modelrail.naming)."""
        return Stack.of(self).format_arn(
            service="sagemaker",
            resource=kind,
            resource_name=f"{resource_prefix(self._res.config.name)}*",
        )

    def _sync_statements(
        self, rule: str, role: iam.IRole | None = None
    ) -> list[iam.PolicyStatement]:
        """What a `.sync` SageMaker task needs beside the job's own actions: the rule Step
        Functions manages to follow the job, and passing the job's role (training's by
        default)."""
        passed = role or self.training_role
        rule_arn = Stack.of(self).format_arn(service="events", resource="rule", resource_name=rule)
        return [
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[rule_arn],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[passed.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]

    def _train_policy(self) -> iam.Policy:
        """createTrainingJob.sync (what CDK's task would grant, scoped to this
        environment's job names)."""
        return iam.Policy(
            self,
            "TrainPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "sagemaker:CreateTrainingJob",
                        "sagemaker:DescribeTrainingJob",
                        "sagemaker:StopTrainingJob",
                        "sagemaker:ListTags",
                    ],
                    resources=[self._jobs("training-job")],
                ),
                *self._sync_statements("StepFunctionsGetEventsForSageMakerTrainingJobsRule"),
            ],
        )

    def _process_policy(self) -> iam.Policy:
        """createProcessingJob.sync: the job's actions on this environment's job names,
        its managed rule and passing the job's role."""
        return iam.Policy(
            self,
            "ProcessPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:ListTags",
                    ],
                    resources=[self._jobs("processing-job")],
                ),
                *self._sync_statements(
                    "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
                    self.dataset_job_role,
                ),
            ],
        )

    def _definition(self) -> sfn.IChainable:
        res = self._res
        cfg = res.config

        failure_chain = notify_and_fail(
            self,
            topic=res.topic,
            subject="modelrail: training pipeline failed",
            message={
                "event": "pipeline.failed",
                "execution": sfn.JsonPath.execution_id,
                "model": sfn.JsonPath.string_at("$.model"),
                "failedState": sfn.JsonPath.string_at("$.failedState"),
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
            fail_id="PipelineFailed",
            timeout=_API_CALL,
        )

        def guarded(task: _Guardable, transient: list[str]) -> _Guardable:
            retry_transient(task, transient)
            mark = sfn.Pass(
                self,
                f"{task.node.id}Failed",
                result=sfn.Result.from_string(task.node.id),
                result_path="$.failedState",
            )
            task.add_catch(mark.next(failure_chain), errors=["States.ALL"], result_path="$.error")
            return task

        validate = guarded(
            tasks.LambdaInvoke(
                self,
                "ValidateData",
                lambda_function=self.validate_fn,
                task_timeout=_invoke_timeout(self.validate_fn),
                payload_response_only=True,
                retry_on_service_exceptions=False,
                result_path="$.validation",
            ),
            LAMBDA_TRANSIENT,
        )

        image = sklearn_image_uri(cfg)
        prepare = guarded(
            tasks.LambdaInvoke(
                self,
                "PrepareData",
                lambda_function=self.prepare_fn,
                task_timeout=_invoke_timeout(self.prepare_fn),
                payload=sfn.TaskInput.from_object(
                    {
                        "model": sfn.JsonPath.string_at("$.model"),
                        "executionName": sfn.JsonPath.string_at("$$.Execution.Name"),
                        "validation": sfn.JsonPath.object_at("$.validation"),
                        "round": sfn.JsonPath.number_at("$.round"),
                        "retrain": sfn.JsonPath.object_at("$.retrain"),
                    }
                ),
                payload_response_only=True,
                retry_on_service_exceptions=False,
                result_path="$.prepared",
            ),
            LAMBDA_TRANSIENT,
        )

        code = self.training_code = s3_assets.Asset(
            self, "TrainingCode", path=str(stage_training_source())
        )
        # CDK's task renders the request; the state is a CustomState so that its grants are
        # this environment's jobs (CDK grants training-job/* for a name known at run time)
        # and no S3 "*" (CDK grants GetObject/ListBucket on * for a JSON-path channel).
        request = tasks.SageMakerCreateTrainingJob(
            self,
            "TrainRequest",
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            training_job_name=sfn.JsonPath.string_at("$.prepared.trainingJobName"),
            role=self.training_role,
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_registry(image),
                training_input_mode=tasks.InputMode.FILE,
            ),
            # Script mode with network isolation: the code arrives as the "code" channel.
            hyperparameters={
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": f'"/opt/ml/input/data/code/{code.s3_object_key}"',
                "sagemaker_region": f'"{cfg.region}"',
                "model-name": sfn.JsonPath.format('"{}"', sfn.JsonPath.string_at("$.model")),
                # 0: the contract's split; a retraining holds out its newest rows.
                "holdout-last-rows": sfn.JsonPath.format(
                    "{}", sfn.JsonPath.string_at("$.prepared.holdoutRows")
                ),
            },
            input_data_config=[
                tasks.Channel(
                    channel_name="train",
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(
                            s3_location=_RunLocation("$.validation.trainUri"),
                            s3_data_type=tasks.S3DataType.S3_PREFIX,
                            s3_data_distribution_type=tasks.S3DataDistributionType.FULLY_REPLICATED,
                        )
                    ),
                ),
                tasks.Channel(
                    channel_name="champion",
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(
                            s3_location=_RunLocation("$.prepared.championUri"),
                            s3_data_type=tasks.S3DataType.S3_PREFIX,
                        )
                    ),
                ),
                tasks.Channel(
                    channel_name="code",
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(
                            s3_location=tasks.S3Location.from_bucket(
                                code.bucket, code.s3_object_key
                            ),
                            s3_data_type=tasks.S3DataType.S3_PREFIX,
                        )
                    ),
                ),
            ],
            output_data_config=tasks.OutputDataConfig(
                s3_output_location=tasks.S3Location.from_bucket(
                    res.artifacts_bucket, TRAINING_OUTPUT.name
                ),
                encryption_key=res.key,
            ),
            resource_config=tasks.ResourceConfig(
                instance_count=cfg.training_instance_count,
                instance_type=ec2.InstanceType(cfg.training_instance_type.removeprefix("ml.")),
                volume_size=Size.gibibytes(cfg.training_volume_gb),
                volume_encryption_key=res.key,
            ),
            stopping_condition=tasks.StoppingCondition(
                max_runtime=Duration.seconds(cfg.training_max_runtime_seconds)
            ),
            enable_network_isolation=True,
            result_selector={
                "jobName.$": "$.TrainingJobName",
                "jobArn.$": "$.TrainingJobArn",
                "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
                "image.$": "$.AlgorithmSpecification.TrainingImage",
                "hyperparameters.$": "$.HyperParameters",
            },
            result_path="$.training",
        )
        rendered = request.to_state_json()
        # Sized from the dataset by PrepareData (modelrail.sizing): instance, count, volume.
        rendered["Parameters"]["ResourceConfig"] = {
            "InstanceType.$": "$.prepared.resources.instanceType",
            "InstanceCount.$": "$.prepared.resources.instanceCount",
            "VolumeSizeInGB.$": "$.prepared.resources.volumeSizeInGB",
            "VolumeKmsKeyId": rendered["Parameters"]["ResourceConfig"]["VolumeKmsKeyId"],
        }
        train = guarded(
            sfn.CustomState(
                self,
                "Train",
                state_json={
                    "Type": "Task",
                    "TimeoutSeconds": job_timeout(cfg.training_max_runtime_seconds),
                    **{
                        k: rendered[k]
                        for k in ("Resource", "Parameters", "ResultSelector", "ResultPath")
                    },
                },
            ),
            SAGEMAKER_JOB_TRANSIENT,
        )
        retry_quota(train)
        # Rendering granted the output location (training-output*) and the code asset; the
        # channels known only at run time are these two prefixes of the artifacts bucket.
        res.artifacts_bucket.grant_read(self.training_role, DATASETS.objects)
        res.artifacts_bucket.grant_read(self.training_role, RUNS.objects)
        search = self._search(train, guarded)

        gate = guarded(
            tasks.LambdaInvoke(
                self,
                "QualityGate",
                lambda_function=self.gate_fn,
                task_timeout=_invoke_timeout(self.gate_fn),
                payload_response_only=True,
                retry_on_service_exceptions=False,
                result_path="$.gate",
            ),
            LAMBDA_TRANSIENT,
        )
        register = guarded(
            tasks.LambdaInvoke(
                self,
                "Register",
                lambda_function=self.register_fn,
                task_timeout=_invoke_timeout(self.register_fn),
                payload=sfn.TaskInput.from_object(
                    {
                        "model": sfn.JsonPath.string_at("$.model"),
                        "validation": sfn.JsonPath.object_at("$.validation"),
                        "prepared": sfn.JsonPath.object_at("$.prepared"),
                        "training": sfn.JsonPath.object_at("$.training"),
                        "gate": sfn.JsonPath.object_at("$.gate"),
                        "execution": sfn.JsonPath.execution_id,
                        "requestedBy": sfn.JsonPath.string_at("$.requestedBy"),
                        "round": sfn.JsonPath.number_at("$.round"),
                        "retrain": sfn.JsonPath.object_at("$.retrain"),
                    }
                ),
                payload_response_only=True,
                retry_on_service_exceptions=False,
                result_path="$.registered",
            ),
            LAMBDA_TRANSIENT,
        )
        notify_success = tasks.SnsPublish(
            self,
            "NotifyRegistered",
            topic=res.topic,
            subject="modelrail: model version registered",
            task_timeout=_API_CALL,
            message=sfn.TaskInput.from_object(
                {
                    "event": "model_version.registered",
                    "execution": sfn.JsonPath.execution_id,
                    "model": sfn.JsonPath.string_at("$.model"),
                    "version": sfn.JsonPath.number_at("$.registered.version"),
                    "metrics": sfn.JsonPath.object_at("$.gate.metrics"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        guarded(notify_success, SNS_TRANSIENT)

        rejected = self._rejection(
            "Rejected", "QualityGateRejected", "$.gate.summary", "QualityGate"
        )
        # Every trained model is registered: REGISTERED when it passed, REJECTED (with the
        # gate's reasons) when not. Then the verdict decides success or failure.
        done = sfn.Succeed(self, "Registered")
        accepted: sfn.IChainable
        if res.deployment is None:
            accepted = notify_success.next(done)
        else:
            # Fire and forget: the deployment has its own execution, notifications and
            # outcome; a rollback there does not make this training run a failure.
            deploy = guarded(
                tasks.StepFunctionsStartExecution(
                    self,
                    "StartDeployment",
                    state_machine=res.deployment,
                    integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
                    task_timeout=_API_CALL,
                    name=sfn.JsonPath.format(
                        "{}-deploy", sfn.JsonPath.string_at("$$.Execution.Name")
                    ),
                    input=sfn.TaskInput.from_object(
                        {
                            "model": sfn.JsonPath.string_at("$.model"),
                            "version": sfn.JsonPath.number_at("$.registered.version"),
                            "reason": sfn.JsonPath.format(
                                "trained by {}", sfn.JsonPath.string_at("$$.Execution.Name")
                            ),
                            "requestedBy": PIPELINE,
                            "fault": sfn.JsonPath.object_at("$.fault"),
                        }
                    ),
                    result_selector={"executionArn.$": "$.ExecutionArn"},
                    result_path="$.deployment",
                ),
                SFN_TRANSIENT,
            )
            accepted = notify_success.next(deploy).next(done)
        if self.approval_fn is not None:
            accepted = self._approval(self.approval_fn, failure_chain).next(accepted)
        judged = (
            sfn.Choice(self, "Passed?")
            .when(sfn.Condition.boolean_equals("$.gate.passed", True), accepted)
            .otherwise(rejected.next(failure_chain))
        )
        fit = (
            sfn.Choice(self, "Search?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.prepared.tuning"),
                    sfn.Condition.is_not_null("$.prepared.tuning"),
                ),
                search,
            )
            .otherwise(train)
            .afterwards()
        )
        # Judged against a reference that moved meanwhile (modelrail.release): judge again.
        first_round = sfn.Pass(
            self, "FirstRound", result=sfn.Result.from_number(1), result_path="$.round"
        )
        next_round = sfn.Pass(
            self, "NextRound", input_path="$.registered.nextRound", result_path="$.round"
        )
        rejudge = (
            sfn.Choice(self, "Rejudge?")
            .when(
                sfn.Condition.boolean_equals("$.registered.rejudge", True),
                next_round.next(prepare),
            )
            .otherwise(judged)
        )
        validated = self._route(validate, guarded, failure_chain)
        return (validated.next(first_round).next(prepare).next(fit).next(gate).next(register)).next(
            rejudge
        )

    def _rejection(self, state_id: str, error: str, cause_path: str, state: str) -> sfn.Chain:
        """A verdict that fails the run as a state's error would: ``$.error`` and the
        ``failedState`` NotifyFailure reports (the Catch of a Task records the same)."""
        error_pass = sfn.Pass(
            self,
            state_id,
            parameters={"Error": error, "Cause": sfn.JsonPath.string_at(cause_path)},
            result_path="$.error",
        )
        mark = sfn.Pass(
            self,
            f"{state_id}State",
            result=sfn.Result.from_string(state),
            result_path="$.failedState",
        )
        return error_pass.next(mark)

    def _route(
        self, validate: sfn.IChainable, guarded: Any, failure_chain: sfn.IChainable
    ) -> sfn.Chain:
        """ValidateData, or the Processing job for an upload above the threshold.

        Both leave the same ``$.validation`` (modelrail.steps.models.ValidationOutput)
        and the same files; a rejected dataset is quarantined and fails the run with
        ``DataValidationError`` either way. The job's verdict is its exit message."""
        res = self._res
        cfg = res.config
        process = guarded(self._process_state(), SAGEMAKER_JOB_TRANSIENT)
        retry_quota(process)
        # The job's dataset output (datasets/<model>/<execution>/, see _process_state).
        base = f"s3://{res.artifacts_bucket.bucket_name}/{JOB_FOLDER}"

        def at(suffix: str) -> str:
            return sfn.JsonPath.format(
                base + suffix,
                sfn.JsonPath.string_at("$.model"),
                sfn.JsonPath.string_at("$$.Execution.Name"),
            )

        accepted = sfn.Pass(
            self,
            "DatasetAccepted",
            parameters={
                "model": sfn.JsonPath.string_at("$.model"),
                "dataset": {
                    "bucket": sfn.JsonPath.string_at("$.bucket"),
                    "key": sfn.JsonPath.string_at("$.key"),
                    "versionId": sfn.JsonPath.string_at("$.versionId"),
                    "sha256": sfn.JsonPath.string_at("$.processing.verdict.sha256"),
                    "rows": sfn.JsonPath.number_at("$.processing.verdict.rows"),
                    "sizeBytes": sfn.JsonPath.number_at("$.sizeBytes"),
                },
                "trainUri": at("data/"),
                "reportUri": at("validation.json"),
                "warnings": sfn.JsonPath.list_at("$.processing.verdict.warnings"),
                "profile": {
                    "uri": at("profile.json"),
                    "fingerprint": sfn.JsonPath.string_at("$.processing.verdict.fingerprint"),
                },
            },
            result_path="$.validation",
        )
        rejected = self._rejection(
            "DatasetRejected",
            "DataValidationError",
            "$.processing.verdict.summary",
            "ProcessDataset",
        )
        verdict = (
            sfn.Choice(self, "DatasetValid?")
            .when(sfn.Condition.boolean_equals("$.processing.verdict.ok", True), accepted)
            .otherwise(rejected.next(failure_chain))
            .afterwards()
        )
        large = sfn.Condition.and_(
            sfn.Condition.is_present("$.sizeBytes"),
            sfn.Condition.is_numeric("$.sizeBytes"),
            sfn.Condition.is_present("$.processingJobName"),
            sfn.Condition.is_string("$.processingJobName"),
            sfn.Condition.number_greater_than("$.sizeBytes", cfg.processing_threshold_bytes),
        )
        return (
            sfn.Choice(self, "LargeDataset?")
            .when(large, process.next(verdict))
            .otherwise(validate)
            .afterwards()
        )

    def _process_state(self) -> sfn.CustomState:
        """createProcessingJob.sync (no CDK task exists): the dataset job in the training
        image, its code the dataset-job.pyz asset (modelrail.dataset_job)."""
        res = self._res
        cfg = res.config
        code = self.dataset_job_code = s3_assets.Asset(
            self, "DatasetJobCode", path=str(stage_dataset_job())
        )
        # The one object (Asset.grant_read would be the whole asset bucket); SageMaker
        # lists the S3Prefix input before downloading it.
        self.dataset_job_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[code.bucket.arn_for_objects(code.s3_object_key)],
            )
        )
        self.dataset_job_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[code.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [code.s3_object_key]}},
            )
        )
        archive = f"{JOB_CODE}/{code.s3_object_key}"
        arguments = (
            "States.Array('--model', $.model, '--key', $.key, "
            "'--expected-size', States.Format('{}', $.sizeBytes), "
            f"'--input-dir', '{JOB_INPUT}', '--dataset-dir', '{JOB_DATASET}', "
            f"'--quarantine-dir', '{JOB_QUARANTINE}', '--message-file', '{JOB_MESSAGE}')"
        )
        s3_input = {"S3DataType": "S3Prefix", "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated"}  # fmt: skip
        return sfn.CustomState(
            self,
            "ProcessDataset",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createProcessingJob.sync",
                "TimeoutSeconds": job_timeout(cfg.processing_max_runtime_seconds),
                "Parameters": {
                    "ProcessingJobName.$": "$.processingJobName",
                    "RoleArn": self.dataset_job_role.role_arn,
                    "AppSpecification": {
                        "ImageUri": sklearn_image_uri(cfg),
                        "ContainerEntrypoint": ["python3", archive],
                        "ContainerArguments.$": arguments,
                    },
                    "ProcessingInputs": [
                        {
                            "InputName": "data",
                            "S3Input": {
                                "S3Uri.$": "States.Format('s3://{}/{}', $.bucket, $.key)",
                                "LocalPath": JOB_INPUT,
                                **s3_input,
                            },
                        },
                        {
                            "InputName": "code",
                            "S3Input": {
                                "S3Uri": code.s3_object_url,
                                "LocalPath": JOB_CODE,
                                **s3_input,
                            },
                        },
                    ],
                    "ProcessingOutputConfig": {
                        "KmsKeyId": res.key.key_arn,
                        "Outputs": [
                            {
                                "OutputName": "dataset",
                                "S3Output": {
                                    "S3Uri.$": "States.Format('s3://"
                                    + res.artifacts_bucket.bucket_name
                                    + f"/{JOB_FOLDER}', $.model, $$.Execution.Name)",
                                    "LocalPath": JOB_DATASET,
                                    "S3UploadMode": "EndOfJob",
                                },
                            },
                            {
                                "OutputName": "quarantine",
                                "S3Output": {
                                    "S3Uri.$": "States.Format('s3://"
                                    + res.data_bucket.bucket_name
                                    + f"/{JOB_QUARANTINE_FOLDER}', $.model, $.versionId)",
                                    "LocalPath": JOB_QUARANTINE,
                                    "S3UploadMode": "EndOfJob",
                                },
                            },
                        ],
                    },
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceCount": cfg.processing_instance_count,
                            "InstanceType": cfg.processing_instance_type,
                            "VolumeSizeInGB": cfg.processing_volume_gb,
                            "VolumeKmsKeyId": res.key.key_arn,
                        }
                    },
                    "StoppingCondition": {
                        "MaxRuntimeInSeconds": cfg.processing_max_runtime_seconds
                    },
                },
                "ResultSelector": {
                    "jobName.$": "$.ProcessingJobName",
                    "jobArn.$": "$.ProcessingJobArn",
                    "verdict.$": "States.StringToJson($.ExitMessage)",
                },
                "ResultPath": "$.processing",
            },
        )

    def _search(self, train: sfn.CustomState, guarded: Any) -> sfn.IChainable:
        """Tune, then describe the best trial into the shape Train produces.

        The tuning job's TrainingJobDefinition is the Train state's own request (one
        definition of image, role, channels, encryption, limits); the contract supplies
        the ranges, objective and budget through PrepareData. CDK has no construct for
        createHyperParameterTuningJob.sync, hence the custom state and its grants.
        """
        state = train.to_state_json()
        params = dict(state["Parameters"])
        params.pop("TrainingJobName.$")
        static = dict(params.pop("HyperParameters"))
        static["tuning-trial"] = '"true"'
        algorithm = dict(params["AlgorithmSpecification"])
        algorithm["MetricDefinitions.$"] = "$.prepared.tuning.metricDefinitions"
        definition = {
            **params,
            "AlgorithmSpecification": algorithm,
            "StaticHyperParameters": static,
        }
        tune = guarded(
            sfn.CustomState(
                self,
                "Tune",
                state_json={
                    "Type": "Task",
                    "TimeoutSeconds": self._tune_seconds(),
                    "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createHyperParameterTuningJob.sync",
                    "Parameters": {
                        "HyperParameterTuningJobName.$": "$.prepared.tuning.jobName",
                        "HyperParameterTuningJobConfig.$": "$.prepared.tuning.config",
                        "TrainingJobDefinition": definition,
                    },
                    "ResultSelector": {
                        "jobName.$": "$.HyperParameterTuningJobName",
                        "jobArn.$": "$.HyperParameterTuningJobArn",
                        "best.$": "$.BestTrainingJob.TrainingJobName",
                        "objective.$": "$.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric",
                        "trials.$": "$.TrainingJobStatusCounters",
                    },
                    "ResultPath": "$.tuning",
                },
            ),
            SAGEMAKER_JOB_TRANSIENT,
        )
        retry_quota(tune)
        tuning_jobs = self._jobs("hyper-parameter-tuning-job")
        # The trials are named <tuning job>-<NNN>-<hash>: this environment's prefix too.
        training_jobs = self._jobs("training-job")
        self.search_policy = iam.Policy(
            self,
            "SearchPolicy",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "sagemaker:CreateHyperParameterTuningJob",
                        "sagemaker:DescribeHyperParameterTuningJob",
                        "sagemaker:StopHyperParameterTuningJob",
                        "sagemaker:AddTags",
                        "sagemaker:ListTags",
                    ],
                    resources=[tuning_jobs],
                ),
                *self._sync_statements("StepFunctionsGetEventsForSageMakerTuningJobsRule"),
            ],
        )
        selector = dict(state["ResultSelector"])
        best = guarded(
            tasks.CallAwsService(
                self,
                "DescribeBestTrial",
                service="sagemaker",
                action="describeTrainingJob",
                parameters={"TrainingJobName": sfn.JsonPath.string_at("$.tuning.best")},
                iam_resources=[training_jobs],
                iam_action="sagemaker:DescribeTrainingJob",
                task_timeout=_API_CALL,
                result_selector={**selector, "tuningJobArn.$": "$.TuningJobArn"},
                result_path="$.training",
            ),
            SAGEMAKER_SDK_TRANSIENT,
        )
        chain: sfn.Chain = tune.next(best)
        return chain

    def _approval(self, fn: lambda_.IFunction, failure_chain: sfn.IChainable) -> tasks.LambdaInvoke:
        """Wait for a person: RequestApproval parks the run on a task token; a rejection,
        a timeout or an error closes it (the version becomes REJECTED) and fails the run."""
        cfg = self._res.config
        common = {
            "model": sfn.JsonPath.string_at("$.model"),
            "version": sfn.JsonPath.number_at("$.registered.version"),
            "execution": sfn.JsonPath.execution_id,
        }
        request = tasks.LambdaInvoke(
            self,
            "RequestApproval",
            lambda_function=fn,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {"action": "request", "taskToken": sfn.JsonPath.task_token, **common}
            ),
            task_timeout=sfn.Timeout.duration(Duration.hours(cfg.approval_timeout_hours)),
            retry_on_service_exceptions=False,
            result_path="$.approval",
        )
        retry_transient(request, LAMBDA_TRANSIENT)
        close = tasks.LambdaInvoke(
            self,
            "CloseApproval",
            lambda_function=fn,
            task_timeout=_invoke_timeout(fn),
            payload=sfn.TaskInput.from_object(
                {"action": "close", "error": sfn.JsonPath.object_at("$.error"), **common}
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=sfn.JsonPath.DISCARD,
        )
        retry_transient(close, LAMBDA_TRANSIENT)
        mark = sfn.Pass(
            self,
            "RequestApprovalFailed",
            result=sfn.Result.from_string("RequestApproval"),
            result_path="$.failedState",
        )
        close_failed = sfn.Pass(
            self,
            "CloseApprovalFailed",
            result=sfn.Result.from_string("CloseApproval"),
            result_path="$.failedState",
        )
        close.add_catch(
            close_failed.next(failure_chain), errors=["States.ALL"], result_path="$.closeError"
        )
        request.add_catch(
            close.next(mark).next(failure_chain), errors=["States.ALL"], result_path="$.error"
        )
        return request
