"""What an AWS request needs authorized: the IAM actions, resources and condition keys.

One API call can need several permissions: ``CopyObject`` reads the source and writes the
destination, ``CreateTrainingJob`` passes a role, a ``PutObject`` into a bucket encrypted
with a customer-managed key makes S3 call KMS on the caller's behalf. :func:`checks_for`
turns one call into the list of :class:`Check` the service would evaluate, from the
service authorization reference. Anything it has no rule for is refused by the enforcer,
so a new call fails loudly until its permissions are written down here.

Pure: what it needs to know about existing resources (a bucket's default key, a table's
key) comes through the :class:`World` protocol, implemented over moto by the enforcer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

Context = dict[str, Any]


@dataclass(frozen=True)
class PolicyRef:
    """Where a resource-based policy lives: ``kind`` is s3, sns, sqs, lambda, kms or trust
    (a role's trust policy)."""

    kind: str
    target: str


@dataclass(frozen=True)
class Check:
    action: str
    resource: str
    context: Context = field(default_factory=dict)
    policy: PolicyRef | None = None


@dataclass(frozen=True)
class Call:
    service: str  # boto3 service name: s3, dynamodb, stepfunctions, sagemaker, ...
    operation: str  # the API operation (for S3, moto's IAM action name)
    params: Mapping[str, Any]
    region: str
    account: str
    resource: str = "*"  # S3: the object or bucket ARN moto computed
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)


class World(Protocol):
    """Facts about existing resources that decide which permissions a call needs."""

    def bucket_key(self, bucket: str) -> str | None: ...
    def object_key(self, bucket: str, key: str, version: str | None) -> str | None: ...
    def table_key(self, table: str) -> str | None: ...
    def topic_key(self, topic_arn: str) -> str | None: ...
    def queue_arn(self, queue_url: str) -> str: ...
    def queue_key(self, queue_arn: str) -> str | None: ...
    def function_arn(self, name: str) -> str: ...
    def key_arn(self, key_id: str) -> str: ...
    def endpoint_config_key(self, config: str) -> str | None: ...


class NoRule(LookupError):
    """The local cloud does not know which permissions this call needs."""


Rule = Callable[[Call, World], list[Check]]
_RULES: dict[tuple[str, str], Rule] = {}


def rule(service: str, *operations: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for operation in operations:
            _RULES[(service, operation)] = fn
        return fn

    return register


def checks_for(call: Call, world: World) -> list[Check]:
    found = _RULES.get((call.service, call.operation))
    if found is None:
        raise NoRule(
            f"the local cloud has no authorization rule for {call.service}:{call.operation}; "
            "add one to modelrail/local/iam/requests.py"
        )
    return found(call, world)


def known_operations() -> list[tuple[str, str]]:
    return sorted(_RULES)


def _arn(call: Call, service: str, rest: str) -> str:
    return f"arn:aws:{service}:{call.region}:{call.account}:{rest}"


def _via(call: Call, service: str) -> Context:
    return {
        "kms:ViaService": f"{service}.{call.region}.amazonaws.com",
        "kms:CallerAccount": call.account,
    }


def kms_checks(
    world: World, key: str | None, actions: Sequence[str], context: Context
) -> list[Check]:
    """What using ``key`` (any id form; None: no key) for ``actions`` needs: each action on
    the key, under its key policy."""
    if not key:
        return []
    arn = world.key_arn(key)
    return [Check(a, arn, dict(context), PolicyRef("kms", arn)) for a in actions]


# ---- S3 -------------------------------------------------------------------------------
# moto names S3 requests with IAM action names already; a few need correcting.
_S3_ALIASES = {
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "HeadBucket": "ListBucket",
}


def _s3_parts(resource: str) -> tuple[str, str | None]:
    path = resource.split(":::", 1)[1]
    bucket, _, key = path.partition("/")
    return bucket, (key or None)


def _s3_source(header: str) -> tuple[str, str, str | None]:
    parsed = urlparse(header if header.startswith("/") else "/" + header)
    bucket, _, key = unquote(parsed.path).lstrip("/").partition("/")
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    return bucket, key, version


@rule(
    "s3",
    "GetObject", "GetObjectVersion", "PutObject", "DeleteObject", "DeleteObjectVersion",
    "ListBucket", "ListObjects", "ListObjectsV2", "ListBucketVersions", "ListObjectVersions",
    "HeadBucket", "GetObjectTagging", "PutObjectTagging", "GetBucketLocation",
    "AbortMultipartUpload", "ListMultipartUploadParts",
)  # fmt: skip
def _s3(call: Call, world: World) -> list[Check]:
    bucket, key = _s3_parts(call.resource)
    versions = call.query.get("versionId") or []
    version = versions[0] if versions else None
    action = _S3_ALIASES.get(call.operation, call.operation)
    if action == "GetObject" and version:
        action = "GetObjectVersion"  # HeadObject with a versionId, too
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key and "Bucket" not in action else "")
    policy = PolicyRef("s3", bucket)
    listed = call.query.get("prefix") if action == "ListBucket" else None
    context: Context = {"s3:prefix": listed[0]} if listed else {}
    checks = [Check(f"s3:{action}", resource, context, policy)]
    via = _via(call, "s3")
    if action in ("GetObject", "GetObjectVersion") and key:
        ctx = {**via, "kms:EncryptionContext:aws:s3:arn": resource}
        checks += kms_checks(world, world.object_key(bucket, key, version), ["kms:Decrypt"], ctx)
    if action == "PutObject" and key:
        checks += _s3_put_extras(call, world, bucket, resource)
    return checks


