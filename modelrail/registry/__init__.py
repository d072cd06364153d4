"""The model registry: the system of record for model versions, aliases and events.

Gap-free version numbers, a validated status lifecycle, compare-and-swap alias moves
with history, idempotent registration. Two stores with the same semantics:
:class:`InMemoryRegistry` and :class:`DynamoDBRegistry`. See docs/registry.md.
"""

from modelrail.registry.dynamodb import DynamoDBRegistry
from modelrail.registry.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidRequest,
    ModelNotFound,
    NotEligible,
    RegistryError,
    StaleAlias,
    StaleRegistration,
    StaleStatus,
    StoreError,
    VersionNotFound,
)
from modelrail.registry.eventbridge import EventBridgeSink
from modelrail.registry.memory import InMemoryRegistry
from modelrail.registry.models import (
    ALIAS_ELIGIBLE,
    INITIAL_STATUSES,
    TRANSITIONS,
    Alias,
    AliasChange,
    AliasName,
    ChampionComparison,
    ComparedWith,
    DataRef,
    EventType,
    GateResult,
    Lineage,
    ModelVersion,
    RegistryEvent,
    StatusChange,
    VersionStatus,
    allowed_transitions,
    check_transition,
    eligibility_problem,
)
from modelrail.registry.port import Clock, EventSink, ModelRegistry

__all__ = [
    "ALIAS_ELIGIBLE",
    "INITIAL_STATUSES",
    "TRANSITIONS",
    "Alias",
    "AliasChange",
    "AliasName",
    "ChampionComparison",
    "Clock",
    "ComparedWith",
    "ConcurrencyConflict",
    "DataRef",
    "DynamoDBRegistry",
    "EventBridgeSink",
    "EventSink",
    "EventType",
    "GateResult",
    "IllegalTransition",
    "InMemoryRegistry",
    "InvalidRequest",
    "Lineage",
    "ModelNotFound",
    "ModelRegistry",
    "ModelVersion",
    "NotEligible",
    "RegistryError",
    "RegistryEvent",
    "StaleAlias",
    "StaleRegistration",
    "StaleStatus",
    "StatusChange",
    "StoreError",
    "VersionNotFound",
    "VersionStatus",
    "allowed_transitions",
    "check_transition",
    "eligibility_problem",
]
