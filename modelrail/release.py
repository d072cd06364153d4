"""Release rules: what a challenger is judged against, and which queued deployment goes out.

**The reference.** A challenger is compared, on its own holdout, with the champion or,
when a newer version is on its way to replace the champion, with that version: the
*pending champion*, the newest version that passed its gates and is registered, awaits
approval, is approved or is deploying. Judging against the champion alone while a better
version is being deployed lets a challenger in that only beats the old champion.

The reference is read at PrepareData (its artifact goes into the training job's champion
channel) and again at Register, in the same consistent read the registration is made
conditional on (``expected_latest``): if it moved meanwhile (another upload registered a
passing version first), a passing challenger is judged again against the new reference
(the pipeline loops back to PrepareData) instead of being registered on stale evidence.
So the versions that pass form a chain, each judged better than the one before it.

**The evidence chain** of a version is the versions it was judged better than, through
its reference, its reference's reference and so on (``Lineage.compared_with``).

**The deployment queue.** An automated deployment (the pipeline's) of version V:

* is *superseded* when a newer approved version W has V in its evidence chain: W beat V,
  W goes out instead, V ends SUPERSEDED naming W;
* is *stale* when the champion is not in V's evidence chain (the champion changed in a way
  V was never compared with, e.g. an explicit deployment of another version): V ends
  SUPERSEDED saying so; an explicit ``modelrail deploy`` can still send it out;
* otherwise waits for the endpoint's lock (modelrail.deploy.plan), re-checking the two
  rules above on every look, and gives up after a bounded number of looks (FAILED).

An operator's explicit deployment skips the queue rules: a person chose that version.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelrail.registry.models import (
    AliasName,
    ComparedWith,
    ModelVersion,
    ReferenceRole,
    VersionStatus,
)
from modelrail.registry.port import ModelRegistry

S = VersionStatus
#: Who the training pipeline's deployments are requested by (infra passes it).
PIPELINE = "pipeline"
#: Statuses of a version on its way to replace the champion.
PENDING: frozenset[VersionStatus] = frozenset(
    {S.REGISTERED, S.PENDING_APPROVAL, S.APPROVED, S.DEPLOYING}
)
#: How many judgements a training run may make before it gives up: each new round is
#: caused by another upload registering a passing version first.
MAX_ROUNDS = 5
#: How far back (versions) the reference and chains are looked for.
SCAN_VERSIONS = 200


class ReferenceKeptMoving(Exception):
    """Other runs kept registering passing versions first; nothing was registered."""


@dataclass(frozen=True)
class Reference:
    """The version a challenger is judged against (None: nothing to beat)."""

    version: ModelVersion | None
    role: ReferenceRole
    champion: int | None
    reason: str

    @property
    def number(self) -> int | None:
        return None if self.version is None else self.version.version

    def compared_with(self) -> ComparedWith:
        return ComparedWith(
            version=self.number, role=self.role, champion=self.champion, reason=self.reason
        )


def comparison_reference(
    registry: ModelRegistry, model: str, *, exclude_job: str | None = None
) -> Reference:
    """The pending champion, else the champion, else nothing (see the module docstring).

    ``exclude_job``: a training job whose own version (a retried registration) is never
    its own reference.
    """
    champion = registry.resolve_alias(model, AliasName.CHAMPION)
    number = None if champion is None else champion.version
    for candidate in _versions(registry, model):
        if number is not None and candidate.version <= number:
            break
        if candidate.lineage.training_job_name == exclude_job:
            continue
        if candidate.gates_passed and candidate.status in PENDING:
            goal = "become the first champion" if number is None else f"replace champion v{number}"
            return Reference(
                candidate,
                "pending_champion",
                number,
                f"v{candidate.version} is {candidate.status.value}, on its way to {goal}",
            )
    if champion is not None:
        return Reference(champion, "champion", number, f"v{number} is the champion")
    return Reference(None, "none", None, "no champion and no version on its way to become one")


def _versions(registry: ModelRegistry, model: str) -> list[ModelVersion]:
    return registry.list_versions(model, limit=SCAN_VERSIONS, newest_first=True)


def reference_link(version: ModelVersion) -> int | None:
    """The version ``version`` was judged against (records made before ``compared_with``
    existed: the champion at training)."""
    compared = version.lineage.compared_with
    if compared is not None:
        return compared.version
    return version.lineage.champion_at_training


def evidence_chain(registry: ModelRegistry, version: ModelVersion) -> list[int]:
    """The versions ``version`` was judged better than, nearest first."""
    chain: list[int] = []
    current = version
    while (link := reference_link(current)) is not None and link not in chain:
        if len(chain) >= SCAN_VERSIONS:
            break
        chain.append(link)
        current = registry.get_version(version.model, link)
    return chain


@dataclass(frozen=True)
class QueueVerdict:
    """What the deployment queue says of an automated deployment: ``deploy``, or
    ``superseded`` with the reason (the version then ends SUPERSEDED)."""

    action: str
    reason: str
    by: int | None = None


def _approved(candidate: ModelVersion, *, require_approval: bool) -> bool:
    statuses = {S.APPROVED, S.DEPLOYING, S.PRODUCTION, S.ARCHIVED}
    if not require_approval:
        statuses.add(S.REGISTERED)  # approved automatically when its deployment plans
    return candidate.gates_passed and candidate.status in statuses


def queue_verdict(
    registry: ModelRegistry, entity: ModelVersion, *, require_approval: bool
) -> QueueVerdict:
    """Superseded by a newer approved version that beat it, stale, or free to deploy."""
    label = f"v{entity.version}"
    for newer in _versions(registry, entity.model):
        if newer.version <= entity.version:
            break
        if _approved(newer, require_approval=require_approval) and entity.version in (
            chain := evidence_chain(registry, newer)
        ):
            via = "" if chain[0] == entity.version else f" ({_path(newer, chain, entity)})"
            return QueueVerdict(
                "superseded",
                f"superseded by v{newer.version}, which was judged better than {label}{via} "
                f"and is {newer.status.value}",
                newer.version,
            )
    champion = registry.get_alias(entity.model, AliasName.CHAMPION)
    if champion is None or champion.version == entity.version:
        return QueueVerdict("deploy", "no champion to be compared with" if champion is None else "")
    chain = evidence_chain(registry, entity)
    if champion.version in chain:
        return QueueVerdict("deploy", f"judged better than champion v{champion.version}")
    judged = ", ".join(f"v{n}" for n in chain) or "no version"
    return QueueVerdict(
        "superseded",
        f"its evidence is stale: {label} was judged against {judged}, and the champion is "
        f"now v{champion.version}, which it was never compared with; retrain it, or deploy "
        "it explicitly with modelrail deploy",
    )


def _path(newer: ModelVersion, chain: list[int], entity: ModelVersion) -> str:
    upto = [newer.version, *chain[: chain.index(entity.version) + 1]]
    return " > ".join(f"v{n}" for n in upto)
