"""PlanDeployment: check a version may be deployed, lock its endpoint, name everything.

Refusals (:class:`DeploymentRefused` and its subclasses) change nothing, except that a
REGISTERED version in an environment without manual approval is approved first. Once
the lock is taken, any failure releases it before the error propagates. A retried plan
(same execution) is safe: the lock is re-acquired by its holder and a version that is
already DEPLOYING is left as it is.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from modelrail.deploy.lock import EndpointBusy, EndpointLock
from modelrail.deploy.models import DeploymentPlan, DeployRequest, Fault, RollbackAlarm
from modelrail.deploy.naming import alarm_names, deployment_names, endpoint_name
from modelrail.registry.models import AliasName, ModelVersion, VersionStatus, clip_reason
from modelrail.registry.port import ModelRegistry
from modelrail.release import PIPELINE, queue_verdict

log = logging.getLogger(__name__)
S = VersionStatus
#: How much longer than the longest deployment the lock lives before it may be taken over.
LOCK_MARGIN_SECONDS = 900


class DeploymentRefused(Exception):
    """The deployment cannot start as requested; nothing was deployed."""


class DeploymentInProgress(DeploymentRefused):
    """Another deployment holds the endpoint: the state machine looks again later."""


class DeploymentSuperseded(DeploymentRefused):
    """The deployment queue decided against this version (modelrail.release): it is now
    SUPERSEDED; nothing was deployed."""


class DeploymentQueueTimeout(DeploymentRefused):
    """The endpoint stayed busy for every look the queue allows: the version is FAILED."""


class FaultInjectionRefused(DeploymentRefused):
    """A fault was asked for in an environment that does not allow fault injection."""


def container_environment(
    model: str, version: int, *, region: str, fault: Fault | None
) -> dict[str, str]:
    """The SageMaker model's container environment (the serving code reads these)."""
    env = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": region,
        "MODELRAIL_MODEL": model,
        "MODELRAIL_VERSION": str(version),
    }
    if fault is not None:
        env["MODELRAIL_FAULT_ERROR_RATE"] = f"{fault.error_rate:g}"
        env["MODELRAIL_FAULT_LATENCY_MS"] = f"{fault.latency_ms:g}"
    return env


def _check_deployable(entity: ModelVersion, *, environment: str, require_approval: bool) -> None:
    """Refuse a version that may not be deployed as it is."""
    label = f"{entity.model} v{entity.version}"
    if not entity.gates:
        raise DeploymentRefused(f"{label} cannot be deployed: it has no gate results")
    if not entity.gates_passed:
        raise DeploymentRefused(
            f"{label} cannot be deployed: gates failed: {', '.join(entity.failed_gates)}"
        )
    approve = (
        f"modelrail registry approve {entity.model} {entity.version} --reason ... "
        f"--env {environment}"
    )
    if entity.status is S.PENDING_APPROVAL:
        raise DeploymentRefused(f"{label} awaits approval; run {approve}")
    if entity.status is S.REJECTED:
        last = entity.status_history[-1]
        raise DeploymentRefused(
            f"{label} was rejected by {last.by} ({last.reason}) and can never be deployed"
        )
    if entity.status is S.REGISTERED and require_approval:
        raise DeploymentRefused(
            f"{label} is registered but {environment} requires approval before a "
            f"deployment; run {approve}"
        )


def _decide(
    registry: ModelRegistry,
    entity: ModelVersion,
    status: VersionStatus,
    request: DeployRequest,
    reason: str,
) -> None:
    registry.transition(
        entity.model,
        entity.version,
        status,
        by=request.requested_by,
        reason=clip_reason(reason),
        expected_status=S.APPROVED,
    )


def _apply_queue_rules(
    registry: ModelRegistry,
    entity: ModelVersion,
    request: DeployRequest,
    *,
    require_approval: bool,
) -> None:
    """A pipeline deployment of an APPROVED version: superseded (or stale) ends it here."""
    verdict = queue_verdict(registry, entity, require_approval=require_approval)
    if verdict.action == "superseded":
        _decide(registry, entity, S.SUPERSEDED, request, verdict.reason)
        raise DeploymentSuperseded(f"{entity.model} v{entity.version} {verdict.reason}")


