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


def _champion(
    rmse: float,
    challenger: float | None = None,
    *,
    spread: float = 0.5,
    slice_intervals: dict[str, tuple[float, float, float]] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """The champion block the training job writes, with the paired interval of the
    difference against a challenger of rmse ``challenger`` (positive is better: champion
    minus challenger for rmse), ``spread`` either side of the point."""
    block: dict[str, Any] = {
        "version": 3,
        "metrics": {"rmse": rmse, "mae": rmse / 2, "r2": 0.8},
        "slices": _slices(rmse, **kw),
    }
    if challenger is not None:
        point = rmse - challenger
        block["comparison"] = {
            "metric": "rmse",
            "confidence": 0.95,
            "resamples": 1000,
            "rows": 200,
            "point": point,
            "lower": point - spread,
            "upper": point + spread,
            "slices": {
                "store_id": {
                    key: {"rows": 100, "point": pt, "lower": lo, "upper": hi}
                    for key, (pt, lo, hi) in (slice_intervals or {}).items()
                }
            },
        }
    return block


def test_no_champion_passes_on_threshold_and_budgets() -> None:
    decision = evaluate_gate(DEMAND, _evaluation())
    assert decision.passed, decision.reasons
    assert {c.name for c in decision.checks} >= {"primary_threshold", "latency", "size"}


def test_a_challenger_worse_than_the_champion_on_the_same_holdout_is_rejected() -> None:
    decision = evaluate_gate(DEMAND, _evaluation(20.0, champion=_champion(18.0, 20.0)))
    assert not decision.passed
    assert any(
        r.startswith("no significant improvement: rmse 20 against the champion's 18")
        for r in decision.reasons
    )
    assert decision.champion_value == 18.0


def test_a_better_challenger_passes_and_says_so() -> None:
    decision = evaluate_gate(DEMAND, _evaluation(17.0, champion=_champion(18.0, 17.0)))
    assert decision.passed, decision.reasons
    assert "significant improvement: rmse 17 against the champion's 18" in decision.summary()


def test_a_slice_that_regresses_significantly_beyond_tolerance_is_rejected() -> None:
    # S02: 21 against 18 is 16.7% worse (tolerance 15%: -2.7 in rmse); the interval of
    # the difference [-3.6, -2.8] lies below -2.7, so the regression counts.
    champion = _champion(18.0, 17.0, slice_intervals={"S02": (-3.0, -3.6, -2.8)})
    challenger = _evaluation(
        17.0, champion=champion, slices=_slices(17.0, store_rmse={"S02": 21.0})
    )
    decision = evaluate_gate(DEMAND, challenger)
    assert not decision.passed
    (reason,) = decision.reasons
    assert reason == (
        "slice store_id=S02 (100 rows): rmse 21 is 16.7% worse than the champion's 18 "
        "(tolerance 15%); significant: the 95% interval of the difference [-3.6, -2.8] "
        "over 100 rows lies below -2.7"
    )


def test_a_slice_regression_within_the_noise_does_not_count() -> None:
    # The same 16.7% point regression, but the interval reaches above -2.7.
    champion = _champion(18.0, 17.0, slice_intervals={"S02": (-3.0, -5.5, -0.5)})
    challenger = _evaluation(
        17.0, champion=champion, slices=_slices(17.0, store_rmse={"S02": 21.0})
    )
    decision = evaluate_gate(DEMAND, challenger)
    assert decision.passed, decision.reasons
    assert next(c.message for c in decision.checks if c.name == "slices") == (
        "no slice regresses significantly more than 15% (4 judged; 3 without an interval "
        "judged on the point estimate)"
    )


def test_a_slice_without_an_interval_is_judged_on_its_point_estimate() -> None:
    challenger = _evaluation(
        17.0, champion=_champion(18.0, 17.0), slices=_slices(17.0, store_rmse={"S02": 21.0})
    )
    decision = evaluate_gate(DEMAND, challenger)
    assert decision.reasons == (
        "slice store_id=S02 (100 rows): rmse 21 is 16.7% worse than the champion's 18 "
        "(tolerance 15%)",
    )


def test_small_slices_are_reported_not_judged() -> None:
    champion = _champion(18.0, 17.0)
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
    # 10% of the champion's 18: the lower bound must exceed 1.8.
    weak = evaluate_gate(strict, _evaluation(17.0, champion=_champion(18.0, 17.0)))
    assert not weak.passed
    assert (
        "the lower bound does not exceed the margin 1.8 (min_improvement 10.0%)"
        in (weak.reasons[0])
    )
    champion = _champion(18.0, 15.0)
    assert evaluate_gate(strict, _evaluation(15.0, champion=copy.deepcopy(champion))).passed
