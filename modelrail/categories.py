"""A column of values as canonical categories: codes into labels, and counts per label.

The baseline profile, the drift reference and window, and the training job (which
writes the drift baseline) count categories through these functions, so a live value is
counted under the label of the training value it equals (:mod:`modelrail.canonical`
defines the label). One factorise a column and a Python call per *distinct* value, not
per row.

The training job ships this file beside its own code (infra/assets.py): the container's
Python (3.10), numpy and pandas, and :mod:`modelrail.canonical`; no pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelrail import canonical

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Labels:
    """A column as codes into canonical labels (-1 for null)."""

    codes: IntArray
    labels: tuple[str, ...]


def as_objects(series: pd.Series) -> pd.Series:
    """The values as objects to factorize; a categorical column as it is (it factorizes
    to the same uniques, in the same order of appearance, without a Python object a row)."""
    return series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype(object)


def _relabel(codes: IntArray, canon: list[str | None]) -> Labels:
    """Merge uniques with the same canonical label (" a" and "a"), null ones to -1."""
    labels: dict[str, int] = {}
    remap = np.empty(len(canon) + 1, dtype=np.int64)
    for i, label in enumerate(canon):
        remap[i] = -1 if label is None else labels.setdefault(label, len(labels))
    remap[-1] = -1  # code -1 (pandas' null) indexes the last slot
    return Labels(remap[codes], tuple(labels))


def categorical_labels(series: pd.Series) -> Labels:
    """A column's values as categories (``canonical.category``)."""
    codes, uniques = pd.factorize(as_objects(series))
    canon = [canonical.category(u) for u in uniques]
    return _relabel(codes.astype(np.int64), canon)


def boolean_labels(series: pd.Series, name: str) -> Labels:
    """A column's values as ``"false"`` / ``"true"``; ValueError naming the column for a
    value that is not a boolean."""
    if series.dtype.kind == "b":  # bool or pandas' nullable boolean: no parsing
        flags = series.to_numpy(dtype=np.float64, na_value=np.nan)
        codes = np.where(np.isnan(flags), -1, flags).astype(np.int64)
        return Labels(codes, (canonical.FALSE, canonical.TRUE))
    codes, uniques = pd.factorize(as_objects(series))
    canon: list[str | None] = []
    bad: list[str] = []
    for value in uniques:
        try:
            canon.append(canonical.boolean_label(value))
        except canonical.NotABoolean:
            bad.append(repr(value))
            canon.append(None)
    if bad:
        raise ValueError(f"column {name!r}: values that are not booleans: {', '.join(bad[:3])}")
    return _relabel(codes.astype(np.int64), canon)


def category_counts(
    values: Any, *, boolean: bool = False, name: str = "value"
) -> tuple[dict[str, int], int]:
    """Count per canonical category (labels with a zero count left out) and the number of
    nulls, in one factorise."""
    series = (
        values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    )
    labels = boolean_labels(series, name) if boolean else categorical_labels(series)
    codes = labels.codes
    counts = np.bincount(codes[codes >= 0], minlength=len(labels.labels))
    nulls = int((codes < 0).sum())
    return {label: int(c) for label, c in zip(labels.labels, counts, strict=True) if c}, nulls
