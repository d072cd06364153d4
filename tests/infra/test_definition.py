"""Plain pytest over the synthesized state-machine JSON (RELIABILITY 23, 24, 28)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.definition import PLACEHOLDER, definition


@pytest.fixture(scope="module")
def states(dev_template: dict[str, Any]) -> dict[str, Any]:
    body = definition(dev_template)
    assert body["StartAt"] == "LargeDataset?"
    result: dict[str, Any] = body["States"]
    return result


def test_the_happy_path_is_validate_prepare_train_gate_register(states: dict[str, Any]) -> None:
    path, state = [], "LargeDataset?"
    while state:
        path.append(state)
        spec = states[state]
        if spec["Type"] == "Choice" and state in ("Search?", "LargeDataset?", "Rejudge?"):
            # a contract without a tuning block trains once; a small upload stays in
            # Lambda; the reference did not move while it trained
            state = spec["Default"]
        elif spec["Type"] == "Choice":
            state = next(c["Next"] for c in spec["Choices"] if c.get("BooleanEquals") is True)
        else:
            state = spec.get("Next")
    assert path == [
        "LargeDataset?",
        "ValidateData",
        "FirstRound",
        "PrepareData",
        "Search?",
        "Train",
        "QualityGate",
        "Register",
        "Rejudge?",
        "Passed?",
        "NotifyRegistered",
        "StartDeployment",
        "Registered",
    ]
    assert states["Registered"]["Type"] == "Succeed"


def test_a_run_judged_against_a_moved_reference_loops_back_to_prepare_data(
    states: dict[str, Any],
) -> None:
    (loop,) = states["Rejudge?"]["Choices"]
    assert loop == {"Variable": "$.registered.rejudge", "BooleanEquals": True, "Next": "NextRound"}
    assert states["NextRound"] == {
        "Type": "Pass",
        "InputPath": "$.registered.nextRound",
        "ResultPath": "$.round",
        "Next": "PrepareData",
    }
    assert states["FirstRound"]["Result"] == 1
    assert states["PrepareData"]["Parameters"]["round.$"] == "$.round"
    assert states["Register"]["Parameters"]["round.$"] == "$.round"


def test_training_runs_sync_isolated_encrypted_bounded_and_named_by_the_execution(
    states: dict[str, Any],
) -> None:
    train = states["Train"]
    assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    params = train["Parameters"]
    # PrepareData names the job modelrail-<env>-<model>-<digest of the execution name>
    assert params["TrainingJobName.$"] == "$.prepared.trainingJobName"
    assert params["EnableNetworkIsolation"] is True
    assert params["ResourceConfig"] == {
        # sized from the dataset by PrepareData (modelrail.sizing)
        "InstanceType.$": "$.prepared.resources.instanceType",
        "InstanceCount.$": "$.prepared.resources.instanceCount",
        "VolumeSizeInGB.$": "$.prepared.resources.volumeSizeInGB",
        "VolumeKmsKeyId": PLACEHOLDER,
    }
    assert params["OutputDataConfig"]["KmsKeyId"] == PLACEHOLDER
    assert 60 <= params["StoppingCondition"]["MaxRuntimeInSeconds"] <= 3600
    assert params["AlgorithmSpecification"]["TrainingImage"].endswith(
        "sagemaker-scikit-learn:1.4-2-py312-cpu-py3"
    )
    channels = {c["ChannelName"] for c in params["InputDataConfig"]}
    assert channels == {"train", "champion", "code"}
    hps = params["HyperParameters"]
    assert hps["sagemaker_program"] == '"train.py"'
    assert hps["sagemaker_submit_directory"].startswith('"/opt/ml/input/data/code/')


def _tasks(states: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in states.items() if s["Type"] == "Task"}


def test_every_task_retries_transient_errors_with_backoff_and_jitter(
    states: dict[str, Any],
) -> None:
    tasks = _tasks(states)
    assert len(tasks) == 11
    for name, task in tasks.items():
        assert task["Retry"], name
        for retry in task["Retry"]:
            assert "States.ALL" not in retry["ErrorEquals"], name
            assert 1 <= retry["MaxAttempts"] <= 5, name
            assert retry["BackoffRate"] >= 2, name
            assert retry["JitterStrategy"] == "FULL", name


def _reaches(states: dict[str, Any], start: str, goal: str) -> list[str]:
    path, state = [], start
    while state and state not in path:
        path.append(state)
        if state == goal:
            return path
        state = states[state].get("Next")
    return []


def test_every_task_catch_records_the_state_notifies_then_fails(states: dict[str, Any]) -> None:
    for name, task in _tasks(states).items():
        if name == "NotifyFailure":
            continue
        catch = task["Catch"]
        assert [c["ErrorEquals"] for c in catch] == [["States.ALL"]], name
        handler = catch[0]["Next"]
        assert (
            states[handler]["Result"] == name and states[handler]["ResultPath"] == "$.failedState"
        )
        path = _reaches(states, handler, "PipelineFailed")
        assert "NotifyFailure" in path, name
    fail = states["PipelineFailed"]
    assert fail == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_a_rejected_model_is_registered_then_notifies_and_fails(states: dict[str, Any]) -> None:
    assert states["QualityGate"]["Next"] == "Register" and states["Register"]["Next"] == "Rejudge?"
    assert states["Rejudge?"]["Default"] == "Passed?"
    choice = states["Passed?"]
    assert choice["Choices"] == [
        {"Variable": "$.gate.passed", "BooleanEquals": True, "Next": "NotifyRegistered"}
    ]
    assert states[choice["Default"]]["Parameters"] == {
        "Error": "QualityGateRejected",
        "Cause.$": "$.gate.summary",
    }
    assert "NotifyFailure" in _reaches(states, choice["Default"], "PipelineFailed")


def test_a_contract_that_asks_for_a_search_tunes_then_describes_the_best_trial(
    states: dict[str, Any],
) -> None:
    choice = states["Search?"]
    (rule,) = choice["Choices"]
    assert rule["Next"] == "Tune" and choice["Default"] == "Train"
    assert {"Variable": "$.prepared.tuning", "IsPresent": True} in rule["And"]
    tune = states["Tune"]
    assert tune["Resource"] == "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync"
    assert tune["Next"] == "DescribeBestTrial"
    best = states["DescribeBestTrial"]
    assert best["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob"
    assert best["Parameters"] == {"TrainingJobName.$": "$.tuning.best"}
    assert best["Next"] == states["Train"]["Next"] == "QualityGate"
    # the best trial enters the gate in the same shape as a single training job
    assert best["ResultPath"] == states["Train"]["ResultPath"] == "$.training"
    assert best["ResultSelector"] == {
        **states["Train"]["ResultSelector"],
        "tuningJobArn.$": "$.TuningJobArn",
    }


def test_the_search_trains_exactly_what_train_would(states: dict[str, Any]) -> None:
    """One training definition: the tuning job's is the Train state's request."""
    params = states["Tune"]["Parameters"]
    assert params["HyperParameterTuningJobName.$"] == "$.prepared.tuning.jobName"
    assert params["HyperParameterTuningJobConfig.$"] == "$.prepared.tuning.config"
    definition = dict(params["TrainingJobDefinition"])
    train = dict(states["Train"]["Parameters"])
    train.pop("TrainingJobName.$")
    static = definition.pop("StaticHyperParameters")
    assert static == {**train.pop("HyperParameters"), "tuning-trial": '"true"'}
    algorithm = definition.pop("AlgorithmSpecification")
    assert algorithm == {
        **train.pop("AlgorithmSpecification"),
        "MetricDefinitions.$": "$.prepared.tuning.metricDefinitions",
    }
    assert definition == train
    assert definition["EnableNetworkIsolation"] is True


def _retried(task: dict[str, Any]) -> set[str]:
    return {error for retry in task.get("Retry", []) for error in retry["ErrorEquals"]}


def test_sagemaker_tasks_retry_the_error_names_step_functions_reports(
    states: dict[str, Any], dev_template: dict[str, Any]
) -> None:
    """Throttling through the optimized SageMaker integration arrives as
    SageMaker.AmazonSageMakerException; the AWS SDK integration names the API's error
    with the Exception suffix (SageMaker.ThrottlingException)."""
    from tests.infra.test_deployment import _states

    machines = {**states, **{f"deploy:{k}": v for k, v in _states(dev_template).items()}}
    optimized = {n: t for n, t in machines.items() if t.get("Resource", "").startswith(
        "arn:aws:states:::sagemaker:")}  # fmt: skip
    sdk = {n: t for n, t in machines.items() if t.get("Resource", "").startswith(
        "arn:aws:states:::aws-sdk:sagemaker:")}  # fmt: skip
    assert set(optimized) == {"Train", "Tune", "ProcessDataset"}
    assert len(sdk) == 6  # DescribeBestTrial + the five deployment calls
    for name, task in optimized.items():
        errors = _retried(task)
        assert "SageMaker.AmazonSageMakerException" in errors, name
        assert "SageMaker.ResourceLimitExceededException" in errors, name
        assert not any(e.startswith("SageMaker.Throttling") for e in errors), name
    for name, task in sdk.items():
        errors = _retried(task)
        assert "SageMaker.ThrottlingException" in errors, name
        assert "SageMaker.AmazonSageMakerException" not in errors, name
        assert all(e.endswith("Exception") for e in errors if e.startswith("SageMaker.")), name


def _longest(states: dict[str, Any], start: str) -> int:
    """The largest sum of per-state TimeoutSeconds over every path from ``start`` to an end.

    The one loop (NextRound, back to PrepareData) is taken at most MAX_ROUNDS - 1 times:
    Register fails the run instead of asking for another round (modelrail.release)."""
    from functools import cache

    from modelrail.release import MAX_ROUNDS

    @cache
    def walk(name: str, rounds: int) -> float:
        if name == "NextRound":
            if rounds >= MAX_ROUNDS:
                return float("-inf")
            rounds += 1
        state = states[name]
        nexts = [state["Next"]] if "Next" in state else []
        nexts += [c["Next"] for c in state.get("Choices", [])]
        nexts += [state["Default"]] if "Default" in state else []
        nexts += [c["Next"] for c in state.get("Catch", [])]
        own = state.get("TimeoutSeconds", 0)
        return own + max((walk(n, rounds) for n in nexts), default=0)

    return int(walk(start, 1))


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_machine_outlasts_its_longest_path(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    body = definition(dev_template if env == "dev" else prod_template)
    states = body["States"]
    for name, state in states.items():
        if state["Type"] == "Task":
            assert isinstance(state.get("TimeoutSeconds"), int), f"{name} has no timeout"
    longest = _longest(states, body["StartAt"])
    assert body["TimeoutSeconds"] > longest
    if env == "prod":  # the approval wait alone is 72 hours
        assert states["RequestApproval"]["TimeoutSeconds"] == 72 * 3600
        assert longest > 72 * 3600
