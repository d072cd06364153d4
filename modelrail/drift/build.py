"""Baselines and windows from columns of values: the one place that turns a column into
its reference or window summary by kind, for the training job, the drift step and the
CLI alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from modelrail.drift.engine import DriftWindow
from modelrail.drift.reference import (
    CategoricalReference,
    DriftBaseline,
    FeatureReference,
    categorical_reference,
    numeric_reference,
)
from modelrail.drift.window import (
    CategoricalWindow,
    NumericWindow,
    categorical_window,
    numeric_window,
)

ColumnKind = Literal["numeric", "categorical", "boolean"]


def reference_of(values: Any, kind: ColumnKind, name: str) -> FeatureReference:
    if kind == "numeric":
        return numeric_reference(values, name)
    from modelrail.drift.labels import category_counts

    counts, nulls = category_counts(values, boolean=kind == "boolean", name=name)
    return categorical_reference(counts, nulls, boolean=kind == "boolean", name=name)


def window_of(ref: FeatureReference, values: Any, name: str) -> NumericWindow | CategoricalWindow:
    if isinstance(ref, CategoricalReference):
        return categorical_window(values, boolean=ref.boolean, name=name)
    return numeric_window(ref, values, name)


def build_baseline(
    columns: Mapping[str, tuple[ColumnKind, Any]],
    *,
    prediction: tuple[ColumnKind, Any] | None = None,
    importances: Mapping[str, float] | None = None,
) -> DriftBaseline:
    """A baseline from ``name -> (kind, values)``; ``prediction`` from the holdout."""
    features = {name: reference_of(values, kind, name) for name, (kind, values) in columns.items()}
    pred = reference_of(prediction[1], prediction[0], "prediction") if prediction else None
    return DriftBaseline(
        features=features, prediction=pred, importances=dict(importances) if importances else None
    )


def build_window(
    baseline: DriftBaseline, columns: Mapping[str, Any], *, prediction: Any | None = None
) -> DriftWindow:
    """A window's summaries of every baseline feature from ``name -> values``."""
    missing = sorted(set(baseline.features) - set(columns))
    if missing:
        raise ValueError(f"the window has no column {', '.join(map(repr, missing))}")
    features = {
        name: window_of(ref, columns[name], name) for name, ref in baseline.features.items()
    }
    pred = None
    if prediction is not None and baseline.prediction is not None:
        pred = window_of(baseline.prediction, prediction, "prediction")
    return DriftWindow(features=features, prediction=pred)
