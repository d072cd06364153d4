"""Payloads of the deployment state machine's two Lambda functions.

Field names are the JSON the state machine carries (camelCase); the state machine reads
``DeploymentPlan`` and ``FinishOutput`` by these exact keys (infra/constructs/deployment.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Fault(BaseModel):
    """Misbehaviour asked of the deployed model (fault-injection drills)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0, alias="errorRate")
    latency_ms: float = Field(default=0.0, ge=0.0, le=60000.0, alias="latencyMs")


class DeployRequest(_Payload):
    """PlanDeployment's input: the execution's input plus its name and start time."""

    model: str = Field(min_length=1)
    version: int = Field(ge=1)
    reason: str = Field(min_length=1)
    requested_by: str = Field(min_length=1, alias="requestedBy")
    fault: Fault | None = None
    execution_name: str = Field(min_length=1, alias="executionName")
    started_at: str = Field(min_length=1, alias="startedAt")
    """``$$.Execution.StartTime``, an ISO 8601 timestamp."""
    attempt: int = Field(default=0, ge=0)
    """``$$.State.RetryCount``: how many times PlanDeployment already found the endpoint
    busy (the state machine retries DeploymentInProgress, modelrail.release)."""


class RollbackAlarm(_Payload):
    """One entry of UpdateEndpoint's ``AutoRollbackConfiguration.Alarms``."""

    alarm_name: str = Field(alias="AlarmName")


class DeploymentPlan(_Payload):
    """PlanDeployment's output, kept at ``$.plan`` for every later state."""

    model: str
    version: int = Field(ge=1)
    reason: str
    requested_by: str = Field(alias="requestedBy")
    execution_name: str = Field(alias="executionName")
    started_at: str = Field(alias="startedAt")
    endpoint_name: str = Field(alias="endpointName")
    endpoint_exists: bool = Field(alias="endpointExists")
    live_config_name: str | None = Field(default=None, alias="liveConfigName")
    """The endpoint's config when planning, if the endpoint exists."""
    previous_champion: int | None = Field(default=None, alias="previousChampion")
    """The champion when planning: what the champion compare-and-swap expects."""
    model_name: str = Field(alias="modelName")
    config_name: str = Field(alias="configName")
    image: str
    model_data_url: str = Field(alias="modelDataUrl")
    environment: dict[str, str]
    rollback_alarms: list[RollbackAlarm] = Field(alias="rollbackAlarms")
    fault: Fault | None = None


class FinishInput(_Payload):
    """FinishDeployment's input: the plan and either the settled endpoint or the error."""

    plan: DeploymentPlan
    endpoint: dict[str, Any] | None = None
    """DescribeEndpoint's output as Step Functions passes it."""
    error: dict[str, Any] | None = None
    """``{"Error": ..., "Cause": ...}`` from a failed SageMaker task."""


Outcome = Literal["PRODUCTION", "ROLLED_BACK", "FAILED"]


class FinishOutput(_Payload):
    outcome: Outcome
    model: str
    version: int
    endpoint_name: str = Field(alias="endpointName")
    config_name: str = Field(alias="configName")
    live_config_name: str | None = Field(default=None, alias="liveConfigName")
    """The config the endpoint serves after the deployment, when known."""
    tripped_alarms: list[str] = Field(default_factory=list, alias="trippedAlarms")
    message: str
    deleted_configs: list[str] = Field(default_factory=list, alias="deletedConfigs")
    champion_moved: bool = Field(default=False, alias="championMoved")
    """True when the champion points at this version once the deployment is finished."""
