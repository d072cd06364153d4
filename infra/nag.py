"""cdk-nag acknowledgments: each as narrow as the finding, each with a checkable reason.

cdk-nag runs as a policy-validation plugin on every synth (infra/app.py); an
unacknowledged finding fails synth. Acknowledgments name the exact finding (rule and
offending resource or action) on the construct that raised it.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from infra.stack import ModelrailStack
from modelrail.layout import (
    APPROVALS,
    CAPTURE,
    DATASETS,
    GROUND_TRUTH,
    INCOMING,
    MONITORING,
    QUARANTINE,
    RETRAINING,
    RUNS,
    TRAINING_OUTPUT,
)

_GRANT_ACTIONS = {
    "Action::kms:GenerateDataKey*": "CDK's KMS grant: data keys for the environment's one customer-managed key",
    "Action::kms:ReEncrypt*": "CDK's KMS grant on the environment's one customer-managed key",
    "Action::s3:GetObject*": "CDK's S3 read grant (GetObject, GetObjectVersion, ...) limited to one prefix",
    "Action::s3:GetBucket*": "CDK's S3 read grant: bucket metadata of one bucket",
    "Action::s3:List*": "CDK's S3 read grant: s3:List* on one bucket, for the prefixes granted beside it",
    "Action::s3:Abort*": "CDK's S3 put grant: abort multipart uploads under one prefix",
    "Action::s3:DeleteObject*": f"CDK's S3 write grant includes DeleteObject*, limited to the one prefix written ({DATASETS.prefix} for PrepareData, {TRAINING_OUTPUT.name} for the job)",
}


#: Stack path -> every acknowledgment made for it, (construct path, id), so that a test can
#: compare them with the findings cdk-nag actually reported and flag the unused ones.
ACKNOWLEDGED: dict[str, list[tuple[str, str]]] = {}


def _ack(scope: IConstruct, rule: str, reason: str, pack: str = "AwsSolutions") -> None:
    ident = f"{pack}::{rule}"
    Validations.of(scope).acknowledge(Acknowledgment(id=ident, reason=reason))
    ACKNOWLEDGED.setdefault(Stack.of(scope).node.path, []).append((scope.node.path, ident))


_SYNC_DLQ_REASON = (
    "invoked synchronously by a Step Functions Task, which retries and catches the error; "
    "a Lambda dead-letter queue applies to asynchronous invocations only"
)


def _acknowledge_serverless(stack: ModelrailStack) -> None:
    """ServerlessChecks: the findings that are by design, each with why."""
    pipeline, deployment = stack.pipeline, stack.deployment
    synchronous = [
        pipeline.validate_fn, pipeline.prepare_fn, pipeline.gate_fn, pipeline.register_fn,
        deployment.plan_fn, deployment.finish_fn,
    ]  # fmt: skip
    if pipeline.approval_fn is not None:
        synchronous.append(pipeline.approval_fn)
    for fn in [*synchronous, pipeline.starter_fn]:
        _ack(fn, "Serverless-LambdaLatestVersion", _RUNTIME_REASON, pack="Serverless")
    for fn in synchronous:
        _ack(fn, "Serverless-LambdaDLQ", _SYNC_DLQ_REASON, pack="Serverless")
    _ack(
        pipeline.starter_fn,
        "Serverless-LambdaDLQ",
        "asynchronous failures go to an on-failure destination (the DeadLetters queue), which "
        "carries the request and the error, after 2 retries and within 6 hours",
        pack="Serverless",
    )
    _ack(
        pipeline.dead_letters,
        "Serverless-SQSRedrivePolicy",
        "this queue is itself the dead-letter queue of the upload rule and the starter: "
        "nothing consumes it automatically, so there is nothing to redrive from",
        pack="Serverless",
    )


def _ack_grants(scope: IConstruct, *findings: str) -> None:
    for finding in findings:
        _ack(scope, f"AwsSolutions-IAM5[{finding}]", _GRANT_ACTIONS[finding])


_RUNTIME_REASON = (
    "python3.13, not 3.14: both managed layers publish 3.14 too, but the local cloud runs the "
    "handlers on the project machines' Python, 3.13 at most (docs/decisions.md D35)"
)


def _ack_state_machine_role(policy: IConstruct) -> None:
    """What every state machine's role is granted by CDK: the key, tracing, log delivery."""
    _ack_grants(policy, "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")
    _ack(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery, ...) take no resource",
    )


