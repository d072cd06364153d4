"""The drift reference: a compact per-feature summary of the training (or holdout) data
that the drift tests need, stored as JSON next to the model (D48). Never the raw rows:

* **numeric**, few distinct values (at most :data:`EXACT_MAX_POINTS`, so every reference
  of at most 1000 rows): the distinct values and their counts, i.e. the sorted sample in
  run-length form. KS, chi-square and the Z-test are then exact.
* **numeric**, more distinct values: a grid of reference order statistics (about
  :data:`GRID_POINTS` quantiles plus the profile's decile ranks), the count at each grid
  value and the count and sum strictly between neighbours. Wasserstein is then exact up
  to a bound the report states, KS up to one grid cell.
* **categorical / binary**: the count per canonical category string (as
  :mod:`modelrail.profile` defines it).

Plus null and non-finite counts, population mean and std. The arithmetic is
:mod:`modelrail.drift_summary` (no pydantic: the training job runs it in its container
and writes the baseline as JSON); these models validate what it builds. Pure.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelrail import drift_summary as summary

BASELINE_VERSION: Literal[1] = 1
EXACT_MAX_POINTS = summary.EXACT_MAX_POINTS
GRID_POINTS = summary.GRID_POINTS


class Frozen(BaseModel):
    """The engine's models: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericReference(Frozen):
    kind: Literal["numeric"] = "numeric"
    rows: int = Field(ge=0, description="all rows, nulls included")
    nulls: int = Field(ge=0, description="missing values (NaN / null)")
    non_finite: int = Field(ge=0, description="+-inf values, left out of the tests like nulls")
    n: int = Field(gt=0, description="finite values")
    exact: bool = Field(description="edges are every distinct value (no cells)")
    edges: list[float] = Field(description="sorted distinct reference values (grid or all)")
    edge_counts: list[int]
    cell_counts: list[int] = Field(description="count strictly between edges[i] and edges[i+1]")
    cell_offsets: list[float] = Field(description="sum of (value - edges[i]) over those values")
    deciles: list[int] = Field(description="indices into edges of the PSI bin edges")
    mean: float
    std: float = Field(ge=0, description="population std (ddof=0), as Evidently norms by")
    minimum: float
    maximum: float

    @property
    def unique(self) -> int | None:
        """Distinct finite values when exact, else None (more than EXACT_MAX_POINTS)."""
        return len(self.edges) if self.exact else None


class CategoricalReference(Frozen):
    kind: Literal["categorical", "binary"] = "categorical"
    rows: int = Field(ge=0)
    nulls: int = Field(ge=0)
    n: int = Field(gt=0, description="non-null values")
    categories: dict[str, int] = Field(description="count per canonical category string")
    boolean: bool = Field(False, description="values parsed as booleans (true/false spellings)")


FeatureReference = Annotated[NumericReference | CategoricalReference, Field(discriminator="kind")]


class DriftBaseline(Frozen):
    """Everything drift checks compare a live window with: one reference per feature
    and, when the training job wrote it, one for the model's predictions on the holdout."""

    version: Literal[1] = BASELINE_VERSION
    features: dict[str, FeatureReference]
    prediction: FeatureReference | None = None
    importances: dict[str, float] | None = Field(
        default=None, description="champion's feature importances, for the weighted share"
    )

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> DriftBaseline:
        return cls.model_validate_json(data)


def numeric_reference(values: Any, name: str = "value") -> NumericReference:
    """The reference of one numeric column (a float array; NaN for nulls)."""
    return NumericReference.model_validate(summary.numeric_reference(values, name))


def categorical_reference(
    counts: dict[str, int], nulls: int, *, boolean: bool = False, name: str = "value"
) -> CategoricalReference:
    """The reference of one categorical column from its canonical category counts."""
    return CategoricalReference.model_validate(
        summary.categorical_reference(counts, nulls, boolean=boolean, name=name)
    )
