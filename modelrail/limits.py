"""The data gate's tolerances, apart from the gate itself.

A contract validates its ``tolerances`` at synth and in every handler that reads it;
the gate (:mod:`modelrail.validation`) needs pandas, the handlers that only read a
contract must not import it. Re-exported by :mod:`modelrail.validation`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValidationLimits(_Frozen):
    """Tolerances. A problem affecting a fraction of rows at or under its tolerance is
    reported as a warning instead of an error. The target never tolerates nulls or
    unparseable values: the training job cannot use such rows."""

    allow_extra_columns: bool = False
    max_null_fraction: Fraction = 0.0
    """Nulls tolerated in a non-nullable feature column."""
    column_max_null_fraction: dict[str, Fraction] = Field(default_factory=dict)
    """Per-column override of ``max_null_fraction``."""
    max_invalid_fraction: Fraction = 0.0
    """Unparseable values (not a number, not a boolean...) tolerated in a feature column."""
    max_out_of_range_fraction: Fraction = 0.0
    max_unknown_category_fraction: Fraction = 0.0
    max_duplicate_fraction: Fraction = 0.01
    """Exact duplicate rows above this fraction are an error; any at or under, a warning."""
    min_class_fraction: Fraction = 0.01
    """Classification: a class rarer than this is an error."""

    def null_tolerance(self, column: str) -> float:
        return self.column_max_null_fraction.get(column, self.max_null_fraction)
