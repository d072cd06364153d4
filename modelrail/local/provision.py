"""Deploy a synthesized CDK stack to the local cloud as ``cdk deploy`` would.

1. Bootstrap: the CDK assets bucket and the bootstrap version parameter.
2. Publish the stack's file assets (the asset manifest's sources and destinations).
3. Create the stack from the synthesized template with moto's CloudFormation.
4. Reconcile what moto's CloudFormation records but does not apply (bucket
   versioning, EventBridge notifications, public access block, async-invoke config,
   function layers), and re-create state machines in moto's executing Step Functions backend.

The template is never edited: what is created is what the template says.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from modelrail.local.iam.enforce import Enforcer

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"


class ProvisioningError(RuntimeError):
    """The stack could not be created on the local cloud."""


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template_path: Path
    assets_path: Path | None

    @property
    def template(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.template_path.read_text())
        return data


def read_assembly(assembly: Path, stack_name: str) -> StackArtifact:
    manifest = json.loads((assembly / "manifest.json").read_text())
    artifacts = manifest.get("artifacts", {})
    if stack_name not in artifacts:
        stacks = sorted(
            k for k, v in artifacts.items() if v.get("type") == "aws:cloudformation:stack"
        )
        raise ProvisioningError(f"stack {stack_name!r} is not in {assembly}; it has {stacks}")
    props = artifacts[stack_name]["properties"]
    assets = next(
        (
            assembly / artifacts[dep]["properties"]["file"]
            for dep in artifacts[stack_name].get("dependencies", [])
            if artifacts.get(dep, {}).get("type") == "cdk:asset-manifest"
        ),
        None,
    )
    return StackArtifact(stack_name, assembly / props["templateFile"], assets)


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def zip_directory(folder: Path) -> bytes:
    """Deterministic zip of a directory (what the CDK CLI uploads for a directory asset)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(
                    str(path.relative_to(folder)), date_time=(1980, 1, 1, 0, 0, 0)
                )
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return out.getvalue()


@dataclass
class DeployedStack:
    name: str
    outputs: dict[str, str]
    resources: dict[str, dict[str, str]]  # logical id -> {type, physical}
    skipped: list[str] = field(default_factory=list)

    def physical(self, logical_id: str) -> str:
        return self.resources[logical_id]["physical"]

    def of_type(self, resource_type: str) -> dict[str, str]:
        return {k: v["physical"] for k, v in self.resources.items() if v["type"] == resource_type}


def bootstrap(account: str, region: str) -> str:
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{region}"
    s3 = boto3.client("s3", region_name=region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        location: dict[str, Any] = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **location)
    boto3.client("ssm", region_name=region).put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version",
        Value=BOOTSTRAP_VERSION,
        Type="String",
        Overwrite=True,
    )
    return bucket


def publish_assets(artifact: StackArtifact, account: str, region: str) -> list[str]:
    if artifact.assets_path is None:
        return []
    manifest = json.loads(artifact.assets_path.read_text())
    base = artifact.assets_path.parent
    s3 = boto3.client("s3", region_name=region)
    published = []
    for asset in manifest.get("files", {}).values():
        source = base / asset["source"]["path"]
        packaging = asset["source"].get("packaging", "file")
        body = zip_directory(source) if packaging == "zip" else source.read_bytes()
        for dest in asset["destinations"].values():
            bucket = _substitute(dest["bucketName"], account, region)
            key = _substitute(dest["objectKey"], account, region)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            published.append(f"s3://{bucket}/{key}")
    return published


def create_stack(artifact: StackArtifact, region: str, *, timeout: float = 120.0) -> DeployedStack:
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.create_stack(
        StackName=artifact.name,
        TemplateBody=artifact.template_path.read_text(),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=artifact.name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            break
        if (
            status.endswith("_FAILED")
            or status.startswith("ROLLBACK")
            or time.monotonic() > deadline
        ):
            events = cfn.describe_stack_events(StackName=artifact.name)["StackEvents"]
            reasons = [
                f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
                for e in events
                if "FAILED" in e.get("ResourceStatus", "")
            ]
            raise ProvisioningError(f"stack {artifact.name} ended {status}: {reasons[:5]}")
        time.sleep(0.05)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = {
        r["LogicalResourceId"]: {
            "type": r["ResourceType"],
            "physical": r.get("PhysicalResourceId", ""),
        }
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=artifact.name)
        for r in page["StackResourceSummaries"]
    }
    template = artifact.template
    skipped = sorted(set(template.get("Resources", {})) - set(resources))
    return DeployedStack(artifact.name, outputs, resources, skipped)


