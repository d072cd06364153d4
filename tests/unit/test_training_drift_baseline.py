"""training/: the drift baseline the job writes (D55).

The baseline the job writes in its container (numpy and pandas, no pydantic) must be
the one :func:`modelrail.drift.build.build_baseline` builds from the same holdout rows
read as text, as requests carry them, and the model's served output on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from modelrail.contract import ModelContract
from modelrail.drift import DriftBaseline, NumericReference
from modelrail.drift.build import build_baseline
from modelrail.drift_summary import BASELINE_FILE, COLUMN_KINDS
from modelrail.sample import generate
from tests.unit.test_training import OptMl, Training, _opt_ml
from tests.unit.test_training import demand as demand  # the fixtures
from tests.unit.test_training import opt_ml as opt_ml
from tests.unit.test_training import training as training
from tests.unit.test_training_evaluation import SMALL, _classifier, _holdout, _train


def _written(opt_ml: OptMl) -> DriftBaseline:
    body = (opt_ml.model / BASELINE_FILE).read_text()
    assert (opt_ml.output_data / BASELINE_FILE).read_text() == body
    return DriftBaseline.from_json(body)


def _expected(
    training: Training, opt_ml: OptMl, data: pd.DataFrame, prediction: Any
) -> DriftBaseline:
    """build_baseline over the holdout rows as text (the CSV the job read, every cell a
    string, as a request's cells are) and the given output of the model on them."""
    contract = opt_ml.contract
    raw, _ = _holdout(training, contract, data)
    text = pd.read_csv(opt_ml.channel / "data.csv", dtype=str).loc[raw.index]
    columns: dict[str, Any] = {}
    for column in contract.features:
        kind = COLUMN_KINDS.get(column.type)
        if kind is None or text[column.name].isna().all():
            continue
        values = text[column.name]
        columns[column.name] = (kind, pd.to_numeric(values) if kind == "numeric" else values)
    evaluation = opt_ml.evaluation()
    importances = {k: v["mean"] for k, v in evaluation["feature_importance"]["importances"].items()}
    return build_baseline(columns, prediction=prediction, importances=importances)


def _scored(training: Training, opt_ml: OptMl, data: pd.DataFrame) -> Any:
    mf = training.features
    runtime = opt_ml.contract.to_runtime_json()
    raw, _ = _holdout(training, opt_ml.contract, data)
    pipeline = joblib.load(opt_ml.model / "model.joblib")
    return mf.score(pipeline, mf.build_features(raw, runtime), runtime)


def test_a_regression_baseline_is_the_holdouts_features_and_predictions(
    training: Training, opt_ml: OptMl
) -> None:
    data = generate(opt_ml.contract, rows=1500, seed=3)
    evaluation = _train(training, opt_ml, data, *SMALL)
    written = _written(opt_ml)
    scored = _scored(training, opt_ml, data)
    assert written == _expected(training, opt_ml, data, ("numeric", scored.predictions))

    holdout = evaluation["rows"]["holdout"]
    assert set(written.features) == {c.name for c in opt_ml.contract.features}
    assert all(ref.rows == holdout for ref in written.features.values())
    assert written.features["store_id"].kind == "categorical"
    assert written.features["promotion"].kind == "binary"
    assert isinstance(written.prediction, NumericReference) and written.prediction.n == holdout
    assert written.importances and set(written.importances) == set(written.features)


def test_a_binary_baseline_predicts_the_positive_class_probability(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opt_ml = _opt_ml(tmp_path, monkeypatch, _classifier("binary"))
    data = generate(opt_ml.contract, rows=1000, seed=4)
    _train(training, opt_ml, data)
    written = _written(opt_ml)
    scored = _scored(training, opt_ml, data)
    assert scored.classes == [False, True]
    positive = scored.probabilities[:, 1]
    assert written == _expected(training, opt_ml, data, ("numeric", positive))
    prediction = written.prediction
    assert isinstance(prediction, NumericReference)
    assert prediction.minimum >= 0.0 and prediction.maximum <= 1.0


def test_a_multiclass_baseline_counts_the_decoded_labels(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract: ModelContract = _classifier("multiclass")
    opt_ml = _opt_ml(tmp_path, monkeypatch, contract)
    data = generate(contract, rows=1000, seed=5)
    _train(training, opt_ml, data)
    written = _written(opt_ml)
    labels = np.asarray(_scored(training, opt_ml, data).predictions, dtype=object)
    assert written == _expected(training, opt_ml, data, ("categorical", labels))
    assert written.prediction is not None and written.prediction.kind == "categorical"
    assert set(written.prediction.categories) <= {"low", "mid", "high"}
