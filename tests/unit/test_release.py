"""The release rules (modelrail.release) over the in-memory registry: the reference a
challenger is judged against, evidence chains, and the deployment queue's verdicts."""

from __future__ import annotations

import pytest

from modelrail.registry import AliasName, ComparedWith, InMemoryRegistry, VersionStatus
from modelrail.release import comparison_reference, evidence_chain, queue_verdict
from tests.conftest_registry import TickClock, gates, lineage

MODEL = "demand"
S = VersionStatus


class Book:
    """A registry with versions made the way the pipeline makes them."""

    def __init__(self) -> None:
        self.registry = InMemoryRegistry(clock=TickClock())

    def add(
        self,
        status: S = S.REGISTERED,
        *,
        judged_against: int | None = None,
        passed: bool = True,
    ) -> int:
        n = len(self.registry.list_versions(MODEL, limit=1000)) + 1
        compared = ComparedWith(
            version=judged_against,
            role="none" if judged_against is None else "pending_champion",
            reason="test",
        )
        self.registry.register_version(
            MODEL,
            metrics={"rmse": 10.0},
            lineage=lineage(f"job-{n}", compared_with=compared),
            gates=gates(passed),
            created_by="pipeline",
            status=S.REGISTERED if passed else S.REJECTED,
        )
        for step in _path_to(status) if passed else []:
            self.registry.transition(MODEL, n, step, by="t", reason="test")
        return n

    def crown(self, version: int) -> None:
        current = self.registry.get_alias(MODEL, AliasName.CHAMPION)
        self.registry.move_alias(
            MODEL,
            AliasName.CHAMPION,
            to_version=version,
            expected_version=None if current is None else current.version,
            by="t",
            reason="test",
        )

    def status(self, version: int) -> S:
        return self.registry.get_version(MODEL, version).status


def _path_to(status: S) -> list[S]:
    paths = {
        S.REGISTERED: [],
        S.PENDING_APPROVAL: [S.PENDING_APPROVAL],
        S.APPROVED: [S.APPROVED],
        S.DEPLOYING: [S.APPROVED, S.DEPLOYING],
        S.PRODUCTION: [S.APPROVED, S.DEPLOYING, S.PRODUCTION],
        S.ROLLED_BACK: [S.APPROVED, S.DEPLOYING, S.ROLLED_BACK],
        S.ARCHIVED: [S.APPROVED, S.DEPLOYING, S.PRODUCTION, S.ARCHIVED],
        S.REJECTED: [S.REJECTED],
    }
    return paths[status]


@pytest.fixture
def book() -> Book:
    return Book()


# -- the reference ------------------------------------------------------------------------


def test_with_nothing_registered_there_is_nothing_to_beat(book: Book) -> None:
    reference = comparison_reference(book.registry, MODEL)
    assert reference.version is None and reference.role == "none"
    assert "no champion" in reference.reason


def test_the_champion_is_the_reference_when_nothing_is_on_its_way(book: Book) -> None:
    one = book.add(S.PRODUCTION)
    book.crown(one)
    book.add(passed=False)  # a rejected challenger is never a reference
    reference = comparison_reference(book.registry, MODEL)
    assert (reference.number, reference.role, reference.champion) == (1, "champion", 1)


@pytest.mark.parametrize("status", [S.REGISTERED, S.PENDING_APPROVAL, S.APPROVED, S.DEPLOYING])
def test_a_newer_passing_version_on_its_way_is_the_pending_champion(book: Book, status: S) -> None:
    book.crown(book.add(S.PRODUCTION))
    two = book.add(status, judged_against=1)
    reference = comparison_reference(book.registry, MODEL)
    assert (reference.number, reference.role, reference.champion) == (two, "pending_champion", 1)
    assert reference.reason == f"v2 is {status.value}, on its way to replace champion v1"
    assert reference.compared_with().version == 2


@pytest.mark.parametrize("status", [S.ROLLED_BACK, S.REJECTED])
def test_a_version_turned_down_is_not_on_its_way(book: Book, status: S) -> None:
    book.crown(book.add(S.PRODUCTION))
    book.add(S.APPROVED, judged_against=1)
    book.add(status, judged_against=2)
    assert comparison_reference(book.registry, MODEL).number == 2


def test_the_newest_pending_version_wins_and_a_run_never_references_itself(book: Book) -> None:
    book.add(S.DEPLOYING)
    book.add(S.REGISTERED, judged_against=1)
    first = comparison_reference(book.registry, MODEL)
    assert (first.number, first.role) == (2, "pending_champion")
    assert "become the first champion" in first.reason
    assert comparison_reference(book.registry, MODEL, exclude_job="job-2").number == 1


