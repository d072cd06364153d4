"""The quality gate: may a freshly trained model be registered?

Pure: the contract, the training job's ``evaluation.json`` and, when there is one, the
champion's evaluation in; a typed :class:`GateDecision` out. A malformed evaluation
(missing keys, NaN, another model's file) is a failing check with a specific message,
never an exception, so the state machine always gets a decision to act on.

``evaluation.json`` looks like::

    {"model": "demand",
     "primary_metric": {"name": "rmse", "value": 18.2, "threshold": 25.0,
                        "greater_is_better": false},
     "metrics": {"rmse": 18.2, "mae": 12.9, "r2": 0.81},
     "rows": {"train": 800, "holdout": 200},
     "champion": {"version": 3, "rows": 200, "metrics": {"rmse": 18.9, ...},
                  "slices": {...},
                  "comparison": {"metric": "rmse", "confidence": 0.95, "resamples": 1000,
                                 "rows": 200, "point": 0.7, "lower": -0.4, "upper": 1.8,
                                 "slices": {"store_id": {"S01": {"rows": 20, ...}}}}}}

The champion's ``comparison`` is the training job's paired bootstrap interval of the
primary metric's difference, challenger minus champion and oriented so that positive is
better (docs/decisions.md D39). A challenger replaces a champion only when the interval's
lower bound exceeds the required margin: a tie, or a lead the holdout's noise could
explain, is "no significant improvement".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelrail.contract import ModelContract

SUMMARY_MAX_CHARS = 1000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GatePolicy(_Frozen):
    min_improvement: float = Field(default=0.0, ge=0.0, lt=1.0)
    """How much better than the champion a challenger must be on the primary metric,
    relative to the champion's value: 0.02 means 2% better; 0.0 means better at all."""
    improvement_confidence: float | None = Field(default=0.95, ge=0.5, le=0.99)
    """The confidence the improvement must be shown with: the lower bound of the paired
    interval at this coverage must exceed the margin. ``None`` is the rule before D39
    (the point estimate reaching the margin, a tie passing), kept only so that
    benchmarks/false_promotions.py can measure it; contracts always set a confidence."""
    require_comparable_champion: bool = True
    """When a champion is given but its primary metric is missing or not finite: fail
    (True) or skip the comparison (False)."""


class ImprovementInterval(_Frozen):
    """The evidence a champion comparison was decided on (overall or for one slice)."""

    metric: str
    point: float
    """Challenger minus champion on the holdout, positive when the challenger is better."""
    lower: float
    upper: float
    confidence: float
    resamples: int
    rows: int
    """Holdout rows both models were scored on (the slice's rows for a slice)."""
    margin: float
    """In the metric's units: the lower bound must exceed it (overall), or the upper
    bound must fall below it for a slice to count as a regression (``-tolerance``)."""
    significant: bool
    """Overall: a significant improvement; slice: a significant regression."""


class GateCheck(_Frozen):
    name: str
    passed: bool
    value: float | None = None
    threshold: float | None = None
    message: str
    interval: ImprovementInterval | None = None


