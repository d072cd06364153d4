"""The champion / previous operations in the core (modelrail.registry.aliases): the
same code moves the pointers for `modelrail registry` and for FinishDeployment."""

from __future__ import annotations

import pytest

from modelrail.registry import AliasName, InMemoryRegistry, StaleAlias, VersionStatus
from modelrail.registry.aliases import (
    NothingToRollBack,
    PreviousNotUpdated,
    promote,
    roll_back_to,
    rollback,
    rollback_reason,
)
from modelrail.registry.models import clip_reason
from tests.conftest_registry import gates, lineage

MODEL = "demand"
S = VersionStatus


@pytest.fixture
def registry() -> InMemoryRegistry:
    reg = InMemoryRegistry()
    for n in (1, 2, 3):
        reg.register_version(
            MODEL,
            metrics={"rmse": 20.0 - n},
            lineage=lineage(f"train-{MODEL}-{n}"),
            gates=gates(True),
            created_by="pipeline",
        )
        reg.transition(MODEL, n, S.APPROVED, by="reviewer", reason="ok")
    return reg


def pointers(reg: InMemoryRegistry) -> tuple[int | None, int | None]:
    found = [reg.get_alias(MODEL, name) for name in (AliasName.CHAMPION, AliasName.PREVIOUS)]
    champion, previous = (None if a is None else a.version for a in found)
    return champion, previous


def test_promote_moves_previous_to_the_replaced_champion(registry: InMemoryRegistry) -> None:
    first = promote(registry, MODEL, 1, by="t", reason="first")
    assert (first.old_champion, first.previous, first.note) == (None, None, "there was no champion")
    second = promote(registry, MODEL, 2, by="t", reason="better")
    assert second.previous is not None and second.previous.version == 1
    assert pointers(registry) == (2, 1)
    again = promote(registry, MODEL, 2, by="t", reason="again", expected=2)
    assert again.note == "v2 already was the champion" and pointers(registry) == (2, 1)


def test_a_stale_expectation_moves_nothing(registry: InMemoryRegistry) -> None:
    promote(registry, MODEL, 1, by="t", reason="first")
    with pytest.raises(StaleAlias):
        promote(registry, MODEL, 2, by="t", reason="r", expected=None)
    assert pointers(registry) == (1, None)


def test_an_ineligible_old_champion_is_not_made_previous(registry: InMemoryRegistry) -> None:
    promote(registry, MODEL, 1, by="t", reason="first")
    registry.transition(MODEL, 1, S.FAILED, by="t", reason="broken", expected_status=S.APPROVED)
    moved = promote(registry, MODEL, 2, by="t", reason="replace")
    assert (
        moved.previous is None and moved.note is not None and "v1 may not be previous" in moved.note
    )
    assert pointers(registry) == (2, None)


def test_a_lost_previous_race_is_reported_after_the_champion_moved(
    registry: InMemoryRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    promote(registry, MODEL, 1, by="t", reason="first")
    real = registry.get_alias

    def racing(model: str, alias: AliasName):  # type: ignore[no-untyped-def]
        found = real(model, alias)
        if alias is AliasName.PREVIOUS:  # someone sets previous between the read and the move
            real_move(
                model, AliasName.PREVIOUS, to_version=3, expected_version=None, by="x", reason="x"
            )
        return found

    real_move = registry.move_alias
    monkeypatch.setattr(registry, "get_alias", racing)
    with pytest.raises(PreviousNotUpdated) as caught:
        promote(registry, MODEL, 2, by="t", reason="replace")
    assert (caught.value.version, caught.value.old) == (2, 1)
    monkeypatch.undo()
    assert pointers(registry) == (2, 3)


def test_rollback_moves_the_champion_only_and_once(registry: InMemoryRegistry) -> None:
    promote(registry, MODEL, 1, by="t", reason="first")
    promote(registry, MODEL, 2, by="t", reason="second")
    back = rollback(registry, MODEL, by="t", reason="latency")
    assert (back.from_version, back.champion.version) == (2, 1)
    assert registry.alias_history(MODEL, AliasName.CHAMPION)[-1].reason == (
        "rollback from v2 to v1: latency"
    )
    assert pointers(registry) == (1, 1)
    with pytest.raises(NothingToRollBack):
        rollback(registry, MODEL, by="t", reason="again")


def test_roll_back_to_is_a_compare_and_swap(registry: InMemoryRegistry) -> None:
    promote(registry, MODEL, 1, by="t", reason="first")
    promote(registry, MODEL, 2, by="t", reason="second")
    with pytest.raises(StaleAlias):
        roll_back_to(registry, MODEL, 1, expected=3, by="t", reason="rollback: x")
    assert pointers(registry) == (2, 1)


def test_reasons() -> None:
    assert rollback_reason(2, 1, "alarm fired") == "rollback from v2 to v1: alarm fired"
    assert rollback_reason(2, 1, "rollback requested") == "rollback requested"
    long = "x" * 5000
    assert len(clip_reason(long)) == 2000 and clip_reason(long).endswith("…")
    assert clip_reason("short") == "short"
