"""Typed payloads of the monitoring state machine (camelCase JSON, as Step Functions
carries them) and the record of a check kept in the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from modelrail.monitoring.policy import DriftStatus, LiveMetric


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


CheckStatus = Literal["drifted", "ok", "insufficient_data", "no_champion"]


class CheckInput(_Payload):
    """What the schedule (or ``modelrail drift check``) starts the monitoring run with."""

    model: str = Field(min_length=1)
    requested_by: str = Field(default="schedule", alias="requestedBy")
    scheduled_time: str | None = Field(default=None, alias="scheduledTime")
    """The schedule's ``<aws.scheduler.scheduled-time>``, recorded with the check."""


class FeatureVerdict(_Payload):
    name: str
    test: str
    score: float | None = None
    threshold: float
    drifted: bool


class CheckOutput(_Payload):
    """One check's verdict: what RetrainPolicy reads and the registry records."""

    check_id: str = Field(alias="checkId")
    model: str
    status: CheckStatus
    champion: int | None = None
    window_start: datetime | None = Field(default=None, alias="windowStart")
    window_end: datetime = Field(alias="windowEnd")
    rows: int = Field(default=0, ge=0)
    drift_share: float | None = Field(default=None, alias="driftShare")
    drifted: list[str] = Field(default_factory=list)
    """The drifted features, most drifted first."""
    top: list[FeatureVerdict] = Field(default_factory=list)
    """The five features furthest past (or closest to) their threshold."""
    prediction_drifted: bool | None = Field(default=None, alias="predictionDrifted")
    live: LiveMetric | None = None
    labelled_rows: int = Field(default=0, alias="labelledRows", ge=0)
    """Captured rows of the window with a label."""
    labelled_uri: str | None = Field(default=None, alias="labelledUri")
    """Those rows as training data (features and target), for a retraining."""
    corrupt: int = Field(default=0, ge=0)
    """Capture lines and payloads that could not be read (counted, never fatal)."""
    report_uri: str | None = Field(default=None, alias="reportUri")
    reason: str = ""
    requested_by: str = Field(default="schedule", alias="requestedBy")

    @property
    def drift_status(self) -> DriftStatus:
        """What the retraining policy's drift trigger counts."""
        if self.status == "drifted":
            return "drifted"
        if self.status == "ok":
            return "ok"
        return "insufficient_data"


class RetrainInput(_Payload):
    """RetrainPolicy's input: the check that just ended."""

    check: CheckOutput


class RetrainOutput(_Payload):
    action: Literal["start", "suppressed", "none"]
    trigger: str | None = None
    reason: str
    guard: str | None = None
    execution_name: str | None = Field(default=None, alias="executionName")
    execution_arn: str | None = Field(default=None, alias="executionArn")
    dataset_uri: str | None = Field(default=None, alias="datasetUri")
