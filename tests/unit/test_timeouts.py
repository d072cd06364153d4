"""The training state machine's timeout is derived from its longest path (infra/timeouts.py):
an approval slower than the training must never time the execution out."""

from __future__ import annotations

import pytest

from infra.timeouts import (
    JOB_OVERHEAD_SECONDS,
    MARGIN_SECONDS,
    StepTimeouts,
    job_timeout,
    pipeline_timeout,
    tuning_timeout,
)


def _steps(**overrides: int) -> StepTimeouts:
    base = {
        "validate": 630,
        "process": 0,
        "prepare": 630,
        "train": job_timeout(3600),
        "tune": 0,
        "gate": 150,
        "register": 90,
        "approval": 0,
        "close_approval": 60,
        "notify": 60,
        "start_deployment": 60,
    }
    return StepTimeouts(**{**base, **overrides})


def test_a_job_may_run_its_max_runtime_plus_start_and_upload() -> None:
    assert job_timeout(3600) == 3600 + JOB_OVERHEAD_SECONDS


def test_a_search_runs_its_trials_in_rounds_of_the_parallel_limit() -> None:
    # 6 trials, 2 at a time: 3 rounds of one job each
    assert tuning_timeout(3600, [(6, 2)]) == 3 * job_timeout(3600) + JOB_OVERHEAD_SECONDS
    # 5 trials, 2 at a time: still 3 rounds; the longest search of all contracts counts
    assert tuning_timeout(3600, [(5, 2), (4, 4)]) == 3 * job_timeout(3600) + JOB_OVERHEAD_SECONDS
    assert tuning_timeout(3600, []) == 0


def test_dev_without_approval_is_the_sum_of_the_success_path_and_margins() -> None:
    steps = _steps()
    # ... NotifyRegistered, StartDeployment, and NotifyFailure should the last one fail
    path = 630 + 630 + job_timeout(3600) + 150 + 90 + 60 + 60 + 60
    assert steps.longest_path() == path
    assert pipeline_timeout(steps) == path + steps.retry_backoff() + MARGIN_SECONDS


def test_an_approval_of_72_hours_fits_with_a_search_longer_than_one_training() -> None:
    approval = 72 * 3600
    tune = tuning_timeout(7200, [(6, 2)])
    steps = _steps(train=job_timeout(7200), tune=tune, approval=approval)
    assert steps.longest_path() == 630 + 630 + tune + 150 + 90 + approval + 60 + 60 + 60
    assert pipeline_timeout(steps) > approval + tune


def test_a_large_dataset_path_counts_the_processing_job_instead_of_validation() -> None:
    small = _steps()
    steps = _steps(process=job_timeout(3600))
    # The job replaces ValidateData on its path: the longer of the two counts, not both.
    assert steps.longest_path() == small.longest_path() - 630 + job_timeout(3600)
    # Its quota is retried as training's is.
    assert steps.retry_backoff() == small.retry_backoff() + (60 + 120 + 240)


@pytest.mark.parametrize("field", ["validate", "process", "train", "approval"])
def test_a_negative_step_timeout_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be >= 0"):
        _steps(**{field: -1})
