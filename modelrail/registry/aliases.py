"""The champion and previous aliases: promotion and rollback, in one place.

Used by ``modelrail registry promote|rollback`` and by the FinishDeployment Lambda, so a
pointer move means the same whatever moved it.

**promote** moves ``champion`` to VERSION by compare-and-swap: the move only happens if
the champion is still the version the caller expects (``expected``; by default the
champion read just before the move). After the champion moved, ``previous`` follows to
the version that was champion (again by compare-and-swap), so a rollback has a
known-good target. It is left where it is when there was no champion, when VERSION
already was the champion, or when the old champion may not be ``previous`` (its status
is not alias-eligible); :attr:`Promotion.note` says which. A failed ``previous`` move
after a successful champion move raises :class:`PreviousNotUpdated`: the champion alias
history is the authoritative record either way.

**rollback** moves ``champion`` back to the version ``previous`` points at, by
compare-and-swap on the champion it read, with the reason recorded as ``rollback from
vA to vB: …``. ``previous`` is deliberately *not* moved to the version rolled back
from: that is the version just judged bad, and pointing ``previous`` at it would make
the next rollback return to it. So after a rollback ``previous`` equals the champion,
and a second rollback has nothing to do until a promotion sets ``previous`` again.
:func:`roll_back_to` is the same champion-only move to a named version (a deployment
of the previous version is a rollback).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from modelrail.registry.errors import ModelNotFound, RegistryError
from modelrail.registry.models import Alias, AliasName, check_text, eligibility_problem
from modelrail.registry.port import ModelRegistry

CHAMPION = AliasName.CHAMPION
PREVIOUS = AliasName.PREVIOUS


class NothingToRollBack(RegistryError):
    """A rollback has no target: no champion, no ``previous``, or ``previous`` is the champion."""

    def __init__(self, model: str, why: str) -> None:
        self.model = model
        self.why = why
        super().__init__(f"nothing to roll back for {model!r}: {why}")


class PreviousNotUpdated(RegistryError):
    """The champion moved, but moving ``previous`` to the old champion failed."""

    def __init__(self, model: str, version: int, old: int, cause: RegistryError) -> None:
        self.model = model
        self.version = version
        self.old = old
        self.cause = cause
        super().__init__(
            f"champion of {model!r} is now v{version}, but previous was not moved to v{old}: "
            f"{cause}"
        )


class _Read(Enum):
    CHAMPION = "read the champion"


#: ``promote(expected=READ_CHAMPION)``: expect the champion as read just before the move.
READ_CHAMPION = _Read.CHAMPION


@dataclass(frozen=True)
class Promotion:
    model: str
    version: int
    old_champion: int | None
    champion: Alias
    previous: Alias | None
    previous_from: int | None
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "champion": {
                "from": self.old_champion,
                "to": self.champion.version,
                "revision": self.champion.revision,
            },
            "previous": None
            if self.previous is None
            else {
                "from": self.previous_from,
                "to": self.previous.version,
                "revision": self.previous.revision,
            },
            "note": self.note,
            "redeployed": False,
        }


def promote(
    registry: ModelRegistry,
    model: str,
    version: int,
    *,
    by: str,
    reason: str,
    expected: int | Literal[_Read.CHAMPION] | None = READ_CHAMPION,
) -> Promotion:
    """Compare-and-swap ``champion`` to ``version``, then ``previous`` to the old champion.

    Raises StaleAlias when the champion is not ``expected`` (nothing moved) and
    PreviousNotUpdated when only the champion moved.
    """
    check_text("reason", reason)
    previous_reason = f"replaced as champion by v{version}: {reason}"
    check_text("reason", previous_reason)  # refuse before the first write, not between
    if expected is READ_CHAMPION:
        current = registry.get_alias(model, CHAMPION)
        old = None if current is None else current.version
    else:
        old = expected
    champion = registry.move_alias(
        model, CHAMPION, to_version=version, expected_version=old, by=by, reason=reason
    )
    # The swap succeeded, so the champion was exactly `old` until now.
    if old is None:
        return Promotion(model, version, old, champion, None, None, "there was no champion")
    if old == version:
        return Promotion(
            model, version, old, champion, None, None, f"v{version} already was the champion"
        )
    problem = eligibility_problem(registry.get_version(model, old), PREVIOUS)
    if problem is not None:
        note = f"previous not moved: v{old} may not be previous ({problem})"
        return Promotion(model, version, old, champion, None, None, note)
    current_previous = registry.get_alias(model, PREVIOUS)
    previous_from = None if current_previous is None else current_previous.version
    try:
        previous = registry.move_alias(
            model,
            PREVIOUS,
            to_version=old,
            expected_version=previous_from,
            by=by,
            reason=previous_reason,
        )
    except RegistryError as exc:
        raise PreviousNotUpdated(model, version, old, exc) from exc
    return Promotion(model, version, old, champion, previous, previous_from, None)


@dataclass(frozen=True)
class Rollback:
    model: str
    from_version: int
    champion: Alias

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "champion": {
                "from": self.from_version,
                "to": self.champion.version,
                "revision": self.champion.revision,
            },
            "previous": {"version": self.champion.version, "moved": False},
            "redeployed": False,
        }


def rollback_target(registry: ModelRegistry, model: str) -> tuple[int, int]:
    """(champion, previous) when a rollback is possible, else NothingToRollBack."""
    if registry.latest_version(model) is None:
        raise ModelNotFound(model)
    champion = registry.get_alias(model, CHAMPION)
    previous = registry.get_alias(model, PREVIOUS)
    if champion is None:
        raise NothingToRollBack(model, "no champion is set")
    if previous is None:
        raise NothingToRollBack(model, f"the champion is v{champion.version} and previous is unset")
    if previous.version == champion.version:
        raise NothingToRollBack(
            model,
            f"previous is v{previous.version}, which already is the champion "
            "(a rollback does not set previous); promote a specific version instead",
        )
    return champion.version, previous.version


def rollback_reason(old: int, new: int, reason: str) -> str:
    """The champion alias reason of a rollback; an already-worded one is kept."""
    return reason if reason.startswith("rollback") else f"rollback from v{old} to v{new}: {reason}"


def roll_back_to(
    registry: ModelRegistry, model: str, version: int, *, expected: int, by: str, reason: str
) -> Rollback:
    """Compare-and-swap ``champion`` from ``expected`` to ``version``; ``previous`` stays.
    ``reason`` is recorded as given (see :func:`rollback_reason`)."""
    moved = registry.move_alias(
        model, CHAMPION, to_version=version, expected_version=expected, by=by, reason=reason
    )
    return Rollback(model, expected, moved)


def rollback(registry: ModelRegistry, model: str, *, by: str, reason: str) -> Rollback:
    """Compare-and-swap ``champion`` back to ``previous`` (see the module docstring)."""
    check_text("reason", reason)
    champion, previous = rollback_target(registry, model)
    worded = f"rollback from v{champion} to v{previous}: {reason}"
    return roll_back_to(registry, model, previous, expected=champion, by=by, reason=worded)
