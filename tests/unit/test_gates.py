"""The quality gate (modelrail.gates): thresholds, malformed evaluations, the champion."""

from __future__ import annotations

import json
import math
import pickle
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelrail.contract import ModelContract, QualityPolicy, load_contract, parse_contract
from modelrail.gates import (
    SUMMARY_MAX_CHARS,
    GateCheck,
    GateDecision,
    GatePolicy,
    QualityGateRejected,
    evaluate_gate,
)

# rmse <= 25 (lower is better); secondary mae, r2. The contract's latency/size budgets
# and slice policy are tested in test_gates_quality.py; here they are off.
DEMAND = load_contract("demand").model_copy(update={"quality": QualityPolicy(), "slices": ()})
# The point rule from before D39 (a tie passes): the tests of how a champion's value is
# read and how the margin scales use it, as bare champion dicts carry no interval. The
# interval rule the contracts use is tested in test_gates_significance.py.
POINT = GatePolicy(improvement_confidence=None)


def churn() -> ModelContract:
    return parse_contract(
        {
            "name": "churn",
            "problem_type": "binary",
            "target": "churned",
            "columns": [
                {"name": "tenure", "type": "integer"},
                {"name": "churned", "type": "boolean"},
            ],
            "primary_metric": {"name": "accuracy", "threshold": 0.8},
            "secondary_metrics": ["f1"],
        }
    )


def evaluation(
    value: Any = 18.5,
    *,
    model: Any = "demand",
    name: str = "rmse",
    greater_is_better: Any = False,
    metrics: Any = None,
) -> dict[str, Any]:
    return {
        "model": model,
        "primary_metric": {
            "name": name,
            "value": value,
            "threshold": 25.0,
            "greater_is_better": greater_is_better,
        },
        "metrics": {"rmse": value, "mae": 12.25, "r2": 0.81} if metrics is None else metrics,
        "rows": {"train": 800, "holdout": 200},
    }


def churn_eval(value: float) -> dict[str, Any]:
    return {
        "model": "churn",
        "primary_metric": {"name": "accuracy", "value": value, "greater_is_better": True},
        "metrics": {"accuracy": value, "f1": 0.7},
    }


def failing(decision: GateDecision) -> dict[str, str]:
    return {c.name: c.message for c in decision.checks if not c.passed}


# --------------------------------------------------------------------------- passing


def test_a_good_model_passes_every_check() -> None:
    decision = evaluate_gate(DEMAND, evaluation(18.5))
    assert decision.passed
    assert decision.reasons == ()
    assert [c.name for c in decision.checks] == [
        "model",
        "primary_metric",
        "primary_threshold",
        "secondary:mae",
        "secondary:r2",
    ]
    threshold = next(c for c in decision.checks if c.name == "primary_threshold")
    assert threshold.value == 18.5
    assert threshold.threshold == 25.0
    assert decision.value == 18.5
    assert decision.primary_metric == "rmse"
    assert decision.summary() == "demand: quality gate passed: rmse 18.5 <= threshold 25"


def test_exactly_at_the_threshold_passes() -> None:
    assert evaluate_gate(DEMAND, evaluation(25.0)).passed
    assert evaluate_gate(churn(), churn_eval(0.8)).passed


def test_integer_metric_values_are_accepted() -> None:
    assert evaluate_gate(DEMAND, evaluation(20)).passed


# --------------------------------------------------------------------------- thresholds


def test_lower_is_better_threshold_fails_above() -> None:
    decision = evaluate_gate(DEMAND, evaluation(30.25))
    assert not decision.passed
    assert failing(decision) == {
        "primary_threshold": "rmse 30.25 > threshold 25 (lower is better): "
        "the model is not good enough"
    }
    assert decision.reasons == (failing(decision)["primary_threshold"],)


def test_greater_is_better_threshold_fails_below() -> None:
    decision = evaluate_gate(churn(), churn_eval(0.79))
    assert not decision.passed
    assert "accuracy 0.79 < threshold 0.8 (higher is better)" in decision.reasons[0]


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("evaluation_json", "check", "fragment"),
    [
        (evaluation(model="pricing"), "model", "evaluation is for model 'pricing', not 'demand'"),
        (
            {k: v for k, v in evaluation().items() if k != "model"},
            "model",
            "no 'model' field",
        ),
        (
            {k: v for k, v in evaluation().items() if k != "primary_metric"},
            "primary_metric",
            "evaluation has no 'primary_metric' object",
        ),
        (
            evaluation(name="mae"),
            "primary_metric",
            "evaluation's primary metric is 'mae' but the contract's is 'rmse'",
        ),
        (evaluation(float("nan")), "primary_metric", "primary metric 'rmse' is not finite (nan)"),
        (evaluation(float("inf")), "primary_metric", "primary metric 'rmse' is not finite (inf)"),
        (evaluation(None), "primary_metric", "primary metric 'rmse' is missing"),
        (evaluation("18.5"), "primary_metric", "is not a number ('18.5')"),
        (evaluation(True), "primary_metric", "is not a number (True)"),
        (
            evaluation(greater_is_better=True),
            "primary_metric",
            "greater_is_better=True for 'rmse', but rmse is lower-is-better",
        ),
        (
            evaluation(metrics={"rmse": 18.5, "r2": 0.8}),
            "secondary:mae",
            "secondary metric 'mae' is missing",
        ),
        (
            evaluation(metrics={"rmse": 18.5, "mae": 1.0, "r2": float("nan")}),
            "secondary:r2",
            "secondary metric 'r2' is not finite (nan)",
        ),
        (
            evaluation(metrics=[1, 2]),
            "secondary:mae",
            "secondary metric 'mae' is missing: evaluation has no 'metrics' object",
        ),
    ],
)
def test_malformed_evaluations_fail_with_a_specific_check(
    evaluation_json: dict[str, Any], check: str, fragment: str
) -> None:
    decision = evaluate_gate(DEMAND, evaluation_json)
    assert not decision.passed
    assert check in failing(decision), decision.checks
    assert fragment in failing(decision)[check]
    assert fragment in decision.summary()


