"""The drift tests' thresholds and guards (``DriftOptions``), apart from the engine so a
contract can carry them without importing numpy (light Lambdas read contracts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LOW_CARDINALITY_MAX = 20
"""The most distinct values a numeric feature may have to be tested as counts."""


class DriftOptions(BaseModel):
    """Thresholds and guards. The defaults are Evidently's (DataDriftPreset, 0.7)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size_switch: int = Field(1000, description="reference rows up to which p-value tests decide")
    p_value: float = Field(
        0.05, gt=0, lt=1, description="KS drifts at p <= this, chi-square and Z at p <"
    )
    distance: float = Field(
        0.1, gt=0, description="Wasserstein/std and Jensen-Shannon drift at >= this"
    )
    drift_share: float = Field(
        0.5, gt=0, le=1, description="dataset drift at a drifted share >= this"
    )
    low_cardinality: int = Field(
        5,
        ge=1,
        le=LOW_CARDINALITY_MAX,
        description="numeric with at most this many values is tested as counts",
    )
    min_current: int = Field(
        30, ge=1, description="fewer current values: insufficient_data, no verdict"
    )
    correction: Literal["none", "bh"] = Field(
        "none", description="bh: p-value verdicts use Benjamini-Hochberg adjusted p-values"
    )
    null_p_value: float = Field(0.05, gt=0, lt=1)
    null_min_change: float = Field(
        0.01, ge=0, description="null share change reported from this size"
    )
