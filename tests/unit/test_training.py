"""training/: the SageMaker script-mode entry point and inference handlers, run locally.

Each test lays out a temporary folder shaped like the container's /opt/ml and points the
SageMaker environment variables at it.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from threadpoolctl import threadpool_limits

from modelrail.contract import METRICS, ModelContract, load_contract, parse_contract
from modelrail.sample import generate, write_sample

TRAINING_DIR = Path(__file__).resolve().parents[2] / "training"
TRAINING_MODULES = ("modelrail_features", "modelrail_evaluation", "train", "inference")


@dataclass
class Training:
    features: ModuleType
    train: ModuleType
    inference: ModuleType


@dataclass
class OptMl:
    """A fake /opt/ml plus the runtime contract beside the code."""

    root: Path
    model: Path
    channel: Path
    output: Path
    output_data: Path
    contract_path: Path
    contract: ModelContract

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    def args(self, *extra: str) -> list[str]:
        return ["--model-name", self.contract.name, "--contract", str(self.contract_path), *extra]

    def evaluation(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.model / "evaluation.json").read_text())
        return result


@pytest.fixture
def training(monkeypatch: pytest.MonkeyPatch) -> Iterator[Training]:
    """The training modules imported the way the container does: as top-level modules."""
    monkeypatch.syspath_prepend(str(TRAINING_DIR))
    for name in TRAINING_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    # One OpenMP thread: gradient boosting with 2 threads on a busy 2-core box is 10x slower.
    with threadpool_limits(limits=1):
        yield Training(
            importlib.import_module("modelrail_features"),
            importlib.import_module("train"),
            importlib.import_module("inference"),
        )
    for name in TRAINING_MODULES:
        sys.modules.pop(name, None)


def _opt_ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contract: ModelContract) -> OptMl:
    root = tmp_path / "opt" / "ml"
    layout = OptMl(
        root=root,
        model=root / "model",
        channel=root / "input" / "data" / "train",
        output=root / "output",
        output_data=root / "output" / "data",
        contract_path=tmp_path / "code" / "contracts" / f"{contract.name}.json",
        contract=contract,
    )
    layout.channel.mkdir(parents=True)
    layout.contract_path.parent.mkdir(parents=True)
    layout.contract_path.write_text(json.dumps(contract.to_runtime_json(), indent=2))
    monkeypatch.setenv("SM_MODEL_DIR", str(layout.model))
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(layout.channel))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(layout.output_data))
    monkeypatch.setenv("SM_OUTPUT_DIR", str(layout.output))
    return layout


@pytest.fixture
def demand() -> ModelContract:
    return load_contract("demand")


@pytest.fixture
def opt_ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demand: ModelContract) -> OptMl:
    return _opt_ml(tmp_path, monkeypatch, demand)


def _trained(training: Training, opt_ml: OptMl, rows: int = 2000, *extra: str) -> dict[str, Any]:
    write_sample(generate(opt_ml.contract, rows=rows, seed=7), opt_ml.channel / "data.csv")
    assert training.train.main(opt_ml.args(*extra)) == 0
    return opt_ml.evaluation()


# ---------------------------------------------------------------------------
# training


def test_demand_trains_and_beats_its_threshold_and_the_mean(
    training: Training, opt_ml: OptMl, demand: ModelContract
) -> None:
    evaluation = _trained(training, opt_ml)

    assert sorted(p.name for p in opt_ml.model.iterdir()) == [
        "code",  # the serving code (see test_the_model_archive_carries_the_serving_code)
        "contract.json",
        "drift_baseline.json",  # see test_training_drift_baseline.py
        "evaluation.json",
        "model.joblib",
    ]
    assert (opt_ml.output_data / "evaluation.json").read_text() == (
        opt_ml.model / "evaluation.json"
    ).read_text()
    assert not opt_ml.failure.exists()
    assert json.loads((opt_ml.model / "contract.json").read_text()) == demand.to_runtime_json()

    assert set(evaluation) == {
        "model",
        "problem_type",
        "primary_metric",
        "metrics",
        "rows",
        "seed",
        "hyperparameters",
        "features",
        "library_versions",
        # added by the evaluation diagnostics (see test_training_evaluation.py)
        "split",
        "slices",
        "feature_importance",
        "model_size_bytes",
        "latency_ms",
        "champion",
    }
    assert evaluation["model"] == "demand"
    assert evaluation["problem_type"] == "regression"
    primary = evaluation["primary_metric"]
    assert set(primary) == {"name", "value", "threshold", "greater_is_better"}
    assert primary["name"] == "rmse"
    assert primary["threshold"] == demand.primary_metric.threshold
    assert primary["greater_is_better"] is False
    assert set(evaluation["metrics"]) == {"rmse", "mae", "r2"}
    assert primary["value"] == evaluation["metrics"]["rmse"]
    assert evaluation["rows"] == {"train": 1600, "holdout": 400}
    assert evaluation["seed"] == demand.seed
    assert evaluation["hyperparameters"] == demand.hyperparameters
    assert evaluation["features"] == [c.name for c in demand.features]
    versions = evaluation["library_versions"]
    assert set(versions) == {"python", "sklearn", "numpy", "pandas"}
    assert versions["sklearn"] == sklearn.__version__

    # the contract's bar, with room to spare
    assert demand.primary_metric.passes(primary["value"])
    assert primary["value"] < 0.9 * demand.primary_metric.threshold
    assert evaluation["metrics"]["r2"] > 0.7

    # ...which predicting the training mean does not clear
    features = training.features
    runtime = demand.to_runtime_json()
    frame = pd.read_csv(opt_ml.channel / "data.csv")
    _, _, y_train, y_holdout = features.holdout_split(
        features.build_features(frame, runtime),
        features.build_target(frame, runtime),
        demand.holdout_fraction,
        demand.seed,
        stratify=False,
    )
    baseline = float(np.sqrt(((y_holdout - y_train.mean()) ** 2).mean()))
    assert not demand.primary_metric.passes(baseline)
    assert primary["value"] < 0.5 * baseline


def test_training_is_reproducible(training: Training, opt_ml: OptMl) -> None:
    first = _trained(training, opt_ml, 600, "--n-estimators", "20")
    second = _trained(training, opt_ml, 600, "--n-estimators", "20")
    assert first["metrics"] == second["metrics"]


def test_sagemaker_style_hyperparameters(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    """Values JSON-encoded by the caller, snake_case keys and unknown extras all work."""
    write_sample(generate(opt_ml.contract, rows=400, seed=1), opt_ml.channel / "data.csv")
    argv = [
        "--model_name",
        '"demand"',
        "--contract",
        str(opt_ml.contract_path),
        "--seed",
        '"7"',
        "--n_estimators",
        "12",
        "--learning_rate",
        "0.2",
        "--sagemaker_program",
        '"train.py"',
    ]
    assert training.train.main(argv) == 0
    evaluation = opt_ml.evaluation()
    assert evaluation["seed"] == 7
    assert evaluation["hyperparameters"] == {
        "n_estimators": 12,
        "max_depth": 6,
        "learning_rate": 0.2,
    }
    pipeline = joblib.load(opt_ml.model / "model.joblib")
    model = pipeline.named_steps["model"]
    assert (model.max_iter, model.max_depth, model.learning_rate, model.random_state) == (
        12,
        6,
        0.2,
        7,
    )
    out = capsys.readouterr()
    assert "modelrail-metric rmse=" in out.out
    assert "ignoring unknown arguments: ['--sagemaker_program', '\"train.py\"']" in out.err


def test_default_contract_is_beside_train_py(training: Training) -> None:
    assert training.train.resolve_contract_path("demand", None) == (
        TRAINING_DIR / "contracts" / "demand.json"
    )
    assert training.train.resolve_contract_path("demand", "/x/c.json") == Path("/x/c.json")


def test_several_files_are_concatenated_in_name_order(training: Training, opt_ml: OptMl) -> None:
    df = generate(opt_ml.contract, rows=500, seed=2)
    write_sample(df.iloc[:300], opt_ml.channel / "part-b.csv")
    write_sample(df.iloc[300:], opt_ml.channel / "part-a.csv")
    frame = training.train.read_channel(opt_ml.channel, opt_ml.contract.to_runtime_json())
    expected = pd.concat([df.iloc[300:], df.iloc[:300]], ignore_index=True)
    # Text columns are read as categories, kept across files (the union of both's).
    assert isinstance(frame["store_id"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(frame.astype(object), expected.astype(object))
    assert training.train.main(opt_ml.args("--n-estimators", "10")) == 0
    assert opt_ml.evaluation()["rows"] == {"train": 400, "holdout": 100}


def test_categorical_codes_keep_leading_zeros(training: Training, opt_ml: OptMl) -> None:
    (opt_ml.channel / "data.csv").write_text("store_id,units_sold\n007,1\n")
    frame = training.train.read_channel(opt_ml.channel, opt_ml.contract.to_runtime_json())
    assert frame["store_id"].tolist() == ["007"]


# ---------------------------------------------------------------------------
# failures: the failure file, a traceback on stderr, exit code 1


def _fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str], *args: str
) -> str:
    assert training.train.main(list(args) or opt_ml.args()) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert not (opt_ml.model / "model.joblib").exists()
    reason = opt_ml.failure.read_text()
    assert reason.endswith("\n") and "\n" not in reason[:-1]  # one paragraph
    return reason.strip()


def test_empty_channel_fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _fails(training, opt_ml, capsys) == f"train channel {opt_ml.channel} has no data files"


def test_missing_channel_fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    opt_ml.channel.rmdir()
    assert _fails(training, opt_ml, capsys) == f"train channel {opt_ml.channel} does not exist"


def test_missing_target_column_fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    df = generate(opt_ml.contract, rows=300, seed=1).drop(columns="units_sold")
    write_sample(df, opt_ml.channel / "data.csv")
    assert _fails(training, opt_ml, capsys) == "target column 'units_sold' is missing from the data"


def test_missing_feature_column_fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    df = generate(opt_ml.contract, rows=300, seed=1).drop(columns=["price", "month"])
    write_sample(df, opt_ml.channel / "data.csv")
    assert (
        _fails(training, opt_ml, capsys) == "missing required feature columns: ['price', 'month']"
    )


def test_too_few_rows_fail(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sample(generate(opt_ml.contract, rows=50, seed=1), opt_ml.channel / "data.csv")
    assert (
        _fails(training, opt_ml, capsys)
        == "train channel has 50 rows; the demand contract needs at least 200"
    )


def test_unsupported_files_fail(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sample(generate(opt_ml.contract, rows=300, seed=1), opt_ml.channel / "data.csv")
    (opt_ml.channel / "notes.txt").write_text("hello")
    assert _fails(training, opt_ml, capsys) == (
        f"train channel {opt_ml.channel}: unsupported files ['notes.txt']; "
        "expected .csv, .csv.gz, .parquet"
    )


def test_unparseable_values_fail(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    df = generate(opt_ml.contract, rows=300, seed=1).astype({"price": object})
    df.loc[5, "price"] = "cheap"
    write_sample(df, opt_ml.channel / "data.csv")
    assert _fails(training, opt_ml, capsys) == "column 'price': expected numbers, got ['cheap']"


def test_contract_for_another_model_fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--model-name", "other", "--contract", str(opt_ml.contract_path)]
    assert _fails(training, opt_ml, capsys, *args) == (
        f"contract {opt_ml.contract_path} is for model 'demand', not 'other'"
    )


def test_no_model_name_fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _fails(training, opt_ml, capsys, "--seed", "1") == (
        "pass --model-name (or --contract) to say which model to train"
    )


def test_bad_argument_value_fails(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = _fails(training, opt_ml, capsys, *opt_ml.args("--seed", "4.5"))
    assert reason == "invalid arguments: argument --seed: expected an integer, got '4.5'"


def test_unknown_hyperparameter_fails(
    training: Training,
    opt_ml: OptMl,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = opt_ml.contract.to_runtime_json()
    runtime["hyperparameters"]["max_dpeth"] = 3
    opt_ml.contract_path.write_text(json.dumps(runtime))
    write_sample(generate(opt_ml.contract, rows=300, seed=1), opt_ml.channel / "data.csv")
    reason = _fails(training, opt_ml, capsys)
    assert reason.startswith(
        "ValueError: unknown hyperparameters ['max_dpeth'] for HistGradientBoostingRegressor; "
        "known: ["
    )
    assert "'n_estimators'" in reason and "'max_depth'" in reason


def test_process_exit_code_is_1(opt_ml: OptMl) -> None:
    """Run as SageMaker does: a separate Python process with only the environment."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            str(TRAINING_DIR / "train.py"),
            *("--model-name", '"demand"', "--contract", str(opt_ml.contract_path)),
        ],
        cwd=opt_ml.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "TrainingError: train channel" in result.stderr
    assert opt_ml.failure.read_text() == f"train channel {opt_ml.channel} has no data files\n"