def _s3_put_extras(call: Call, world: World, bucket: str, resource: str) -> list[Check]:
    headers = {k.lower(): v for k, v in call.headers.items()}
    checks: list[Check] = []
    via = _via(call, "s3")
    if headers.get("x-amz-tagging"):
        checks.append(Check("s3:PutObjectTagging", resource, {}, PolicyRef("s3", bucket)))
    source = headers.get("x-amz-copy-source")
    if source:
        src_bucket, src_key, src_version = _s3_source(source)
        action = "s3:GetObjectVersion" if src_version else "s3:GetObject"
        src_arn = f"arn:aws:s3:::{src_bucket}/{src_key}"
        checks.append(Check(action, src_arn, {}, PolicyRef("s3", src_bucket)))
        src_kms = world.object_key(src_bucket, src_key, src_version)
        ctx = {**via, "kms:EncryptionContext:aws:s3:arn": src_arn}
        checks += kms_checks(world, src_kms, ["kms:Decrypt"], ctx)
    key = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if not key and headers.get("x-amz-server-side-encryption") != "AES256":
        key = world.bucket_key(bucket)
    ctx = {**via, "kms:EncryptionContext:aws:s3:arn": resource}
    return checks + kms_checks(world, key, ["kms:GenerateDataKey"], ctx)


# ---- DynamoDB -------------------------------------------------------------------------
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _table(
    call: Call, world: World, table: str, action: str, index: str | None = None
) -> list[Check]:
    resource = _arn(call, "dynamodb", f"table/{table}" + (f"/index/{index}" if index else ""))
    checks = [Check(f"dynamodb:{action}", resource)]
    return checks + kms_checks(
        world, world.table_key(table), ["kms:Decrypt"], _via(call, "dynamodb")
    )


@rule(
    "dynamodb",
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "DescribeTable",
)  # fmt: skip
def _dynamodb(call: Call, world: World) -> list[Check]:
    index = call.params.get("IndexName") if call.operation == "Query" else None
    checks = _table(call, world, call.params["TableName"], call.operation, index)
    return checks if call.operation != "DescribeTable" else checks[:1]


@rule("dynamodb", "TransactWriteItems", "TransactGetItems")
def _dynamodb_transact(call: Call, world: World) -> list[Check]:
    checks: list[Check] = []
    for item in call.params.get("TransactItems", []):
        for kind, body in item.items():
            checks += _table(call, world, body["TableName"], _TRANSACT_ACTIONS[kind])
    return checks


@rule("dynamodb", "BatchGetItem", "BatchWriteItem")
def _dynamodb_batch(call: Call, world: World) -> list[Check]:
    checks: list[Check] = []
    for table in call.params.get("RequestItems", {}):
        checks += _table(call, world, table, call.operation)
    return checks


# ---- Step Functions ------------------------------------------------------------------
@rule("stepfunctions", "StartExecution", "DescribeStateMachine", "ListExecutions")
def _sfn_machine(call: Call, world: World) -> list[Check]:
    return [Check(f"states:{call.operation}", call.params["stateMachineArn"])]


@rule("stepfunctions", "DescribeExecution", "StopExecution", "GetExecutionHistory")
def _sfn_execution(call: Call, world: World) -> list[Check]:
    return [Check(f"states:{call.operation}", call.params["executionArn"])]


