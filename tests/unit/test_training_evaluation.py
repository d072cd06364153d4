"""training/: the evaluation.json sections beyond the headline metrics.

Split, slices, calibration, permutation importance, model size, latency, and the
champion scored on the challenger's holdout. Each test runs ``train.main()`` in-process
against a fake /opt/ml (see test_training.py for the layout).
"""

from __future__ import annotations

import io
import json
import math
import re
import tarfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from modelrail.contract import ModelContract, load_contract, parse_contract
from modelrail.gates import evaluate_gate
from modelrail.sample import generate, write_sample
from tests.unit.test_training import OptMl, Training, _opt_ml
from tests.unit.test_training import training as training  # the fixture

EXPECTED_KEYS = {
    "model",
    "problem_type",
    "primary_metric",
    "metrics",
    "rows",
    "seed",
    "hyperparameters",
    "features",
    "library_versions",
    "split",
    "slices",
    "feature_importance",
    "model_size_bytes",
    "latency_ms",
    "champion",
}
SMALL = ("--n-estimators", "20")  # a quick model where the model itself does not matter


def _strict_json(path: Path) -> dict[str, Any]:
    """evaluation.json, refusing NaN and Infinity (json.dumps writes them by default)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{path.name} holds {constant}")

    result: dict[str, Any] = json.loads(path.read_text(), parse_constant=refuse)
    return result


def _train(
    training: Training, opt_ml: OptMl, data: pd.DataFrame | None, *extra: str
) -> dict[str, Any]:
    if data is not None:
        write_sample(data, opt_ml.channel / "data.csv")
    assert training.train.main(opt_ml.args(*extra)) == 0, opt_ml.failure.read_text()
    return _strict_json(opt_ml.model / "evaluation.json")


def _holdout(
    training: Training, contract: ModelContract, data: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """The holdout rows (raw) and target of a random split, as train.py draws them."""
    mf = training.features
    runtime = contract.to_runtime_json()
    _, x_holdout, _, y_holdout = mf.holdout_split(
        mf.build_features(data, runtime),
        mf.build_target(data, runtime),
        contract.holdout_fraction,
        contract.seed,
        stratify=mf.is_classifier(runtime),
    )
    return data.loc[x_holdout.index], y_holdout


@pytest.fixture
def demand() -> ModelContract:
    return load_contract("demand")


@pytest.fixture
def opt_ml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demand: ModelContract) -> OptMl:
    monkeypatch.delenv("SM_CHANNEL_CHAMPION", raising=False)
    return _opt_ml(tmp_path, monkeypatch, demand)


@pytest.fixture
def champion_channel(opt_ml: OptMl, monkeypatch: pytest.MonkeyPatch) -> Path:
    channel = opt_ml.root / "input" / "data" / "champion"
    channel.mkdir(parents=True)
    monkeypatch.setenv("SM_CHANNEL_CHAMPION", str(channel))
    return channel


# ---------------------------------------------------------------------------
# a regression model with slices: the demand contract as shipped


def test_demand_evaluation_sections(
    training: Training, opt_ml: OptMl, demand: ModelContract, capsys: pytest.CaptureFixture[str]
) -> None:
    data = generate(demand, rows=2000, seed=7)
    evaluation = _train(training, opt_ml, data)
    assert set(evaluation) == EXPECTED_KEYS  # a regression model has no calibration
    assert evaluation["split"] == {"kind": "random", "column": None, "holdout_from": None}
    assert evaluation["champion"] is None

    # slices: every store and category of the holdout, rows adding up, metrics by hand
    raw, y_holdout = _holdout(training, demand, data)
    pipeline = joblib.load(opt_ml.model / "model.joblib")
    runtime = demand.to_runtime_json()
    predicted = training.features.predict(
        pipeline, training.features.build_features(raw, runtime), runtime
    )
    slices = evaluation["slices"]
    assert list(slices) == ["product_category", "store_id"]  # sort_keys
    for column in demand.slices:
        counts = raw[column].value_counts()
        assert {value: block["rows"] for value, block in slices[column].items()} == {
            str(value): int(n) for value, n in counts.items()
        }
        assert sum(block["rows"] for block in slices[column].values()) == 400
        for value, block in slices[column].items():
            assert set(block) == {"rows", "metrics"}
            assert set(block["metrics"]) == {"rmse", "mae", "r2"}  # every slice is large
            mask = (raw[column] == value).to_numpy()
            errors = predicted[mask] - y_holdout.to_numpy()[mask]
            assert block["metrics"]["rmse"] == pytest.approx(math.sqrt((errors**2).mean()))
            assert block["metrics"]["mae"] == pytest.approx(np.abs(errors).mean())
    assert set(slices["store_id"]) == {f"S{i:02d}" for i in range(1, 11)}
    assert set(slices["product_category"]) == {"grocery", "electronics", "apparel", "home", "toys"}

    # permutation importance of every feature on the holdout; price drives demand here
    importance = evaluation["feature_importance"]
    assert {k: v for k, v in importance.items() if k != "importances"} == {
        "method": "permutation",
        "metric": "rmse",
        "repeats": 3,
        "rows": 400,
    }
    importances = importance["importances"]
    assert list(importances) == sorted(c.name for c in demand.features)
    assert all(set(v) == {"mean", "std"} and v["std"] >= 0 for v in importances.values())
    assert max(importances, key=lambda name: importances[name]["mean"]) == "price"
    assert importances["price"]["mean"] > 5 * importances["price"]["std"] > 0

    # size and latency, measured in the job
    assert evaluation["model_size_bytes"] == (opt_ml.model / "model.joblib").stat().st_size
    latency = evaluation["latency_ms"]
    assert set(latency) == {
        "scope",
        "single_p50",
        "single_p95",
        "single_runs",
        "batch_rows",
        "batch_ms",
        "batch_per_row_ms",
    }
    assert latency["single_runs"] == 50
    assert latency["batch_rows"] == 400  # min(1000, holdout)
    assert 0 < latency["single_p50"] <= latency["single_p95"] < 1000
    assert latency["batch_per_row_ms"] == pytest.approx(latency["batch_ms"] / 400, abs=1e-3)
    # a batch amortises the per-call overhead
    assert latency["batch_per_row_ms"] < latency["single_p50"]

    # the diagnostics stay cheap (about 1.3 s here; the bound is loose for busy machines)
    took = re.search(r"champion in ([0-9.]+)s", capsys.readouterr().out)
    assert took is not None and float(took.group(1)) < 6.0


def test_batch_latency_uses_at_most_1000_rows(training: Training, opt_ml: OptMl) -> None:
    evaluation = _train(
        training, opt_ml, generate(opt_ml.contract, rows=6000, seed=3), "--n-estimators", "5"
    )
    assert evaluation["rows"]["holdout"] == 1200
    assert evaluation["latency_ms"]["batch_rows"] == 1000
    assert evaluation["feature_importance"]["rows"] == 1200  # under the 2000-row cap


def test_a_contract_without_slices_has_an_empty_slices_section(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demand: ModelContract
) -> None:
    runtime = demand.to_runtime_json()
    for key in ("slices", "time_column", "quality", "tolerances"):
        del runtime[key]  # a contract rendered before these fields existed
    layout = _opt_ml(tmp_path, monkeypatch, demand)
    layout.contract_path.write_text(json.dumps(runtime))
    evaluation = _train(training, layout, generate(demand, rows=400, seed=1), *SMALL)
    assert evaluation["slices"] == {}
    assert evaluation["split"]["kind"] == "random"


# ---------------------------------------------------------------------------
# metrics a slice cannot support are left out, never NaN


def test_unsupported_slice_metrics_are_left_out(training: Training) -> None:
    mf, me = training.features, training.train.me
    regression = {
        "name": "r",
        "problem_type": "regression",
        "target": "y",
        "columns": [
            {"name": "shop", "type": "categorical"},
            {"name": "open", "type": "boolean"},
            {"name": "y", "type": "numeric"},
        ],
        "primary_metric": {"name": "rmse", "threshold": 1.0},
        "secondary_metrics": ["mae", "r2"],
        "slices": ["shop", "open", "not_a_feature"],
    }
    features = pd.DataFrame(
        {"shop": ["a", "a", "a", "b", None], "open": [1.0, 0.0, 1.0, 1.0, np.nan]}
    )
    target = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    scored = mf.Scored(np.array([1.0, 2.0, 2.0, 4.5, 5.0]))
    slices = me.slice_metrics(me.slice_groups(features, regression), scored, target, regression)
    assert set(slices) == {"shop", "open"}
    assert slices["shop"]["a"] == {
        "rows": 3,
        "metrics": {
            "rmse": pytest.approx(math.sqrt(1 / 3)),
            "mae": pytest.approx(1 / 3),
            "r2": pytest.approx(0.5),
        },
    }
    # one row: r2 is undefined and left out
    assert slices["shop"]["b"] == {"rows": 1, "metrics": {"rmse": 0.5, "mae": 0.5}}
    assert slices["shop"]["__missing__"]["rows"] == 1
    assert {k: v["rows"] for k, v in slices["open"].items()} == {
        "true": 3,
        "false": 1,
        "__missing__": 1,
    }

    binary = {
        **regression,
        "problem_type": "binary",
        "primary_metric": {"name": "roc_auc", "threshold": 0.5},
        "secondary_metrics": ["accuracy", "log_loss"],
    }
    labels = pd.Series([0, 1, 1, 1, 0])
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])
    scored = mf.Scored(np.array([0, 1, 0, 1, 0]), probabilities, [0, 1])
    slices = me.slice_metrics(me.slice_groups(features, binary), scored, labels, binary)
    assert set(slices["shop"]["a"]["metrics"]) == {"roc_auc", "accuracy", "log_loss"}
    # only one class in the slice: no roc_auc
    assert set(slices["shop"]["b"]["metrics"]) == {"accuracy", "log_loss"}


# ---------------------------------------------------------------------------
# classifiers: calibration


def _classifier(problem_type: str) -> ModelContract:
    target: dict[str, Any] = (
        {"name": "churned", "type": "boolean"}
        if problem_type == "binary"
        else {"name": "tier", "type": "categorical", "categories": ["low", "mid", "high"]}
    )
    return parse_contract(
        {
            "name": "attrition",
            "problem_type": problem_type,
            "target": target["name"],
            "columns": [
                {"name": "tenure", "type": "integer", "min": 0, "max": 120},
                {"name": "spend", "type": "numeric", "min": 0, "max": 500, "nullable": True},
                {"name": "plan", "type": "categorical", "categories": ["basic", "plus", "pro"]},
                {"name": "autopay", "type": "boolean"},
                target,
            ],
            "primary_metric": (
                {"name": "roc_auc", "threshold": 0.6}
                if problem_type == "binary"
                else {"name": "log_loss", "threshold": 5.0}
            ),
            "secondary_metrics": ["accuracy", "f1"],
            "hyperparameters": {"n_estimators": 30, "max_depth": 3},
            "slices": ["plan", "autopay"],
        }
    )


def _check_bins(calibration: dict[str, Any], holdout: int) -> None:
    bins = calibration["bins"]
    assert [(b["lo"], b["hi"]) for b in bins] == [(i / 10, (i + 1) / 10) for i in range(10)]
    assert sum(b["count"] for b in bins) == holdout
    assert 0.0 <= calibration["brier"] <= 1.0
    for b in bins:
        assert set(b) == {"lo", "hi", "count", "mean_predicted", "fraction_positive"}
        if b["count"]:
            assert b["lo"] <= b["mean_predicted"] <= b["hi"]
            assert 0.0 <= b["fraction_positive"] <= 1.0
        else:
            assert b["mean_predicted"] is None and b["fraction_positive"] is None


def test_binary_classifier_calibration_and_slices(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = _classifier("binary")
    layout = _opt_ml(tmp_path, monkeypatch, contract)
    data = generate(contract, rows=1000, seed=4)
    evaluation = _train(training, layout, data)
    assert set(evaluation) == EXPECTED_KEYS | {"calibration"}

    calibration = evaluation["calibration"]
    assert calibration["method"] == "positive_class"
    assert calibration["positive_class"] is True
    _check_bins(calibration, 200)
    # the Brier score by hand: the saved model's probabilities on the holdout rows
    raw, y_holdout = _holdout(training, contract, data)
    runtime = contract.to_runtime_json()
    pipeline = joblib.load(layout.model / "model.joblib")
    positive = pipeline.predict_proba(training.features.build_features(raw, runtime))[:, 1]
    outcome = y_holdout.to_numpy().astype(float)
    assert calibration["brier"] == pytest.approx(((positive - outcome) ** 2).mean())

    assert set(evaluation["slices"]["autopay"]) == {"true", "false"}
    assert set(evaluation["slices"]["plan"]) == {"basic", "plus", "pro"}
    for block in evaluation["slices"]["plan"].values():
        assert set(block["metrics"]) == {"roc_auc", "accuracy", "f1"}
    assert evaluation["feature_importance"]["metric"] == "roc_auc"
    assert set(evaluation["feature_importance"]["importances"]) == {
        "tenure",
        "spend",
        "plan",
        "autopay",
    }


def test_multiclass_calibration_is_top1_one_vs_rest(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = _classifier("multiclass")
    layout = _opt_ml(tmp_path, monkeypatch, contract)
    evaluation = _train(training, layout, generate(contract, rows=1000, seed=5))
    calibration = evaluation["calibration"]
    assert calibration["method"] == "top1_one_vs_rest"
    assert "positive_class" not in calibration
    _check_bins(calibration, 200)
    # the top-1 confidence of three classes is at least 1/3
    assert all(b["count"] == 0 for b in calibration["bins"][:3])
    assert evaluation["feature_importance"]["metric"] == "log_loss"


# ---------------------------------------------------------------------------
# the champion, scored on the challenger's holdout


def _tar_model_dir(model_dir: Path, archive: Path) -> None:
    """model.tar.gz as SageMaker packs SM_MODEL_DIR: the files at the archive's top."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)


