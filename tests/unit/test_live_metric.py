"""The live metric from late labels (modelrail.monitoring.live): the contract's primary
metric as scikit-learn computes it, labels read as the training job reads its target,
every row left out counted, explicit answers where there is no metric, and the same
result whatever the rows' order."""

from __future__ import annotations

import importlib
import io
import math
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from modelrail.contract import ModelContract, load_contract
from modelrail.monitoring import live
from modelrail.monitoring.live import (
    BadAnswer,
    LabelCounts,
    LiveMeasurement,
    LiveMetricUnavailable,
    RowOutput,
    Unavailable,
    answer_rows,
    live_metric,
)
from modelrail.monitoring.policy import Evidence, RetrainPolicy, Trigger, fired
from tests.unit.test_training import TRAINING_DIR, TRAINING_MODULES

END = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CHURN = load_contract("churn")  # binary, boolean target, roc_auc >= 0.75
DEMAND = load_contract("demand")  # regression, numeric target, rmse <= 25


def contract(problem: str, target: str, metric: str, threshold: float = 0.5) -> ModelContract:
    return ModelContract.model_validate(
        {
            "name": "live-test",
            "problem_type": problem,
            "target": "y",
            "columns": [{"name": "x", "type": "numeric"}, {"name": "y", "type": target}],
            "primary_metric": {"name": metric, "threshold": threshold},
        }
    )


def binary_rows(truth: list[bool], score: list[float]) -> list[RowOutput]:
    body = {
        "predictions": [s > 0.5 for s in score],
        "probabilities": [[1 - s, s] for s in score],
        "classes": [False, True],
    }
    return answer_rows(body)


def measured(result: LiveMeasurement | LiveMetricUnavailable) -> LiveMeasurement:
    assert isinstance(result, LiveMeasurement), result
    return result


def test_roc_auc_of_churn_labels_spelled_as_training_reads_them() -> None:
    words = {True: ["true", "yes", "1", "T", " Y "], False: ["false", "no", "0", "f", "0.0"]}
    rng = np.random.default_rng(4)
    truth = [bool(v) for v in rng.integers(0, 2, 200)]
    score = [
        round(float(s), 1) for s in np.clip(rng.normal(0.35 + 0.3 * np.array(truth), 0.2), 0, 1)
    ]
    labels = [words[t][i % 5] for i, t in enumerate(truth)]
    result = measured(live_metric(CHURN, labels, binary_rows(truth, score), window_end=END))
    assert result.value == pytest.approx(skm.roc_auc_score(truth, score), rel=1e-12)
    assert (result.name, result.threshold, result.greater_is_better) == ("roc_auc", 0.75, True)
    assert (result.labelled_rows, result.window_end) == (200, END)
    assert result.counts == LabelCounts(joined=200, scored=200)
    assert result.failing is (result.value < 0.75)


def test_labels_that_do_not_fit_the_target_are_counted_not_fatal() -> None:
    truth = [True, False, True, False, True]
    rows = binary_rows(truth, [0.9, 0.2, 0.6, 0.4, 0.3])
    labels = ["yes", "no", "maybe", "", "2"]
    result = measured(live_metric(CHURN, labels, rows, window_end=END))
    assert result.counts == LabelCounts(
        joined=5, scored=2, unfit=3, unfit_examples=("", "2", "maybe")
    )
    assert result.value == 1.0 and result.labelled_rows == 2


def test_answers_without_what_the_metric_needs_are_counted() -> None:
    rows = [
        *binary_rows([True, False], [0.8, 0.3]),
        RowOutput(True),  # no probabilities (a CSV answer)
        RowOutput("maybe", [0.1, 0.9], [False, True]),  # not a boolean
        RowOutput(True, [0.1, float("nan")], [False, True]),
        RowOutput(True, [0.1], [False, True]),  # one probability for two classes
    ]
    labels = ["1"] + ["0"] * 5
    result = measured(live_metric(CHURN, labels, rows, window_end=END))
    assert (result.counts.scored, result.counts.unusable_output) == (2, 4)
    assert result.value == 1.0
    accuracy = contract("binary", "boolean", "accuracy")
    result = measured(live_metric(accuracy, labels, rows, window_end=END))
    assert (result.counts.scored, result.counts.unusable_output) == (5, 1)  # predictions only
    assert result.value == pytest.approx(2 / 5)


