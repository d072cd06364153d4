"""Canonical category counts of a column, keyed as :mod:`modelrail.profile` keys them.

The only module of the engine that needs pandas (factorising strings), imported when a
column of labels is counted, not when the engine is imported: the drift Lambda's cold
start imports numpy alone until it has labels to count (D48).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def category_counts(
    values: Any, *, boolean: bool = False, name: str = "value"
) -> tuple[dict[str, int], int]:
    """Count per canonical category string and the number of nulls, in one factorise."""
    import pandas as pd

    from modelrail import profile

    series = (
        values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    )
    labels = (
        profile._boolean_labels(series, name) if boolean else profile._categorical_labels(series)
    )
    codes = labels.codes
    counts = np.bincount(codes[codes >= 0], minlength=len(labels.labels))
    nulls = int((codes < 0).sum())
    return {label: int(c) for label, c in zip(labels.labels, counts, strict=True) if c}, nulls