class GateDecision(_Frozen):
    model: str
    passed: bool
    checks: tuple[GateCheck, ...]
    reasons: tuple[str, ...]
    """The failing checks' messages, in order."""
    primary_metric: str
    value: float | None = None
    champion_value: float | None = None

    @property
    def comparison(self) -> ImprovementInterval | None:
        """The interval the champion check decided on (None: no champion, or no interval)."""
        return next((c.interval for c in self.checks if c.name == "champion"), None)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        failing = tuple(c.message for c in self.checks if not c.passed)
        if self.passed != (not failing) or self.reasons != failing:
            raise ValueError("passed and reasons must agree with the checks")
        return self

    @classmethod
    def from_checks(
        cls,
        contract: ModelContract,
        checks: list[GateCheck],
        *,
        value: float | None,
        champion_value: float | None,
    ) -> GateDecision:
        failing = tuple(c.message for c in checks if not c.passed)
        return cls(
            model=contract.name,
            passed=not failing,
            checks=tuple(checks),
            reasons=failing,
            primary_metric=contract.primary_metric.name,
            value=value,
            champion_value=champion_value,
        )

    def summary(self) -> str:
        """One line: every failing reason, or what passed (at most 1000 characters)."""
        if self.passed:
            shown = [c.message for c in self.checks if c.name in ("primary_threshold", "champion")]
            return _bounded(f"{self.model}: quality gate passed: " + "; ".join(shown))
        head = f"{self.model}: quality gate failed ({len(self.reasons)} reason(s)):"
        text = head
        for i, reason in enumerate(self.reasons):
            rest = len(self.reasons) - i - 1
            piece = (" " if i == 0 else "; ") + reason
            reserve = len(f"; (+{rest} more)") if rest else 0
            if len(text) + len(piece) + reserve <= SUMMARY_MAX_CHARS:
                text += piece
                continue
            if i == 0:  # even the first reason does not fit: cut it short
                text = _bounded(text + piece, SUMMARY_MAX_CHARS - reserve)
                text += f"; (+{rest} more)" if rest else ""
            else:
                text += f"; (+{len(self.reasons) - i} more)"
            break
        return _bounded(text)