@rule("stepfunctions", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")
def _sfn_task(call: Call, world: World) -> list[Check]:
    # These actions take no resource: only "Resource": "*" grants them.
    return [Check(f"states:{call.operation}", "*")]


# ---- SageMaker ------------------------------------------------------------------------
def _sm(call: Call, kind: str, name: str) -> str:
    return _arn(call, "sagemaker", f"{kind}/{name.lower()}")


def _pass_role(role: str | None) -> list[Check]:
    if not role:
        return []
    return [Check("iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"})]


def _tags(call: Call, arn: str) -> list[Check]:
    return [Check("sagemaker:AddTags", arn)] if call.params.get("Tags") else []


def _grant(call: Call, world: World, key: str | None) -> list[Check]:
    """An endpoint on a config with a KmsKeyId: SageMaker creates a grant on the key with
    the permissions of the caller of CreateEndpoint/UpdateEndpoint."""
    ctx = {**_via(call, "sagemaker"), "kms:GrantIsForAWSResource": True}
    return kms_checks(world, key, ["kms:CreateGrant", "kms:DescribeKey"], ctx)


@rule("sagemaker", "CreateTrainingJob")
def _sm_training(call: Call, world: World) -> list[Check]:
    arn = _sm(call, "training-job", call.params["TrainingJobName"])
    checks = [Check("sagemaker:CreateTrainingJob", arn), *_tags(call, arn)]
    return checks + _pass_role(call.params.get("RoleArn"))


@rule("sagemaker", "CreateProcessingJob")
def _sm_processing(call: Call, world: World) -> list[Check]:
    arn = _sm(call, "processing-job", call.params["ProcessingJobName"])
    checks = [Check("sagemaker:CreateProcessingJob", arn), *_tags(call, arn)]
    return checks + _pass_role(call.params.get("RoleArn"))


@rule("sagemaker", "CreateHyperParameterTuningJob")
def _sm_tuning(call: Call, world: World) -> list[Check]:
    arn = _sm(call, "hyper-parameter-tuning-job", call.params["HyperParameterTuningJobName"])
    definition = call.params.get("TrainingJobDefinition", {})
    checks = [Check("sagemaker:CreateHyperParameterTuningJob", arn), *_tags(call, arn)]
    return checks + _pass_role(definition.get("RoleArn"))


@rule("sagemaker", "CreateModel")
def _sm_model(call: Call, world: World) -> list[Check]:
    arn = _sm(call, "model", call.params["ModelName"])
    return [
        Check("sagemaker:CreateModel", arn),
        *_tags(call, arn),
        *_pass_role(call.params.get("ExecutionRoleArn")),
    ]


@rule("sagemaker", "CreateEndpointConfig")
def _sm_config(call: Call, world: World) -> list[Check]:
    arn = _sm(call, "endpoint-config", call.params["EndpointConfigName"])
    return [Check("sagemaker:CreateEndpointConfig", arn), *_tags(call, arn)]


@rule("sagemaker", "CreateEndpoint", "UpdateEndpoint")
def _sm_endpoint(call: Call, world: World) -> list[Check]:
    arn = _sm(call, "endpoint", call.params["EndpointName"])
    config = call.params["EndpointConfigName"]
    checks = [
        Check(f"sagemaker:{call.operation}", arn),
        Check(f"sagemaker:{call.operation}", _sm(call, "endpoint-config", config)),
        *_tags(call, arn),
    ]
    checks += _grant(call, world, world.endpoint_config_key(config))
    alarms = (
        call.params.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms")
    )
    for alarm in alarms or []:
        # Deployment guardrails read the rollback alarms with the caller's permissions.
        name = alarm["AlarmName"]
        checks.append(Check("cloudwatch:DescribeAlarms", _arn(call, "cloudwatch", f"alarm:{name}")))
    return checks