# ---------------------------------------------------------------------------
# inference round trip


def _csv_rows(df: pd.DataFrame) -> str:
    out = io.StringIO()
    df.to_csv(out, index=False, header=False, lineterminator="\n")
    return out.getvalue()


def test_inference_round_trip(training: Training, opt_ml: OptMl, demand: ModelContract) -> None:
    _trained(training, opt_ml)
    inference = training.inference
    model = inference.model_fn(str(opt_ml.model))
    requests = generate(demand, rows=40, seed=99)
    features = requests.drop(columns="units_sold")

    # JSON: {"instances": [...]}, with NaN sent as null
    records = json.loads(features.to_json(orient="records"))
    body, content_type = inference.output_fn(
        inference.predict_fn(
            inference.input_fn(json.dumps({"instances": records}), "application/json"), model
        ),
        "application/json",
    )
    assert content_type == "application/json"
    payload = json.loads(body)
    assert set(payload) == {"predictions"}
    predictions = payload["predictions"]
    assert len(predictions) == 40
    assert all(isinstance(p, float) and p >= 0 for p in predictions)

    # the same numbers as the pipeline itself gives
    pipeline = joblib.load(opt_ml.model / "model.joblib")
    runtime = demand.to_runtime_json()
    direct = training.features.predict(
        pipeline, training.features.build_features(features, runtime), runtime
    )
    np.testing.assert_allclose(predictions, direct)
    # and they track the truth
    rmse = float(np.sqrt(((np.array(predictions) - requests["units_sold"]) ** 2).mean()))
    assert rmse < demand.primary_metric.threshold * 1.5

    # a bare list of records, bytes, charset parameter
    listed = inference.input_fn(json.dumps(records).encode(), "application/json; charset=utf-8")
    np.testing.assert_allclose(inference.predict_fn(listed, model).predictions, predictions)

    # one record on its own
    single = inference.predict_fn(
        inference.input_fn(json.dumps(records[3]), "application/json"), model
    )
    assert single.predictions == pytest.approx([predictions[3]])

    # CSV without a header, in contract feature order
    csv_body = _csv_rows(features)
    from_csv = inference.predict_fn(inference.input_fn(csv_body, "text/csv"), model)
    np.testing.assert_allclose(from_csv.predictions, predictions)

    # CSV with a header row, columns in any order
    shuffled = features[list(reversed(features.columns))]
    with_header = shuffled.to_csv(index=False, lineterminator="\n")
    from_header = inference.predict_fn(inference.input_fn(with_header, "text/csv"), model)
    np.testing.assert_allclose(from_header.predictions, predictions)

    # CSV out: one prediction per line
    csv_out, csv_type = inference.output_fn(from_csv, "text/csv")
    assert csv_type == "text/csv"
    np.testing.assert_allclose([float(line) for line in csv_out.splitlines()], predictions)

    # no Accept / */* means JSON
    assert inference.output_fn(from_csv, "*/*")[1] == "application/json"
    assert inference.output_fn(from_csv, None)[1] == "application/json"


