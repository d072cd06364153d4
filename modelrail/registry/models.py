"""Registry entities, the status lifecycle and the alias eligibility rules.

Everything here is pure: frozen pydantic models plus the tables that say which status
may follow which and which version may carry which alias. The stores
(:mod:`modelrail.registry.memory`, :mod:`modelrail.registry.dynamodb`) only persist
what these functions decide.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelrail.registry.errors import IllegalTransition, InvalidRequest, NotEligible

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1, max_length=2048)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VersionStatus(StrEnum):
    REGISTERED = "registered"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DEPLOYING = "deploying"
    PRODUCTION = "production"
    ARCHIVED = "archived"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    """A newer approved version that beat it was deployed instead, or its evidence no longer
    reaches the champion (modelrail.release); it was never deployed."""


_S = VersionStatus

#: status -> the statuses it may move to. REJECTED is terminal.
TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    _S.REGISTERED: frozenset({_S.PENDING_APPROVAL, _S.APPROVED, _S.REJECTED}),
    _S.PENDING_APPROVAL: frozenset({_S.APPROVED, _S.REJECTED}),
    # APPROVED -> SUPERSEDED / FAILED: the deployment queue decided (modelrail.release):
    # a newer version that beat it goes out instead, or the wait for the endpoint ran out.
    _S.APPROVED: frozenset({_S.DEPLOYING, _S.ARCHIVED, _S.SUPERSEDED, _S.FAILED}),
    _S.DEPLOYING: frozenset({_S.PRODUCTION, _S.ROLLED_BACK, _S.FAILED}),
    # PRODUCTION -> DEPLOYING: redeploying a version, e.g. when a rollback returns to it.
    _S.PRODUCTION: frozenset({_S.ARCHIVED, _S.DEPLOYING}),
    _S.ROLLED_BACK: frozenset({_S.DEPLOYING, _S.ARCHIVED}),
    _S.FAILED: frozenset({_S.DEPLOYING, _S.ARCHIVED}),
    # Only an explicit deployment brings a superseded version back.
    _S.SUPERSEDED: frozenset({_S.DEPLOYING, _S.ARCHIVED}),
    _S.ARCHIVED: frozenset({_S.DEPLOYING}),
    _S.REJECTED: frozenset(),
}

#: The statuses a version may be registered in (the pipeline may record the gate verdict
#: at registration instead of in a second write).
INITIAL_STATUSES: frozenset[VersionStatus] = frozenset({_S.REGISTERED} | TRANSITIONS[_S.REGISTERED])


class AliasName(StrEnum):
    CHAMPION = "champion"
    CHALLENGER = "challenger"
    PREVIOUS = "previous"


#: alias -> the statuses its target may be in when the alias moves to it. On top of
#: this every alias needs a version whose gates all passed (see ModelVersion.gates_passed).
#:
#: champion/previous: a version that was approved and has not been turned down since.
#: ARCHIVED is eligible because rolling back means pointing the champion at the version
#: that was archived when it was replaced. ROLLED_BACK and FAILED are not: a version whose
#: deployment went wrong must first be sent back to DEPLOYING by an explicit, recorded
#: transition (with a reason) before it can become champion again.
#: challenger: a candidate under evaluation, so it may still await approval.
ALIAS_ELIGIBLE: dict[AliasName, frozenset[VersionStatus]] = {
    AliasName.CHAMPION: frozenset({_S.APPROVED, _S.DEPLOYING, _S.PRODUCTION, _S.ARCHIVED}),
    AliasName.PREVIOUS: frozenset({_S.APPROVED, _S.DEPLOYING, _S.PRODUCTION, _S.ARCHIVED}),
    AliasName.CHALLENGER: frozenset(
        {_S.REGISTERED, _S.PENDING_APPROVAL, _S.APPROVED, _S.DEPLOYING, _S.PRODUCTION, _S.ARCHIVED}
    ),
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    """A fixed-width UTC timestamp (``2025-01-31T12:00:00.000000Z``) that sorts as text."""
    if at.tzinfo is None:
        raise InvalidRequest("timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- entities ---------------------------------------------------------------------------


class DataRef(_Frozen):
    """The exact training data: an S3 object version plus its content hash."""

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    version_id: str | None = None
    sha256: str
    rows: int = Field(ge=0)
    size_bytes: int = Field(ge=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _SHA256.match(self.sha256):
            raise ValueError("sha256 must be 64 lowercase hex characters")
        return self


ReferenceRole = Literal["champion", "pending_champion", "none"]


class ComparedWith(_Frozen):
    """The version a model was judged against at its quality gate, and why that one.

    The reference is the champion, or the newest version on its way to become champion
    (the pending champion: passed its gates, not yet deployed or turned down); see
    modelrail.release. ``role`` is ``none`` when neither existed."""

    version: int | None = Field(default=None, ge=1)
    role: ReferenceRole
    champion: int | None = Field(default=None, ge=1)
    """The champion when the reference was read."""
    reason: Text


class RetrainCause(_Frozen):
    """Why monitoring retrained the model (a version trained from an upload has none)."""

    trigger: str = Field(min_length=1, description="performance, drift, volume or schedule")
    reason: Text
    check: str = Field(min_length=1, description="the monitoring check that decided it")
    champion: int = Field(ge=1, description="the champion the check watched")
    holdout_rows: int = Field(
        default=0, ge=0, description="the newest rows the gate compared the models on"
    )


class Lineage(_Frozen):
    """Everything needed to reproduce (or audit) how a version was made."""

    data: DataRef
    baseline_profile_uri: str | None = None
    code_version: str = Field(min_length=1, description="hash of the training code asset")
    git_commit: str | None = None
    training_image: str = Field(min_length=1)
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    seed: int | None = None
    training_job_name: str = Field(min_length=1, max_length=256)
    training_job_arn: str | None = None
    tuning_job_arn: str | None = None
    """The hyperparameter search this model won, when it came from one."""
    pipeline_execution_arn: str | None = None
    champion_at_training: int | None = Field(default=None, ge=1)
    compared_with: ComparedWith | None = None
    """What the quality gate compared the model with (None in records made before it)."""
    model_artifact_uri: str = Field(min_length=1)
    retrain: RetrainCause | None = None
    """The monitoring decision this version was trained for, if it was a retraining."""


class ChampionComparison(_Frozen):
    """The evidence the quality gate compared the model with the champion on: the paired
    bootstrap interval of the primary metric's difference (docs/decisions.md D39).

    The registry's own copy of :class:`modelrail.gates.ImprovementInterval`, converted at
    the Register step, so that the stored record does not change with the gate's code."""

    metric: str
    point: FiniteFloat
    """Model minus champion on the shared holdout, positive when the model is better."""
    lower: FiniteFloat
    upper: FiniteFloat
    confidence: FiniteFloat
    resamples: int = Field(ge=1)
    rows: int = Field(ge=1)
    margin: FiniteFloat
    significant: bool


