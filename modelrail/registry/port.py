"""The registry port: what every store offers, and the pure decisions they share.

A store (in-memory, DynamoDB) implements :class:`ModelRegistry`. It reads what it needs,
asks the ``plan_*`` functions below what to write (they validate and raise the domain
errors), and then writes that plan atomically, guarded so that a concurrent writer
cannot slip in between the read and the write.

Semantics shared by every store:

* Reads of a collection never fail because the model is unknown: ``list_versions``,
  ``alias_history`` and ``events`` return ``[]``; ``latest_version`` and ``get_alias``
  return ``None``. Operations that address one version (``get_version``, ``transition``,
  ``move_alias``) raise :class:`ModelNotFound` or :class:`VersionNotFound`.
* ``register_version`` is idempotent by ``lineage.training_job_name``: a replay returns the
  version first registered for that job, whatever else it carries, and writes nothing.
* Every write also records a :class:`RegistryEvent` in the store, then hands it to the
  optional event sink. A failing sink is logged, not raised: the write has committed and
  the event is durable in the store.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from modelrail.registry.errors import InvalidRequest, StaleAlias, StaleStatus
from modelrail.registry.models import (
    INITIAL_STATUSES,
    MONITORING_EVENTS,
    Alias,
    AliasChange,
    AliasName,
    EventType,
    GateResult,
    Lineage,
    ModelVersion,
    RegistryEvent,
    StatusChange,
    VersionStatus,
    check_eligible,
    check_metrics,
    check_model_name,
    check_text,
    check_transition,
    iso,
    utc_now,
)

log = logging.getLogger(__name__)

EventSink = Callable[[RegistryEvent], None]
Clock = Callable[[], datetime]


class ModelRegistry(ABC):
    """The model registry port. See the module docstring for the shared semantics."""

    def __init__(self, *, event_sink: EventSink | None = None, clock: Clock | None = None) -> None:
        self._event_sink = event_sink
        self._clock: Clock = clock or utc_now

    # -- versions -----------------------------------------------------------------------

    @abstractmethod
    def register_version(
        self,
        model: str,
        *,
        metrics: Mapping[str, float],
        lineage: Lineage,
        gates: Sequence[GateResult],
        created_by: str,
        status: VersionStatus | str = VersionStatus.REGISTERED,
        expected_latest: int | None = None,
    ) -> ModelVersion:
        """Create the next version (1, 2, ... with no gaps), or return the version already
        registered for ``lineage.training_job_name`` without writing anything.

        With ``expected_latest`` (0 for a model with no versions) the write is conditional:
        StaleRegistration when the model's latest version is another one by then."""

    @abstractmethod
    def get_version(self, model: str, version: int, *, consistent: bool = True) -> ModelVersion:
        """One version; ModelNotFound / VersionNotFound when absent."""

    @abstractmethod
    def list_versions(
        self,
        model: str,
        *,
        status: VersionStatus | str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> list[ModelVersion]:
        """Up to ``limit`` versions ordered by number, optionally only those in ``status``."""

    @abstractmethod
    def latest_version(self, model: str) -> ModelVersion | None:
        """The highest-numbered version, or None if the model has none."""

    @abstractmethod
    def transition(
        self,
        model: str,
        version: int,
        to_status: VersionStatus | str,
        *,
        by: str,
        reason: str,
        expected_status: VersionStatus | str | None = None,
    ) -> ModelVersion:
        """Move a version along the lifecycle (IllegalTransition if the table forbids it;
        StaleStatus if ``expected_status`` is given and the version is elsewhere)."""

    # -- aliases ------------------------------------------------------------------------

    @abstractmethod
    def get_alias(self, model: str, alias: AliasName | str) -> Alias | None:
        """Where the alias points, or None if it was never set."""

    @abstractmethod
    def move_alias(
        self,
        model: str,
        alias: AliasName | str,
        *,
        to_version: int,
        expected_version: int | None,
        by: str,
        reason: str,
    ) -> Alias:
        """Compare-and-swap: point ``alias`` at ``to_version`` only if it currently points at
        ``expected_version`` (``None``: only if it is unset). Raises StaleAlias otherwise,
        NotEligible if the target may not carry the alias. Appends to the alias history."""

    @abstractmethod
    def alias_history(self, model: str, alias: AliasName | str) -> list[AliasChange]:
        """Every move of the alias, oldest first."""

    # -- events and models --------------------------------------------------------------

    @abstractmethod
    def events(self, model: str, limit: int = 100) -> list[RegistryEvent]:
        """The model's most recent events, newest first."""

    @abstractmethod
    def list_models(self) -> list[str]:
        """Every model with at least one version, sorted by name."""

    def record(
        self, model: str, version: int, type_: EventType, detail: dict[str, Any]
    ) -> RegistryEvent:
        """Record a monitoring event (:data:`MONITORING_EVENTS`) on an existing version:
        a check's verdict, a retraining started or suppressed. Stored with the version's
        other events and handed to the event sink."""
        if type_ not in MONITORING_EVENTS:
            raise InvalidRequest(
                f"{type_!r} is not a monitoring event ({', '.join(MONITORING_EVENTS)})"
            )
        self.get_version(model, version)  # NotFound for a version that does not exist
        event = new_event(type_, model, version, detail, self._now())
        self._store_event(event)
        self._publish([event])
        return event

    @abstractmethod
    def _store_event(self, event: RegistryEvent) -> None:
        """Store one event (it is unique by its id)."""

    def monitoring_events(self, model: str, limit: int = 100) -> list[RegistryEvent]:
        """The model's monitoring events among its ``limit`` most recent, newest first."""
        return [e for e in self.events(model, limit) if e.type in MONITORING_EVENTS]

    # -- conveniences built on the port -------------------------------------------------

    def resolve_alias(self, model: str, alias: AliasName | str) -> ModelVersion | None:
        """The version an alias points at, or None if the alias is unset."""
        current = self.get_alias(model, alias)
        return None if current is None else self.get_version(model, current.version)

    # -- helpers for stores -------------------------------------------------------------

    def _now(self) -> str:
        return iso(self._clock())

    def _publish(self, events: Sequence[RegistryEvent]) -> None:
        if self._event_sink is None:
            return
        for event in events:
            try:
                self._event_sink(event)
            except Exception:
                log.exception(
                    "registry event sink failed for %s %s (the event is stored)",
                    event.type,
                    event.id,
                )


# -- pure planning shared by the stores -------------------------------------------------


def as_status(value: VersionStatus | str) -> VersionStatus:
    try:
        return VersionStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in VersionStatus)
        raise InvalidRequest(f"unknown status {value!r}; known: {known}") from None


