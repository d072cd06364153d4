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
IntArray = npt.NDArray[np.int64]

BASELINE_VERSION: Literal[1] = 1
EXACT_MAX_POINTS = 2048
"""A numeric reference with at most this many distinct values is kept exactly."""
GRID_POINTS = 2048
"""Quantile cells of a grid reference: each holds about 1/2048 of the reference."""
DECILES = 10


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


def split_finite(values: Any, name: str) -> tuple[FloatArray, int, int]:
    """The finite values as float64, and the counts of nulls (NaN) and of +-inf."""
    if hasattr(values, "to_numpy"):  # a pandas column, nullable dtypes included
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        array = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"column {name!r} is numeric but holds values that are not numbers"
        ) from exc
    keep = np.isfinite(array)
    finite = array[keep]
    if finite.size == array.size:
        return finite, 0, 0
    inf = int(np.isinf(array).sum())
    return finite, array.size - finite.size - inf, inf


def numeric_reference(values: Any, name: str = "value") -> NumericReference:
    """The reference of one numeric column (a float array; NaN for nulls)."""
    finite, nulls, inf = split_finite(values, name)
    if finite.size == 0:
        raise ValueError(
            f"column {name!r}: no finite values to build a drift reference from "
            f"({nulls} nulls, {inf} infinite)"
        )
    ordered = np.sort(finite)
    distinct, counts = _runs(ordered)
    n = int(ordered.size)
    exact = distinct.size <= EXACT_MAX_POINTS
    edges = distinct if exact else _grid_edges(ordered)
    edge_counts, gaps, offsets = gap_summary(ordered, edges) if not exact else (counts, None, None)
    cells = np.zeros(edges.size - 1, dtype=np.int64) if gaps is None else gaps[1:-1]
    sums = np.zeros(edges.size - 1) if offsets is None else offsets[1:-1]
    mean = float(ordered.mean())
    std = float(np.sqrt(np.mean((ordered - mean) ** 2)))
    return NumericReference(
        rows=n + nulls + inf,
        nulls=nulls,
        non_finite=inf,
        n=n,
        exact=exact,
        edges=edges.tolist(),
        edge_counts=edge_counts.tolist(),
        cell_counts=cells.tolist(),
        cell_offsets=sums.tolist(),
        deciles=_decile_indices(ordered, edges),
        mean=mean,
        std=std,
        minimum=float(ordered[0]),
        maximum=float(ordered[-1]),
    )


def _runs(ordered: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct values of a sorted array and their counts (np.unique would sort again)."""
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    counts = np.diff(np.append(starts, ordered.size)).astype(np.int64)
    distinct: FloatArray = ordered[starts]
    return distinct, counts


def decile_values(ordered: FloatArray) -> FloatArray:
    """The PSI bin edges, by the profile's rule: values at ranks n*k//10, k = 1..9, with
    repeats and any equal to the minimum left out (bins are [lo, hi))."""
    n = ordered.size
    picks = np.unique(ordered[[n * k // DECILES for k in range(1, DECILES)]])
    kept: FloatArray = picks[picks > ordered[0]]
    return kept


def _decile_indices(ordered: FloatArray, edges: FloatArray) -> list[int]:
    return [int(i) for i in np.searchsorted(edges, decile_values(ordered))]


def _grid_edges(ordered: FloatArray) -> FloatArray:
    n = ordered.size
    ranks = np.round(np.linspace(0, n - 1, GRID_POINTS + 1)).astype(np.int64)
    return np.union1d(ordered[ranks], decile_values(ordered))


def gap_summary(ordered: FloatArray, edges: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Of sorted values against sorted edges (K of them): the count equal to each edge,
    and per gap (0: below the first edge, i: between edges i-1 and i, K: above the last)
    the count and the sum of distances to the gap's edge (the one below it; the first
    edge for gap 0). Distances, not values, so the sums keep their precision far from 0."""
    left = np.searchsorted(ordered, edges, side="left")
    right = np.searchsorted(ordered, edges, side="right")
    starts = np.concatenate([[0], right])
    ends = np.concatenate([left, [ordered.size]])
    counts = ends - starts
    # runs of the sorted values: gap 0, edge 0, gap 1, edge 1, ..., gap K; each value's
    # base is its gap's edge (an edge's own values are at distance 0 from it)
    runs = np.empty(2 * edges.size + 1, dtype=np.int64)
    runs[0::2] = counts
    runs[1::2] = right - left
    bases = np.concatenate([[edges[0]], np.repeat(edges, 2)])
    prefix = np.empty(ordered.size + 1)
    prefix[0] = 0.0
    dist = prefix[1:]  # computed in place: one temporary a column, not three
    np.subtract(ordered, np.repeat(bases, runs), out=dist)
    np.abs(dist, out=dist)
    np.cumsum(dist, out=dist)
    offsets = prefix[ends] - prefix[starts]
    return (right - left).astype(np.int64), counts.astype(np.int64), offsets


def categorical_reference(
    counts: dict[str, int], nulls: int, *, boolean: bool = False, name: str = "value"
) -> CategoricalReference:
    """The reference of one categorical column from its canonical category counts; a
    boolean column or one with two categories is "binary" (a label: the test choice
    counts the categories of reference and window together, as Evidently does)."""
    n = sum(counts.values())
    if n == 0:
        raise ValueError(
            f"column {name!r}: no non-null values to build a drift reference from ({nulls} nulls)"
        )
    seen = {k: v for k, v in counts.items() if v}
    kind: Literal["categorical", "binary"] = (
        "binary" if boolean or len(seen) == 2 else "categorical"
    )
    return CategoricalReference(
        kind=kind, rows=n + nulls, nulls=nulls, n=n, categories=seen, boolean=boolean
    )