class GateResult(_Frozen):
    name: str = Field(min_length=1, max_length=128)
    passed: bool
    reasons: list[str] = Field(default_factory=list)
    comparison: ChampionComparison | None = None
    """For the quality gate, when there was a champion to compare with."""


class StatusChange(_Frozen):
    """One entry of a version's status history; the first one has ``from_status=None``."""

    from_status: VersionStatus | None
    to_status: VersionStatus
    at: str
    by: Text
    reason: Text


class ModelVersion(_Frozen):
    model: str
    version: int = Field(ge=1)
    status: VersionStatus
    created_at: str
    created_by: Text
    metrics: dict[str, FiniteFloat]
    lineage: Lineage
    gates: list[GateResult]
    status_history: list[StatusChange] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        names = [g.name for g in self.gates]
        if len(set(names)) != len(names):
            raise ValueError(f"gate names must be unique, got {names}")
        if self.status_history[-1].to_status != self.status:
            raise ValueError("status must equal the last status_history entry")
        return self

    @property
    def gates_passed(self) -> bool:
        """True when there is at least one gate and every gate passed.

        No gates means no evidence, so such a version can never carry an alias.
        """
        return bool(self.gates) and all(g.passed for g in self.gates)

    @property
    def failed_gates(self) -> list[str]:
        return [g.name for g in self.gates if not g.passed]