def as_alias(value: AliasName | str) -> AliasName:
    try:
        return AliasName(value)
    except ValueError:
        known = ", ".join(a.value for a in AliasName)
        raise InvalidRequest(f"unknown alias {value!r}; known: {known}") from None


def check_version_number(version: int) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidRequest(f"version numbers start at 1, got {version!r}")


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequest(f"limit must be a positive integer, got {limit!r}")


def new_event(
    type_: str, model: str, version: int, detail: dict[str, Any], at: str
) -> RegistryEvent:
    return RegistryEvent.model_validate(
        {
            "id": uuid.uuid4().hex,
            "type": type_,
            "model": model,
            "version": version,
            "detail": detail,
            "at": at,
        }
    )


class Registration:
    """A validated registration request, before it has a version number."""

    def __init__(
        self,
        model: str,
        *,
        metrics: Mapping[str, float],
        lineage: Lineage,
        gates: Sequence[GateResult],
        created_by: str,
        status: VersionStatus | str,
    ) -> None:
        check_model_name(model)
        check_text("created_by", created_by)
        if not isinstance(lineage, Lineage):
            raise InvalidRequest(f"lineage must be a Lineage, got {type(lineage).__name__}")
        if not all(isinstance(g, GateResult) for g in gates):
            raise InvalidRequest("gates must be GateResult instances")
        names = [g.name for g in gates]
        if len(set(names)) != len(names):
            raise InvalidRequest(f"gate names must be unique, got {names}")
        initial = as_status(status)
        if initial not in INITIAL_STATUSES:
            allowed = ", ".join(sorted(s.value for s in INITIAL_STATUSES))
            raise InvalidRequest(
                f"a version cannot be registered as {initial.value}; allowed: {allowed}"
            )
        self.model = model
        self.metrics = check_metrics(dict(metrics))
        self.lineage = lineage
        self.gates = list(gates)
        self.created_by = created_by
        self.status = initial

    @property
    def job(self) -> str:
        return self.lineage.training_job_name

    def build(self, version: int, at: str) -> tuple[ModelVersion, RegistryEvent]:
        try:
            entity = ModelVersion(
                model=self.model,
                version=version,
                status=self.status,
                created_at=at,
                created_by=self.created_by,
                metrics=self.metrics,
                lineage=self.lineage,
                gates=self.gates,
                status_history=[
                    StatusChange(
                        from_status=None,
                        to_status=self.status,
                        at=at,
                        by=self.created_by,
                        reason="registered",
                    )
                ],
            )
        except ValidationError as exc:
            raise InvalidRequest(f"invalid model version: {exc}") from exc
        event = new_event(
            "model_version.created",
            self.model,
            version,
            {
                "status": self.status.value,
                "created_by": self.created_by,
                "training_job_name": self.job,
                "gates_passed": entity.gates_passed,
                "metrics": self.metrics,
            },
            at,
        )
        return entity, event