def _ack_invoke(policy: IConstruct, function_logical_id: str) -> None:
    _ack(
        policy,
        f"AwsSolutions-IAM5[Resource::<{function_logical_id}.Arn>:*]",
        "lambda:InvokeFunction on the function's versions and aliases (CDK's invoke grant)",
    )


def acknowledge_findings(stack: Stack) -> list[tuple[str, str]]:
    """Acknowledge the stack's expected findings; the acknowledgments made."""
    assert isinstance(stack, ModelrailStack)
    ACKNOWLEDGED[stack.node.path] = []
    pipeline = stack.pipeline
    region = stack.region

    def lid(construct: IConstruct) -> str:
        child = construct.node.default_child
        assert child is not None
        return str(stack.resolve(stack.get_logical_id(child)))  # type: ignore[arg-type]

    data = lid(stack.storage.data)
    artifacts = lid(stack.storage.artifacts)
    table = lid(stack.registry.table)
    functions = {
        "validate": pipeline.validate_fn,
        "prepare": pipeline.prepare_fn,
        "gate": pipeline.gate_fn,
        "register": pipeline.register_fn,
        "starter": pipeline.starter_fn,
    }
    if pipeline.approval_fn is not None:
        functions["approval"] = pipeline.approval_fn
    for fn in functions.values():
        _ack(fn, "AwsSolutions-L1", _RUNTIME_REASON)
        policy = fn.role.node.find_child("DefaultPolicy") if fn.role else None
        assert policy is not None
        _ack(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "xray:PutTraceSegments/PutTelemetryRecords cannot be scoped to a resource (active tracing)",
        )
        if fn is not pipeline.gate_fn:  # the gate only reads: a decrypt grant, no data keys
            _ack_grants(policy, "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")

    validate_policy = functions["validate"].role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
    _ack_grants(
        validate_policy,
        "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:Abort*",
    )  # fmt: skip
    for finding, reason in {
        f"Resource::<{data}.Arn>/{INCOMING.objects}": f"reads any upload under {INCOMING.prefix} (the pipeline's input)",
        f"Resource::<{data}.Arn>/{QUARANTINE.objects}": f"writes quarantine copies and reports under {QUARANTINE.prefix}",
        f"Resource::<{artifacts}.Arn>/{DATASETS.objects}": f"writes validated dataset snapshots under {DATASETS.prefix}",
    }.items():
        _ack(validate_policy, f"AwsSolutions-IAM5[{finding}]", reason)

    starter_policy = functions["starter"].role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
    _ack_grants(
        starter_policy, "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*"
    )
    _ack(
        starter_policy,
        f"AwsSolutions-IAM5[Resource::<{data}.Arn>/{INCOMING.objects}]",
        f"HeadObject on the upload that started it (fault-injection metadata), any key under {INCOMING.prefix}",
    )

    prepare_policy = functions["prepare"].role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
    _ack_grants(
        prepare_policy,
        "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
    )  # fmt: skip
    for finding, reason in {
        f"Resource::<{artifacts}.Arn>/{TRAINING_OUTPUT.objects}": "copies the champion's model.tar.gz (any past job)",
        f"Resource::<{artifacts}.Arn>/{DATASETS.objects}": "reads the validated snapshot, writes its baseline profile",
        f"Resource::<{artifacts}.Arn>/{RUNS.objects}": f"writes this run's champion channel under {RUNS.prefix}<model>/<execution>/",
        f"Resource::<{table}.Arn>/index/*": "CDK's table read grant covers the registry's secondary index",
    }.items():
        _ack(prepare_policy, f"AwsSolutions-IAM5[{finding}]", reason)

    gate_policy = functions["gate"].role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
    _ack_grants(gate_policy, "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
    _ack(
        gate_policy,
        f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/{TRAINING_OUTPUT.objects}]",
        "reads evaluation.json from any training job's output (job names are per execution)",
    )
    register_policy = functions["register"].role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
    _ack(
        register_policy,
        f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]",
        "CDK's table grant covers the registry's secondary index (versions by status)",
    )

    if "approval" in functions:
        approval_policy = functions["approval"].role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        _ack_grants(approval_policy, "Action::s3:Abort*")
        _ack(
            approval_policy,
            f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/{APPROVALS.objects}]",
            "writes the task-token record of the version awaiting approval",
        )
        _ack(
            approval_policy,
            f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]",
            "CDK's table grant covers the registry's secondary index",
        )

    training = pipeline.training_role.node.find_child("DefaultPolicy")
    _ack_grants(
        training,
        "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:Abort*",
        "Action::s3:DeleteObject*", "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*",
    )  # fmt: skip
    _ack(
        training,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken has no resource; cloudwatch:PutMetricData is limited by a "
        "namespace condition to /aws/sagemaker/TrainingJobs",
    )
    for finding, reason in {
        f"Resource::<{artifacts}.Arn>/{DATASETS.objects}": "reads the validated snapshot of its own run",
        f"Resource::<{artifacts}.Arn>/{RUNS.objects}": f"reads its run's champion channel under {RUNS.prefix} (run names are made at run time)",
        f"Resource::<{artifacts}.Arn>/{TRAINING_OUTPUT.name}*": f"writes its job's output under {TRAINING_OUTPUT.prefix} (CDK's output grant is the prefix*)",
        f"Resource::arn:<AWS::Partition>:logs:{region}:<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs:*": "SageMaker writes one log stream per job in this group",
    }.items():
        _ack(training, f"AwsSolutions-IAM5[{finding}]", reason)
    _ack(
        training,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
        f"{region}/{pipeline.training_code.asset_hash}.gz*]",
        "the training code channel: one asset object (S3Prefix channels are granted as prefix*)",
    )

    dataset_job = pipeline.dataset_job_role.node.find_child("DefaultPolicy")
    _ack_grants(
        dataset_job,
        "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:Abort*",
        "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*",
    )  # fmt: skip
    _ack(
        dataset_job,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken has no resource; cloudwatch:PutMetricData is limited by a "
        "namespace condition to /aws/sagemaker/ProcessingJobs",
    )
    for finding, reason in {
        f"Resource::<{data}.Arn>/{INCOMING.objects}": f"reads the upload it validates, any key under {INCOMING.prefix}",
        f"Resource::<{data}.Arn>/{QUARANTINE.objects}": "writes the quarantine copy and report of a rejected upload",
        f"Resource::<{artifacts}.Arn>/{DATASETS.objects}": "writes the validated snapshot, report and profile of its run",
        f"Resource::arn:<AWS::Partition>:logs:{region}:<AWS::AccountId>:log-group:/aws/sagemaker/ProcessingJobs:*": "SageMaker writes one log stream per job in this group",
    }.items():
        _ack(dataset_job, f"AwsSolutions-IAM5[{finding}]", reason)

    sm_policy = pipeline.state_machine.role.node.find_child("DefaultPolicy")
    _ack_state_machine_role(sm_policy)
    sagemaker = f"arn:<AWS::Partition>:sagemaker:{region}:<AWS::AccountId>"
    env = stack.config.name
    _ack(
        sm_policy,
        f"AwsSolutions-IAM5[Resource::{sagemaker}:training-job/modelrail-{env}-*]",
        "DescribeTrainingJob of the best trial: this environment's trial names, made by SageMaker at run time",
    )
    _ack(
        pipeline.node.find_child("TrainPolicy"),
        f"AwsSolutions-IAM5[Resource::{sagemaker}:training-job/modelrail-{env}-*]",
        "createTrainingJob.sync: this environment's job names, made per execution at run time",
    )
    _ack(
        pipeline.node.find_child("ProcessPolicy"),
        f"AwsSolutions-IAM5[Resource::{sagemaker}:processing-job/modelrail-{env}-*]",
        "createProcessingJob.sync: this environment's job names, made per upload at run time",
    )
    _ack(
        pipeline.search_policy,
        f"AwsSolutions-IAM5[Resource::{sagemaker}:hyper-parameter-tuning-job/modelrail-{env}-*]",
        "createHyperParameterTuningJob.sync: this environment's job names, made per execution at run time",
    )

    fn_ids = ["ValidateDataFn", "PrepareDataFn", "QualityGateFn", "RegisterFn"]
    if pipeline.approval_fn is not None:
        fn_ids.append("ApprovalFn")
    for fn_id in fn_ids:
        logical = lid(pipeline.node.find_child(fn_id).node.find_child("Function"))
        _ack_invoke(sm_policy, logical)
    _ack(
        pipeline.dead_letters,
        "AwsSolutions-SQS3",
        "this queue is itself the dead-letter queue of the upload rule and the starter function",
    )

    _ack(
        validate_policy,
        f"AwsSolutions-IAM5[Resource::<{data}.Arn>/{RETRAINING.objects}]",
        f"reads the retraining datasets monitoring writes under {RETRAINING.prefix}",
    )
    _ack(
        dataset_job,
        f"AwsSolutions-IAM5[Resource::<{data}.Arn>/{RETRAINING.objects}]",
        f"reads the retraining dataset it validates, any key under {RETRAINING.prefix}",
    )
    _acknowledge_deployment(stack, lid)
    _acknowledge_monitoring(stack, lid)
    _acknowledge_serverless(stack)
    return list(ACKNOWLEDGED[stack.node.path])


