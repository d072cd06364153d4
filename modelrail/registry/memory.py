"""In-memory registry: the same semantics as the DynamoDB store, for tests and demos.

One lock serialises every operation, which is what makes each of them atomic here; the
DynamoDB store gets the same guarantees from conditional transactions.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from modelrail.registry.errors import ModelNotFound, StaleRegistration, VersionNotFound
from modelrail.registry.models import (
    Alias,
    AliasChange,
    AliasName,
    GateResult,
    Lineage,
    ModelVersion,
    RegistryEvent,
    VersionStatus,
    check_text,
)
from modelrail.registry.port import (
    Clock,
    EventSink,
    ModelRegistry,
    Registration,
    as_alias,
    as_status,
    check_limit,
    check_version_number,
    plan_alias_move,
    plan_transition,
)


@dataclass
class _Model:
    created_at: str
    versions: list[ModelVersion] = field(default_factory=list)  # versions[n - 1] is vn
    jobs: dict[str, int] = field(default_factory=dict)
    aliases: dict[AliasName, Alias] = field(default_factory=dict)
    alias_history: dict[AliasName, list[AliasChange]] = field(default_factory=dict)
    events: list[RegistryEvent] = field(default_factory=list)


class InMemoryRegistry(ModelRegistry):
    def __init__(self, *, event_sink: EventSink | None = None, clock: Clock | None = None) -> None:
        super().__init__(event_sink=event_sink, clock=clock)
        self._lock = threading.RLock()
        self._models: dict[str, _Model] = {}

    def _model(self, model: str) -> _Model:
        try:
            return self._models[model]
        except KeyError:
            raise ModelNotFound(model) from None

    def _version(self, model: str, version: int) -> ModelVersion:
        check_version_number(version)
        state = self._model(model)
        if version > len(state.versions):
            raise VersionNotFound(model, version)
        return state.versions[version - 1]

    # -- versions -----------------------------------------------------------------------

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
        request = Registration(
            model,
            metrics=metrics,
            lineage=lineage,
            gates=gates,
            created_by=created_by,
            status=status,
        )
        with self._lock:
            at = self._now()
            state = self._models.get(model)
            if state is not None and request.job in state.jobs:
                return state.versions[state.jobs[request.job] - 1]
            latest = 0 if state is None else len(state.versions)
            if expected_latest is not None and latest != expected_latest:
                raise StaleRegistration(model, expected_latest, latest)
            number = latest + 1
            entity, event = request.build(number, at)
            if state is None:
                state = self._models[model] = _Model(created_at=at)
            state.versions.append(entity)
            state.jobs[request.job] = number
            state.events.append(event)
        self._publish([event])
        return entity

    def get_version(self, model: str, version: int, *, consistent: bool = True) -> ModelVersion:
        with self._lock:
            return self._version(model, version)

    def list_versions(
        self,
        model: str,
        *,
        status: VersionStatus | str | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> list[ModelVersion]:
        check_limit(limit)
        wanted = None if status is None else as_status(status)
        with self._lock:
            state = self._models.get(model)
            versions = [] if state is None else list(state.versions)
        if wanted is not None:
            versions = [v for v in versions if v.status == wanted]
        if newest_first:
            versions.reverse()
        return versions[:limit]

    def latest_version(self, model: str) -> ModelVersion | None:
        with self._lock:
            state = self._models.get(model)
            return state.versions[-1] if state is not None and state.versions else None

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
        target = as_status(to_status)
        expected = None if expected_status is None else as_status(expected_status)
        check_text("by", by)
        check_text("reason", reason)
        with self._lock:
            current = self._version(model, version)
            updated, event = plan_transition(
                current,
                target,
                by=by,
                reason=reason,
                expected_status=expected,
                at=self._now(),
            )
            state = self._models[model]
            state.versions[version - 1] = updated
            state.events.append(event)
        self._publish([event])
        return updated

    # -- aliases ------------------------------------------------------------------------

    def get_alias(self, model: str, alias: AliasName | str) -> Alias | None:
        name = as_alias(alias)
        with self._lock:
            state = self._models.get(model)
            return None if state is None else state.aliases.get(name)

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
        name = as_alias(alias)
        check_text("by", by)
        check_text("reason", reason)
        if expected_version is not None:
            check_version_number(expected_version)
        with self._lock:
            target = self._version(model, to_version)
            state = self._models[model]
            moved, change, event = plan_alias_move(
                model=model,
                alias=name,
                current=state.aliases.get(name),
                target=target,
                expected_version=expected_version,
                by=by,
                reason=reason,
                at=self._now(),
            )
            state.aliases[name] = moved
            state.alias_history.setdefault(name, []).append(change)
            state.events.append(event)
        self._publish([event])
        return moved

    def alias_history(self, model: str, alias: AliasName | str) -> list[AliasChange]:
        name = as_alias(alias)
        with self._lock:
            state = self._models.get(model)
            return [] if state is None else list(state.alias_history.get(name, []))

    # -- events and models --------------------------------------------------------------

    def events(self, model: str, limit: int = 100) -> list[RegistryEvent]:
        check_limit(limit)
        with self._lock:
            state = self._models.get(model)
            stored = [] if state is None else list(state.events)
        # The DynamoDB sort key is EVENT#<at>#<id>; order the same way.
        stored.sort(key=lambda e: (e.at, e.id), reverse=True)
        return stored[:limit]

    def _store_event(self, event: RegistryEvent) -> None:
        with self._lock:
            self._models[event.model].events.append(event)

    def list_models(self) -> list[str]:
        with self._lock:
            return sorted(self._models)
