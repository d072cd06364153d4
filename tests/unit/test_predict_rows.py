"""``modelrail predict``: a CSV file becomes the model's feature rows (pure, no AWS)."""

from __future__ import annotations

import csv
import io

import pytest

from modelrail.contract import load_contract
from modelrail.deploy.client import PredictInputError, feature_rows
from modelrail.sample import generate

DEMAND = load_contract("demand")
FEATURES = [c.name for c in DEMAND.features]


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def test_the_datasets_own_csv_is_mapped_by_name_and_loses_its_target() -> None:
    data = generate(DEMAND, rows=4, seed=2)
    shuffled = data[list(reversed(data.columns))]
    sent = _rows(feature_rows(shuffled.to_csv(index=False), DEMAND))
    expected = _rows(data[FEATURES].to_csv(index=False, header=False).encode())
    assert sent == expected
    assert len(sent[0]) == len(FEATURES)


def test_a_missing_optional_feature_is_sent_empty() -> None:
    data = generate(DEMAND, rows=2, seed=2).drop(columns=["competitor_price"])
    sent = _rows(feature_rows(data.to_csv(index=False), DEMAND))
    assert [row[FEATURES.index("competitor_price")] for row in sent] == ["", ""]


def test_rows_without_a_header_are_sent_as_they_are() -> None:
    text = "S01,grocery,3.5,False,2,6,21.0,False,3.6\n"
    assert feature_rows(text, DEMAND) == text.encode()


def test_unknown_columns_are_named() -> None:
    data = generate(DEMAND, rows=1, seed=2).assign(row_id=[7])
    with pytest.raises(PredictInputError) as info:
        feature_rows(data.to_csv(index=False), DEMAND)
    assert str(info.value) == (
        f"the CSV header has columns ['row_id'] that model 'demand' does not know; its "
        f"features are {FEATURES} (and the target 'units_sold')"
    )


def test_a_header_without_required_features_names_them() -> None:
    with pytest.raises(PredictInputError) as info:
        feature_rows("store_id,price\nS01,3.5\n", DEMAND)
    assert str(info.value) == (
        "the CSV header lacks required feature columns ['product_category', 'promotion', "
        "'day_of_week', 'month', 'temperature', 'holiday'] of model 'demand'"
    )


def test_a_short_row_is_an_error() -> None:
    header = ",".join(FEATURES)
    with pytest.raises(PredictInputError) as info:
        feature_rows(f"{header}\nS01,grocery\n", DEMAND)
    assert str(info.value) == "CSV row 1 has 2 values; the header has 9"