def test_an_invalid_primary_metric_skips_the_threshold_and_champion_checks() -> None:
    decision = evaluate_gate(DEMAND, evaluation(float("nan")), champion={"rmse": 20.0})
    names = [c.name for c in decision.checks]
    assert "primary_threshold" not in names
    assert "champion" not in names
    assert decision.value is None
    assert list(failing(decision)) == ["primary_metric"]


def test_an_evaluation_that_is_not_an_object_fails() -> None:
    decision = evaluate_gate(DEMAND, [1, 2, 3])  # type: ignore[arg-type]
    assert not decision.passed
    assert decision.reasons == ("evaluation is not a JSON object (list)",)


def test_an_empty_evaluation_lists_every_problem() -> None:
    decision = evaluate_gate(DEMAND, {})
    assert set(failing(decision)) == {"model", "primary_metric", "secondary:mae", "secondary:r2"}


# --------------------------------------------------------------------------- champion


@pytest.mark.parametrize(
    "champion",
    [
        {"rmse": 20.0},
        {"model": "demand", "metrics": {"rmse": 20.0, "mae": 1.0}},
        evaluation(20.0),
    ],
    ids=["bare", "metrics", "evaluation"],
)
def test_champion_shapes(champion: dict[str, Any]) -> None:
    better = evaluate_gate(DEMAND, evaluation(19.0), champion=champion, policy=POINT)
    assert better.passed
    assert better.champion_value == 20.0
    worse = evaluate_gate(DEMAND, evaluation(21.0), champion=champion, policy=POINT)
    assert not worse.passed
    assert failing(worse) == {
        "champion": "rmse 21 does not beat the champion's 20: lower is better and the policy "
        "requires at most 20 (min_improvement 0.0%)"
    }


def test_a_tie_passes_only_under_the_old_point_rule() -> None:
    decision = evaluate_gate(DEMAND, evaluation(20.0), champion={"rmse": 20.0}, policy=POINT)
    assert decision.passed
    assert "rmse 20 is as good as the champion's 20" in decision.summary()


def test_without_a_paired_interval_no_improvement_can_be_shown() -> None:
    decision = evaluate_gate(DEMAND, evaluation(19.0), champion={"rmse": 20.0})
    assert failing(decision) == {
        "champion": "no significant improvement can be shown: the champion has no paired "
        "interval (its 'comparison' is missing)"
    }


def test_min_improvement_is_relative_to_the_champion() -> None:
    policy = GatePolicy(min_improvement=0.5, improvement_confidence=None)
    tie = evaluate_gate(DEMAND, evaluation(20.0), champion={"rmse": 20.0}, policy=policy)
    assert not tie.passed
    assert "requires at most 10 (min_improvement 50.0%)" in tie.reasons[0]
    assert evaluate_gate(DEMAND, evaluation(10.0), champion={"rmse": 20.0}, policy=policy).passed
    champion_check = next(
        c
        for c in evaluate_gate(
            DEMAND, evaluation(10.0), champion={"rmse": 20.0}, policy=policy
        ).checks
        if c.name == "champion"
    )
    assert champion_check.threshold == 10.0


def test_greater_is_better_champion_comparison() -> None:
    policy = GatePolicy(min_improvement=0.25, improvement_confidence=None)
    champion = {"accuracy": 0.8}
    assert evaluate_gate(churn(), churn_eval(1.0), champion=champion, policy=policy).passed
    decision = evaluate_gate(churn(), churn_eval(0.9), champion=champion, policy=policy)
    assert not decision.passed
    assert "higher is better and the policy requires at least 1" in decision.reasons[0]