def test_optional_features_may_be_left_out(
    training: Training, opt_ml: OptMl, demand: ModelContract
) -> None:
    _trained(training, opt_ml, 600, "--n-estimators", "20")
    model = training.inference.model_fn(str(opt_ml.model))
    record = generate(demand, rows=1, seed=3).drop(columns=["units_sold", "competitor_price"])
    body = json.dumps(json.loads(record.to_json(orient="records"))[0])
    result = training.inference.predict_fn(
        training.inference.input_fn(body, "application/json"), model
    )
    assert len(result.predictions) == 1


@pytest.fixture
def served(training: Training, opt_ml: OptMl) -> tuple[ModuleType, Any]:
    _trained(training, opt_ml, 400, "--n-estimators", "5")
    return training.inference, training.inference.model_fn(str(opt_ml.model))


def _rejected(result: Any) -> tuple[int, str]:
    assert type(result).__name__ == "Rejected", result
    return result.status, result.message


def test_missing_required_features_are_named(served: tuple[ModuleType, Any]) -> None:
    inference, model = served
    request = inference.input_fn(
        json.dumps({"instances": [{"store_id": "S01"}]}), "application/json"
    )
    assert _rejected(inference.predict_fn(request, model)) == (
        400,
        "missing required feature columns: ['product_category', 'price', 'promotion', "
        "'day_of_week', 'month', 'temperature', 'holiday']",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("{}", "application/x-npy", 415, "unsupported content type 'application/x-npy'"),
        ("{nope", "application/json", 400, "request body is not valid JSON"),
        ('"text"', "application/json", 400, "JSON requests must be"),
        ('{"instances": []}', "application/json", 400, "the request has no instances"),
        ("\n\n", "text/csv", 400, "the CSV request has no rows"),
        (b"\xff\xfe", "text/csv", 400, "request body is not UTF-8 text"),
    ],
)
def test_bad_requests(
    served: tuple[ModuleType, Any], body: str, content_type: str, status: int, message: str
) -> None:
    inference, _ = served
    got_status, got_message = _rejected(inference.input_fn(body, content_type))
    assert got_status == status
    assert got_message.startswith(message)


