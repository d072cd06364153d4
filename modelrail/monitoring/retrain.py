"""Consider a retraining: read the ledger, decide (:mod:`.policy`), claim, start, record.

The I/O is passed in (a ledger, the holder's execution status, how to start and how to
record), so the same loop runs in the monitoring Lambda, the local cloud and the tests.
"""

from __future__ import annotations

from collections.abc import Callable

from modelrail.monitoring.ledger import RetrainLedger, StaleLedger
from modelrail.monitoring.policy import (
    Decision,
    Evidence,
    HolderStatus,
    RetrainPolicy,
    decide,
    started,
)
from modelrail.registry.errors import StoreError

ATTEMPTS = 5


def consider(
    model: str,
    evidence: Evidence,
    policy: RetrainPolicy,
    *,
    ledger: RetrainLedger,
    holder_status: Callable[[str], HolderStatus],
    start: Callable[[Decision], None],
    record: Callable[[Decision], None],
) -> Decision:
    """Decide on ``evidence``; a start takes the lease by compare-and-swap first (a lost
    race re-reads and re-decides), then ``start`` runs it (idempotent by its name); a
    start or a suppression is handed to ``record``. Returns the decision taken."""
    for _ in range(ATTEMPTS):
        state = ledger.read(model)
        holder: HolderStatus = "ended" if state.lease is None else holder_status(state.lease.holder)
        decision = decide(model, evidence, state, policy, holder=holder)
        if decision.action == "start" and not decision.resume:
            try:
                ledger.write(
                    model,
                    started(state, decision, evidence.now, policy),
                    expected_revision=state.revision,
                )
            except StaleLedger:
                continue
        if decision.action == "start":
            start(decision)
        if decision.action != "none":
            record(decision)
        return decision
    raise StoreError(f"the retraining ledger of {model!r} kept changing; try again")
