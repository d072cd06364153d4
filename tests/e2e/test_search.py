"""Hyperparameter search end to end: the churn contract asks for one; the pipeline runs a
tuning job through Step Functions, the best trial is gated and registered with lineage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.registry import DynamoDBRegistry
from modelrail.sample import sample_command

pytestmark = pytest.mark.e2e
MODEL = "churn"


@pytest.fixture(scope="module")
def cloud(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("search-cloud")) as c:
        yield c


@pytest.fixture(scope="module")
def run(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    data = sample_command(MODEL, 1500, 5, tmp_path_factory.mktemp("search-data") / "subs.csv")
    return cloud.upload_and_wait(MODEL, data, timeout=600)


def test_the_search_replaces_the_single_training_job(run: PipelineRun) -> None:
    assert run.status == "SUCCEEDED", run.message
    states = [s.state for s in run.steps]
    assert states[:10] == [
        "LargeDataset?",
        "ValidateData",
        "FirstRound",
        "PrepareData",
        "Search?",
        "Tune",
        "DescribeBestTrial",
        "QualityGate",
        "Register",
        "Rejudge?",
    ]
    assert "Train" not in states


def test_every_trial_ran_and_the_best_by_validation_objective_was_kept(
    cloud: LocalCloud, run: PipelineRun
) -> None:
    sm = cloud.client("sagemaker")
    (summary,) = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
    )
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 4  # the contract's max_jobs
    trials = {r.name: r for r in cloud.training.runs}
    assert len(trials) == 4
    assert all(name.startswith(tuning["HyperParameterTuningJobName"] + "-") for name in trials)
    scores = {name: r.metrics["validation:roc_auc"] for name, r in trials.items()}
    best = tuning["BestTrainingJob"]
    assert best["TrainingJobName"] == max(scores, key=lambda n: scores[n])
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(scores.values())
    # the trials really differ: each drew its own depth, leaf size and learning rate
    drawn = {
        json.dumps(
            {k: v for k, v in sm.describe_training_job(TrainingJobName=n)["HyperParameters"].items()
             if k in ("max_depth", "min_samples_leaf", "learning_rate")},
            sort_keys=True,
        )
        for n in trials
    }  # fmt: skip
    assert len(drawn) == 4


def test_the_registered_version_is_the_best_trial_with_its_lineage(
    cloud: LocalCloud, run: PipelineRun
) -> None:
    registry = DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))
    (version,) = registry.list_versions(MODEL)
    assert run.registered_version == version.version == 1
    sm = cloud.client("sagemaker")
    (summary,) = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
    )
    best = tuning["BestTrainingJob"]
    lineage = version.lineage
    assert lineage.training_job_name == best["TrainingJobName"]
    assert lineage.tuning_job_arn == tuning["HyperParameterTuningJobArn"]
    for name, value in best["TunedHyperParameters"].items():
        assert lineage.hyperparameters[name] == value
    job = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert lineage.model_artifact_uri == job["ModelArtifacts"]["S3ModelArtifacts"]
    # the gate judged the holdout, not the validation rows the search was ranked on
    assert version.metrics["roc_auc"] >= 0.75
    trial = next(r for r in cloud.training.runs if r.name == best["TrainingJobName"])
    assert version.metrics["roc_auc"] != trial.metrics["validation:roc_auc"]