def test_csv_rows_must_have_every_feature(served: tuple[ModuleType, Any]) -> None:
    inference, model = served
    request = inference.input_fn("S01,grocery,3.5\n", "text/csv")
    assert _rejected(inference.predict_fn(request, model)) == (
        400,
        "CSV row 1 has 3 values; expected 9 (store_id, product_category, price, promotion, "
        "day_of_week, month, temperature, holiday, competitor_price); a row with other "
        "columns (the target too) needs a header row",
    )


def test_a_csv_header_maps_columns_by_name_and_drops_the_target(
    served: tuple[ModuleType, Any], demand: ModelContract
) -> None:
    inference, model = served
    data = generate(demand, rows=5, seed=4)  # the dataset's own columns, target included
    features = data.drop(columns="units_sold")
    positional = inference.predict_fn(inference.input_fn(_csv_rows(features), "text/csv"), model)
    shuffled = data[list(reversed(data.columns))].to_csv(index=False, lineterminator="\n")
    by_name = inference.predict_fn(inference.input_fn(shuffled, "text/csv"), model)
    np.testing.assert_allclose(by_name.predictions, positional.predictions)


def test_a_csv_header_with_unknown_columns_names_them(
    served: tuple[ModuleType, Any], demand: ModelContract
) -> None:
    inference, model = served
    data = generate(demand, rows=2, seed=4).assign(row_id=[1, 2])
    request = inference.input_fn(data.to_csv(index=False), "text/csv")
    status, message = _rejected(inference.predict_fn(request, model))
    assert status == 400
    assert message == (
        f"CSV header columns {list(data.columns)} do not fit the model: unknown ['row_id']; "
        "expected ['store_id', 'product_category', 'price', 'promotion', 'day_of_week', "
        "'month', 'temperature', 'holiday', 'competitor_price'] (the target 'units_sold' "
        "may be included)"
    )


