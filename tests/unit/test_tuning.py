"""Hyperparameter search: the contract's request, the local sampler and the verdict."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from modelrail.contract import ContractError, load_contract, parse_contract
from modelrail.local.training_runtime import JobRun, scrape_metrics
from modelrail.local.tuning_runtime import (
    Trial,
    TuningError,
    sample_trials,
    summarize,
    trial_name,
)
from modelrail.tuning import objective_metric, tuning_job_name, tuning_request

CHURN = load_contract("churn")
DEMAND = load_contract("demand")


def test_a_contract_without_tuning_trains_once() -> None:
    assert DEMAND.tuning is None
    assert tuning_request(DEMAND, "demand-abc", environment="dev") is None


def test_the_request_carries_ranges_objective_and_budget() -> None:
    request = tuning_request(CHURN, "churn-0123456789abcdef01234567", environment="dev")
    assert request is not None
    config = request["config"]
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",  # roc_auc: higher is better
        "MetricName": "validation:roc_auc",
    }
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}
    ranges = config["ParameterRanges"]
    assert {r["Name"] for r in ranges["IntegerParameterRanges"]} == {
        "max_depth",
        "min_samples_leaf",
    }
    (rate,) = ranges["ContinuousParameterRanges"]
    assert rate == {
        "Name": "learning_rate",
        "MinValue": "0.02",
        "MaxValue": "0.3",
        "ScalingType": "Logarithmic",
    }
    assert "CategoricalParameterRanges" not in ranges  # SageMaker wants no empty lists
    (definition,) = request["metricDefinitions"]
    assert definition["Name"] == objective_metric(CHURN)
    line = "modelrail-metric validation:roc_auc=0.8731"
    assert re.search(definition["Regex"], line).group(1) == "0.8731"  # type: ignore[union-attr]
    # the holdout metric line must not be mistaken for the objective
    assert re.search(definition["Regex"], "modelrail-metric roc_auc=0.99") is None


def test_a_minimised_metric_is_minimised() -> None:
    data = DEMAND.model_dump(mode="json") | {
        "tuning": {"parameters": {"max_depth": {"type": "integer", "min": 2, "max": 9}}}
    }
    request = tuning_request(parse_contract(data), "demand-x", environment="dev")
    assert request is not None
    assert request["config"]["HyperParameterTuningJobObjective"]["Type"] == "Minimize"


@pytest.mark.parametrize(
    "model,execution",
    [
        ("churn", "churn-0123456789abcdef01234567"),
        (
            "a-very-long-model-name-of-32-chr",
            "a-very-long-model-name-of-32-chr-0123456789abcdef01234567",
        ),
    ],
)
def test_tuning_job_names_are_deterministic_and_fit_sagemaker(model: str, execution: str) -> None:
    name = tuning_job_name("dev", model, execution)
    assert name == tuning_job_name("dev", model, execution)
    assert name != tuning_job_name("dev", model, execution + "x")
    assert len(name) <= 32 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", name)
    assert name.startswith("modelrail-dev-" + model[:7].rstrip("-"))


@pytest.mark.parametrize(
    "tuning,message",
    [
        ({"parameters": {}}, "at least 1"),
        ({"parameters": {"max_depth": {"type": "integer", "min": 5, "max": 2}}}, "below max"),
        ({"parameters": {"max_depth": {"type": "integer", "min": 1.5, "max": 4}}}, "whole-number"),
        (
            {"parameters": {"learning_rate": {"type": "continuous", "min": 0, "max": 1, "scaling": "Logarithmic"}}},
            "min > 0",
        ),
        ({"parameters": {"loss": {"type": "categorical"}}}, "lists its values"),
        ({"parameters": {"loss": {"type": "categorical", "values": ["a", "a"]}}}, "twice"),
        ({"parameters": {"max_depth": {"type": "integer", "max": 4}}}, "needs min and max"),
        (
            {"max_jobs": 2, "max_parallel_jobs": 3, "parameters": {"max_depth": {"type": "integer", "min": 1, "max": 4}}},
            "cannot exceed",
        ),
        ({"parameters": {"Max-Depth": {"type": "integer", "min": 1, "max": 4}}}, "identifier"),
        ({"strategy": "Grid", "parameters": {"max_depth": {"type": "integer", "min": 1, "max": 4}}}, "Bayesian"),
    ],
)  # fmt: skip
def test_bad_tuning_blocks_are_refused_with_the_reason(
    tuning: dict[str, Any], message: str
) -> None:
    data = DEMAND.model_dump(mode="json") | {"tuning": tuning}
    with pytest.raises(ContractError, match=message):
        parse_contract(data)


# ---- the local executor's sampler ---------------------------------------------------------

RANGES = {
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "8"}],
    "ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "l2_regularization", "MinValue": "0", "MaxValue": "2", "ScalingType": "Linear"},
    ],
    "CategoricalParameterRanges": [{"Name": "loss", "Values": ["log_loss", "exponential"]}],
}  # fmt: skip


def test_samples_stay_in_range_and_are_reproducible() -> None:
    trials = sample_trials(RANGES, 400, seed="job-1")
    assert trials == sample_trials(RANGES, 400, seed="job-1")
    assert trials != sample_trials(RANGES, 400, seed="job-2")
    depths = [int(t["max_depth"]) for t in trials]
    assert min(depths) == 2 and max(depths) == 8
    rates = [float(t["learning_rate"]) for t in trials]
    assert all(0.001 <= r <= 1 for r in rates)
    # log scaling: about a third of draws in each decade of [0.001, 1]
    below = sum(r < 0.01 for r in rates) / len(rates)
    assert 0.25 < below < 0.42
    assert {t["loss"] for t in trials} == {"log_loss", "exponential"}
    assert all(0 <= float(t["l2_regularization"]) <= 2 for t in trials)
    assert all(isinstance(v, str) for t in trials for v in t.values())  # as SageMaker sends them


@pytest.mark.parametrize(
    "ranges,message",
    [
        ({}, "no hyperparameter"),
        (
            {"IntegerParameterRanges": [{"Name": "a", "MinValue": "1", "MaxValue": "2"}] * 2},
            "twice",
        ),
        (
            {"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}]},
            "MinValue > 0",
        ),
        ({"IntegerParameterRanges": [{"Name": "a", "MinValue": "5", "MaxValue": "2"}]}, "above"),
    ],
)  # fmt: skip
def test_the_sampler_refuses_what_sagemaker_refuses(ranges: dict[str, Any], message: str) -> None:
    with pytest.raises(TuningError, match=message):
        sample_trials(ranges, 3, seed="x")


def test_trial_names_follow_sagemaker() -> None:
    name = trial_name("churn-0123456789abcdef0123456789", 7)
    assert re.fullmatch(r"churn-0123456789abcdef0123456789-007-[0-9a-f]{8}", name)


# ---- picking the best trial -------------------------------------------------------------------


def _trial(index: int, objective: float | None, status: str = "Completed") -> Trial:
    run = JobRun(
        name=f"t-{index:03d}",
        status=status,
        failure_reason=None if status == "Completed" else f"AlgorithmError: trial {index} broke",
        seconds=2.0,
        model_artifacts="s3://b/k",
        stdout_tail="",
    )
    return Trial(
        f"t-{index:03d}",
        f"arn:t-{index}",
        {"max_depth": str(index)},
        run,
        datetime.now(UTC),
        objective,
    )


@pytest.mark.parametrize("kind,best", [("Maximize", "t-003"), ("Minimize", "t-001")])
def test_the_best_trial_follows_the_objective(kind: str, best: str) -> None:
    trials = [_trial(1, 0.70), _trial(2, None, "Failed"), _trial(3, 0.90), _trial(4, 0.80)]
    fields = summarize("t", {"Type": kind, "MetricName": "validation:auc"}, trials)
    assert fields["hyper_parameter_tuning_job_status"] == "Completed"
    assert fields["best_training_job"]["TrainingJobName"] == best
    value = fields["best_training_job"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert value == {"t-003": 0.90, "t-001": 0.70}[best]
    assert fields["training_job_status_counters"]["Completed"] == 3
    assert fields["training_job_status_counters"]["NonRetryableError"] == 1
    assert fields["objective_status_counters"] == {"Succeeded": 3, "Pending": 0, "Failed": 1}


def test_ties_go_to_the_earliest_trial() -> None:
    trials = [_trial(1, 0.8), _trial(2, 0.8)]
    fields = summarize("t", {"Type": "Maximize", "MetricName": "m"}, trials)
    assert fields["best_training_job"]["TrainingJobName"] == "t-001"


def test_no_scored_trial_fails_the_tuning_job_with_the_reasons() -> None:
    trials = [_trial(1, None, "Failed"), _trial(2, None)]  # one broke, one printed no metric
    fields = summarize("t", {"Type": "Maximize", "MetricName": "validation:auc"}, trials)
    assert fields["hyper_parameter_tuning_job_status"] == "Failed"
    assert fields["best_training_job"] is None
    reason = fields["failure_reason"]
    assert "All 2 training jobs failed or reported no validation:auc" in reason
    assert "trial 1 broke" in reason and "objective metric not found" in reason


def test_metrics_are_scraped_from_logs_like_sagemaker() -> None:
    logs = "\n".join(
        [
            "modelrail-metric validation:auc=0.5",
            "noise",
            "modelrail-metric validation:auc=0.75",  # the last value wins
            "modelrail-metric loss=nan",
            "modelrail-metric bad=oops",
        ]
    )
    definitions = [
        {"Name": "validation:auc", "Regex": r"modelrail-metric validation:auc=(\S+)"},
        {"Name": "loss", "Regex": r"modelrail-metric loss=(\S+)"},
        {"Name": "bad", "Regex": r"modelrail-metric bad=(\S+)"},
        {"Name": "absent", "Regex": r"never=(\S+)"},
    ]
    found = scrape_metrics(definitions, logs)
    assert found["validation:auc"] == 0.75
    assert math.isnan(found["loss"])
    assert "bad" not in found and "absent" not in found