def plan_transition(
    current: ModelVersion,
    to_status: VersionStatus,
    *,
    by: str,
    reason: str,
    expected_status: VersionStatus | None,
    at: str,
) -> tuple[ModelVersion, RegistryEvent]:
    """The version after the transition and its event; raises StaleStatus/IllegalTransition."""
    if expected_status is not None and current.status != expected_status:
        raise StaleStatus(
            current.model, current.version, expected_status.value, current.status.value
        )
    check_transition(current.model, current.version, current.status, to_status)
    change = StatusChange(
        from_status=current.status, to_status=to_status, at=at, by=by, reason=reason
    )
    updated = current.model_copy(
        update={"status": to_status, "status_history": [*current.status_history, change]}
    )
    event = new_event(
        "model_version.status_changed",
        current.model,
        current.version,
        {"from": current.status.value, "to": to_status.value, "by": by, "reason": reason},
        at,
    )
    return updated, event


def plan_alias_move(
    *,
    model: str,
    alias: AliasName,
    current: Alias | None,
    target: ModelVersion,
    expected_version: int | None,
    by: str,
    reason: str,
    at: str,
) -> tuple[Alias, AliasChange, RegistryEvent]:
    """The alias after the move, its history entry and event.

    Raises NotEligible when the target may not carry the alias, then StaleAlias when the
    alias is not where the caller expected it.
    """
    check_eligible(target, alias)
    actual = None if current is None else current.version
    if actual != expected_version:
        raise StaleAlias(model, alias.value, expected_version, actual)
    revision = 1 if current is None else current.revision + 1
    moved = Alias(
        model=model,
        name=alias,
        version=target.version,
        revision=revision,
        updated_at=at,
        updated_by=by,
        reason=reason,
    )
    change = AliasChange(
        alias=alias,
        from_version=actual,
        to_version=target.version,
        revision=revision,
        at=at,
        by=by,
        reason=reason,
    )
    event = new_event(
        "alias.moved",
        model,
        target.version,
        {
            "alias": alias.value,
            "from_version": actual,
            "to_version": target.version,
            "revision": revision,
            "by": by,
            "reason": reason,
        },
        at,
    )
    return moved, change, event
