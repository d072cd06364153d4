"""Baselines and windows from columns of values: the one place that turns a column into
its reference or window summary by kind, for the drift step and the CLI. The training
job, which has no pydantic, builds the same baseline with :mod:`modelrail.drift_summary`
(which :func:`build_baseline` calls and validates)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from modelrail import drift_summary as summary
from modelrail.drift.engine import DriftWindow
from modelrail.drift.reference import (
    CategoricalReference,
    DriftBaseline,
    FeatureReference,
    NumericReference,
)
from modelrail.drift.window import (
    CategoricalWindow,
    NumericWindow,
    categorical_window,
    numeric_window,
)

ColumnKind = Literal["numeric", "categorical", "boolean"]


def reference_of(values: Any, kind: ColumnKind, name: str) -> FeatureReference:
    ref = summary.reference_of(values, kind, name)
    if ref["kind"] == "numeric":
        return NumericReference.model_validate(ref)
    return CategoricalReference.model_validate(ref)


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
    return DriftBaseline.model_validate(
        summary.baseline(columns, prediction=prediction, importances=importances)
    )


def build_window(
    baseline: DriftBaseline,
    columns: Mapping[str, Any],
    *,
    prediction: Any | None = None,
    workers: int = 1,
) -> DriftWindow:
    """A window's summaries of every baseline feature from ``name -> values``; with
    ``workers`` > 1 the columns are summarised by that many threads (numpy's sort, the
    bulk of the work, releases the GIL)."""
    missing = sorted(set(baseline.features) - set(columns))
    if missing:
        raise ValueError(f"the window has no column {', '.join(map(repr, missing))}")
    names = list(baseline.features)

    def summarise(name: str) -> NumericWindow | CategoricalWindow:
        return window_of(baseline.features[name], columns[name], name)

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            summaries = list(pool.map(summarise, names))
    else:
        summaries = [summarise(name) for name in names]
    pred = None
    if prediction is not None and baseline.prediction is not None:
        pred = window_of(baseline.prediction, prediction, "prediction")
    return DriftWindow(features=dict(zip(names, summaries, strict=True)), prediction=pred)