@pytest.fixture
def container_worker(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The container's ``sagemaker_containers.beta.framework.worker`` (the local cloud's
    stand-in), importable for this test only."""
    from modelrail.local.serve_worker import CONTAINER_PACKAGES

    path = CONTAINER_PACKAGES / "sagemaker_containers/beta/framework/worker.py"
    spec = importlib.util.spec_from_file_location("stand_in_worker", path)
    assert spec is not None and spec.loader is not None
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    framework = ModuleType("sagemaker_containers.beta.framework")
    framework.worker = worker  # type: ignore[attr-defined]
    for name in ("sagemaker_containers", "sagemaker_containers.beta"):
        monkeypatch.setitem(sys.modules, name, ModuleType(name))
    monkeypatch.setitem(sys.modules, framework.__name__, framework)
    return worker


def test_bad_values_and_accept_types(
    served: tuple[ModuleType, Any], container_worker: ModuleType
) -> None:
    inference, model = served
    row = "S01,grocery,3.5,maybe,5,6,20.0,False,3.9\n"
    rejected = inference.predict_fn(inference.input_fn(row, "text/csv"), model)
    assert _rejected(rejected) == (400, "column 'promotion': 'maybe' is not a boolean")
    response = inference.output_fn(rejected, "application/json")
    assert isinstance(response, container_worker.Response)
    assert (response.status_code, response.mimetype) == (400, "application/json")
    assert json.loads(response.get_data()) == {
        "error": "BadRequest",
        "error-message": "column 'promotion': 'maybe' is not a boolean",
    }
    good = inference.predict_fn(inference.input_fn(row.replace("maybe", "yes"), "text/csv"), model)
    not_acceptable = inference.output_fn(good, "application/xml")
    assert not_acceptable.status_code == 406
    assert json.loads(not_acceptable.get_data())["error-message"] == (
        "unsupported accept type 'application/xml'; ask for application/json or text/csv"
    )


# ---------------------------------------------------------------------------
# classifiers, on a contract with no hand-written generator


def _churn() -> ModelContract:
    return parse_contract(
        {
            "name": "attrition",
            "problem_type": "binary",
            "target": "churned",
            "columns": [
                {"name": "tenure", "type": "integer", "min": 0, "max": 120},
                {"name": "spend", "type": "numeric", "min": 0, "max": 500, "nullable": True},
                {"name": "plan", "type": "categorical", "categories": ["basic", "plus", "pro"]},
                {"name": "autopay", "type": "boolean"},
                {"name": "churned", "type": "boolean"},
            ],
            "primary_metric": {"name": "roc_auc", "threshold": 0.6},
            "secondary_metrics": ["accuracy", "f1", "log_loss"],
            "hyperparameters": {"n_estimators": 30, "max_depth": 3},
        }
    )


def test_binary_classifier_trains_and_serves(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opt_ml = _opt_ml(tmp_path, monkeypatch, _churn())
    df = generate(opt_ml.contract, rows=1000, seed=4)
    write_sample(df, opt_ml.channel / "data.csv")
    assert training.train.main(opt_ml.args()) == 0
    evaluation = opt_ml.evaluation()
    assert evaluation["problem_type"] == "binary"
    assert set(evaluation["metrics"]) == {"roc_auc", "accuracy", "f1", "log_loss"}
    assert evaluation["primary_metric"]["greater_is_better"] is True
    assert evaluation["metrics"]["roc_auc"] > 0.6
    assert evaluation["rows"] == {"train": 800, "holdout": 200}

    inference = training.inference
    model = inference.model_fn(str(opt_ml.model))
    records = json.loads(df.drop(columns="churned").head(5).to_json(orient="records"))
    prediction = inference.predict_fn(
        inference.input_fn(json.dumps({"instances": records}), "application/json"), model
    )
    body = json.loads(inference.output_fn(prediction, "application/json")[0])
    assert set(body) == {"predictions", "probabilities", "classes"}
    assert body["classes"] == [False, True]
    assert all(isinstance(p, bool) for p in body["predictions"])
    assert len(body["probabilities"]) == 5
    for label, probabilities in zip(body["predictions"], body["probabilities"], strict=True):
        assert sum(probabilities) == pytest.approx(1.0)
        assert label == (probabilities[1] > probabilities[0])
    rows = list(csv.reader(io.StringIO(inference.output_fn(prediction, "text/csv")[0])))
    assert [len(r) for r in rows] == [3] * 5
    assert rows[0][0] in ("True", "False")


# ---------------------------------------------------------------------------
# shared feature code


def test_metric_table_matches_the_contract(training: Training) -> None:
    expected = {name: greater for name, (_, greater) in METRICS.items()}
    table = training.features.GREATER_IS_BETTER
    assert table == expected


def test_metrics_by_hand(training: Training) -> None:
    metric = training.features.compute_metric
    assert metric("rmse", [0.0, 0.0], [3.0, 4.0]) == pytest.approx(np.sqrt(12.5))
    assert metric("mae", [0.0, 0.0], [3.0, 4.0]) == pytest.approx(3.5)
    assert metric("mape", [2.0, 4.0], [1.0, 5.0]) == pytest.approx(0.375)
    assert metric("r2", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert metric("accuracy", [0, 1, 1, 0], [0, 1, 0, 0]) == pytest.approx(0.75)
    assert metric("f1", [0, 1, 1, 0], [0, 1, 0, 0], classes=[0, 1]) == pytest.approx(2 / 3)
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.7, 0.3]])
    assert metric("roc_auc", [0, 1, 1, 0], [0, 1, 0, 0], probabilities, [0, 1]) == pytest.approx(
        0.75
    )
    assert metric("log_loss", [0, 1], [0, 1], np.array([[0.5, 0.5], [0.5, 0.5]]), [0, 1]) == (
        pytest.approx(np.log(2))
    )
    with pytest.raises(ValueError, match=r"metric 'roc_auc' needs class probabilities"):
        metric("roc_auc", [0, 1], [0, 1])
    with pytest.raises(ValueError, match=r"unknown metric 'auc'"):
        metric("auc", [0, 1], [0, 1])


def test_feature_frame_types(training: Training, demand: ModelContract) -> None:
    frame = pd.DataFrame(
        {
            "store_id": ["S01", None, 7],
            "product_category": ["toys", "home", "toys"],
            "price": ["3.5", 4, None],
            "promotion": ["yes", False, "1"],
            "day_of_week": [1, 2, 3],
            "month": [1.0, 2.0, 3.0],
            "temperature": [1.5, None, -3.0],
            "holiday": [True, "false", None],
            "units_sold": [1, 2, 3],
            "unrelated": ["x", "y", "z"],
        }
    )
    features = training.features.build_features(frame, demand.to_runtime_json())
    assert list(features.columns) == [c.name for c in demand.features]
    assert features["store_id"].tolist()[0::2] == ["S01", "7"]
    assert pd.isna(features["store_id"][1])
    assert features["price"].tolist()[:2] == [3.5, 4.0]
    assert features["promotion"].tolist() == [1.0, 0.0, 1.0]
    assert features["holiday"].tolist()[:2] == [1.0, 0.0]
    assert features["competitor_price"].isna().all()  # optional, absent
    numeric = ["price", "promotion", "day_of_week", "month", "temperature", "holiday"]
    assert all(features[c].dtype == np.float64 for c in numeric)


def test_holdout_split_is_seeded_and_stratified(training: Training) -> None:
    x = pd.DataFrame({"a": range(100)})
    y = pd.Series([0] * 90 + [1] * 10)
    split = training.features.holdout_split
    first = split(x, y, 0.2, 3, stratify=True)
    again = split(x, y, 0.2, 3, stratify=True)
    other = split(x, y, 0.2, 4, stratify=True)
    assert first[1].index.tolist() == again[1].index.tolist()
    assert first[1].index.tolist() != other[1].index.tolist()
    assert first[3].sum() == 2  # 10% of the 20 holdout rows, exactly


# ---------------------------------------------------------------------------
# tuning trials


def test_a_tuning_trial_reports_its_objective_on_rows_the_gate_never_sees(
    training: Training,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    churn = load_contract("churn")
    layout = _opt_ml(tmp_path, monkeypatch, churn)
    write_sample(generate(churn, rows=1000, seed=3), layout.channel / "data.csv")
    # as a tuning job passes them: static ones JSON-encoded, searched ones raw
    argv = layout.args(
        "--tuning-trial", '"true"', "--max_depth", "3", "--min_samples_leaf", "25",
        "--learning_rate", "0.0731", "--sagemaker_program", '"train.py"',
    )  # fmt: skip
    assert training.train.main(argv) == 0
    evaluation = layout.evaluation()
    # the holdout is the same 200 rows as a plain run; validation comes out of the 800
    assert evaluation["rows"] == {"train": 640, "holdout": 200}
    assert evaluation["validation"]["rows"] == 160
    assert evaluation["validation"]["split"] == "random"
    assert set(evaluation["validation"]["metrics"]) == {"roc_auc", "accuracy", "log_loss"}
    assert evaluation["hyperparameters"] == {
        "n_estimators": 100,
        "max_depth": 3,
        "min_samples_leaf": 25,
        "learning_rate": 0.0731,
    }
    model = joblib.load(layout.model / "model.joblib").named_steps["model"]
    assert (model.max_depth, model.min_samples_leaf, model.learning_rate) == (3, 25, 0.0731)
    out = capsys.readouterr().out
    auc = evaluation["validation"]["metrics"]["roc_auc"]
    assert f"modelrail-metric validation:roc_auc={auc:.6g}" in out
    assert f"modelrail-metric roc_auc={evaluation['metrics']['roc_auc']:.6g}" in out

    # the same holdout rows as a run without --tuning-trial
    plain = _opt_ml(tmp_path / "plain", monkeypatch, churn)
    write_sample(generate(churn, rows=1000, seed=3), plain.channel / "data.csv")
    assert training.train.main(plain.args()) == 0
    assert plain.evaluation()["rows"] == {"train": 800, "holdout": 200}
    assert "validation" not in plain.evaluation()
    assert plain.evaluation()["slices"]["plan"].keys() == evaluation["slices"]["plan"].keys()
    for plan, block in plain.evaluation()["slices"]["plan"].items():
        assert block["rows"] == evaluation["slices"]["plan"][plan]["rows"]


def test_a_misspelt_searched_hyperparameter_fails_the_trial_by_name(
    training: Training, opt_ml: OptMl, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sample(generate(opt_ml.contract, rows=300, seed=1), opt_ml.channel / "data.csv")
    reason = _fails(training, opt_ml, capsys, *opt_ml.args("--min_sample_leaf", "5"))
    assert reason.startswith("ValueError: unknown hyperparameters ['min_sample_leaf']")


def test_searched_values_arrive_as_strings_and_are_typed(training: Training) -> None:
    args = training.train.parse_args(
        ["--a", "3", "--b", "0.5", "--c", '"text"', "--d", "true", "--flag", "--e", "1e-3"]
    )
    assert args.overrides == {"a": 3, "b": 0.5, "c": "text", "d": True, "e": 0.001}


def test_the_model_archive_carries_the_serving_code(training: Training, opt_ml: OptMl) -> None:
    _trained(training, opt_ml, 300)
    for module in ("inference.py", "modelrail_features.py"):
        assert (opt_ml.model / "code" / module).read_bytes() == (TRAINING_DIR / module).read_bytes()


def test_a_header_is_recognised_by_its_names_only(training: Training) -> None:
    from modelrail.payloads import is_header

    features, target = ["a", "b"], "y"
    assert is_header(["b", "a", "y"], features, target, ["a"])
    assert is_header(["a", "b", "extra"], features, target, ["a", "b"])  # then rejected
    assert not is_header(["1.5", "2"], features, target, ["a"])
    # with no required feature, a row of values is still not a header
    assert not is_header(["1.5", "2"], features, target, [])