def _acknowledge_monitoring(stack: ModelrailStack, lid: Callable[[IConstruct], str]) -> None:
    monitoring = stack.monitoring
    data = lid(stack.storage.data)
    artifacts = lid(stack.storage.artifacts)
    table = lid(stack.registry.table)
    reads = ("Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
    grants = {
        monitoring.check_fn: (
            (*reads, "Action::s3:Abort*"),
            {
                f"Resource::<{artifacts}.Arn>/{TRAINING_OUTPUT.objects}": "reads the champion's drift baseline from its training output (any past job)",
                f"Resource::<{artifacts}.Arn>/{CAPTURE.objects}": f"reads the endpoint's data capture under {CAPTURE.prefix} (files named by SageMaker per hour)",
                f"Resource::<{artifacts}.Arn>/{MONITORING.objects}": f"writes each check's reports under {MONITORING.prefix}<model>/<check>/",
                f"Resource::<{data}.Arn>/{GROUND_TRUTH.objects}": f"reads the labels teams upload under {GROUND_TRUTH.prefix}",
                f"Resource::<{table}.Arn>/index/*": "CDK's table grant covers the registry's secondary index",
            },
        ),
        monitoring.retrain_fn: (
            (*reads, "Action::s3:Abort*"),
            {
                f"Resource::<{artifacts}.Arn>/{MONITORING.objects}": "reads the labelled window (labelled.csv) a check wrote",
                f"Resource::<{data}.Arn>/{INCOMING.objects}": "reads (and copies server-side) the champion's training data, the upload version its lineage names",
                f"Resource::<{data}.Arn>/{RETRAINING.objects}": f"writes the retraining dataset under {RETRAINING.prefix}<model>/<execution>/ (and reads a retrained champion's)",
                f"Resource::<{table}.Arn>/index/*": "CDK's table grant covers the registry's secondary index",
                f"Resource::arn:<AWS::Partition>:states:{stack.region}:<AWS::AccountId>:execution:"
                f"modelrail-{stack.config.name}-training:*": "DescribeExecution of the retraining it started (names are made per decision)",
            },
        ),
    }
    for fn, (actions, resources) in grants.items():
        _ack(fn, "AwsSolutions-L1", _RUNTIME_REASON)
        _ack(fn, "Serverless-LambdaLatestVersion", _RUNTIME_REASON, pack="Serverless")
        _ack(fn, "Serverless-LambdaDLQ", _SYNC_DLQ_REASON, pack="Serverless")
        policy = fn.role.node.find_child("DefaultPolicy") if fn.role else None
        assert policy is not None
        _ack(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "xray:PutTraceSegments/PutTelemetryRecords cannot be scoped to a resource (active tracing)",
        )
        _ack_grants(policy, "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*", *actions)
        for finding, reason in resources.items():
            _ack(policy, f"AwsSolutions-IAM5[{finding}]", reason)
    sm_policy = monitoring.state_machine.role.node.find_child("DefaultPolicy")
    _ack_state_machine_role(sm_policy)
    for fn_id in ("CheckDriftFn", "RetrainPolicyFn"):
        logical = lid(monitoring.node.find_child(fn_id).node.find_child("Function"))
        _ack_invoke(sm_policy, logical)
    schedule_policy = monitoring.schedule_role.node.find_child("DefaultPolicy")
    _ack_grants(schedule_policy, "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")


def _acknowledge_deployment(stack: ModelrailStack, lid: Callable[[IConstruct], str]) -> None:
    deployment = stack.deployment
    region = stack.region
    env = stack.config.name
    table = lid(stack.registry.table)
    artifacts = lid(stack.storage.artifacts)
    sagemaker = f"arn:<AWS::Partition>:sagemaker:{region}:<AWS::AccountId>"
    endpoints = f"Resource::{sagemaker}:endpoint/modelrail-{env}-*"
    alarms = f"Resource::arn:<AWS::Partition>:cloudwatch:{region}:<AWS::AccountId>:alarm:modelrail-{env}-*"
    guardrails = "cloudwatch:DescribeAlarms on this environment's rollback alarms (deployment guardrails read them)"
    configs = f"Resource::{sagemaker}:endpoint-config/modelrail-{env}-*"
    for fn in (deployment.plan_fn, deployment.finish_fn):
        _ack(fn, "AwsSolutions-L1", _RUNTIME_REASON)
        policy = fn.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
        _ack_grants(policy, "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*")
        _ack(
            policy,
            f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]",
            "CDK's table grant covers the registry's secondary index (versions by status)",
        )
        _ack(
            policy,
            f"AwsSolutions-IAM5[{endpoints}]",
            "DescribeEndpoint on this environment's endpoints (one per model, named at run time)",
        )
    _ack(
        deployment.plan_fn.role.node.find_child("DefaultPolicy"),  # type: ignore[union-attr]
        "AwsSolutions-IAM5[Resource::*]",
        "xray:PutTraceSegments/PutTelemetryRecords cannot be scoped to a resource (active tracing)",
    )
    finish = deployment.finish_fn.role.node.find_child("DefaultPolicy")  # type: ignore[union-attr]
    _ack(
        finish,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray tracing and sagemaker:ListEndpointConfigs take no resource",
    )
    _ack(
        finish,
        f"AwsSolutions-IAM5[{configs}]",
        "describes/deletes this environment's old endpoint configs (names made per deployment)",
    )
    _ack(
        finish,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:{region}:<AWS::AccountId>:alarm:modelrail-{env}-*]",
        "reads the history of this environment's rollback alarms to name the one that fired",
    )

    hosting = deployment.hosting_role.node.find_child("DefaultPolicy")
    _ack_grants(hosting, "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*")
    _ack(
        hosting,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken has no resource; cloudwatch:PutMetricData is limited by a "
        "namespace condition to /aws/sagemaker/Endpoints",
    )
    _ack(
        hosting,
        f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/{TRAINING_OUTPUT.objects}]",
        "reads the model.tar.gz of the version it serves (any training job's output)",
    )
    _ack(
        hosting,
        f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/{CAPTURE.objects}]",
        f"s3:PutObject of data capture files under {CAPTURE.prefix} (SageMaker names them per endpoint and hour)",
    )
    _ack(hosting, f"AwsSolutions-IAM5[{alarms}]", guardrails)
    _ack(
        hosting,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{region}:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/*]",
        "SageMaker writes one log group per endpoint under /aws/sagemaker/Endpoints",
    )

    sm_policy = deployment.state_machine.role.node.find_child("DefaultPolicy")
    _ack_state_machine_role(sm_policy)
    for finding, reason in {
        f"Resource::{sagemaker}:model/modelrail-{env}-*": "CreateModel: this environment's model names, made per deployment at run time",
        configs: "CreateEndpointConfig/Create|UpdateEndpoint: this environment's config names, made per deployment",
        endpoints: "Create/Update/DescribeEndpoint on this environment's endpoints (one per model)",
        alarms: guardrails,
    }.items():
        _ack(sm_policy, f"AwsSolutions-IAM5[{finding}]", reason)
    for fn in (deployment.plan_fn, deployment.finish_fn):
        _ack_invoke(sm_policy, lid(fn))