def test_an_archived_or_older_version_behind_the_champion_is_never_pending(book: Book) -> None:
    book.add(S.APPROVED)  # v1: approved but older than the champion
    book.crown(book.add(S.PRODUCTION))
    assert comparison_reference(book.registry, MODEL).number == 2


# -- evidence chains ------------------------------------------------------------------------


def test_the_evidence_chain_follows_the_references(book: Book) -> None:
    book.add(S.PRODUCTION)
    book.add(S.ROLLED_BACK, judged_against=1)
    book.add(S.APPROVED, judged_against=2)
    assert evidence_chain(book.registry, book.registry.get_version(MODEL, 3)) == [2, 1]
    assert evidence_chain(book.registry, book.registry.get_version(MODEL, 1)) == []


def test_a_record_without_compared_with_links_to_its_champion_at_training(book: Book) -> None:
    book.add(S.PRODUCTION)
    book.registry.register_version(
        MODEL, metrics={"rmse": 9.0}, lineage=lineage("old", champion_at_training=1),
        gates=gates(), created_by="t",
    )  # fmt: skip
    assert evidence_chain(book.registry, book.registry.get_version(MODEL, 2)) == [1]


# -- the deployment queue ------------------------------------------------------------------


def test_a_newer_approved_version_that_beat_it_supersedes_a_queued_one(book: Book) -> None:
    book.crown(book.add(S.PRODUCTION))
    two = book.add(S.APPROVED, judged_against=1)
    book.add(S.APPROVED, judged_against=2)
    verdict = queue_verdict(
        book.registry, book.registry.get_version(MODEL, two), require_approval=True
    )
    assert (verdict.action, verdict.by) == ("superseded", 3)
    assert "superseded by v3, which was judged better than v2" in verdict.reason


def test_supersession_reaches_through_the_chain(book: Book) -> None:
    book.crown(book.add(S.PRODUCTION))
    book.add(S.APPROVED, judged_against=1)
    book.add(S.ROLLED_BACK, judged_against=2)
    book.add(S.APPROVED, judged_against=3)
    verdict = queue_verdict(
        book.registry, book.registry.get_version(MODEL, 2), require_approval=True
    )
    assert verdict.by == 4 and "(v4 > v3 > v2)" in verdict.reason


def test_a_newer_version_awaiting_approval_does_not_supersede(book: Book) -> None:
    book.crown(book.add(S.PRODUCTION))
    two = book.registry.get_version(MODEL, book.add(S.APPROVED, judged_against=1))
    book.add(S.PENDING_APPROVAL, judged_against=2)
    assert queue_verdict(book.registry, two, require_approval=True).action == "deploy"


def test_registered_counts_as_approved_where_no_approval_is_needed(book: Book) -> None:
    book.crown(book.add(S.PRODUCTION))
    two = book.registry.get_version(MODEL, book.add(S.APPROVED, judged_against=1))
    book.add(S.REGISTERED, judged_against=2)
    assert queue_verdict(book.registry, two, require_approval=True).action == "deploy"
    assert queue_verdict(book.registry, two, require_approval=False).by == 3


def test_a_newer_version_not_judged_against_it_does_not_supersede(book: Book) -> None:
    book.crown(book.add(S.PRODUCTION))
    two = book.registry.get_version(MODEL, book.add(S.APPROVED, judged_against=1))
    book.add(S.APPROVED, judged_against=1)  # a branch: judged against the champion only
    verdict = queue_verdict(book.registry, two, require_approval=True)
    assert verdict.action == "deploy" and verdict.reason == "judged better than champion v1"


def test_evidence_that_misses_the_champion_is_stale(book: Book) -> None:
    book.add(S.PRODUCTION)  # v1
    two = book.registry.get_version(MODEL, book.add(S.APPROVED))  # judged against nothing
    book.crown(1)  # v1 became champion after v2 was judged
    verdict = queue_verdict(book.registry, two, require_approval=True)
    assert verdict.action == "superseded" and verdict.by is None
    assert "evidence is stale" in verdict.reason and "champion is now v1" in verdict.reason
    assert "modelrail deploy" in verdict.reason


def test_without_a_champion_any_passing_version_may_go_out(book: Book) -> None:
    one = book.registry.get_version(MODEL, book.add(S.APPROVED))
    assert queue_verdict(book.registry, one, require_approval=True).action == "deploy"