def _describe_endpoint(sagemaker_client: Any, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when the endpoint does not exist."""
    try:
        described: dict[str, Any] = sagemaker_client.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationException" and "Could not find endpoint" in str(
            error.get("Message", "")
        ):
            return None
        raise
    return described


def plan_deployment(
    request: DeployRequest,
    *,
    registry: ModelRegistry,
    lock: EndpointLock,
    sagemaker_client: Any,
    environment: str,
    region: str,
    require_approval: bool,
    allow_fault_injection: bool,
    max_seconds: int,
    now: datetime,
    queue_looks: int = 1,
) -> DeploymentPlan:
    """Check, apply the queue's rules, lock, describe the endpoint, move the version to
    DEPLOYING; the plan.

    Raises DeploymentRefused (DeploymentInProgress while the endpoint is busy and looks
    remain, DeploymentSuperseded, DeploymentQueueTimeout, FaultInjectionRefused) when the
    deployment may not start; registry errors (not found...) propagate as they are.
    ``queue_looks``: how many times the state machine looks at a busy endpoint
    (``request.attempt`` is this look's number, from 0).
    """
    model, version = request.model, request.version
    label = f"{model} v{version}"
    if request.fault is not None and not allow_fault_injection:
        raise FaultInjectionRefused(
            f"{label}: fault injection is not allowed in {environment}; deploy without a fault"
        )
    entity = registry.get_version(model, version)
    _check_deployable(entity, environment=environment, require_approval=require_approval)
    if entity.status is S.REGISTERED:
        entity = registry.transition(
            model,
            version,
            S.APPROVED,
            by=request.requested_by,
            reason=f"approved automatically: {environment} needs no manual approval",
            expected_status=S.REGISTERED,
        )
    if entity.status is S.APPROVED and request.requested_by == PIPELINE:
        _apply_queue_rules(registry, entity, request, require_approval=require_approval)
    endpoint = endpoint_name(environment, model)
    try:
        lock.acquire(
            endpoint,
            request.execution_name,
            model,
            version,
            now,
            max_seconds + LOCK_MARGIN_SECONDS,
        )
    except EndpointBusy as exc:
        if request.attempt + 1 < queue_looks or entity.status is not S.APPROVED:
            raise DeploymentInProgress(str(exc)) from exc
        reason = (
            f"not deployed: {exc} at each of {queue_looks} looks; deploy it again once the "
            f"endpoint is free: modelrail deploy {model} {version} --env {environment}"
        )
        _decide(registry, entity, S.FAILED, request, reason)
        raise DeploymentQueueTimeout(reason) from exc
    try:
        described = _describe_endpoint(sagemaker_client, endpoint)
        if described is not None and described.get("EndpointStatus") != "InService":
            status = described.get("EndpointStatus")
            raise DeploymentRefused(
                f"endpoint {endpoint} is {status}, not InService; a deployment can only "
                "update an endpoint in service (wait for it to settle, or delete a failed one)"
            )
        champion = registry.get_alias(model, AliasName.CHAMPION)
        # Already DEPLOYING while this execution holds the lock: a retried plan (or a
        # takeover of a deployment whose lock expired). DEPLOYING -> DEPLOYING is illegal.
        current = registry.get_version(model, version)
        if current.status is not S.DEPLOYING:
            current = registry.transition(
                model,
                version,
                S.DEPLOYING,
                by=request.requested_by,
                reason=request.reason,
                expected_status=current.status,
            )
        model_name, config_name = deployment_names(
            environment, model, version, request.execution_name
        )
        alarms = sorted(alarm_names(environment, model).values())
        return DeploymentPlan(
            model=model,
            version=version,
            reason=request.reason,
            requested_by=request.requested_by,
            execution_name=request.execution_name,
            started_at=request.started_at,
            endpoint_name=endpoint,
            endpoint_exists=described is not None,
            live_config_name=None if described is None else described.get("EndpointConfigName"),
            previous_champion=None if champion is None else champion.version,
            model_name=model_name,
            config_name=config_name,
            image=current.lineage.training_image,
            model_data_url=current.lineage.model_artifact_uri,
            environment=container_environment(model, version, region=region, fault=request.fault),
            rollback_alarms=[RollbackAlarm(alarm_name=name) for name in alarms],
            fault=request.fault,
        )
    except BaseException:
        try:
            lock.release(endpoint, request.execution_name)
        except Exception:  # keep the original error; the lock expires on its own
            log.exception("could not release the lock of %s", endpoint)
        raise
