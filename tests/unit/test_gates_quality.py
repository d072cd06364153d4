"""The contract's quality policy: champion on the same holdout, slices, budgets."""

from __future__ import annotations

import copy
from typing import Any

from modelrail.contract import load_contract
from modelrail.gates import evaluate_gate

DEMAND = load_contract("demand")  # rmse <= 25, slices store_id/product_category, 15%, 100 ms, 50 MB


def _evaluation(rmse: float = 18.0, *, champion: Any = None, slices: Any = None) -> dict[str, Any]:
    return {
        "model": "demand",
        "primary_metric": {
            "name": "rmse",
            "value": rmse,
            "threshold": 25.0,
            "greater_is_better": False,
        },
        "metrics": {"rmse": rmse, "mae": rmse / 2, "r2": 0.8},
        "slices": slices if slices is not None else _slices(rmse),
        "latency_ms": {"single_p50": 2.0, "single_p95": 4.0},
        "model_size_bytes": 400_000,
        "champion": champion,
    }


def _slices(
    rmse: float, *, store_rmse: dict[str, float] | None = None, rows: int = 100
) -> dict[str, Any]:
    stores = {f"S0{i}": rmse for i in range(1, 4)} | (store_rmse or {})
    return {
        "store_id": {k: {"rows": rows, "metrics": {"rmse": v}} for k, v in stores.items()},
        "product_category": {"grocery": {"rows": rows, "metrics": {"rmse": rmse}}},
    }


def _champion(rmse: float, **kw: Any) -> dict[str, Any]:
    return {
        "version": 3,
        "metrics": {"rmse": rmse, "mae": rmse / 2, "r2": 0.8},
        "slices": _slices(rmse, **kw),
    }


def test_no_champion_passes_on_threshold_and_budgets() -> None:
    decision = evaluate_gate(DEMAND, _evaluation())
    assert decision.passed, decision.reasons
    assert {c.name for c in decision.checks} >= {"primary_threshold", "latency", "size"}


def test_a_challenger_worse_than_the_champion_on_the_same_holdout_is_rejected() -> None:
    decision = evaluate_gate(DEMAND, _evaluation(20.0, champion=_champion(18.0)))
    assert not decision.passed
    assert any("does not beat the champion's 18" in r for r in decision.reasons)
    assert decision.champion_value == 18.0


def test_a_better_challenger_passes_and_says_so() -> None:
    decision = evaluate_gate(DEMAND, _evaluation(17.0, champion=_champion(18.0)))
    assert decision.passed, decision.reasons
    assert "champion's 18" in decision.summary()


def test_a_slice_that_regresses_beyond_tolerance_is_rejected_even_if_the_total_improves() -> None:
    challenger = _evaluation(
        17.0, champion=_champion(18.0), slices=_slices(17.0, store_rmse={"S02": 21.0})
    )
    decision = evaluate_gate(DEMAND, challenger)
    assert not decision.passed
    (reason,) = decision.reasons
    assert reason.startswith(
        "slice store_id=S02 (100 rows): rmse 21 is 16.7% worse than the champion's 18"
    )


def test_small_slices_are_reported_not_judged() -> None:
    champion = _champion(18.0)
    challenger = _evaluation(
        17.0, champion=champion, slices=_slices(17.0, store_rmse={"S02": 40.0}, rows=5)
    )
    decision = evaluate_gate(DEMAND, challenger)
    assert decision.passed
    assert "slice(s) under 20 rows not judged" in next(
        c.message for c in decision.checks if c.name == "slices"
    )


def test_budgets_fail_with_the_measured_value() -> None:
    slow = _evaluation()
    slow["latency_ms"] = {"single_p95": 175.5}
    slow["model_size_bytes"] = 80_000_000
    decision = evaluate_gate(DEMAND, slow)
    assert decision.reasons == (
        "p95 single-row latency 175.5 ms over the 100 ms budget",
        "model size 80 MB over the 50 MB budget",
    )


def test_missing_measurements_are_failures_not_passes() -> None:
    bare = _evaluation()
    del bare["latency_ms"], bare["model_size_bytes"]
    assert evaluate_gate(DEMAND, bare).reasons == (
        "latency_ms.single_p95 is missing",
        "model_size_bytes is missing",
    )


def test_a_champion_that_could_not_be_scored_blocks_the_challenger() -> None:
    decision = evaluate_gate(DEMAND, _evaluation(champion={"error": "cannot unpickle"}))
    assert not decision.passed
    assert decision.reasons == (
        "the champion could not be evaluated on the holdout: cannot unpickle",
    )


def test_the_margin_comes_from_the_contract() -> None:
    strict = DEMAND.model_copy(
        update={"quality": DEMAND.quality.model_copy(update={"min_improvement": 0.1})}
    )
    champion = _champion(18.0)
    assert not evaluate_gate(strict, _evaluation(17.0, champion=copy.deepcopy(champion))).passed
    assert evaluate_gate(strict, _evaluation(16.0, champion=champion)).passed
