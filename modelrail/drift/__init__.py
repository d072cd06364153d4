"""The drift engine (D48): compact references built at training time, one-pass mergeable
window summaries, and Evidently-compatible verdicts with PSI, KS, effect sizes,
multiple-testing control, guards and persistence. numpy and pydantic only at import."""

from modelrail.drift.engine import (
    DatasetDrift,
    DriftReport,
    DriftWindow,
    FeatureDrift,
    compare,
    persistent,
)
from modelrail.drift.reference import CategoricalReference, DriftBaseline, NumericReference
from modelrail.drift.window import CategoricalWindow, NumericWindow, merge
from modelrail.drift_options import DriftOptions

__all__ = [
    "CategoricalReference",
    "CategoricalWindow",
    "DatasetDrift",
    "DriftBaseline",
    "DriftOptions",
    "DriftReport",
    "DriftWindow",
    "FeatureDrift",
    "NumericReference",
    "NumericWindow",
    "compare",
    "merge",
    "persistent",
]