def test_a_canary_answers_with_two_models_and_their_class_lists() -> None:
    # the champion and a challenger with its columns in another order: mapped by class;
    # a model with other classes cannot be scored with these probabilities
    rows = [
        RowOutput(True, [0.3, 0.7], [False, True]),
        RowOutput(False, [0.6, 0.4], [False, True]),
        RowOutput(True, [0.9, 0.1], [True, False]),  # P(true) = 0.9
        RowOutput(True, [0.1, 0.2, 0.7], [False, True, "unsure"]),
    ]
    result = measured(live_metric(CHURN, ["yes", "no", "yes", "no"], rows, window_end=END))
    assert result.value == pytest.approx(skm.roc_auc_score([1, 0, 1], [0.7, 0.4, 0.9]))
    assert (result.counts.scored, result.counts.unusable_output) == (3, 1)


def test_one_class_among_the_labels_has_no_roc_auc() -> None:
    result = live_metric(CHURN, ["yes", "y"], binary_rows([True] * 2, [0.4, 0.9]), window_end=END)
    assert isinstance(result, LiveMetricUnavailable)
    assert result.reason is Unavailable.SINGLE_CLASS
    assert "needs both classes" in result.message and "2 scored rows" in result.message
    assert result.counts == LabelCounts(joined=2, scored=2)


def test_no_labelled_rows_and_no_scorable_rows_are_explicit() -> None:
    empty = live_metric(DEMAND, [], [], window_end=END)
    assert isinstance(empty, LiveMetricUnavailable)
    assert (empty.reason, empty.name, empty.window_end) == (
        Unavailable.NO_LABELLED_ROWS,
        "rmse",
        END,
    )
    assert empty.counts == LabelCounts(joined=0, scored=0)
    unfit = live_metric(DEMAND, ["n/a", "?"], [RowOutput(3.0), RowOutput(4.0)], window_end=END)
    assert isinstance(unfit, LiveMetricUnavailable)
    assert unfit.reason is Unavailable.NO_SCORABLE_ROWS
    assert unfit.message == (
        "none of the 2 labelled rows can be scored by rmse "
        "(2 unfit labels, 0 unusable answers, 0 labels of unknown classes)"
    )
    assert unfit.counts.unfit_examples == ("?", "n/a")


def test_r2_of_one_row_is_not_a_number_but_an_answer() -> None:
    r2 = contract("regression", "numeric", "r2")
    result = live_metric(r2, ["3", "x"], [RowOutput(2.0), RowOutput(1.0)], window_end=END)
    assert isinstance(result, LiveMetricUnavailable)
    assert (result.reason, result.message) == (
        Unavailable.TOO_FEW_ROWS,
        "r2 is not defined on one row",
    )


def test_regression_labels_beyond_the_declared_range_are_scored() -> None:
    labels = ["12", " 7.5 ", "1e5", "250000", "-3", "inf", "1_0"]
    predictions = [10.0, 8.0, 99000.0, 100000.0, 0.0, 5.0, 5.0]
    result = measured(
        live_metric(DEMAND, labels, [RowOutput(p) for p in predictions], window_end=END)
    )
    truth = [12.0, 7.5, 1e5, 250000.0, -3.0]
    assert result.value == pytest.approx(math.sqrt(skm.mean_squared_error(truth, predictions[:5])))
    assert result.counts == LabelCounts(joined=7, scored=5, unfit=2, unfit_examples=("1_0", "inf"))
    assert result.failing  # rmse far above 25


def test_a_class_the_model_does_not_know_counts_against_accuracy_only() -> None:
    classes = ["a", "b", "c"]
    rows = [
        RowOutput("a", [0.8, 0.1, 0.1], classes),
        RowOutput("b", [0.2, 0.7, 0.1], classes),
        RowOutput("c", [0.3, 0.3, 0.4], classes),
        RowOutput("a", [0.5, 0.25, 0.25], classes),
    ]
    labels = ["a", " b", "a", "d"]  # "d" appeared after training
    accuracy = measured(
        live_metric(contract("multiclass", "categorical", "accuracy"), labels, rows, window_end=END)
    )
    assert accuracy.value == 0.5
    assert accuracy.counts == LabelCounts(joined=4, scored=4, unknown_class=1)
    log_loss = measured(
        live_metric(contract("multiclass", "categorical", "log_loss"), labels, rows, window_end=END)
    )
    probabilities = [r.probabilities for r in rows[:3]]
    assert log_loss.value == pytest.approx(
        skm.log_loss(["a", "b", "a"], probabilities, labels=classes)
    )
    assert log_loss.counts == LabelCounts(joined=4, scored=3, unknown_class=1)


