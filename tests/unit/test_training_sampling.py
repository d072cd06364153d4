"""training/train.py: a contract's max_training_rows bounds the rows fitted on (D46): a
seeded draw from the training split, recorded in evaluation.json; the holdout stays whole."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from modelrail.contract import load_contract
from modelrail.sample import generate, write_sample
from tests.unit.test_training import OptMl, Training, _opt_ml
from tests.unit.test_training import training as training  # the fixture

SMALL = ("--n-estimators", "10")


def _bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int | None) -> OptMl:
    contract = load_contract("demand").model_copy(update={"max_training_rows": limit})
    layout = _opt_ml(tmp_path, monkeypatch, contract)
    write_sample(generate(contract, rows=1000, seed=5), layout.channel / "data.csv")
    return layout


def test_the_draw_is_recorded_and_the_holdout_kept_whole(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = _bounded(tmp_path, monkeypatch, 300)
    assert training.train.main(layout.args(*SMALL)) == 0
    evaluation = layout.evaluation()
    assert evaluation["rows"] == {"train": 300, "holdout": 200}
    assert evaluation["sampling"] == {
        "method": "uniform_without_replacement",
        "max_training_rows": 300,
        "rows_available": 800,
        "rows_used": 300,
        "seed": 42,
    }
    assert json.loads((layout.model / "contract.json").read_text())["max_training_rows"] == 300


def test_without_a_bound_or_under_it_every_row_is_fitted(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for limit in (None, 800):
        layout = _bounded(tmp_path / str(limit), monkeypatch, limit)
        assert training.train.main(layout.args(*SMALL)) == 0
        assert layout.evaluation()["rows"] == {"train": 800, "holdout": 200}
        assert "sampling" not in layout.evaluation()


def test_the_draw_is_deterministic_in_order_and_follows_the_seed(training: Training) -> None:
    x = pd.DataFrame({"a": range(1000)}, index=range(5000, 6000))
    y = pd.Series(range(1000), index=x.index)
    contract = {"max_training_rows": 100}
    first, y_first, _ = training.train.sample_training_rows(x, y, contract, 42)
    again, _, _ = training.train.sample_training_rows(x, y, contract, 42)
    other, _, _ = training.train.sample_training_rows(x, y, contract, 43)
    assert list(first.index) == list(again.index)
    assert list(first.index) != list(other.index)
    assert first.index.is_monotonic_increasing and first.index.is_unique
    assert list(y_first.index) == list(first.index)
    assert len(first) == 100


def test_a_retraining_holds_out_its_newest_rows(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """holdout-last-rows: the labelled window's newest rows are the holdout (D56), so
    champion and challenger are judged on rows neither was trained on."""
    layout = _bounded(tmp_path, monkeypatch, None)
    assert training.train.main(layout.args(*SMALL, "--holdout-last-rows", "150")) == 0
    evaluation = layout.evaluation()
    assert evaluation["rows"] == {"train": 850, "holdout": 150}
    assert evaluation["split"]["kind"] == "recent" and evaluation["split"]["rows"] == 150
    frame = pd.DataFrame({"a": range(10)})
    x_train, x_hold, _, _, _ = training.train.split_holdout(
        frame, frame, frame["a"], {}, 0.2, 42, recent=3
    )
    assert list(x_hold["a"]) == [7, 8, 9] and list(x_train["a"]) == list(range(7))
    with pytest.raises(training.train.TrainingError, match="leaves no training rows"):
        training.train.split_holdout(frame, frame, frame["a"], {}, 0.2, 42, recent=10)
