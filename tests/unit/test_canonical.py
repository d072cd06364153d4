"""One canonical form for values (modelrail.canonical), and the places that read values
agree on it: the data gate, the baseline profile and the training/serving code."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelrail import canonical
from modelrail.categories import boolean_labels, categorical_labels
from modelrail.validation import _flag
from tests.unit.test_training import Training
from tests.unit.test_training import training as training  # the fixture

WORDS = [
    "true",
    "True",
    " yes ",
    "Y",
    "t",
    "1",
    "1.0",
    "false",
    "FALSE",
    "no",
    "n",
    "f",
    "0",
    "0.0",
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (np.bool_(False), "false"), (3.0, "3"), (np.float64(2.5), "2.5"), (7, "7"),
     (" a ", "a"), ("", None), ("  ", None), (None, None), (math.nan, None), (pd.NA, None),
     (pd.NaT, None)],
)  # fmt: skip
def test_category(value: object, expected: str | None) -> None:
    assert canonical.category(value) == expected


def test_booleans() -> None:
    assert [canonical.boolean(w) for w in WORDS] == [True] * 7 + [False] * 7
    assert canonical.boolean(1.0) is True and canonical.boolean(0) is False
    assert canonical.boolean(None) is None and canonical.boolean("") is None
    with pytest.raises(canonical.NotABoolean, match="'maybe' is not a boolean"):
        canonical.boolean("maybe")
    assert canonical.boolean_label("YES") == "true"


@given(st.lists(st.sampled_from([*WORDS, "maybe", "2", None, "", True, False, 1.0, 0]), min_size=1))
def test_the_gate_the_profile_and_training_read_booleans_alike(values: list[object]) -> None:
    accepted = [_flag(v) for v in values]  # the data gate: None = rejected or missing
    series = pd.Series(values, dtype=object)
    if any(a is None and not canonical.is_missing(v) and canonical.category(v) is not None
           for a, v in zip(accepted, values, strict=True)):  # fmt: skip
        with pytest.raises(ValueError, match="not booleans"):
            boolean_labels(series, "b")
        return
    labels = boolean_labels(series, "b")
    profiled = [None if c < 0 else labels.labels[c] for c in labels.codes]
    assert profiled == [None if a is None else ("true" if a else "false") for a in accepted]


def test_training_converts_what_the_gate_accepts(training: Training) -> None:
    frame = pd.DataFrame({"b": pd.Series([*WORDS, None, ""], dtype=object)})
    converted = training.features._to_bool(frame["b"], "b").tolist()
    expected = [1.0 if _flag(w) else 0.0 for w in WORDS]
    assert converted[:-2] == expected and all(math.isnan(x) for x in converted[-2:])
    with pytest.raises(training.features.ContractDataError, match="'maybe' is not a boolean"):
        training.features._to_bool(pd.Series(["maybe"], dtype=object), "b")


def test_training_categories_are_the_profiles(training: Training) -> None:
    values = pd.Series([" S01", "S01", 3.0, 3, True, None, "", "x "], dtype=object)
    trained = training.features._to_category(values).tolist()
    labels = categorical_labels(values)
    profiled = [None if c < 0 else labels.labels[c] for c in labels.codes]
    assert [None if isinstance(t, float) else t for t in trained] == profiled