def test_no_champion_channel_means_null(training: Training, opt_ml: OptMl) -> None:
    evaluation = _train(training, opt_ml, generate(opt_ml.contract, rows=400, seed=1), *SMALL)
    assert evaluation["champion"] is None


def test_a_none_marker_means_null(
    training: Training, opt_ml: OptMl, champion_channel: Path
) -> None:
    (champion_channel / "NONE").write_text("no champion\n")
    evaluation = _train(training, opt_ml, generate(opt_ml.contract, rows=400, seed=1), *SMALL)
    assert evaluation["champion"] is None


@pytest.mark.parametrize("packed", [True, False], ids=["model.tar.gz", "extracted"])
def test_the_champion_is_scored_on_the_same_holdout(
    training: Training, opt_ml: OptMl, champion_channel: Path, packed: bool
) -> None:
    data = generate(opt_ml.contract, rows=1000, seed=11)
    # Train the champion first, without a champion of its own, and package it.
    (champion_channel / "NONE").write_text("no champion\n")
    first = _train(training, opt_ml, data, *SMALL)
    (champion_channel / "NONE").unlink()
    if packed:
        _tar_model_dir(opt_ml.model, champion_channel / "model.tar.gz")
    else:
        for name in ("model.joblib", "contract.json"):
            (champion_channel / name).write_bytes((opt_ml.model / name).read_bytes())
    (champion_channel / "champion.json").write_text(json.dumps({"model": "demand", "version": 3}))

    # The same data and seed: the challenger is the champion, number for number.
    second = _train(training, opt_ml, data, *SMALL)
    champion = second["champion"]
    assert set(champion) == {"version", "model", "rows", "metrics", "slices", "comparison"}
    assert champion["version"] == 3
    assert champion["model"] == "demand"
    assert champion["rows"] == second["rows"]["holdout"] == 200
    assert champion["metrics"] == second["metrics"] == first["metrics"]
    assert champion["slices"] == second["slices"]
    # Identical predictions: every paired difference is 0, and the gate says so.
    comparison = champion["comparison"]
    assert comparison | {"slices": None} == {
        "method": "paired_bootstrap_percentile",
        "metric": "rmse",
        "difference": "challenger minus champion, positive when the challenger is better",
        "greater_is_better": False,
        "confidence": 0.95,
        "resamples": 1000,
        "seed": 42,
        "rows": 200,
        "point": 0.0,
        "lower": 0.0,
        "upper": 0.0,
        "valid_resamples": 1000,
        "slices": None,
    }
    for column, values in second["slices"].items():
        for value, block in values.items():
            assert comparison["slices"][column][value] == {
                "rows": block["rows"],
                "point": 0.0,
                "lower": 0.0,
                "upper": 0.0,
                "valid_resamples": 1000,
            }
    decision = evaluate_gate(opt_ml.contract, second)
    assert not decision.passed
    assert any(r.startswith("no significant improvement: rmse") for r in decision.reasons)


