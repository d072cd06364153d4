"""The metrics modelrail publishes: one catalog, the points each step emits, and how.

Every metric lives in the ``modelrail`` namespace with the dimensions its
:class:`MetricSpec` lists (``Environment`` and ``Model`` first). Steps compute their
points with the pure functions here; :func:`publish` prints them as embedded-metric-format
lines through Powertools Metrics, which CloudWatch Logs turns into metrics (and the local
cloud does the same, :mod:`modelrail.local.log_metrics`). Dashboards and alarms are
built from this catalog, so a widget cannot show a metric nothing emits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NAMESPACE = "modelrail"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str  # a CloudWatch unit name ("Count", "None", "Milliseconds", ...)
    dimensions: tuple[str, ...]
    what: str


GATE_DECISIONS = MetricSpec(
    "GateDecisions", "Count", ("Environment", "Model", "Outcome"),
    "quality-gate decisions, by outcome (passed / rejected)",
)  # fmt: skip
GATE_CHECK_FAILED = MetricSpec(
    "GateCheckFailed", "Count", ("Environment", "Model", "Check"),
    "failed quality-gate checks, by the check's name",
)  # fmt: skip
CANDIDATE_METRIC = MetricSpec(
    "CandidatePrimaryMetric", "None", ("Environment", "Model"),
    "the primary metric of each trained candidate on its holdout",
)  # fmt: skip

DRIFT_SHARE = MetricSpec(
    "DriftShare", "None", ("Environment", "Model"),
    "share of the champion's features judged drifted in a monitoring window",
)  # fmt: skip
FEATURE_DRIFT = MetricSpec(
    "feature_baseline_drift_{feature}", "None", ("Environment", "Model"),
    "a feature's drift score in a window (Model Monitor's name; the test's distance or p-value)",
)  # fmt: skip
PREDICTION_DRIFT = MetricSpec(
    "PredictionDrift", "None", ("Environment", "Model"),
    "the drift score of the model's predictions in a window",
)  # fmt: skip
WINDOW_ROWS = MetricSpec(
    "MonitoredRows", "Count", ("Environment", "Model"),
    "captured rows in a monitoring window",
)  # fmt: skip
NULL_SHARE = MetricSpec(
    "feature_null_share_{feature}", "None", ("Environment", "Model"),
    "a feature's share of missing values in a window",
)  # fmt: skip
LIVE_METRIC = MetricSpec(
    "LivePrimaryMetric", "None", ("Environment", "Model"),
    "the champion's primary metric on the window's labelled rows",
)  # fmt: skip
LABELLED_ROWS = MetricSpec(
    "LabelledRows", "Count", ("Environment", "Model"),
    "captured rows of a window that have a label",
)  # fmt: skip
RETRAIN_DECISIONS = MetricSpec(
    "RetrainDecisions", "Count", ("Environment", "Model", "Outcome", "Trigger"),
    "retraining decisions: started or suppressed, by trigger",
)  # fmt: skip

CATALOG: tuple[MetricSpec, ...] = (
    GATE_DECISIONS,
    GATE_CHECK_FAILED,
    CANDIDATE_METRIC,
    DRIFT_SHARE,
    FEATURE_DRIFT,
    PREDICTION_DRIFT,
    WINDOW_ROWS,
    NULL_SHARE,
    LIVE_METRIC,
    LABELLED_ROWS,
    RETRAIN_DECISIONS,
)


@dataclass(frozen=True)
class Point:
    spec: MetricSpec
    dimensions: tuple[tuple[str, str], ...]
    value: float

    def __post_init__(self) -> None:
        names = tuple(k for k, _ in self.dimensions)
        if names != self.spec.dimensions:
            raise ValueError(
                f"{self.spec.name} takes dimensions {self.spec.dimensions}, got {names}"
            )


def point(spec: MetricSpec, value: float, **dimensions: str) -> Point:
    """A datapoint of ``spec``; the dimensions in the spec's order."""
    return Point(spec, tuple((name, dimensions[name]) for name in spec.dimensions), float(value))


def per_feature(spec: MetricSpec, feature: str) -> MetricSpec:
    """A per-feature spec (``feature_baseline_drift_{feature}``) named for ``feature``."""
    if "{feature}" not in spec.name:
        raise ValueError(f"{spec.name} is not a per-feature metric")
    return MetricSpec(spec.name.format(feature=feature), spec.unit, spec.dimensions, spec.what)


def gate_points(
    environment: str,
    model: str,
    *,
    passed: bool,
    checks: Iterable[Mapping[str, Any]],
    primary: tuple[str, float] | None,
) -> list[Point]:
    """What a quality-gate decision publishes."""
    base = {"Environment": environment, "Model": model}
    points = [point(GATE_DECISIONS, 1, **base, Outcome="passed" if passed else "rejected")]
    points += [
        point(GATE_CHECK_FAILED, 1, **base, Check=str(check.get("name")))
        for check in checks
        if not check.get("passed", True)
    ]
    if primary is not None:
        points.append(point(CANDIDATE_METRIC, primary[1], **base))
    return points


def publish(points: Iterable[Point]) -> None:
    """Print ``points`` as EMF lines (one per dimension set) with Powertools Metrics.
    ``service=""``: no ``service`` dimension, so a metric's dimensions are the spec's."""
    from aws_lambda_powertools.metrics import EphemeralMetrics

    groups: dict[tuple[tuple[str, str], ...], list[Point]] = {}
    for p in points:
        groups.setdefault(p.dimensions, []).append(p)
    for dimensions, members in groups.items():
        metrics = EphemeralMetrics(namespace=NAMESPACE, service="")
        for name, value in dimensions:
            metrics.add_dimension(name=name, value=value)
        for p in members:
            metrics.add_metric(name=p.spec.name, unit=p.spec.unit, value=p.value)
        metrics.flush_metrics()