_SM_NAMED = {
    "DescribeTrainingJob": ("training-job", "TrainingJobName"),
    "StopTrainingJob": ("training-job", "TrainingJobName"),
    "DescribeProcessingJob": ("processing-job", "ProcessingJobName"),
    "StopProcessingJob": ("processing-job", "ProcessingJobName"),
    "DescribeHyperParameterTuningJob": (
        "hyper-parameter-tuning-job",
        "HyperParameterTuningJobName",
    ),
    "StopHyperParameterTuningJob": ("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
    "ListTrainingJobsForHyperParameterTuningJob": (
        "hyper-parameter-tuning-job",
        "HyperParameterTuningJobName",
    ),
    "DescribeModel": ("model", "ModelName"),
    "DeleteModel": ("model", "ModelName"),
    "DescribeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DeleteEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DescribeEndpoint": ("endpoint", "EndpointName"),
    "DeleteEndpoint": ("endpoint", "EndpointName"),
}


@rule("sagemaker", *_SM_NAMED)
def _sm_named(call: Call, world: World) -> list[Check]:
    kind, param = _SM_NAMED[call.operation]
    return [Check(f"sagemaker:{call.operation}", _sm(call, kind, call.params[param]))]


@rule("sagemaker", "ListEndpointConfigs", "ListModels", "ListEndpoints", "ListTrainingJobs")
def _sm_list(call: Call, world: World) -> list[Check]:
    return [Check(f"sagemaker:{call.operation}", "*")]


@rule("sagemaker-runtime", "InvokeEndpoint")
def _sm_invoke(call: Call, world: World) -> list[Check]:
    return [Check("sagemaker:InvokeEndpoint", _sm(call, "endpoint", call.params["EndpointName"]))]


# ---- messaging ------------------------------------------------------------------------
@rule("sns", "Publish")
def _sns_publish(call: Call, world: World) -> list[Check]:
    topic = call.params.get("TopicArn") or call.params["TargetArn"]
    checks = [Check("sns:Publish", topic, {}, PolicyRef("sns", topic))]
    key = world.topic_key(topic)
    return checks + kms_checks(
        world, key, ["kms:GenerateDataKey", "kms:Decrypt"], _via(call, "sns")
    )


@rule("sqs", "SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
def _sqs(call: Call, world: World) -> list[Check]:
    arn = world.queue_arn(call.params["QueueUrl"])
    checks = [Check(f"sqs:{call.operation}", arn, {}, PolicyRef("sqs", arn))]
    actions = {
        "SendMessage": ["kms:GenerateDataKey", "kms:Decrypt"],
        "ReceiveMessage": ["kms:Decrypt"],
    }
    return checks + kms_checks(
        world, world.queue_key(arn), actions.get(call.operation, []), _via(call, "sqs")
    )


@rule("sqs", "GetQueueUrl")
def _sqs_url(call: Call, world: World) -> list[Check]:
    return [Check("sqs:GetQueueUrl", _arn(call, "sqs", call.params["QueueName"]))]


@rule("events", "PutEvents")
def _events_put(call: Call, world: World) -> list[Check]:
    buses = {entry.get("EventBusName") or "default" for entry in call.params.get("Entries", [])}
    return [
        Check(
            "events:PutEvents",
            bus if bus.startswith("arn:") else _arn(call, "events", f"event-bus/{bus}"),
        )
        for bus in sorted(buses)
    ]


# ---- Lambda, CloudWatch, KMS, STS ----------------------------------------------------
@rule("lambda", "Invoke")
def _lambda_invoke(call: Call, world: World) -> list[Check]:
    arn = world.function_arn(call.params["FunctionName"])
    qualifier = call.params.get("Qualifier")
    resource = f"{arn}:{qualifier}" if qualifier and not arn.count(":") > 6 else arn
    return [Check("lambda:InvokeFunction", resource, {}, PolicyRef("lambda", arn))]


@rule("cloudwatch", "DescribeAlarms")
def _cw_alarms(call: Call, world: World) -> list[Check]:
    names = call.params.get("AlarmNames") or []
    if not names:
        return [Check("cloudwatch:DescribeAlarms", "*")]
    return [
        Check("cloudwatch:DescribeAlarms", _arn(call, "cloudwatch", f"alarm:{n}")) for n in names
    ]


@rule("cloudwatch", "DescribeAlarmHistory")
def _cw_history(call: Call, world: World) -> list[Check]:
    name = call.params.get("AlarmName")
    resource = _arn(call, "cloudwatch", f"alarm:{name}") if name else "*"
    return [Check("cloudwatch:DescribeAlarmHistory", resource)]


@rule("cloudwatch", "PutMetricData")
def _cw_put(call: Call, world: World) -> list[Check]:
    namespace = call.params.get("Namespace", "")
    return [Check("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": namespace})]


@rule("kms", "Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey", "CreateGrant")
def _kms_direct(call: Call, world: World) -> list[Check]:
    key = call.params.get("KeyId")
    if not key:  # Decrypt may omit it: the ciphertext names the key
        return [Check(f"kms:{call.operation}", "*")]
    arn = world.key_arn(key)
    return [Check(f"kms:{call.operation}", arn, {}, PolicyRef("kms", arn))]


@rule("sts", "GetCallerIdentity")
def _sts_identity(call: Call, world: World) -> list[Check]:
    return []  # always allowed, even under an explicit deny