def test_a_weaker_champion_scores_worse_on_the_same_rows(
    training: Training, opt_ml: OptMl, champion_channel: Path
) -> None:
    data = generate(opt_ml.contract, rows=1000, seed=11)
    (champion_channel / "NONE").write_text("no champion\n")
    weak = _train(training, opt_ml, data, "--n-estimators", "3")
    (champion_channel / "NONE").unlink()
    _tar_model_dir(opt_ml.model, champion_channel / "model.tar.gz")  # no champion.json

    evaluation = _train(training, opt_ml, data, *SMALL)
    champion = evaluation["champion"]
    assert champion["version"] is None
    assert "model" not in champion
    assert champion["metrics"] == weak["metrics"]  # the same holdout rows
    assert champion["metrics"]["rmse"] > 1.2 * evaluation["metrics"]["rmse"]
    comparison = champion["comparison"]
    assert comparison["point"] == pytest.approx(
        champion["metrics"]["rmse"] - evaluation["metrics"]["rmse"]
    )
    assert 0 < comparison["lower"] < comparison["point"] < comparison["upper"]
    assert evaluate_gate(opt_ml.contract, evaluation).comparison is not None
    for column, values in evaluation["slices"].items():
        assert set(champion["slices"][column]) == set(values)
        for value, block in values.items():
            assert champion["slices"][column][value]["rows"] == block["rows"]