def _bounded(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class QualityGateRejected(Exception):
    """Raised when a model fails its gate, so the Step Functions error name says so."""

    def __init__(self, decision: GateDecision) -> None:
        super().__init__(decision.summary())
        self.decision = decision

    def __reduce__(self) -> tuple[type[QualityGateRejected], tuple[GateDecision]]:
        return (type(self), (self.decision,))


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, bool, string, NaN, inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _describe(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"not a number ({value!r})"
    return f"not finite ({value})"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _check_model(contract: ModelContract, evaluation: Mapping[str, Any]) -> GateCheck:
    model = evaluation.get("model")
    if model == contract.name:
        return GateCheck(name="model", passed=True, message=f"evaluation is for {model!r}")
    message = (
        "evaluation has no 'model' field"
        if model is None
        else f"evaluation is for model {model!r}, not {contract.name!r}"
    )
    return GateCheck(name="model", passed=False, message=message)


def _primary_value(contract: ModelContract, evaluation: Mapping[str, Any]) -> GateCheck:
    """The primary metric is present, is the contract's and is a finite number."""
    metric = contract.primary_metric
    block = evaluation.get("primary_metric")
    name = "primary_metric"
    if not isinstance(block, Mapping):
        return GateCheck(
            name=name, passed=False, message="evaluation has no 'primary_metric' object"
        )
    if block.get("name") != metric.name:
        return GateCheck(
            name=name,
            passed=False,
            message=f"evaluation's primary metric is {block.get('name')!r} but the contract's "
            f"is {metric.name!r}",
        )
    declared = block.get("greater_is_better")
    if declared is not None and declared is not metric.greater_is_better:
        return GateCheck(
            name=name,
            passed=False,
            message=f"evaluation says greater_is_better={declared!r} for {metric.name!r}, "
            f"but {metric.name} is {'higher' if metric.greater_is_better else 'lower'}-is-better",
        )
    value = _number(block.get("value"))
    if value is None:
        return GateCheck(
            name=name,
            passed=False,
            message=f"primary metric {metric.name!r} is {_describe(block.get('value'))}",
        )
    return GateCheck(name=name, passed=True, value=value, message=f"{metric.name} = {_fmt(value)}")


def _threshold(contract: ModelContract, value: float) -> GateCheck:
    metric = contract.primary_metric
    passed = metric.passes(value)
    op = (">=" if passed else "<") if metric.greater_is_better else ("<=" if passed else ">")
    if passed:
        message = f"{metric.name} {_fmt(value)} {op} threshold {_fmt(metric.threshold)}"
    else:
        better = "higher" if metric.greater_is_better else "lower"
        message = (
            f"{metric.name} {_fmt(value)} {op} threshold {_fmt(metric.threshold)} "
            f"({better} is better): the model is not good enough"
        )
    return GateCheck(
        name="primary_threshold",
        passed=passed,
        value=value,
        threshold=metric.threshold,
        message=message,
    )


def _secondary(contract: ModelContract, evaluation: Mapping[str, Any]) -> list[GateCheck]:
    metrics = evaluation.get("metrics")
    checks: list[GateCheck] = []
    for metric in contract.secondary_metrics:
        name = f"secondary:{metric}"
        if not isinstance(metrics, Mapping):
            checks.append(
                GateCheck(
                    name=name,
                    passed=False,
                    message=f"secondary metric {metric!r} is missing: evaluation has no "
                    "'metrics' object",
                )
            )
            continue
        value = _number(metrics.get(metric))
        if value is None:
            checks.append(
                GateCheck(
                    name=name,
                    passed=False,
                    message=f"secondary metric {metric!r} is {_describe(metrics.get(metric))}",
                )
            )
        else:
            checks.append(
                GateCheck(name=name, passed=True, value=value, message=f"{metric} = {_fmt(value)}")
            )
    return checks


def champion_primary_value(contract: ModelContract, champion: Mapping[str, Any]) -> Any:
    """The champion's primary metric from an evaluation-shaped record or a bare
    ``{metric: value}`` dict (``None`` when absent)."""
    metric = contract.primary_metric.name
    block = champion.get("primary_metric")
    if isinstance(block, Mapping) and block.get("name") == metric:
        return block.get("value")
    metrics = champion.get("metrics")
    if isinstance(metrics, Mapping) and metric in metrics:
        return metrics[metric]
    return champion.get(metric)


def _champion(
    contract: ModelContract,
    value: float,
    champion: Mapping[str, Any],
    policy: GatePolicy,
) -> tuple[GateCheck | None, float | None]:
    metric = contract.primary_metric
    other_model = champion.get("model")
    if other_model is not None and other_model != contract.name:
        check = GateCheck(
            name="champion",
            passed=False,
            message=f"the champion's metrics are for model {other_model!r}, not {contract.name!r}",
        )
        return check, None
    raw = champion_primary_value(contract, champion)
    best = _number(raw)
    if best is None:
        if not policy.require_comparable_champion:
            return None, None
        check = GateCheck(
            name="champion",
            passed=False,
            message=f"cannot compare with the champion: its {metric.name!r} is {_describe(raw)}",
        )
        return check, None
    if policy.improvement_confidence is None:
        return _point_rule(contract, value, best, policy), best
    return _interval_rule(contract, value, best, champion, policy), best


def _point_rule(
    contract: ModelContract, value: float, best: float, policy: GatePolicy
) -> GateCheck:
    """The rule before D39: the point estimate reaches the margin (a tie passes)."""
    metric = contract.primary_metric
    margin = policy.min_improvement * abs(best)
    if metric.greater_is_better:
        required = best + margin
        passed = value >= required
        bound = "at least"
    else:
        required = best - margin
        passed = value <= required
        bound = "at most"
    better = "higher" if metric.greater_is_better else "lower"
    policy_note = (
        f"{policy.min_improvement:.1%} better than" if policy.min_improvement else "as good as"
    )
    if passed:
        message = (
            f"{metric.name} {_fmt(value)} is {policy_note} the champion's {_fmt(best)} "
            f"({better} is better)"
        )
    else:
        message = (
            f"{metric.name} {_fmt(value)} does not beat the champion's {_fmt(best)}: "
            f"{better} is better and the policy requires {bound} {_fmt(required)} "
            f"(min_improvement {policy.min_improvement:.1%})"
        )
    return GateCheck(
        name="champion", passed=passed, value=value, threshold=required, message=message
    )


def _signed(value: float) -> str:
    return f"{value:+.4g}"


def _bounds(block: Any) -> tuple[tuple[int, float, float, float] | None, str | None]:
    """(rows, point, lower, upper) of one interval block, or why it cannot be used."""
    if not isinstance(block, Mapping):
        return None, "it is not an object"
    rows = block.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        return None, f"its 'rows' is {rows!r}"
    numbers = []
    for key in ("point", "lower", "upper"):
        number = _number(block.get(key))
        if number is None:
            return None, f"its {key!r} is {_describe(block.get(key))}"
        numbers.append(number)
    point, lower, upper = numbers
    if lower > upper:
        return None, f"its lower bound {_fmt(lower)} is above its upper bound {_fmt(upper)}"
    return (rows, point, lower, upper), None


def _comparison_header(
    contract: ModelContract, comparison: Any, policy: GatePolicy
) -> tuple[tuple[float, int] | None, str | None]:
    """(confidence, resamples) of the training job's comparison, or why it is unusable."""
    metric = contract.primary_metric.name
    if comparison is None:
        return None, "the champion has no paired interval (its 'comparison' is missing)"
    if not isinstance(comparison, Mapping):
        return None, f"the champion's 'comparison' is not an object ({type(comparison).__name__})"
    if comparison.get("metric") != metric:
        return None, (
            f"the champion's comparison is for {comparison.get('metric')!r}, not {metric!r}"
        )
    confidence = _number(comparison.get("confidence"))
    required = policy.improvement_confidence
    assert required is not None
    if confidence is None or confidence < required - 1e-9:
        shown = _describe(comparison.get("confidence")) if confidence is None else confidence
        return None, (
            f"the champion's comparison has confidence {shown}, the contract requires {required}"
        )
    resamples = comparison.get("resamples")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        return None, f"the champion's comparison has {resamples!r} resamples"
    return (confidence, resamples), None


def _interval_rule(
    contract: ModelContract,
    value: float,
    best: float,
    champion: Mapping[str, Any],
    policy: GatePolicy,
) -> GateCheck:
    """Promote only when the interval's lower bound exceeds the margin (D39)."""
    metric = contract.primary_metric
    comparison = champion.get("comparison")
    header, problem = _comparison_header(contract, comparison, policy)
    parsed: tuple[int, float, float, float] | None = None
    if header is not None:
        parsed, problem = _bounds(comparison)
        problem = problem and f"the champion's comparison cannot be used: {problem}"
    if header is None or parsed is None:
        return GateCheck(
            name="champion",
            passed=False,
            value=value,
            message=f"no significant improvement can be shown: {problem}",
        )
    confidence, resamples = header
    rows, point, lower, upper = parsed
    expected = (value - best) if metric.greater_is_better else (best - value)
    if abs(point - expected) > 1e-6 * max(1.0, abs(value), abs(best)):
        return GateCheck(
            name="champion",
            passed=False,
            value=value,
            message=f"no significant improvement can be shown: the comparison's difference "
            f"{_signed(point)} is not {metric.name} {_fmt(value)} against the champion's "
            f"{_fmt(best)} ({_signed(expected)})",
        )
    margin = policy.min_improvement * abs(best)
    passed = lower > margin
    interval = ImprovementInterval(
        metric=metric.name,
        point=point,
        lower=lower,
        upper=upper,
        confidence=confidence,
        resamples=resamples,
        rows=rows,
        margin=margin,
        significant=passed,
    )
    evidence = (
        f"{metric.name} {_fmt(value)} against the champion's {_fmt(best)}: difference "
        f"{_signed(point)} (positive is better), {confidence:.0%} interval "
        f"[{_signed(lower)}, {_signed(upper)}] over {rows} paired holdout rows "
        f"({resamples} resamples)"
    )
    rule = f"the margin {_fmt(margin)} (min_improvement {policy.min_improvement:.1%})"
    message = (
        f"significant improvement: {evidence}; the lower bound exceeds {rule}"
        if passed
        else f"no significant improvement: {evidence}; the lower bound does not exceed {rule}"
    )
    return GateCheck(
        name="champion",
        passed=passed,
        value=value,
        threshold=margin,
        message=message,
        interval=interval,
    )


def _relative_worse(contract: ModelContract, value: float, reference: float) -> float:
    """How much worse ``value`` is than ``reference`` on the primary metric, relative
    (0.1 = 10% worse; negative when better)."""
    scale = abs(reference) or 1e-12
    delta = (
        (reference - value) if contract.primary_metric.greater_is_better else (value - reference)
    )
    return delta / scale


def _slice_interval(
    contract: ModelContract,
    champion: Mapping[str, Any],
    policy: GatePolicy,
    column: str,
    value: str,
) -> tuple[int, float, float, float] | None:
    """The training job's interval for one slice, when it has a usable one (and the
    comparison it belongs to is usable: the right metric, at the required confidence)."""
    comparison = champion.get("comparison")
    if _comparison_header(contract, comparison, policy)[0] is None:
        return None
    slices = comparison.get("slices") if isinstance(comparison, Mapping) else None
    block = (slices.get(column) or {}).get(value) if isinstance(slices, Mapping) else None
    return _bounds(block)[0] if block is not None else None


def _slices(
    contract: ModelContract,
    evaluation: Mapping[str, Any],
    champion: Mapping[str, Any],
    policy: GatePolicy,
) -> list[GateCheck]:
    """No slice regresses beyond the contract's tolerance against the champion on the
    same holdout. Small slices are reported in the passing message, not judged.

    With a confidence (D39), a slice regression counts only when it is significant: the
    slice interval's upper bound is below minus the tolerance (relative to the champion's
    slice value). A slice without a usable interval is judged on its point estimate."""
    quality = contract.quality
    metric = contract.primary_metric.name
    ours, theirs = evaluation.get("slices"), champion.get("slices")
    if not contract.slices or not isinstance(ours, Mapping) or not isinstance(theirs, Mapping):
        return []
    failing: list[GateCheck] = []
    judged = small = on_point = 0
    for column in contract.slices:
        for value, block in sorted((ours.get(column) or {}).items()):
            other = (theirs.get(column) or {}).get(value)
            if not isinstance(block, Mapping) or not isinstance(other, Mapping):
                continue
            rows = block.get("rows") or 0
            mine = _number((block.get("metrics") or {}).get(metric))
            best = _number((other.get("metrics") or {}).get(metric))
            if mine is None or best is None:
                continue
            if rows < quality.min_slice_rows:
                small += 1
                continue
            judged += 1
            worse = _relative_worse(contract, mine, best)
            tolerance = quality.max_slice_regression
            found = (
                None
                if policy.improvement_confidence is None
                else _slice_interval(contract, champion, policy, column, value)
            )
            interval: ImprovementInterval | None = None
            if found is None:
                on_point += policy.improvement_confidence is not None
                regressed = worse > tolerance
                evidence = ""
            else:
                n, point, lower, upper = found
                margin = -tolerance * abs(best)
                regressed = upper < margin
                comparison = champion.get("comparison") or {}
                interval = ImprovementInterval(
                    metric=metric,
                    point=point,
                    lower=lower,
                    upper=upper,
                    confidence=_number(comparison.get("confidence")) or 0.0,
                    resamples=int(_number(comparison.get("resamples")) or 0),
                    rows=n,
                    margin=margin,
                    significant=regressed,
                )
                evidence = (
                    f"; significant: the {interval.confidence:.0%} interval of the difference "
                    f"[{_signed(lower)}, {_signed(upper)}] over {n} rows lies below "
                    f"{_signed(margin)}"
                )
            if regressed:
                failing.append(
                    GateCheck(
                        name=f"slice:{column}={value}",
                        passed=False,
                        value=mine,
                        threshold=best,
                        message=f"slice {column}={value} ({rows} rows): {metric} {_fmt(mine)} is "
                        f"{worse:.1%} worse than the champion's {_fmt(best)} (tolerance "
                        f"{tolerance:.0%}){evidence}",
                        interval=interval,
                    )
                )
    if failing:
        return failing
    notes = f"; {small} slice(s) under {quality.min_slice_rows} rows not judged" if small else ""
    if on_point:
        notes += f"; {on_point} without an interval judged on the point estimate"
    rule = "significantly " if policy.improvement_confidence is not None else ""
    return [
        GateCheck(
            name="slices",
            passed=True,
            message=f"no slice regresses {rule}more than {quality.max_slice_regression:.0%} "
            f"({judged} judged{notes})",
        )
    ]


def _budgets(contract: ModelContract, evaluation: Mapping[str, Any]) -> list[GateCheck]:
    quality = contract.quality
    checks: list[GateCheck] = []
    if quality.max_latency_ms is not None:
        latency = evaluation.get("latency_ms")
        p95 = _number(latency.get("single_p95")) if isinstance(latency, Mapping) else None
        if p95 is None:
            checks.append(
                GateCheck(name="latency", passed=False, message="latency_ms.single_p95 is missing")
            )
        else:
            ok = p95 <= quality.max_latency_ms
            checks.append(
                GateCheck(
                    name="latency",
                    passed=ok,
                    value=p95,
                    threshold=quality.max_latency_ms,
                    message=f"p95 single-row latency {_fmt(p95)} ms "
                    f"{'within' if ok else 'over'} the {_fmt(quality.max_latency_ms)} ms budget",
                )
            )
    if quality.max_model_mb is not None:
        size = _number(evaluation.get("model_size_bytes"))
        if size is None:
            checks.append(
                GateCheck(name="size", passed=False, message="model_size_bytes is missing")
            )
        else:
            mb = size / 1e6
            ok = mb <= quality.max_model_mb
            checks.append(
                GateCheck(
                    name="size",
                    passed=ok,
                    value=mb,
                    threshold=quality.max_model_mb,
                    message=f"model size {mb:.3g} MB {'within' if ok else 'over'} the "
                    f"{_fmt(quality.max_model_mb)} MB budget",
                )
            )
    return checks


def _same_holdout_champion(
    evaluation: Mapping[str, Any],
) -> tuple[Mapping[str, Any] | None, str | None]:
    """The champion evaluated by the training job on the challenger's holdout, if any."""
    block = evaluation.get("champion")
    if block is None:
        return None, None
    if not isinstance(block, Mapping):
        return None, f"evaluation's 'champion' is not an object ({type(block).__name__})"
    if "error" in block:
        return None, f"the champion could not be evaluated on the holdout: {block['error']}"
    return block, None


def evaluate_gate(
    contract: ModelContract,
    evaluation: Mapping[str, Any],
    *,
    champion: Mapping[str, Any] | None = None,
    policy: GatePolicy | None = None,
) -> GateDecision:
    """Judge a challenger's evaluation against its contract and the champion.

    The champion is ``champion`` when given, else the ``champion`` block the training job
    wrote after scoring the champion's artifact on the same holdout. Slice and budget
    checks come from the contract's ``quality`` policy."""
    policy = policy or GatePolicy(
        min_improvement=contract.quality.min_improvement,
        improvement_confidence=contract.quality.improvement_confidence,
    )
    if not isinstance(evaluation, Mapping):
        check = GateCheck(
            name="evaluation",
            passed=False,
            message=f"evaluation is not a JSON object ({type(evaluation).__name__})",
        )
        return GateDecision.from_checks(contract, [check], value=None, champion_value=None)
    checks = [_check_model(contract, evaluation)]
    primary = _primary_value(contract, evaluation)
    checks.append(primary)
    value = primary.value if primary.passed else None
    champion_value: float | None = None
    if value is not None:
        checks.append(_threshold(contract, value))
    checks.extend(_secondary(contract, evaluation))
    if champion is None:
        champion, problem = _same_holdout_champion(evaluation)
        if problem is not None:
            checks.append(GateCheck(name="champion", passed=False, message=problem))
    if value is not None and champion is not None:
        check, champion_value = _champion(contract, value, champion, policy)
        if check is not None:
            checks.append(check)
        checks.extend(_slices(contract, evaluation, champion, policy))
    checks.extend(_budgets(contract, evaluation))
    return GateDecision.from_checks(contract, checks, value=value, champion_value=champion_value)