def test_integer_classes_and_macro_f1() -> None:
    f1 = contract("multiclass", "integer", "f1")
    rng = np.random.default_rng(2)
    truth = rng.integers(1, 4, 90)
    said = np.where(rng.random(90) < 0.6, truth, rng.integers(1, 4, 90))
    labels = [f"{v}.0" if i % 3 == 0 else str(v) for i, v in enumerate(truth.tolist())]
    rows = answer_rows({"predictions": said.tolist()})
    result = measured(live_metric(f1, [*labels, "2.5", "two"], [*rows, *rows[:2]], window_end=END))
    assert result.value == pytest.approx(skm.f1_score(truth, said, average="macro"))
    assert (result.counts.scored, result.counts.unfit) == (90, 2)


def test_binary_f1_takes_the_positive_class_from_the_answers() -> None:
    f1 = contract("binary", "categorical", "f1")
    body = {
        "predictions": ["stay", "leave", "leave", "stay"],
        "probabilities": [[0.1, 0.9], [0.8, 0.2], [0.7, 0.3], [0.4, 0.6]],
        "classes": ["leave", "stay"],
    }
    result = measured(
        live_metric(f1, ["stay", "stay", "leave", "leave"], answer_rows(body), window_end=END)
    )
    expected = skm.f1_score(
        ["stay", "stay", "leave", "leave"], body["predictions"], pos_label="stay"
    )
    assert result.value == pytest.approx(expected)
    no_classes = live_metric(f1, ["stay"], [RowOutput("stay")], window_end=END)
    assert isinstance(no_classes, LiveMetricUnavailable)
    assert no_classes.reason is Unavailable.NO_SCORABLE_ROWS
    assert no_classes.counts.unusable_output == 1


def test_labels_and_outputs_are_one_each_and_answers_have_the_endpoint_shape() -> None:
    with pytest.raises(ValueError, match="2 labels for 1 outputs: one each"):
        live_metric(DEMAND, ["1", "2"], [RowOutput(1.0)], window_end=END)
    with pytest.raises(BadAnswer, match="needs a list of predictions"):
        answer_rows({"prediction": [1]})
    with pytest.raises(BadAnswer, match="2 predictions but not as many probability rows"):
        answer_rows({"predictions": [1, 0], "probabilities": [[0.5, 0.5]], "classes": [0, 1]})
    with pytest.raises(BadAnswer, match="needs its classes"):
        answer_rows({"predictions": [1], "probabilities": [[0.5, 0.5]]})


def test_the_live_metric_is_the_policys_evidence() -> None:
    labels = ["yes", "no"] * 150
    rows = binary_rows([True, False] * 150, [0.4, 0.6] * 150)  # always wrong
    result = measured(live_metric(CHURN, labels, rows, window_end=END))
    evidence = Evidence(now=END, live=result)
    [trigger] = fired(evidence, RetrainPolicy(min_labelled_rows=300))
    assert trigger.trigger is Trigger.PERFORMANCE
    assert trigger.reason == "live roc_auc 0 is below the threshold 0.75 on 300 labelled rows"
    assert result.model_dump(mode="json")["counts"]["scored"] == 300


# -- the same reading of labels as the training job's -------------------------------------


@pytest.fixture(scope="module")
def mf() -> Iterator[ModuleType]:
    sys.path.insert(0, str(TRAINING_DIR))
    for name in TRAINING_MODULES:
        sys.modules.pop(name, None)
    yield importlib.import_module("modelrail_features")
    sys.path.remove(str(TRAINING_DIR))
    for name in TRAINING_MODULES:
        sys.modules.pop(name, None)


ACCEPTED = {
    ("binary", "boolean"): ["true", "False", " yes ", "Y", "t", "no", "1", "0", "1.0", "0.0"],
    ("multiclass", "integer"): ["3", "3.0", " 7 ", "-2", "1e2", "+4"],
    ("multiclass", "categorical"): ["a", " b ", "007", "3.0", "Yes"],
    ("regression", "integer"): ["3", "3.0", "-2", "1e2"],
    ("regression", "numeric"): ["3", "2.5", " -7.25 ", "1e-3", ".5"],
}