def _bad_archive(channel: Path) -> None:
    (channel / "model.tar.gz").write_bytes(b"\x1f\x8b not really gzip")


def _archive_without_model(channel: Path) -> None:
    with tarfile.open(channel / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("evaluation.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))


def _unpicklable_model(channel: Path) -> None:
    (channel / "model.joblib").write_bytes(b"not a pickle")


def _unknown_files(channel: Path) -> None:
    (channel / "README").write_text("?")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_bad_archive, "cannot read model.tar.gz: ReadError: not a gzip file"),
        (_archive_without_model, "model.tar.gz has no top-level model.joblib"),
        (_unpicklable_model, "cannot load the champion: "),
        (
            _unknown_files,
            "neither model.tar.gz nor model.joblib (found ['README', 'champion.json'])",
        ),
    ],
    ids=["corrupt-archive", "archive-without-model", "unpicklable", "unknown-files"],
)
def test_a_broken_champion_is_reported_and_the_job_succeeds(
    training: Training,
    opt_ml: OptMl,
    champion_channel: Path,
    make: Any,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make(champion_channel)
    (champion_channel / "champion.json").write_text(json.dumps({"version": 2}))
    evaluation = _train(training, opt_ml, generate(opt_ml.contract, rows=400, seed=1), *SMALL)
    assert not opt_ml.failure.exists()
    assert set(evaluation["champion"]) == {"error"}
    error = evaluation["champion"]["error"]
    assert message in error
    assert "\n" not in error and len(error) <= 300
    assert "champion not scored:" in capsys.readouterr().err


def test_a_champion_of_another_kind_is_reported(
    training: Training,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opt_ml: OptMl,
    champion_channel: Path,
) -> None:
    """A champion whose own contract reads columns this data lacks is an error, not a crash."""
    contract = _classifier("binary")
    other = _opt_ml(tmp_path / "other", monkeypatch, contract)
    monkeypatch.delenv("SM_CHANNEL_CHAMPION")
    _train(training, other, generate(contract, rows=400, seed=1), *SMALL)
    _tar_model_dir(other.model, champion_channel / "model.tar.gz")

    layout = _opt_ml(tmp_path / "demand", monkeypatch, opt_ml.contract)
    monkeypatch.setenv("SM_CHANNEL_CHAMPION", str(champion_channel))
    evaluation = _train(training, layout, generate(opt_ml.contract, rows=400, seed=1), *SMALL)
    assert (
        "the champion is a binary model; this contract is regression"
        in (evaluation["champion"]["error"])
    )


# ---------------------------------------------------------------------------
# time-based split


def _dated(demand: ModelContract) -> ModelContract:
    runtime = demand.to_runtime_json()
    target = runtime["columns"].pop()  # keep the target last, as in the YAML
    runtime["columns"] += [{"name": "sold_on", "type": "datetime"}, target]
    runtime["time_column"] = "sold_on"
    return parse_contract(runtime)


def test_time_split_holds_out_the_latest_rows(
    training: Training, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demand: ModelContract
) -> None:
    contract = _dated(demand)
    layout = _opt_ml(tmp_path, monkeypatch, contract)
    data = generate(demand, rows=600, seed=8)
    rng = np.random.default_rng(0)
    # 90 days, about 6.7 rows a day, in shuffled file order: the cut falls inside a day.
    days = rng.integers(0, 90, size=len(data))
    data.insert(2, "sold_on", (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, "D")))
    data["sold_on"] = data["sold_on"].dt.strftime("%Y-%m-%d")

    evaluation = _train(training, layout, data, *SMALL)
    assert evaluation["rows"] == {"train": 480, "holdout": 120}

    # The expected holdout: the 120 latest rows, a tie at the cut broken by file order.
    latest = data.assign(_row=range(len(data))).sort_values(["sold_on", "_row"]).tail(120)
    cutoff = latest["sold_on"].min()
    assert (data["sold_on"] < cutoff).sum() < 480 < (data["sold_on"] <= cutoff).sum()
    assert evaluation["split"] == {
        "kind": "time",
        "column": "sold_on",
        "holdout_from": f"{cutoff}T00:00:00+00:00",
    }
    for column in demand.slices:
        assert {v: b["rows"] for v, b in evaluation["slices"][column].items()} == {
            str(v): int(n) for v, n in latest[column].value_counts().items()
        }

    # The split function itself: stable, latest last, rows without a time train.
    mf = training.features
    times = pd.to_datetime(
        pd.Series(["2024-01-02", None, "2024-01-01", "2024-01-02", "2024-01-03"])
    )
    frame = pd.DataFrame({"x": range(5)})
    x_train, x_holdout, _, y_holdout = mf.time_split(frame, frame["x"], times, 0.4)
    assert x_holdout.index.tolist() == [3, 4]
    assert x_train.index.tolist() == [1, 2, 0]
    assert y_holdout.index.tolist() == [3, 4]

    # Models trained this way still serve.
    model = training.inference.model_fn(str(layout.model))
    records = json.loads(data.drop(columns="units_sold").head(3).to_json(orient="records"))
    prediction = training.inference.predict_fn(
        training.inference.input_fn(json.dumps({"instances": records}), "application/json"),
        model,
    )
    assert len(prediction.predictions) == 3


