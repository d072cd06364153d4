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

Plus null and non-finite counts, population mean and std. Pure: numpy at import.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

FloatArray = npt.NDArray[np.float64]

BASELINE_VERSION = 1
EXACT_MAX_POINTS = 2048
"""A numeric reference with at most this many distinct values is kept exactly."""
GRID_POINTS = 2048
"""Quantile cells of a grid reference: each holds about 1/2048 of the reference."""
DECILES = 10


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericReference(_Frozen):
    kind: Literal["numeric"] = "numeric"
    rows: int = Field(ge=0, description="all rows, nulls included")
    nulls: int = Field(ge=0, description="missing values (NaN / null)")
    non_finite: int = Field(ge=0, description="+-inf values, left out of the tests like nulls")
    n: int = Field(gt=0, description="finite values")
    exact: bool = Field(description="edges are every distinct value (no cells)")
    edges: list[float] = Field(description="sorted distinct reference values (grid or all)")
    edge_counts: list[int]
    cell_counts: list[int] = Field(description="count strictly between edges[i] and edges[i+1]")
    cell_sums: list[float] = Field(description="sum of those values, for Wasserstein")
    deciles: list[int] = Field(description="indices into edges of the PSI bin edges")
    mean: float
    std: float = Field(ge=0, description="population std (ddof=0), as Evidently norms by")
    minimum: float
    maximum: float

    @property
    def unique(self) -> int | None:
        """Distinct finite values when exact, else None (more than EXACT_MAX_POINTS)."""
        return len(self.edges) if self.exact else None


class CategoricalReference(_Frozen):
    kind: Literal["categorical", "binary"] = "categorical"
    rows: int = Field(ge=0)
    nulls: int = Field(ge=0)
    n: int = Field(gt=0, description="non-null values")
    categories: dict[str, int] = Field(description="count per canonical category string")
    boolean: bool = Field(False, description="values parsed as booleans (true/false spellings)")


FeatureReference = Annotated[NumericReference | CategoricalReference, Field(discriminator="kind")]


class DriftBaseline(_Frozen):
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


def split_finite(values: Any, name: str) -> tuple[FloatArray, int, int]:
    """The finite values as float64, and the counts of nulls (NaN) and of +-inf."""
    array = np.asarray(values, dtype=np.float64).ravel()
    nan = np.isnan(array)
    inf = np.isinf(array)
    finite = array[~(nan | inf)]
    return finite, int(nan.sum()), int(inf.sum())


def numeric_reference(values: Any, name: str = "value") -> NumericReference:
    """The reference of one numeric column (a float array; NaN for nulls)."""
    finite, nulls, inf = split_finite(values, name)
    if finite.size == 0:
        raise ValueError(
            f"column {name!r}: no finite values to build a drift reference from "
            f"({nulls} nulls, {inf} infinite)"
        )
    ordered = np.sort(finite)
    distinct, counts = np.unique(ordered, return_counts=True)
    n = int(ordered.size)
    if distinct.size <= EXACT_MAX_POINTS:
        edges, edge_counts = distinct, counts
        cells = np.zeros(edges.size - 1, dtype=np.int64)
        sums = np.zeros(edges.size - 1)
    else:
        edges, edge_counts, cells, sums = _grid(ordered)
    mean = float(ordered.mean())
    std = float(np.sqrt(np.mean((ordered - mean) ** 2)))
    return NumericReference(
        rows=n + nulls + inf,
        nulls=nulls,
        non_finite=inf,
        n=n,
        exact=distinct.size <= EXACT_MAX_POINTS,
        edges=edges.tolist(),
        edge_counts=edge_counts.tolist(),
        cell_counts=cells.tolist(),
        cell_sums=sums.tolist(),
        deciles=_decile_indices(ordered, edges),
        mean=mean,
        std=std,
        minimum=float(ordered[0]),
        maximum=float(ordered[-1]),
    )


def decile_values(ordered: FloatArray) -> FloatArray:
    """The PSI bin edges, by the profile's rule: values at ranks n*k//10, k = 1..9, with
    repeats and any equal to the minimum left out (bins are [lo, hi))."""
    n = ordered.size
    picks = np.unique(ordered[[n * k // DECILES for k in range(1, DECILES)]])
    return picks[picks > ordered[0]]


def _decile_indices(ordered: FloatArray, edges: FloatArray) -> list[int]:
    return np.searchsorted(edges, decile_values(ordered)).tolist()


def _grid(ordered: FloatArray) -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
    n = ordered.size
    ranks = np.round(np.linspace(0, n - 1, GRID_POINTS + 1)).astype(np.int64)
    edges = np.union1d(ordered[ranks], decile_values(ordered))
    left = np.searchsorted(ordered, edges, side="left")
    right = np.searchsorted(ordered, edges, side="right")
    edge_counts = right - left
    cells = left[1:] - right[:-1]
    prefix = np.concatenate([[0.0], np.cumsum(ordered)])
    sums = prefix[left[1:]] - prefix[right[:-1]]
    return edges, edge_counts.astype(np.int64), cells.astype(np.int64), sums


def categorical_reference(
    counts: dict[str, int], nulls: int, *, boolean: bool = False, name: str = "value"
) -> CategoricalReference:
    """The reference of one categorical column from its canonical category counts; a
    boolean column or one with two categories is "binary" (a label: the test choice
    counts the categories of reference and window together, as Evidently does)."""
    n = sum(counts.values())
    if n == 0:
        raise ValueError(f"column {name!r}: no non-null values to build a drift reference from ({nulls} nulls)")
    seen = {k: v for k, v in counts.items() if v}
    kind: Literal["categorical", "binary"] = "binary" if boolean or len(seen) == 2 else "categorical"
    return CategoricalReference(kind=kind, rows=n + nulls, nulls=nulls, n=n, categories=seen, boolean=boolean)