def install_attribute_fixes() -> Callable[[], None]:
    """Make moto's CloudFormation resolve ``Fn::GetAtt`` as CloudFormation does where
    the policies the stack grants depend on it: a log group's ``Arn`` ends in ``:*`` (every
    stream of the group), so CDK's ``grant_write`` on it covers ``logs:PutLogEvents`` on
    the group's streams (moto returns the bare group ARN, which matches no stream)."""
    from moto.logs.models import LogGroup

    original = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return f"{self.arn}:*"
        return original(self, attribute_name)

    LogGroup.get_cfn_attribute = get_cfn_attribute  # type: ignore[method-assign]

    def undo() -> None:
        LogGroup.get_cfn_attribute = original  # type: ignore[method-assign]

    return undo


# --------------------------------------------------------------------------------------
# Reconciliation: apply the template's properties that moto's CloudFormation drops.
# --------------------------------------------------------------------------------------

# Resource types moto's CloudFormation skips and reconcile() creates or applies itself.
RECONCILED_TYPES = frozenset(
    {
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::CloudWatch::Alarm",
        "AWS::Scheduler::Schedule",
    }
)
# Skipped types that carry no behaviour the local cloud needs, each with the reason.
IGNORED_TYPES: dict[str, str] = {
    "AWS::CDK::Metadata": "CDK's version analytics; no behaviour",
}


def check_coverage(artifact: StackArtifact, deployed: DeployedStack) -> None:
    """Fail loudly when the template holds a resource the local cloud neither created nor
    reconciles: a stack that works locally must not be missing what AWS would create."""
    resources = artifact.template["Resources"]
    missing = sorted(
        f"{logical} ({resources[logical]['Type']})"
        for logical in deployed.skipped
        if resources[logical]["Type"] not in RECONCILED_TYPES | set(IGNORED_TYPES)
    )
    if missing:
        raise ProvisioningError(
            f"stack {artifact.name}: the local cloud cannot create {', '.join(missing)}; "
            "reconcile the type in modelrail/local/provision.py or list it in IGNORED_TYPES "
            "with the reason"
        )


def reconcile(
    artifact: StackArtifact,
    deployed: DeployedStack,
    region: str,
    *,
    execute_state_machines: bool,
    enforcer: Enforcer | None = None,
) -> None:
    check_coverage(artifact, deployed)
    template = artifact.template["Resources"]
    resolve = _resolver(artifact.name, region)
    s3 = boto3.client("s3", region_name=region)
    for logical, resource in template.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind in _POLICY_APPLIERS:
            _POLICY_APPLIERS[kind](resolve(props), region)
        elif kind == "AWS::KMS::Key" and logical in deployed.resources:
            _apply_key_policy(deployed.physical(logical), resolve(props.get("KeyPolicy")), region)
        if kind == "AWS::S3::Bucket" and logical in deployed.resources:
            bucket = deployed.physical(logical)
            if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(
                    Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
                )
            if (
                props.get("NotificationConfiguration", {})
                .get("EventBridgeConfiguration", {})
                .get("EventBridgeEnabled")
            ):
                s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )
            block = props.get("PublicAccessBlockConfiguration")
            if block:
                s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
        elif kind == "AWS::Lambda::EventInvokeConfig":
            _reconcile_invoke_config(props, deployed, region)
        elif kind == "AWS::Lambda::Function" and props.get("Layers"):
            _reconcile_layers(deployed.physical(logical), props["Layers"], region)
        elif kind == "AWS::CloudWatch::Alarm":
            _reconcile_alarm(props, deployed, region)
        elif kind == "AWS::Scheduler::Schedule":
            _reconcile_schedule(resolve(props), region)
    if enforcer is not None:  # after every key policy is in place
        for logical, resource in template.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Logs::LogGroup" and props.get("KmsKeyId"):
                _check_log_group_key(deployed, logical, resolve(props), region, enforcer)
    if execute_state_machines:
        _rehome_state_machines(deployed, region)