def test_negative_champion_metrics_use_the_magnitude() -> None:
    contract = DEMAND.model_copy(
        update={"primary_metric": DEMAND.primary_metric.model_copy(update={"name": "r2"})}
    )
    ev = {
        "model": "demand",
        "primary_metric": {"name": "r2", "value": 0.5},
        "metrics": {"mae": 1.0, "r2": 0.5},
    }
    policy = GatePolicy(min_improvement=0.5, improvement_confidence=None)
    # champion r2 -0.4: must reach -0.4 + 0.5 * 0.4 = -0.2
    decision = evaluate_gate(contract, ev, champion={"r2": -0.4}, policy=policy)
    champion_check = next(c for c in decision.checks if c.name == "champion")
    assert champion_check.passed
    assert champion_check.threshold == pytest.approx(-0.2)


def test_a_champion_of_another_model_fails() -> None:
    decision = evaluate_gate(DEMAND, evaluation(), champion=evaluation(10.0, model="pricing"))
    assert failing(decision) == {
        "champion": "the champion's metrics are for model 'pricing', not 'demand'"
    }


def test_an_incomparable_champion_fails_unless_the_policy_allows_it() -> None:
    decision = evaluate_gate(DEMAND, evaluation(), champion={"mae": 3.0})
    assert failing(decision) == {
        "champion": "cannot compare with the champion: its 'rmse' is missing"
    }
    nan = evaluate_gate(DEMAND, evaluation(), champion={"rmse": float("nan")})
    assert "its 'rmse' is not finite (nan)" in nan.reasons[0]
    lenient = GatePolicy(require_comparable_champion=False)
    skipped = evaluate_gate(DEMAND, evaluation(), champion={"mae": 3.0}, policy=lenient)
    assert skipped.passed
    assert "champion" not in [c.name for c in skipped.checks]


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 0"):
        GatePolicy(min_improvement=-0.1)


# --------------------------------------------------------------------------- the decision


def test_decision_round_trips_through_json() -> None:
    decision = evaluate_gate(DEMAND, evaluation(30.0), champion={"rmse": 20.0})
    text = json.dumps(decision.model_dump(mode="json"))
    assert GateDecision.model_validate(json.loads(text)) == decision


def test_decision_rejects_inconsistent_fields() -> None:
    check = GateCheck(name="model", passed=False, message="wrong model")
    with pytest.raises(pydantic.ValidationError, match="passed and reasons must agree"):
        GateDecision(
            model="demand", passed=True, checks=(check,), reasons=(), primary_metric="rmse"
        )
    with pytest.raises(pydantic.ValidationError, match="passed and reasons must agree"):
        GateDecision(
            model="demand",
            passed=False,
            checks=(check,),
            reasons=("another reason",),
            primary_metric="rmse",
        )


def test_summary_names_every_reason() -> None:
    decision = evaluate_gate(DEMAND, {"model": "pricing", "metrics": {}})
    summary = decision.summary()
    assert summary.startswith("demand: quality gate failed (4 reason(s)):")
    for reason in decision.reasons:
        assert reason in summary


def test_summary_is_bounded() -> None:
    checks = tuple(
        GateCheck(name=f"secondary:m{i}", passed=False, message=f"metric number {i} " + "x" * 40)
        for i in range(100)
    )
    decision = GateDecision(
        model="demand",
        passed=False,
        checks=checks,
        reasons=tuple(c.message for c in checks),
        primary_metric="rmse",
    )
    summary = decision.summary()
    assert len(summary) <= SUMMARY_MAX_CHARS
    shown = summary.count("metric number")
    assert 0 < shown < 100
    assert summary.endswith(f"; (+{100 - shown} more)")
    huge = GateCheck(name="model", passed=False, message="y" * 5000)
    one = GateDecision(
        model="demand", passed=False, checks=(huge,), reasons=(huge.message,), primary_metric="rmse"
    )
    assert len(one.summary()) <= SUMMARY_MAX_CHARS
    assert one.summary().endswith("…")


def test_quality_gate_rejected_carries_the_decision() -> None:
    decision = evaluate_gate(DEMAND, evaluation(40.0))
    error = QualityGateRejected(decision)
    assert str(error) == decision.summary()
    assert "rmse 40 > threshold 25" in str(error)
    assert error.decision is decision
    assert type(error).__name__ == "QualityGateRejected"
    copy = pickle.loads(pickle.dumps(error))
    assert copy.decision == decision


# --------------------------------------------------------------------------- properties


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(value=finite, champion=finite, better=st.floats(0, 1e3))
def test_a_better_challenger_never_does_worse(value: float, champion: float, better: float) -> None:
    """Lowering rmse can only turn a failing decision into a passing one."""
    policy = GatePolicy(min_improvement=0.1, improvement_confidence=None)
    worse = evaluate_gate(DEMAND, evaluation(value), champion={"rmse": champion}, policy=policy)
    improved = evaluate_gate(
        DEMAND, evaluation(value - better), champion={"rmse": champion}, policy=policy
    )
    assert not worse.passed or improved.passed


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(finite, st.just(math.nan), st.just(math.inf)))
def test_the_threshold_decision_matches_the_contract(value: float) -> None:
    decision = evaluate_gate(DEMAND, evaluation(value))
    expected = math.isfinite(value) and value <= DEMAND.primary_metric.threshold
    assert decision.passed == expected