@pytest.mark.parametrize(("problem", "target"), sorted(ACCEPTED))
def test_labels_read_as_the_training_job_reads_its_target(
    mf: ModuleType, problem: str, target: str
) -> None:
    metric = {"binary": "accuracy", "multiclass": "accuracy", "regression": "mae"}[problem]
    spec = contract(problem, target, metric)
    runtime = spec.to_runtime_json()
    dtype = {"y": "category"} if target == "categorical" else None
    for text in ACCEPTED[(problem, target)]:
        frame = pd.read_csv(io.StringIO(f"x,y\n0,{text}\n"), dtype=dtype)  # as train.py reads
        expected = mf.build_target(frame, runtime).tolist()[0]
        if problem != "regression":  # the label as the endpoint answers it
            expected = mf.decode_labels([expected], runtime)[0]
        read = live._reader(spec)(text)
        assert (read, type(read)) == (expected, type(expected)), text
        zero = 0.0 if problem == "regression" else expected
        result = measured(live_metric(spec, [text], [RowOutput(zero)], window_end=END))
        assert result.counts.scored == 1, text
        if problem == "regression":
            assert result.value == pytest.approx(abs(float(expected))), text
        else:  # the prediction is the training label: right only if read alike
            assert result.value == 1.0, text


# -- properties ------------------------------------------------------------------------------

WORDS = ["yes", "no", "1", "0", "maybe", ""]
binary_row = st.tuples(
    st.sampled_from(WORDS),
    st.integers(0, 5).map(lambda s: s / 5),  # few distinct scores: ties
    st.sampled_from([(False, True), (True, False), None]),
)


def churn_outputs(rows: list[tuple[str, float, Any]]) -> tuple[list[str], list[RowOutput]]:
    outputs = []
    for _, score, classes in rows:
        if classes is None:
            outputs.append(RowOutput(score > 0.5))
        else:
            probabilities = [score, 1 - score] if classes[0] else [1 - score, score]
            outputs.append(RowOutput(score > 0.5, probabilities, list(classes)))
    return [label for label, _, _ in rows], outputs


def same(
    a: LiveMeasurement | LiveMetricUnavailable, b: LiveMeasurement | LiveMetricUnavailable
) -> None:
    assert type(a) is type(b) and a.counts == b.counts
    if isinstance(a, LiveMeasurement) and isinstance(b, LiveMeasurement):
        assert a.value == pytest.approx(b.value, rel=1e-12, abs=1e-12)
    else:
        assert a == b


@settings(max_examples=150, deadline=None)
@given(st.lists(binary_row, max_size=40), st.randoms(use_true_random=False))
def test_roc_auc_does_not_depend_on_the_rows_order(
    rows: list[tuple[str, float, Any]], rng: Any
) -> None:
    labels, outputs = churn_outputs(rows)
    order = list(range(len(rows)))
    rng.shuffle(order)
    first = live_metric(CHURN, labels, outputs, window_end=END)
    again = live_metric(
        CHURN, [labels[i] for i in order], [outputs[i] for i in order], window_end=END
    )
    same(first, again)
    assert first.counts.joined == len(rows)
    assert first.counts.scored + first.counts.unfit + first.counts.unusable_output == len(rows)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "z", ""]),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([("a", "b", "c"), ("c", "a", "b"), ("a", "b")]),
        ),
        max_size=40,
    ),
    st.sampled_from(["accuracy", "f1", "log_loss"]),
    st.randoms(use_true_random=False),
)
def test_multiclass_metrics_do_not_depend_on_the_rows_order(
    rows: list[tuple[str, str, tuple[str, ...]]], metric: str, rng: Any
) -> None:
    spec = contract("multiclass", "categorical", metric)
    labels = [label for label, _, _ in rows]
    outputs = [
        RowOutput(said, [1.0 / len(classes)] * len(classes), list(classes))
        for _, said, classes in rows
    ]
    order = list(range(len(rows)))
    rng.shuffle(order)
    first = live_metric(spec, labels, outputs, window_end=END)
    same(
        first,
        live_metric(spec, [labels[i] for i in order], [outputs[i] for i in order], window_end=END),
    )
    counts = first.counts  # every row once: scored, unfit, unusable, or left out as unknown
    left_out = counts.unknown_class if metric == "log_loss" else 0
    assert counts.scored + counts.unfit + counts.unusable_output + left_out == len(rows)
