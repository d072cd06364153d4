"""The champion comparison decided on the paired bootstrap interval (docs/decisions.md D39),
and the contract's improvement_confidence."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelrail.contract import ContractError, QualityPolicy, load_contract, parse_contract
from modelrail.gates import GatePolicy, evaluate_gate

DEMAND = load_contract("demand").model_copy(update={"quality": QualityPolicy(), "slices": ()})
CHURN = load_contract("churn").model_copy(update={"quality": QualityPolicy(), "slices": ()})


def _evaluation(
    contract: Any, value: float, champion: float, lower: float, upper: float, /, **extra: Any
) -> dict[str, Any]:
    """An evaluation whose champion block has a comparison; ``extra`` overrides its keys."""
    metric = contract.primary_metric
    point = (value - champion) if metric.greater_is_better else (champion - value)
    comparison = {
        "metric": metric.name,
        "confidence": 0.95,
        "resamples": 1000,
        "rows": 200,
        "point": point,
        "lower": lower,
        "upper": upper,
    } | extra
    return {
        "model": contract.name,
        "primary_metric": {"name": metric.name, "value": value},
        "metrics": {m: 0.5 for m in contract.secondary_metrics} | {metric.name: value},
        "champion": {"version": 2, "metrics": {metric.name: champion}, "comparison": comparison},
    }


def _champion_check(decision: Any) -> Any:
    return next(c for c in decision.checks if c.name == "champion")


def test_a_tie_is_no_significant_improvement() -> None:
    decision = evaluate_gate(DEMAND, _evaluation(DEMAND, 20.0, 20.0, 0.0, 0.0))
    assert not decision.passed
    assert decision.reasons == (
        "no significant improvement: rmse 20 against the champion's 20: difference +0 "
        "(positive is better), 95% interval [+0, +0] over 200 paired holdout rows (1000 "
        "resamples); the lower bound does not exceed the margin 0 (min_improvement 0.0%)",
    )
    interval = decision.comparison
    assert interval is not None and not interval.significant
    assert (interval.lower, interval.upper, interval.rows, interval.resamples) == (0, 0, 200, 1000)


def test_an_interval_containing_the_margin_is_rejected() -> None:
    decision = evaluate_gate(DEMAND, _evaluation(DEMAND, 19.0, 20.0, -0.4, 2.4))
    assert not decision.passed
    assert decision.reasons[0].startswith("no significant improvement: rmse 19 against")
    assert "95% interval [-0.4, +2.4] over 200 paired holdout rows" in decision.reasons[0]


def test_a_lower_bound_equal_to_the_margin_is_not_enough() -> None:
    assert not evaluate_gate(DEMAND, _evaluation(DEMAND, 19.0, 20.0, 0.0, 2.0)).passed


def test_a_clearly_better_challenger_is_promoted_with_its_evidence() -> None:
    decision = evaluate_gate(CHURN, _evaluation(CHURN, 0.86, 0.80, 0.03, 0.09))
    assert decision.passed, decision.reasons
    check = _champion_check(decision)
    assert check.message == (
        "significant improvement: roc_auc 0.86 against the champion's 0.8: difference +0.06 "
        "(positive is better), 95% interval [+0.03, +0.09] over 200 paired holdout rows "
        "(1000 resamples); the lower bound exceeds the margin 0 (min_improvement 0.0%)"
    )
    assert check.interval == decision.comparison
    assert decision.comparison is not None and decision.comparison.significant
    assert "significant improvement" in decision.summary()


def test_the_margin_is_min_improvement_of_the_champion_in_metric_units() -> None:
    policy = GatePolicy(min_improvement=0.1)  # of rmse 20: 2.0
    assert evaluate_gate(DEMAND, _evaluation(DEMAND, 17.0, 20.0, 2.1, 3.9), policy=policy).passed
    decision = evaluate_gate(DEMAND, _evaluation(DEMAND, 17.0, 20.0, 1.9, 4.1), policy=policy)
    assert "does not exceed the margin 2 (min_improvement 10.0%)" in decision.reasons[0]
    assert _champion_check(decision).threshold == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            {"metric": "mae"},
            "the champion's comparison is for 'mae', not 'rmse'",
        ),
        (
            {"confidence": 0.9},
            "the champion's comparison has confidence 0.9, the contract requires 0.95",
        ),
        ({"resamples": 0}, "the champion's comparison has 0 resamples"),
        (
            {"lower": 3.0, "upper": 1.0},
            "the champion's comparison cannot be used: its lower bound 3 is above its upper "
            "bound 1",
        ),
        (
            {"upper": float("nan")},
            "the champion's comparison cannot be used: its 'upper' is not finite (nan)",
        ),
        ({"rows": 0}, "the champion's comparison cannot be used: its 'rows' is 0"),
        (
            {"point": -1.0},
            "the comparison's difference -1 is not rmse 19 against the champion's 20 (+1)",
        ),
    ],
)
def test_an_unusable_comparison_rejects_with_its_problem(extra: Any, reason: str) -> None:
    decision = evaluate_gate(DEMAND, _evaluation(DEMAND, 19.0, 20.0, 0.5, 1.5, **extra))
    assert decision.reasons == (f"no significant improvement can be shown: {reason}",)


def test_a_higher_confidence_than_required_is_accepted() -> None:
    ev = _evaluation(DEMAND, 19.0, 20.0, 0.5, 1.5, confidence=0.99)
    assert evaluate_gate(DEMAND, ev).passed


def test_the_contract_sets_the_confidence() -> None:
    strict = DEMAND.model_copy(update={"quality": QualityPolicy(improvement_confidence=0.99)})
    decision = evaluate_gate(strict, _evaluation(DEMAND, 19.0, 20.0, 0.5, 1.5))
    assert decision.reasons == (
        "no significant improvement can be shown: the champion's comparison has confidence "
        "0.95, the contract requires 0.99",
    )


@settings(max_examples=200, deadline=None)
@given(
    lower=st.floats(-10, 10),
    width=st.floats(0, 10),
    raise_by=st.floats(0, 10),
    margin=st.floats(0, 0.5),
)
def test_a_higher_lower_bound_never_does_worse(
    lower: float, width: float, raise_by: float, margin: float
) -> None:
    policy = GatePolicy(min_improvement=margin)
    before = evaluate_gate(
        DEMAND, _evaluation(DEMAND, 19.0, 20.0, lower, lower + width), policy=policy
    )
    after = evaluate_gate(
        DEMAND,
        _evaluation(DEMAND, 19.0, 20.0, lower + raise_by, lower + raise_by + width),
        policy=policy,
    )
    assert not before.passed or after.passed
    assert before.passed == (lower > margin * 20.0)


# ------------------------------------------------------------------ contract validation


def test_improvement_confidence_defaults_to_95_percent() -> None:
    assert QualityPolicy().improvement_confidence == 0.95
    assert load_contract("demand").quality.improvement_confidence == 0.95


@pytest.mark.parametrize("confidence", [0.3, 1.0, 0.999])
def test_improvement_confidence_out_of_range_fails_with_the_reason(confidence: float) -> None:
    data = load_contract("demand").model_dump(mode="json")
    data["quality"]["improvement_confidence"] = confidence
    with pytest.raises(ContractError) as raised:
        parse_contract(data, source="demand.yaml")
    assert str(raised.value) == (
        "demand.yaml: invalid contract: quality: Value error, improvement_confidence "
        f"{confidence!r} must be between 0.5 and 0.99: it is the coverage of a two-sided "
        "interval, and above 0.99 its tails rest on fewer than 5 of the training job's "
        "1000 bootstrap resamples"
    )


def test_improvement_confidence_must_be_a_number() -> None:
    data = load_contract("demand").model_dump(mode="json")
    data["quality"]["improvement_confidence"] = "high"
    with pytest.raises(ContractError, match=r"quality\.improvement_confidence: Input should be"):
        parse_contract(data)
