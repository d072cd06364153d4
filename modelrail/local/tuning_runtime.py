"""Run SageMaker hyperparameter tuning jobs on the local cloud.

moto records ``CreateHyperParameterTuningJob`` with placeholder results. This executor
does what the service does, within a bound: it draws up to ``MaxNumberOfTrainingJobs``
hyperparameter sets from the job's ``ParameterRanges`` (capped by
:attr:`TuningRuntime.max_trials`), runs each as a training job named as SageMaker names
trials (``<tuning job>-<NNN>-<8 hex>``) through :class:`TrainingRuntime`, up to
``MaxParallelTrainingJobs`` at a time, scrapes the objective metric from each trial's
logs with the job's metric definitions, and writes the counters, ``BestTrainingJob`` and
status back onto moto's record.

Differences from the service, on purpose and documented: every strategy samples at
random (seeded by the search's ranges and data, so a run is reproducible) where SageMaker's Bayesian
strategy learns from earlier trials; ``Auto`` scaling is linear; early stopping is off.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from modelrail.local.training_runtime import JobRun, TrainingRuntime, record_outcome

# Settings of CreateTrainingJob that a TrainingJobDefinition carries under the same name.
_COPIED = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Environment",
)


class TuningError(ValueError):
    """A tuning request the service would refuse."""


def _format(value: float, integer: bool) -> str:
    return str(int(value)) if integer else f"{value:.6g}"


def _draw(spec: dict[str, Any], rng: random.Random, integer: bool) -> str:
    low, high = float(spec["MinValue"]), float(spec["MaxValue"])
    if low > high:
        raise TuningError(f"{spec['Name']}: MinValue {low} is above MaxValue {high}")
    scaling = spec.get("ScalingType", "Auto")
    if scaling == "ReverseLogarithmic":
        if high >= 1 or low < 0:
            raise TuningError(f"{spec['Name']}: reverse logarithmic scaling needs 0 <= range < 1")
        value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
    elif scaling == "Logarithmic":
        if low <= 0:
            raise TuningError(f"{spec['Name']}: logarithmic scaling needs MinValue > 0")
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    if integer:
        value = min(max(round(value), math.ceil(low)), math.floor(high))
    return _format(value, integer)


def search_seed(request: dict[str, Any]) -> str:
    """What the trials are drawn from: the ranges, the static hyperparameters and the input
    channels (content-addressed datasets, without the bucket's random suffix), not the
    job's or run's name, which change with every upload of the same file (its S3 version
    id): the same data and code search the same way in every deployment."""
    definition = request.get("TrainingJobDefinition") or {}
    basis = {
        "ranges": request["HyperParameterTuningJobConfig"].get("ParameterRanges"),
        "static": definition.get("StaticHyperParameters"),
        "channels": [
            (
                c.get("ChannelName"),
                _key(c.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")),
            )
            for c in definition.get("InputDataConfig") or []
            # not the run's champion channel, whose key holds the run's name
            if c.get("ChannelName") != "champion"
        ],
    }
    return json.dumps(basis, sort_keys=True)


def _key(uri: str | None) -> str | None:
    """An S3 URI without its bucket: CloudFormation names buckets with a random suffix,
    which must not change the draw from one deployment to the next."""
    if not uri or not uri.startswith("s3://"):
        return uri
    return uri[5:].partition("/")[2]


def sample_trials(ranges: dict[str, Any], count: int, seed: str) -> list[dict[str, str]]:
    """``count`` hyperparameter sets from SageMaker ParameterRanges, reproducibly."""
    rng = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    integer = ranges.get("IntegerParameterRanges") or []
    continuous = ranges.get("ContinuousParameterRanges") or []
    categorical = ranges.get("CategoricalParameterRanges") or []
    names = [r["Name"] for r in (*integer, *continuous, *categorical)]
    if not names:
        raise TuningError("ParameterRanges names no hyperparameter to search")
    if len(set(names)) != len(names):
        raise TuningError(f"ParameterRanges names a hyperparameter twice: {sorted(names)}")
    trials = []
    for _ in range(count):
        trial = {r["Name"]: _draw(r, rng, True) for r in integer}
        trial |= {r["Name"]: _draw(r, rng, False) for r in continuous}
        for r in categorical:
            if not r.get("Values"):
                raise TuningError(f"{r['Name']}: a categorical range needs values")
            trial[r["Name"]] = rng.choice(list(r["Values"]))
        trials.append(trial)
    return trials


def trial_name(tuning_job: str, index: int) -> str:
    digest = hashlib.sha256(f"{tuning_job}/{index}".encode()).hexdigest()[:8]
    return f"{tuning_job}-{index:03d}-{digest}"


@dataclass(frozen=True)
class Trial:
    name: str
    arn: str
    hyperparameters: dict[str, str]
    run: JobRun
    created: datetime
    objective: float | None


@dataclass
class TuningRuntime:
    """Runs a tuning job's trials through the training executor."""

    training: TrainingRuntime
    max_trials: int = 20
    """The local bound on trials per tuning job, whatever the request asks for."""
    max_parallel: int = 2

    def run(
        self, request: dict[str, Any], *, sagemaker: Any, s3: Any, backend: Any
    ) -> dict[str, Any]:
        """Run the trials of one CreateHyperParameterTuningJob request and record the result
        on moto's tuning job; returns the job's DescribeHyperParameterTuningJob fields set."""
        name = request["HyperParameterTuningJobName"]
        config = request["HyperParameterTuningJobConfig"]
        definition = request.get("TrainingJobDefinition")
        if definition is None:
            raise TuningError("the local cloud runs a single TrainingJobDefinition per tuning job")
        objective = config["HyperParameterTuningJobObjective"]
        metric = objective["MetricName"]
        definitions = (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions")
        if metric not in {d["Name"] for d in definitions or []}:
            raise TuningError(
                f"the objective metric {metric!r} has no MetricDefinition in the training job "
                "definition, so it could never be read from the trials' logs"
            )
        limits = config["ResourceLimits"]
        count = min(int(limits["MaxNumberOfTrainingJobs"]), self.max_trials)
        parallel = max(1, min(int(limits["MaxParallelTrainingJobs"]), self.max_parallel, count))
        hp_sets = sample_trials(config.get("ParameterRanges") or {}, count, search_seed(request))
        tuning_arn = backend.hyper_parameter_tuning_jobs[name].arn
        tuning_job = backend.hyper_parameter_tuning_jobs[name]
        tuning_job.hyper_parameter_tuning_job_status = "InProgress"

        created: list[tuple[str, str, dict[str, str], datetime]] = []
        for index, tuned in enumerate(hp_sets, start=1):
            trial = trial_name(name, index)
            params = {k: definition[k] for k in _COPIED if k in definition}
            params["HyperParameters"] = {**(definition.get("StaticHyperParameters") or {}), **tuned}
            arn = sagemaker.create_training_job(TrainingJobName=trial, **params)["TrainingJobArn"]
            job = backend.training_jobs[trial]
            job.training_job_status = "InProgress"
            job.tuning_job_arn = tuning_arn  # DescribeTrainingJob reports it for trials
            created.append((trial, arn, tuned, datetime.now(UTC)))

        def execute(trial: str) -> JobRun:
            described = sagemaker.describe_training_job(TrainingJobName=trial)
            return self.training.run(described, s3=s3, metric_definitions=definitions)

        with ThreadPoolExecutor(max_workers=parallel) as pool:
            runs = list(pool.map(execute, [c[0] for c in created]))

        trials = []
        for (trial, arn, tuned, started), run in zip(created, runs, strict=True):
            record_outcome(backend.training_jobs[trial], run, definitions)
            value = run.metrics.get(metric) if run.status == "Completed" else None
            if value is not None and not math.isfinite(value):
                value = None
            trials.append(Trial(trial, arn, tuned, run, started, value))
        fields = summarize(name, objective, trials)
        for key, value in fields.items():
            setattr(tuning_job, key, value)
        return fields


def summarize(name: str, objective: dict[str, Any], trials: list[Trial]) -> dict[str, Any]:
    """The tuning job's outcome as moto's record stores it (snake_case attributes)."""
    now = datetime.now(UTC)
    completed = [t for t in trials if t.run.status == "Completed"]
    scored = [t for t in completed if t.objective is not None]
    failed = [t for t in trials if t.run.status != "Completed"]
    fields: dict[str, Any] = {
        "training_job_status_counters": {
            "Completed": len(completed),
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": len(failed),
            "Stopped": 0,
        },
        "objective_status_counters": {
            "Succeeded": len(scored),
            "Pending": 0,
            "Failed": len(trials) - len(scored),
        },
        "hyper_parameter_tuning_end_time": now,
        "last_modified_time": now,
        "consumed_resources": {"RuntimeInSeconds": int(sum(t.run.seconds for t in trials))},
        "tuning_job_completion_details": None,
        "OverallBestTrainingJob": None,
    }
    if not scored:
        reasons = sorted({t.run.failure_reason or "objective metric not found" for t in trials})
        fields |= {
            "hyper_parameter_tuning_job_status": "Failed",
            "failure_reason": (
                f"All {len(trials)} training jobs failed or reported no "
                f"{objective['MetricName']}: {'; '.join(reasons)}"
            )[:1024],
            "best_training_job": None,
        }
        return fields
    pick = max if objective["Type"] == "Maximize" else min
    best = pick(scored, key=lambda t: t.objective or 0.0)  # all scored; ties: the earliest
    fields |= {
        "hyper_parameter_tuning_job_status": "Completed",
        "failure_reason": None,
        "best_training_job": {
            "TrainingJobName": best.name,
            "TrainingJobArn": best.arn,
            "TuningJobName": name,
            "CreationTime": best.created,
            "TrainingStartTime": best.created,
            "TrainingEndTime": now,
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": best.hyperparameters,
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "Type": objective["Type"],
                "MetricName": objective["MetricName"],
                "Value": best.objective,
            },
            "ObjectiveStatus": "Succeeded",
        },
    }
    return fields


def describe_json(sagemaker: Any, name: str) -> dict[str, Any]:
    raw = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    raw.pop("ResponseMetadata", None)
    described: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    return described