def _resolver(stack_name: str, region: str) -> Callable[[Any], Any]:
    """Resolve CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, ...) with
    moto's own resource map of the created stack, as CloudFormation would."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import clean_json

    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    backend = cloudformation_backends[account][region]
    stack = next(s for s in backend.stacks.values() if s.name == stack_name)

    def resolve(value: Any) -> Any:
        return clean_json(value, stack.resource_map)

    return resolve


def _apply_bucket_policy(props: dict[str, Any], region: str) -> None:
    boto3.client("s3", region_name=region).put_bucket_policy(
        Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
    )


def _apply_topic_policy(props: dict[str, Any], region: str) -> None:
    sns = boto3.client("sns", region_name=region)
    for topic in props["Topics"]:
        sns.set_topic_attributes(
            TopicArn=topic,
            AttributeName="Policy",
            AttributeValue=json.dumps(props["PolicyDocument"]),
        )


def _apply_queue_policy(props: dict[str, Any], region: str) -> None:
    sqs = boto3.client("sqs", region_name=region)
    for url in props["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )


_POLICY_APPLIERS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "AWS::S3::BucketPolicy": _apply_bucket_policy,
    "AWS::SNS::TopicPolicy": _apply_topic_policy,
    "AWS::SQS::QueuePolicy": _apply_queue_policy,
}


def _apply_key_policy(key_id: str, policy: Any, region: str) -> None:
    """moto keeps a CloudFormation key's policy as a dict; KMS holds a JSON document."""
    if policy:
        boto3.client("kms", region_name=region).put_key_policy(
            KeyId=key_id, PolicyName="default", Policy=json.dumps(policy)
        )


# What CloudWatch Logs does with a log group's key (it encrypts and decrypts log data).
_LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")


def _check_log_group_key(
    deployed: DeployedStack, logical: str, props: dict[str, Any], region: str, enforcer: Enforcer
) -> None:
    """A log group with a KmsKeyId is only created when the key policy lets CloudWatch
    Logs use the key for that log group (CloudFormation fails the resource otherwise)."""
    from modelrail.local.iam.enforce import AccessDenied, MotoWorld
    from modelrail.local.iam.requests import Check, PolicyRef

    account = enforcer.account
    name = deployed.physical(logical)
    group_arn = f"arn:aws:logs:{region}:{account}:log-group:{name}"
    key_arn = MotoWorld(account, region).key_arn(str(props["KmsKeyId"]))
    context = {"kms:EncryptionContext:aws:logs:arn": group_arn, "aws:SourceAccount": account}
    try:
        for action in _LOGS_KEY_ACTIONS:
            enforcer.require_service(
                f"logs.{region}.amazonaws.com",
                Check(action, key_arn, context, PolicyRef("kms", key_arn)),
            )
    except AccessDenied as exc:
        raise ProvisioningError(
            f"stack {deployed.name}: {logical} ({name}) cannot be created: the KMS key "
            f"{key_arn} is not allowed to be used with {group_arn}: {exc}"
        ) from exc


