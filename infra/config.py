"""Typed, validated configuration for one modelrail environment.

Read from ``cdk.json`` context (``modelrail:environments``) and validated at synth:
a bad value fails ``cdk synth`` with a message naming the field. Synth is hermetic:
nothing here calls AWS.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infra.layers import layer_arns
from modelrail.sizing import SizeBand, SizingError, check_bands

# Log retention values CloudWatch Logs accepts.
_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653}
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


class ConfigError(ValueError):
    """The environment configuration in cdk.json is invalid."""


class TrainingSizeBand(BaseModel):
    """Datasets up to ``max_bytes`` (every larger one when None) train on this instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_bytes: int | None = Field(default=None, gt=0)
    instance_type: str
    volume_gb: int = Field(default=30, ge=1, le=16384)

    def band(self) -> SizeBand:
        return SizeBand(self.max_bytes, self.instance_type, self.volume_gb)


class EnvironmentConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Literal["dev", "staging", "prod"]
    region: str = "us-east-1"
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    # Stateful resources (buckets, table, key, log groups) survive `cdk destroy`.
    retain_data: bool
    log_retention_days: int = 30
    training_instance_type: str = "ml.m5.large"
    training_instance_count: int = Field(default=1, ge=1, le=20)
    training_volume_gb: int = Field(default=30, ge=1, le=16384)
    training_max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)
    # Training instance by dataset size (modelrail.sizing), smallest band first; the last
    # has no max_bytes. Empty: one band of training_instance_type and training_volume_gb.
    training_size_bands: tuple[TrainingSizeBand, ...] = ()
    # ---- datasets larger than this are validated and profiled by a Processing job ----
    # 256 MiB: above it the dataset is checked by a Processing job (D42); the streaming
    # Lambda could go further (D43), but its 10 minutes and /tmp for Parquet cap it.
    processing_threshold_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    processing_instance_type: str = "ml.m5.2xlarge"
    # One: the job reads one file whole; more instances would each repeat the same work.
    processing_instance_count: int = Field(default=1, ge=1, le=1)
    processing_volume_gb: int = Field(default=100, ge=1, le=16384)
    processing_max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)
    # SageMaker scikit-learn framework image; training and inference use the same one.
    sklearn_framework_version: str = "1.4-2-py312"
    require_approval: bool = False
    # How long a trained model waits for `modelrail registry approve|reject` before REJECTED.
    approval_timeout_hours: int = Field(default=72, ge=1, le=24 * 365)
    # Reserved concurrency of the starter and PlanDeployment; None: unreserved. A reservation
    # needs the account's quota to keep 10 unreserved (new accounts have 10 in total).
    lambda_reserved_concurrency: int | None = Field(default=None, ge=1, le=1000)
    # ---- serving: one SageMaker endpoint per model, updated blue/green with a canary ----
    endpoint_instance_type: str = "ml.m5.large"
    # At least 2: a canary may be at most half of the fleet (SageMaker's guardrail).
    endpoint_instance_count: int = Field(default=2, ge=2, le=100)
    canary_instances: int = Field(default=1, ge=1)
    # Canary bake and the final bake after the full shift, both watched by the alarms.
    bake_seconds: int = Field(default=600, ge=0, le=3600)
    termination_wait_seconds: int = Field(default=300, ge=0, le=3600)
    deployment_max_seconds: int = Field(default=3600, ge=600, le=28800)
    capture_percent: int = Field(default=100, ge=0, le=100)
    keep_endpoint_configs: int = Field(default=3, ge=1, le=50)
    # p99 model latency that trips the rollback alarm when the contract sets no budget.
    default_latency_budget_ms: float = Field(default=1000.0, gt=0)
    # Let `modelrail deploy --inject-errors/--inject-latency-ms` make a version misbehave.
    allow_fault_injection: bool = False
    deploy_after_training: bool = True

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as 'us-east-1'")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in _RETENTION_DAYS:
            raise ValueError(
                f"{value} is not a CloudWatch Logs retention; use one of {sorted(_RETENTION_DAYS)}"
            )
        return value

    @field_validator("training_instance_type", "endpoint_instance_type", "processing_instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not value.startswith("ml."):
            raise ValueError(f"{value!r} is not a SageMaker instance type (they start with 'ml.')")
        return value

    @model_validator(mode="after")
    def _size_bands(self) -> Self:
        try:
            check_bands(self.size_bands())
        except SizingError as exc:
            raise ValueError(f"training_size_bands: {exc}") from None
        return self

    def scratch_mb(self) -> int:
        """/tmp for ValidateData and PrepareData (their spills, D44) for an upload up to
        the threshold: at most 6 bytes a CSV byte (a one-digit number is 2 bytes of CSV
        and 8 of float64, plus 8 bytes a row of row hashes), within Lambda's 512-10,240 MB."""
        need = -(-self.processing_threshold_bytes * 6 // (1024 * 1024))
        return min(10240, max(512, need))

    def size_bands(self) -> tuple[SizeBand, ...]:
        """The training size table (modelrail.sizing)."""
        if not self.training_size_bands:
            return (SizeBand(None, self.training_instance_type, self.training_volume_gb),)
        return tuple(b.band() for b in self.training_size_bands)

    @model_validator(mode="after")
    def _layers_recorded(self) -> Self:
        layer_arns(self.region)  # LayerError (a ValueError): names the region and the file
        return self

    @model_validator(mode="after")
    def _prod_rules(self) -> Self:
        if self.name == "prod" and not self.retain_data:
            raise ValueError("prod must retain its data (retain_data: true)")
        if self.name == "prod" and self.allow_fault_injection:
            raise ValueError("prod must not allow fault injection")
        if 2 * self.canary_instances > self.endpoint_instance_count:
            raise ValueError(
                f"canary_instances {self.canary_instances} is more than half of "
                f"endpoint_instance_count {self.endpoint_instance_count} (SageMaker allows 50%)"
            )
        if self.deployment_max_seconds < self.bake_seconds + self.termination_wait_seconds + 600:
            raise ValueError(
                "deployment_max_seconds must exceed bake_seconds + termination_wait_seconds "
                "by at least 600 s (time to start the new fleet)"
            )
        return self

    def layer_arns(self) -> list[str]:
        """The managed layers of the environment's region (infra/layers.py)."""
        return layer_arns(self.region)


def load_environments(context: dict[str, Any] | None) -> dict[str, EnvironmentConfig]:
    """Parse the ``modelrail:environments`` context value into validated configs."""
    if not isinstance(context, dict) or not context:
        raise ConfigError(
            "cdk.json context 'modelrail:environments' must map environment names to settings"
        )
    configs: dict[str, EnvironmentConfig] = {}
    for name, raw in context.items():
        try:
            configs[name] = EnvironmentConfig.model_validate({"name": name, **(raw or {})})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or name}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"environment {name!r} in cdk.json is invalid: {problems}") from exc
    return configs
