"""Authorize every AWS request the local cloud's principals make, as AWS would.

Installed at two seams of moto, through which every request passes whether it came in
process (boto3 + moto's botocore stubber) or over loopback (moto's server):

* ``BaseResponse.call_action`` for every service but S3, and
* ``ActionAuthenticatorMixin._authenticate_and_authorize_s3_action`` for S3, which
  dispatches its own requests and names them with IAM action names.

A request signed with credentials from :class:`.principals.Principals` is evaluated
against that role's identity policies as moto holds them (created from the synthesized
template), the resource's policy (bucket, topic, queue, function, key policy) and, for
KMS, the key policy's own rules; a denial is answered with the service's own error
(``AccessDeniedException``, ``AccessDenied``, ``AuthorizationError``) and a message that
names the principal, the action and the resource. Requests with other credentials are
the operator's (CLI, demo, tests): an account administrator, allowed.

Service principals (CloudWatch Logs using a key, CloudWatch alarms publishing to a topic,
EventBridge delivering to a queue or a function) are checked by the executors that act
for them, through :meth:`Enforcer.require_service`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from modelrail.local.iam import policy as iam_policy
from modelrail.local.iam.principals import INTERPRETER_DEFAULT_KEY, Principal, Principals
from modelrail.local.iam.requests import Call, Check, NoRule, PolicyRef, World, checks_for
from modelrail.local.threads import ContextThread, ThreadingWithContext

logger = logging.getLogger(__name__)

_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/")
# Errors each protocol's services answer a denied request with.
_ERROR_CODES = {"sns": "AuthorizationError", "cloudwatch": "AccessDenied", "sts": "AccessDenied"}


class AccessDenied(PermissionError):
    """A principal of the local cloud was refused, as AWS would refuse it."""

    def __init__(self, message: str, *, principal: str, action: str, resource: str) -> None:
        super().__init__(message)
        self.principal = principal
        self.action = action
        self.resource = resource


# Every (role ARN, action) any local cloud of this process used: the permission report
# of docs/security.md is made from a run of the demo, which starts several clouds.
_USED_IN_PROCESS: set[tuple[str, str]] = set()


def used_in_process() -> set[tuple[str, str]]:
    return set(_USED_IN_PROCESS)


def forget_used() -> None:
    """Start the record afresh (a report of one run, not of everything the process did)."""
    _USED_IN_PROCESS.clear()


@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str
    message: str


# Statement elements of the IAM grammar (moto's Lambda policies add their own).
_ELEMENTS = {
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition",
}  # fmt: skip


@lru_cache(maxsize=4096)
def _parse(document: str, kind: iam_policy.PolicyKind) -> iam_policy.Policy:
    raw = json.loads(document)
    statements = raw.get("Statement", [])
    if isinstance(statements, list):
        raw["Statement"] = [{k: v for k, v in st.items() if k in _ELEMENTS} for st in statements]
    return iam_policy.parse_policy(raw, kind=kind)


def _document(value: Any, kind: iam_policy.PolicyKind) -> iam_policy.Policy | None:
    """A policy document as moto holds it (JSON text, bytes or a dict), parsed once."""
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    if isinstance(value, str):
        return _parse(value, kind)
    raise TypeError(f"unexpected policy document {type(value).__name__}")


@dataclass
class Enforcer:
    principals: Principals
    account: str
    region: str
    enabled: bool = True
    denials: list[Denial] = field(default_factory=list)
    authorized: int = 0
    seconds: float = 0.0  # spent authorizing the calls that were allowed (make bench)
    # (role ARN, action) of every permission a role was granted and used (docs/security.md)
    used: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- the decision ---------------------------------------------------------------
    def authorize(self, principal: Principal, call: Call) -> None:
        """Raise :class:`AccessDenied` unless every permission ``call`` needs is granted."""
        started = time.perf_counter()
        if principal is _UNATTRIBUTED:
            self._deny(
                principal.arn,
                f"{call.service}:{call.operation}",
                call.resource,
                f"a Step Functions task called {call.service}:{call.operation} outside any "
                "execution's role (a local-cloud fault: the interpreter's thread lost its "
                "execution context)",
            )
        world = MotoWorld(self.account, call.region)
        try:
            checks = checks_for(call, world)
        except NoRule as exc:
            self._deny(principal.arn, f"{call.service}:{call.operation}", call.resource, str(exc))
        for check in checks:
            self.require(principal, check)
        with self._lock:
            self.authorized += 1
            self.seconds += time.perf_counter() - started

    def require(self, principal: Principal, check: Check) -> None:
        identity = identity_policies(self.account, principal.role_arn)
        context = {
            "aws:PrincipalArn": principal.role_arn,
            "aws:PrincipalAccount": self.account,
            "aws:SecureTransport": True,  # the SDKs use TLS on AWS
            **check.context,
        }
        self._decide(principal.arn, check, identity, context)
        with self._lock:
            self.used.add((principal.role_arn, check.action))
            _USED_IN_PROCESS.add((principal.role_arn, check.action))

    def require_service(self, service: str, check: Check) -> None:
        """Authorize a service principal (``logs.us-east-1.amazonaws.com``, ...) acting on
        a resource: only the resource's policy can allow it."""
        context = {"aws:SecureTransport": True, **check.context}
        self._decide(service, check, [], context)

    def _decide(
        self,
        principal: str,
        check: Check,
        identity: Sequence[iam_policy.Policy],
        context: Mapping[str, Any],
    ) -> None:
        if not self.enabled:
            return
        resource_policy = resource_policy_of(self.account, self.region, check.policy)
        decision = iam_policy.authorize(
            iam_policy.Request(principal, check.action, check.resource, dict(context)),
            identity_policies=identity,
            resource_policy=resource_policy,
            resource_account=self.account,
            key_policy=check.policy is not None and check.policy.kind == "kms",
        )
        if not decision.allowed:
            self._deny(principal, check.action, check.resource, decision.message())

    def _deny(self, principal: str, action: str, resource: str, message: str) -> None:
        with self._lock:
            self.denials.append(Denial(principal, action, resource, message))
        logger.warning("local cloud denied %s", message)
        raise AccessDenied(message, principal=principal, action=action, resource=resource)

    # ---- who is calling -------------------------------------------------------------
    def caller(self, headers: Mapping[str, str]) -> Principal | None:
        """The principal a request's credentials belong to; None for the operator."""
        found = _CREDENTIAL.search(
            headers.get("Authorization") or headers.get("authorization") or ""
        )
        if not found:
            return None
        key = found.group(1)
        if key == INTERPRETER_DEFAULT_KEY:
            return _UNATTRIBUTED
        return self.principals.lookup(key)