class Alias(_Frozen):
    model: str
    name: AliasName
    version: int = Field(ge=1)
    revision: int = Field(ge=1, description="1 for the first move, +1 for every move")
    updated_at: str
    updated_by: Text
    reason: Text


class AliasChange(_Frozen):
    """One entry of an alias's history; ``from_version=None`` for the first move."""

    alias: AliasName
    from_version: int | None
    to_version: int = Field(ge=1)
    revision: int = Field(ge=1)
    at: str
    by: Text
    reason: Text


EventType = Literal[
    "model_version.created",
    "model_version.status_changed",
    "alias.moved",
    "monitoring.checked",
    "retraining.started",
    "retraining.suppressed",
]
#: Events a monitoring step records on the champion version (:meth:`ModelRegistry.record`).
MONITORING_EVENTS: tuple[EventType, ...] = (
    "monitoring.checked",
    "retraining.started",
    "retraining.suppressed",
)


class RegistryEvent(_Frozen):
    """A change record. Stored in the registry table and handed to the event sink.

    ``id`` is unique per event, so a consumer (EventBridge target) can deduplicate.
    """

    id: str
    type: EventType
    model: str
    version: int = Field(ge=1)
    detail: dict[str, Any]
    at: str


# -- rules ------------------------------------------------------------------------------


def allowed_transitions(status: VersionStatus) -> frozenset[VersionStatus]:
    return TRANSITIONS[status]


def check_transition(
    model: str, version: int, from_status: VersionStatus, to_status: VersionStatus
) -> None:
    allowed = TRANSITIONS[from_status]
    if to_status not in allowed:
        raise IllegalTransition(
            model, version, from_status.value, to_status.value, (s.value for s in allowed)
        )


def eligibility_problem(version: ModelVersion, alias: AliasName) -> str | None:
    """Why ``version`` may not carry ``alias`` right now, or None when it may."""
    if not version.gates:
        return "it has no gate results"
    if not version.gates_passed:
        return f"gates failed: {', '.join(version.failed_gates)}"
    statuses = ALIAS_ELIGIBLE[alias]
    if version.status not in statuses:
        needed = ", ".join(sorted(s.value for s in statuses))
        return f"it is {version.status.value}; {alias.value} needs one of {needed}"
    return None


def check_eligible(version: ModelVersion, alias: AliasName) -> None:
    problem = eligibility_problem(version, alias)
    if problem is not None:
        raise NotEligible(version.model, version.version, alias.value, problem)


def check_model_name(model: str) -> None:
    if not isinstance(model, str) or not MODEL_NAME.match(model):
        raise InvalidRequest(
            f"model name {model!r} must be 1-128 characters of letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )


#: What a generated reason is clipped to: room under the 2048-character limit for a
#: prefix such as "replaced as champion by vN: ".
MAX_REASON = 2000


def clip_reason(text: str, limit: int = MAX_REASON) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_text(what: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{what} must be a non-empty string (it is kept for the audit trail)")
    if len(value) > 2048:
        raise InvalidRequest(f"{what} is {len(value)} characters; the limit is 2048")


def check_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics as plain floats; NaN and infinities are refused before anything is written."""
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"metric names must be non-empty strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequest(f"metric {name!r} must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidRequest(f"metric {name!r} is {number}; metrics must be finite numbers")
        clean[name] = number
    return clean