def test_time_column_missing_from_the_data_fails(
    training: Training,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demand: ModelContract,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contract = _dated(demand)
    runtime = contract.to_runtime_json()
    runtime["columns"][-2]["required"] = False  # sold_on may be absent...
    runtime["columns"][-2]["nullable"] = True
    layout = _opt_ml(tmp_path, monkeypatch, parse_contract(runtime))
    write_sample(generate(demand, rows=300, seed=1), layout.channel / "data.csv")
    assert training.train.main(layout.args(*SMALL)) == 1
    # ...but not when the holdout is cut by it
    assert layout.failure.read_text() == "time_column 'sold_on' is not in the data\n"
    assert "Traceback" in capsys.readouterr().err


def test_latency_leaves_out_the_time_spent_waiting_for_a_cpu(
    training: Training, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The job measures what a dedicated instance would: a run-queue wait as long as
    every prediction (another process held the CPU) leaves nothing of it."""
    import sys

    me = sys.modules.get("modelrail_evaluation") or __import__("modelrail_evaluation")
    stat = tmp_path / "schedstat"
    stat.write_text("123 2500000000 7\n")
    monkeypatch.setattr(me, "SCHEDSTAT", stat)
    assert me._run_queue_wait() == 2.5
    monkeypatch.setattr(me, "SCHEDSTAT", tmp_path / "missing")
    assert me._run_queue_wait() == 0.0

    clock = iter(range(10**6))
    monkeypatch.setattr(me, "_run_queue_wait", lambda: float(next(clock)))  # +1 s a look
    contract = load_contract("demand").to_runtime_json()
    frame = generate(load_contract("demand"), rows=300, seed=2)
    pipeline = training.features.build_pipeline(contract, seed=1)
    features = training.features.build_features(frame, contract)
    pipeline.fit(features, frame["units_sold"])
    records = me.serving_records(frame.head(20), contract)
    measured = me.latency(pipeline, contract, records)
    assert measured["single_p95"] == 0.0 and measured["single_p50"] == 0.0
