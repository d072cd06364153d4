"""Hyperparameter search requests: a contract's ``tuning`` block as SageMaker expects it.

PrepareData returns :func:`tuning_request` for contracts that ask for a search; the
state machine then runs ``createHyperParameterTuningJob.sync`` with it instead of a
single training job. Everything that depends on the environment (role, image, code,
channels, encryption) stays in the CDK-built ``TrainingJobDefinition``; everything that
depends on the model (ranges, objective, budget) comes from here.
"""

from __future__ import annotations

import re
from typing import Any

from modelrail.contract import ModelContract, ParameterType
from modelrail.naming import tuning_job_name

METRIC_LINE = "modelrail-metric"  # what training/train.py prints, one metric per line


def objective_metric(contract: ModelContract) -> str:
    """Trials are ranked on the validation split, never on the gate's holdout."""
    return f"validation:{contract.primary_metric.name}"


def _number(value: float, integer: bool) -> str:
    return str(int(value)) if integer else repr(float(value))


def parameter_ranges(contract: ModelContract) -> dict[str, list[dict[str, Any]]]:
    assert contract.tuning is not None
    ranges: dict[str, list[dict[str, Any]]] = {
        "IntegerParameterRanges": [],
        "ContinuousParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for name, spec in sorted(contract.tuning.parameters.items()):
        if spec.type is ParameterType.CATEGORICAL:
            ranges["CategoricalParameterRanges"].append(
                {"Name": name, "Values": [_text(v) for v in spec.values]}
            )
            continue
        integer = spec.type is ParameterType.INTEGER
        assert spec.min is not None and spec.max is not None
        key = "IntegerParameterRanges" if integer else "ContinuousParameterRanges"
        ranges[key].append(
            {
                "Name": name,
                "MinValue": _number(spec.min, integer),
                "MaxValue": _number(spec.max, integer),
                "ScalingType": spec.scaling,
            }
        )
    return {kind: listed for kind, listed in ranges.items() if listed}


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tuning_request(
    contract: ModelContract, execution_name: str, *, environment: str
) -> dict[str, Any] | None:
    """The model-specific half of CreateHyperParameterTuningJob, or None (train once)."""
    policy = contract.tuning
    if policy is None:
        return None
    metric = objective_metric(contract)
    return {
        "jobName": tuning_job_name(environment, contract.name, execution_name),
        "config": {
            "Strategy": policy.strategy,
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize" if contract.primary_metric.greater_is_better else "Minimize",
                "MetricName": metric,
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": policy.max_jobs,
                "MaxParallelTrainingJobs": policy.max_parallel_jobs,
            },
            "ParameterRanges": parameter_ranges(contract),
            "TrainingJobEarlyStoppingType": "Off",
        },
        "metricDefinitions": [
            {"Name": metric, "Regex": f"{METRIC_LINE} {re.escape(metric)}=(\\S+)"},
        ],
    }