def _resolve(value: Any, deployed: DeployedStack) -> Any:
    """Resolve the few intrinsic shapes a reconciled property uses (Ref, GetAtt Arn)."""
    if isinstance(value, dict) and "Ref" in value:
        return deployed.physical(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        physical = deployed.physical(logical)
        if attribute == "Arn" and deployed.resources[logical]["type"] == "AWS::SQS::Queue":
            sqs = boto3.client("sqs")
            attrs = sqs.get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
            return attrs["Attributes"]["QueueArn"]
        return physical
    return value


def _reconcile_invoke_config(props: dict[str, Any], deployed: DeployedStack, region: str) -> None:
    client = boto3.client("lambda", region_name=region)
    kwargs: dict[str, Any] = {"FunctionName": _resolve(props["FunctionName"], deployed)}
    if "MaximumRetryAttempts" in props:
        kwargs["MaximumRetryAttempts"] = int(props["MaximumRetryAttempts"])
    if "MaximumEventAgeInSeconds" in props:
        kwargs["MaximumEventAgeInSeconds"] = int(props["MaximumEventAgeInSeconds"])
    on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if on_failure is not None:
        kwargs["DestinationConfig"] = {"OnFailure": {"Destination": _resolve(on_failure, deployed)}}
    client.put_function_event_invoke_config(**kwargs)


def _reconcile_layers(function_name: str, arns: list[Any], region: str) -> None:
    """moto's CloudFormation drops a function's ``Layers``, and its API refuses layer
    versions it did not publish (the managed layers live in AWS's accounts). Record the
    ARNs on moto's function as AWS would; the Lambda executor reproduces their contents."""
    from moto.awslambda.models import lambda_backends

    unresolved = [arn for arn in arns if not isinstance(arn, str)]
    if unresolved:
        raise ProvisioningError(f"{function_name}: layer ARNs must be literal: {unresolved}")
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    fn = lambda_backends[account][region].get_function(function_name)
    fn.layers = [{"Arn": arn, "CodeSize": 0} for arn in arns]


# PutMetricAlarm takes the template's property names: a single-metric alarm's, and
# ``Metrics`` for a metric math alarm (expressions the local evaluator supports only).
_ALARM_PROPERTIES = (
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
    "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics",
)  # fmt: skip


def _reconcile_alarm(props: dict[str, Any], deployed: DeployedStack, region: str) -> None:
    """moto's CloudFormation skips AWS::CloudWatch::Alarm: create it as CloudFormation
    would (the deployment's rollback alarms must exist to roll anything back)."""
    if "Metrics" in props:
        _check_metric_math(props)
    kwargs: dict[str, Any] = {}
    for name in _ALARM_PROPERTIES:
        if name not in props:
            continue
        value = props[name]
        if name.endswith("Actions"):
            value = [_resolve(action, deployed) for action in value]
        elif name in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            value = int(value)
        elif name == "Threshold":
            value = float(value)
        kwargs[name] = value
    boto3.client("cloudwatch", region_name=region).put_metric_alarm(**kwargs)


# CreateSchedule takes the template's property names; the target's are its own.
_SCHEDULE_PROPERTIES = (
    "Name", "GroupName", "Description", "ScheduleExpression", "ScheduleExpressionTimezone",
    "StartDate", "EndDate", "State", "FlexibleTimeWindow", "Target", "KmsKeyArn",
)  # fmt: skip


def _reconcile_schedule(props: dict[str, Any], region: str) -> None:
    """moto's CloudFormation skips AWS::Scheduler::Schedule: create it through the
    Scheduler API, as CloudFormation would (the local Scheduler fires what moto stores)."""
    kwargs = {name: props[name] for name in _SCHEDULE_PROPERTIES if name in props}
    if "Name" not in kwargs:
        raise ProvisioningError("an AWS::Scheduler::Schedule needs a Name on the local cloud")
    target = dict(kwargs["Target"])
    retry = target.get("RetryPolicy")
    if retry:
        target["RetryPolicy"] = {k: int(v) for k, v in retry.items()}
    kwargs["Target"] = target
    window = dict(kwargs.get("FlexibleTimeWindow", {"Mode": "OFF"}))
    if "MaximumWindowInMinutes" in window:
        window["MaximumWindowInMinutes"] = int(window["MaximumWindowInMinutes"])
    kwargs["FlexibleTimeWindow"] = window
    boto3.client("scheduler", region_name=region).create_schedule(**kwargs)


def _check_metric_math(props: dict[str, Any]) -> None:
    """A metric math alarm the local evaluator can evaluate: one returned expression
    over metric queries, in the functions of :mod:`.metric_math`; else a clear error."""
    from modelrail.local.metric_math import MetricMathError, parse, references

    name = props.get("AlarmName")
    queries = props["Metrics"]
    returned = [q for q in queries if q.get("Expression") and q.get("ReturnData", True)]
    stats = {q["Id"] for q in queries if "MetricStat" in q}
    if len(returned) != 1 or len(stats) + 1 != len(queries):
        raise ProvisioningError(
            f"metric math alarm {name!r}: the local cloud evaluates one returned expression "
            f"over metric queries; got {[q.get('Id') for q in queries]}"
        )
    try:
        unknown = references(parse(returned[0]["Expression"])) - stats
    except MetricMathError as exc:
        raise ProvisioningError(f"metric math alarm {name!r}: {exc}") from None
    if unknown:
        raise ProvisioningError(f"metric math alarm {name!r}: unknown metric ids {sorted(unknown)}")


def _rehome_state_machines(deployed: DeployedStack, region: str) -> None:
    """CloudFormation puts state machines in moto's recording backend; the executing
    backend is a separate store. Re-create each there with the same name, definition
    and role, so its ARN (referenced by other resources) is unchanged."""
    from moto.stepfunctions.models import stepfunctions_backends

    sfn = boto3.client("stepfunctions", region_name=region)
    for arn in deployed.of_type("AWS::StepFunctions::StateMachine").values():
        account = arn.split(":")[4]
        recorded = stepfunctions_backends[account][region].describe_state_machine(arn)
        existing = {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
        if arn in existing:
            continue
        kwargs: dict[str, Any] = {
            "name": recorded.name,
            "definition": recorded.definition,
            "roleArn": recorded.roleArn,
            "type": getattr(recorded, "type", "STANDARD") or "STANDARD",
        }
        if getattr(recorded, "loggingConfiguration", None):
            kwargs["loggingConfiguration"] = recorded.loggingConfiguration
        if getattr(recorded, "tracingConfiguration", None):
            kwargs["tracingConfiguration"] = recorded.tracingConfiguration
        created = sfn.create_state_machine(**kwargs)
        if created["stateMachineArn"] != arn:
            raise ProvisioningError(
                f"state machine re-created as {created['stateMachineArn']}, expected {arn}"
            )
