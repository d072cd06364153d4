"""Typed payloads that cross the state machine's boundaries.

Field names are the JSON the state machine carries (camelCase, as Step Functions and
S3 spell them); every handler parses its input with these and returns them dumped.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class DatasetRef(_Payload):
    bucket: str
    key: str
    version_id: str | None = Field(alias="versionId")
    sha256: str | None = None
    rows: int | None = None
    size_bytes: int | None = Field(default=None, alias="sizeBytes")


class RetrainCause(_Payload):
    """Why monitoring started this run (modelrail.monitoring.retraining)."""

    trigger: str
    reason: str
    check: str
    champion: int
    holdout_rows: int = Field(default=0, alias="holdoutRows", ge=0)
    """The newest rows of the dataset (the labelled window's second half) are the holdout:
    champion and challenger are compared on recent data neither was trained on."""


class PipelineInput(_Payload):
    """What the starter passes to StartExecution."""

    model: str = Field(min_length=1)
    bucket: str = Field(min_length=3)
    key: str = Field(min_length=1)
    version_id: str | None = Field(alias="versionId")
    reason: str = "upload"
    requested_by: str = Field(default="s3-upload", alias="requestedBy")
    fault: dict[str, float] | None = None
    """Fault injection for the version trained from this upload, when its environment
    allows it (``errorRate``, ``latencyMs``; see modelrail.steps.start.fault_from_metadata)."""
    size_bytes: int | None = Field(default=None, alias="sizeBytes", ge=0)
    """The upload's size from its S3 event: above the environment's threshold the data is
    validated by a Processing job (modelrail.sizing); unknown, by the Lambda."""
    processing_job_name: str | None = Field(
        default=None, alias="processingJobName", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )
    """That job's name (modelrail.naming.dataset_job_name), set with ``sizeBytes``."""
    retrain: RetrainCause | None = None
    """Set when monitoring started the run: the trigger goes into the version's lineage."""


class ProfileRef(_Payload):
    """A baseline profile already built beside the snapshot (by the Processing job)."""

    uri: str
    fingerprint: str


class ValidationOutput(_Payload):
    model: str
    dataset: DatasetRef
    train_uri: str = Field(alias="trainUri")
    report_uri: str = Field(alias="reportUri")
    warnings: list[str] = []
    profile: ProfileRef | None = None
    """Set by the Processing path: PrepareData reuses it instead of profiling again."""


class PrepareInput(_Payload):
    model: str
    execution_name: str = Field(alias="executionName", pattern=r"^[A-Za-z0-9-]{1,80}$")
    validation: ValidationOutput
    round: int = Field(default=1, ge=1, le=99)
    """1, then +1 each time Register sends the run back to be judged against a newer
    reference (modelrail.release); it names the round's training job."""
    retrain: RetrainCause | None = None


class TuningRequest(_Payload):
    """The model's half of CreateHyperParameterTuningJob (modelrail.tuning)."""

    job_name: str = Field(alias="jobName", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
    config: dict[str, Any]
    metric_definitions: list[dict[str, str]] = Field(alias="metricDefinitions", min_length=1)


class TrainingResources(_Payload):
    instance_type: str = Field(alias="instanceType", pattern=r"^ml\.")
    instance_count: int = Field(alias="instanceCount", ge=1)
    volume_size_in_gb: int = Field(alias="volumeSizeInGB", ge=1, le=16384)


class PrepareOutput(_Payload):
    training_job_name: str = Field(
        alias="trainingJobName", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
    )
    """``modelrail-<env>-...`` (modelrail.naming): the Train state's TrainingJobName."""
    champion_uri: str = Field(alias="championUri")
    """The comparison channel: the reference's model (the champion or the pending one)."""
    champion_version: int | None = Field(alias="championVersion")
    """The reference's version (what the channel holds), None without one."""
    compared_with: dict[str, Any] = Field(alias="comparedWith")
    """modelrail.registry.ComparedWith as JSON: which version, its role and why."""
    profile_uri: str = Field(alias="profileUri")
    fingerprint: str
    tuning: TuningRequest | None = None
    """Present when the contract asks for a hyperparameter search."""
    resources: TrainingResources
    """The Train (and Tune) state's ResourceConfig, sized from the dataset."""
    holdout_rows: int = Field(default=0, alias="holdoutRows", ge=0)
    """The training job's ``holdout-last-rows``: 0 splits as the contract says; a
    retraining holds out its newest rows (RetrainCause.holdout_rows)."""


class TrainingOutput(_Payload):
    """The Train state's result selector (a subset of DescribeTrainingJob)."""

    job_name: str = Field(alias="jobName")
    job_arn: str = Field(alias="jobArn")
    model_artifacts: str = Field(alias="modelArtifacts")
    image: str
    hyperparameters: dict[str, str] = {}
    tuning_job_arn: str | None = Field(default=None, alias="tuningJobArn")
    """Set when the model is the best trial of a hyperparameter search."""


class GateInput(_Payload):
    model: str
    training: TrainingOutput


class GateOutput(_Payload):
    passed: bool
    summary: str
    metrics: dict[str, float]
    checks: list[dict[str, Any]]
    evaluation_uri: str = Field(alias="evaluationUri")
    comparison: dict[str, Any] | None = None
    """The champion comparison's interval and decision (modelrail.gates.ImprovementInterval),
    None without a champion."""


class RegisterInput(_Payload):
    model: str
    validation: ValidationOutput
    prepared: PrepareOutput | None = None
    training: TrainingOutput
    gate: GateOutput
    execution: str
    requested_by: str = Field(default="s3-upload", alias="requestedBy")
    round: int = Field(default=1, ge=1, le=99)
    retrain: RetrainCause | None = None


class RegisterOutput(_Payload):
    """A registered version, or (``rejudge``) no registration: the reference moved since
    PrepareData and the passing model is judged again against it in round ``nextRound``."""

    model: str
    version: int | None
    status: str
    rejudge: bool = False
    next_round: int | None = Field(default=None, alias="nextRound")
    reference: int | None = None
    """The version the model was judged against (or, with ``rejudge``, will be)."""
    reason: str = ""


def dump(payload: BaseModel) -> dict[str, Any]:
    """A payload as the JSON the state machine carries (aliases, no None-stripping)."""
    return payload.model_dump(mode="json", by_alias=True)