# A Step Functions task call made outside any execution's role: a local-cloud fault.
_UNATTRIBUTED = Principal("arn:aws:iam::000000000000:role/unattributed-interpreter-call", "none")


# ---- policies as moto holds them ------------------------------------------------------
def identity_policies(account: str, role_arn: str) -> list[iam_policy.Policy]:
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["global"]
    name = role_arn.rsplit("/", 1)[-1]
    role = next((r for r in backend.roles.values() if r.name == name), None)
    if role is None:
        return []
    documents = [_document(d, "identity") for d in role.policies.values()]
    for managed in role.managed_policies.values():
        version = next(v for v in managed.versions if v.is_default)
        documents.append(_document(version.document, "identity"))
    return [d for d in documents if d is not None]


def resource_policy_of(
    account: str, region: str, ref: PolicyRef | None
) -> iam_policy.Policy | None:
    if ref is None:
        return None
    reader = _RESOURCE_POLICIES[ref.kind]
    try:
        return _document(reader(account, region, ref.target), "resource")
    except KeyError:
        return None


def _bucket_policy(account: str, region: str, bucket: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"].buckets[bucket].policy


def _topic_policy(account: str, region: str, arn: str) -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[account][region].topics[arn]._policy_json


def _queue_policy(account: str, region: str, arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account][region].queues[arn.rsplit(":", 1)[-1]]
    return getattr(queue, "policy", None)


def _function_policy(account: str, region: str, arn: str) -> Any:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[account][region]
    try:
        raw = backend.get_policy(arn, qualifier=None)
    except Exception:  # no policy: the function has no resource-based statements
        return None
    wrapped = json.loads(raw) if isinstance(raw, str) else raw
    # moto answers GetPolicy's shape ({"Policy": "<document>", "RevisionId": ...})
    return wrapped.get("Policy", wrapped) if isinstance(wrapped, dict) else raw


def _key_policy(account: str, region: str, arn: str) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[account][region].keys[arn.rsplit("/", 1)[-1]].policy


def _trust_policy(account: str, region: str, role_arn: str) -> Any:
    """A role's trust policy: who may assume it (``sts:AssumeRole`` by a service)."""
    from moto.iam.models import iam_backends

    role = iam_backends[account]["global"].get_role(role_arn.rsplit("/", 1)[-1])
    return role.assume_role_policy_document


_RESOURCE_POLICIES: dict[str, Callable[[str, str, str], Any]] = {
    "s3": _bucket_policy,
    "sns": _topic_policy,
    "sqs": _queue_policy,
    "lambda": _function_policy,
    "kms": _key_policy,
    "trust": _trust_policy,
}


# ---- the World the request rules read ---------------------------------------------------
@dataclass(frozen=True)
class MotoWorld(World):
    account: str
    region: str

    def _bucket(self, bucket: str) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account]["aws"].buckets.get(bucket)

    def bucket_key(self, bucket: str) -> str | None:
        found = self._bucket(bucket)
        rules = ((found.encryption or {}).get("Rule") if found is not None else None) or []
        for rule in rules if isinstance(rules, list) else [rules]:
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms":
                return str(default.get("KMSMasterKeyID") or "alias/aws/s3")
        return None

    def object_key(self, bucket: str, key: str, version: str | None) -> str | None:
        found = self._bucket(bucket)
        if found is None:
            return None
        try:
            versions = found.keys.getlist(key) or []
        except KeyError:
            return None
        chosen = [o for o in versions if version is None or o.version_id == version]
        return chosen[-1].kms_key_id if chosen else None

    def table_key(self, table: str) -> str | None:
        from moto.dynamodb.models import dynamodb_backends

        found = dynamodb_backends[self.account][self.region].tables.get(table)
        sse = (found.sse_specification or {}) if found is not None else {}
        return sse.get("KMSMasterKeyId") if sse.get("SSEType") == "KMS" else None

    def topic_key(self, topic_arn: str) -> str | None:
        from moto.sns.models import sns_backends

        topic = sns_backends[self.account][self.region].topics.get(topic_arn)
        return (topic.kms_master_key_id or None) if topic is not None else None

    def queue_arn(self, queue_url: str) -> str:
        name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    def queue_key(self, queue_arn: str) -> str | None:
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[self.account][self.region].queues.get(queue_arn.rsplit(":", 1)[-1])
        return (getattr(queue, "kms_master_key_id", None) or None) if queue is not None else None

    def function_arn(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def key_arn(self, key_id: str) -> str:
        from moto.kms.models import kms_backends

        backend = kms_backends[self.account][self.region]
        resolved = backend.any_id_to_key_id(key_id)
        return f"arn:aws:kms:{self.region}:{self.account}:key/{resolved}"

    def endpoint_config_key(self, config: str) -> str | None:
        from moto.sagemaker.models import sagemaker_backends

        found = sagemaker_backends[self.account][self.region].endpoint_configs.get(config)
        return (getattr(found, "kms_key_id", None) or None) if found is not None else None


# ---- the seams ------------------------------------------------------------------------
def _request_params(response: Any, operation: str) -> dict[str, Any]:
    """The request's API parameters, parsed with the service's botocore model (as moto's
    own ``parse_parameters`` does, without touching the response object)."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model

    request = response.normalized_request
    model = get_service_model(response.boto3_service_name)
    parser = PROTOCOL_PARSERS[determine_request_protocol(model, request.content_type)](
        model.operation_model(operation), map_type=dict
    )
    parsed: dict[str, Any] = parser.parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": request.data,
            "url_path": request.path,
            "url_params": response.uri_match,
        }
    )
    return parsed


def _query(response: Any) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return parse_qs(response.parsed_url.query)


def _headers(response: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(response.headers).items()}


def _denied_error(base: type[Exception], code: str, message: str) -> Exception:
    """A serializable denial. Defined here, not in moto: moto looks up the error shape by
    the exception's module, and a moto.core exception names no service."""

    class Denied(base):  # type: ignore[valid-type,misc]
        pass

    return Denied(code, message)


def install(enforcer: Enforcer) -> Callable[[], None]:
    import warnings

    # moto warns that a denial's code is not an error shape of the service's model.
    warnings.filterwarnings("ignore", message=r"Exception\(Denied\)", category=UserWarning)
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, BaseResponse
    from moto.s3.exceptions import S3ClientError

    original_call = BaseResponse.call_action
    original_s3 = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action

    def call_action(self: Any) -> Any:
        principal = enforcer.caller(self.headers) if enforcer.enabled else None
        if principal is not None:
            operation = self._get_action()
            service = self.boto3_service_name
            try:
                call = Call(
                    service,
                    operation,
                    _request_params(self, operation),
                    self.region,
                    self.current_account,
                    headers=_headers(self),
                    query=_query(self),
                )
                enforcer.authorize(principal, call)
            except AccessDenied as exc:
                code = _ERROR_CODES.get(service, "AccessDeniedException")
                denied = _denied_error(ServiceException, code, str(exc))
                status, headers, body = self.serialized(ActionResult(denied))
                headers, body = self._enrich_response(headers, body)  # the request id
                return status, headers, body
        return original_call(self)

    def s3_action(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        principal = enforcer.caller(self.headers) if enforcer.enabled else None
        if principal is not None:
            path = f"{bucket_name or '*'}/{key_name}" if key_name else (bucket_name or "*")
            call = Call(
                "s3",
                str(self.data.get("Action", "")),
                {},
                self.region,
                self.current_account,
                resource=f"arn:aws:s3:::{path}",
                headers=_headers(self),
                query=_query(self),
            )
            try:
                enforcer.authorize(principal, call)
            except AccessDenied as exc:
                raise S3ClientError("AccessDenied", str(exc)) from None
        original_s3(self, bucket_name, key_name)

    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    original_permission = FakeBucket.get_permission

    def bucket_permission(self: Any, action: str, resource: str) -> Any:
        # moto evaluates bucket policies itself, with no request context: a Deny whose
        # condition cannot be evaluated (aws:SecureTransport) denies every request. The
        # enforcer evaluates bucket policies with the request's context instead.
        return PermissionResult.NEUTRAL

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = s3_action  # type: ignore[method-assign]
    FakeBucket.get_permission = bucket_permission  # type: ignore[method-assign]

    def undo() -> None:
        BaseResponse.call_action = original_call  # type: ignore[method-assign]
        ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = original_s3  # type: ignore[method-assign]
        FakeBucket.get_permission = original_permission  # type: ignore[method-assign]

    return undo


_ASL = "moto.stepfunctions.parser.asl.component.state.exec"
# The interpreter modules that make service calls through boto_client_for (moto 5.2.5).
_CLIENT_USERS = (
    "state_map.result_writer.resource_eval.resource_eval_s3",
    "state_map.item_reader.eval.resource_eval_s3",
    "state_task.lambda_eval_utils",
    *(
        f"state_task.service.state_task_service_{name}"
        for name in ("unsupported", "glue", "events", "ecs", "sqs", "sfn", "dynamodb",
                     "batch", "sns", "aws_sdk")
    ),
)  # fmt: skip


# The interpreter modules that start threads to evaluate a program, a state or a branch.
_THREAD_USERS = (
    "moto.stepfunctions.parser.asl.component.program.program",
    f"{_ASL}.execute_state",
    f"{_ASL}.state_map.iteration.inline_iteration_component",
    f"{_ASL}.state_task.service.state_task_service_callback",
    f"{_ASL}.state_parallel.branch_worker",
)


def _install_context_threads() -> Callable[[], None]:
    import importlib

    saved: list[tuple[Any, str, Any]] = []
    for name in _THREAD_USERS:
        module = importlib.import_module(name)
        for attribute in ("threading", "Thread"):
            if hasattr(module, attribute):
                current = getattr(module, attribute)
                saved.append((module, attribute, current))
                replacement = (
                    ThreadingWithContext(current) if attribute == "threading" else ContextThread
                )
                setattr(module, attribute, replacement)
        if not any(m is module for m, _, _ in saved):
            raise RuntimeError(f"moto moved: {name} no longer starts threads")

    def undo() -> None:
        for module, attribute, value in reversed(saved):
            setattr(module, attribute, value)

    return undo


def install_interpreter_roles(principals: Principals) -> Callable[[], None]:
    """Tasks of a Step Functions execution call AWS as the state machine's role.

    moto's interpreter makes every service call through ``boto_client_for`` with fixed
    fake credentials; each execution runs on its own thread, which is marked with the
    execution's role for the calls its tasks make."""
    import importlib

    import boto3
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.backend import execution_worker

    original_client = boto_client.boto_client_for
    original_logic = execution_worker.ExecutionWorker._execution_logic

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original_client(region, service, state_credentials)
        current = principals.current()
        if current is None:
            return client
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            config=client.meta.config,
            endpoint_url=None
            if client.meta.endpoint_url.endswith("amazonaws.com")
            else client.meta.endpoint_url,
            **principals.client_kwargs(current.role_arn, current.session),
        )

    def execution_logic(self: Any) -> None:
        details = self._evaluation_details
        role = details.aws_execution_details.role_arn
        with principals.acting_as(role, details.execution_details.name[:64]):
            original_logic(self)  # type: ignore[no-untyped-call]

    patched = [importlib.import_module(f"{_ASL}.{name}") for name in _CLIENT_USERS]
    saved = [module.boto_client_for for module in patched]
    for module in patched:
        if not hasattr(module, "boto_client_for"):
            raise RuntimeError(f"moto moved: {module.__name__} no longer uses boto_client_for")
    for module in patched:
        module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    execution_worker.ExecutionWorker._execution_logic = execution_logic  # type: ignore[method-assign]
    undo_threads = _install_context_threads()

    def undo() -> None:
        undo_threads()
        for module, previous in zip(patched, saved, strict=True):
            module.boto_client_for = previous  # type: ignore[attr-defined]
        execution_worker.ExecutionWorker._execution_logic = original_logic  # type: ignore[method-assign]

    return undo
