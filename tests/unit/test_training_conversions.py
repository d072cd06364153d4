"""training/modelrail_features.py: the column conversions, converted once per distinct
value (D46), give the canonical values row by row on tricky inputs, whatever the column's
dtype (text, categories read from a CSV, numbers, Python objects mixed)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.unit.test_training import Training
from tests.unit.test_training import training as training  # the fixture


def _same(got: pd.Series, expected: list[Any]) -> None:
    values = got.tolist()
    assert len(values) == len(expected)
    for value, want in zip(values, expected, strict=True):
        if isinstance(want, float) and math.isnan(want):
            assert isinstance(value, float) and math.isnan(value), values
        else:
            assert value == want and type(value) is type(want), values


TEXT = ["S01", " S01 ", "", None, np.nan, "007", "S01", "  "]
TEXT_CANONICAL = ["S01", "S01", np.nan, np.nan, np.nan, "007", "S01", np.nan]


@pytest.mark.parametrize("dtype", [object, "category"])
def test_text_categories_are_stripped_and_blank_is_missing(training: Training, dtype: Any) -> None:
    series = pd.Series(TEXT, dtype=dtype, index=range(10, 18))
    got = training.features._to_category(series)
    assert got.dtype == object and list(got.index) == list(range(10, 18))
    _same(got, TEXT_CANONICAL)


def test_mixed_python_objects_keep_one_category_each(training: Training) -> None:
    """True, 1 and 1.0 are equal as hash keys but not as categories."""
    series = pd.Series([True, 1, 1.0, 3.5, "x ", False, 0, None], dtype=object)
    got = training.features._to_category(series)
    _same(got, ["true", "1", "1", "3.5", "x", "false", "0", np.nan])


def test_numeric_and_boolean_columns_as_categories(training: Training) -> None:
    got = training.features._to_category(pd.Series([3.0, np.nan, 2.5, 3.0, -0.0]))
    _same(got, ["3", np.nan, "2.5", "3", "0"])
    _same(training.features._to_category(pd.Series([True, False])), ["true", "false"])


def test_rows_share_one_object_per_category(training: Training) -> None:
    got = training.features._to_category(pd.Series(["a", "b"] * 1000, dtype="category"))
    assert len({id(v) for v in got.tolist()}) == 2


BOOLS = ["True", "no", " Y ", None, "", 1, True, 0.0, "0", np.nan, "FALSE", False, "1.0"]
BOOLS_CANONICAL = [1.0, 0.0, 1.0, np.nan, np.nan, 1.0, 1.0, 0.0, 0.0, np.nan, 0.0, 0.0, 1.0]


def test_booleans_from_words_numbers_and_missing(training: Training) -> None:
    got = training.features._to_bool(pd.Series(BOOLS, dtype=object), "promotion")
    assert got.dtype == "float64"
    _same(got, BOOLS_CANONICAL)


def test_booleans_read_as_categories(training: Training) -> None:
    series = pd.Series(["True", " no ", "", None, "y", "True"], dtype="category")
    got = training.features._to_bool(series, "promotion")
    _same(got, [1.0, 0.0, np.nan, np.nan, 1.0, 1.0])


def test_a_bool_column_is_zero_and_one(training: Training) -> None:
    got = training.features._to_bool(pd.Series([True, False, True]), "holiday")
    _same(got, [1.0, 0.0, 1.0])


def test_the_first_bad_boolean_in_row_order_is_named(training: Training) -> None:
    series = pd.Series(["yes", "maybe", "no", "nope", "maybe"], dtype=object)
    with pytest.raises(training.features.ContractDataError, match="'maybe' is not a boolean"):
        training.features._to_bool(series, "promotion")
