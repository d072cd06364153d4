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
from modelrail.registry.models import AliasName, ModelVersion, VersionStatus
from modelrail.registry.port import ModelRegistry

log = logging.getLogger(__name__)
S = VersionStatus
#: How much longer than the longest deployment the lock lives before it may be taken over.
LOCK_MARGIN_SECONDS = 900


class DeploymentRefused(Exception):
    """The deployment cannot start as requested; nothing was deployed."""


class DeploymentInProgress(DeploymentRefused):
    """Another deployment holds the endpoint."""


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
) -> DeploymentPlan:
    """Check, lock, describe the endpoint, move the version to DEPLOYING; the plan.

    Raises DeploymentRefused (DeploymentInProgress, FaultInjectionRefused) when the
    deployment may not start; registry errors (not found...) propagate as they are.
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
        raise DeploymentInProgress(str(exc)) from exc
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
