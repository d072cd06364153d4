"""How long the training state machine may run: derived from its longest path.

A Standard execution that reaches its ``TimeoutSeconds`` ends TIMED_OUT at once: no Catch
runs, so CloseApproval and NotifyFailure would never happen. The machine's timeout must
therefore outlast its longest path: validation (the Lambda's or the dataset Processing job's, the longer), preparation, the longer of one training
job and the slowest search (its trials run in rounds of the parallel limit), the gate,
registration (all four once per judgement round: a run judged against a reference that
moved meanwhile is judged again, at most ``rounds`` times, modelrail.release), the
approval wait where there is one, and the notifications, plus the retries' back-off and
a margin. Every Task state carries its own TimeoutSeconds, so the
path is bounded state by state (an infra test sums them over the synthesized ASL).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

#: Start-up (instance provisioning, image pull, channel download) and model upload around
#: a job's MaxRuntimeInSeconds, which bounds the training itself only.
JOB_OVERHEAD_SECONDS = 1800
#: Added to the longest path: state transitions, Lambda cold starts, clock skew.
MARGIN_SECONDS = 1800
#: A Task's transient-error retries (infra.constructs.common): 3 retries, 2 s then x2.
RETRY_BACKOFF_SECONDS = 2 + 4 + 8
#: A full SageMaker quota is retried after 60 s, 120 s and 240 s (retry_quota).
QUOTA_BACKOFF_SECONDS = 60 + 120 + 240
#: Seconds a Lambda invocation may take beyond the function's own timeout.
INVOKE_OVERHEAD_SECONDS = 30
#: SNS publish and StartExecution answer in well under a second.
API_CALL_SECONDS = 60


def job_timeout(max_runtime_seconds: int) -> int:
    """One training job from CreateTrainingJob to Completed."""
    return max_runtime_seconds + JOB_OVERHEAD_SECONDS


def tuning_timeout(max_runtime_seconds: int, budgets: Iterable[tuple[int, int]]) -> int:
    """The slowest search of all contracts, each ``(max_jobs, max_parallel_jobs)``: its
    trials run in ceil(max_jobs / max_parallel_jobs) rounds of one job each; 0 when no
    contract searches."""
    rounds = [math.ceil(jobs / parallel) for jobs, parallel in budgets]
    if not rounds:
        return 0
    return max(rounds) * job_timeout(max_runtime_seconds) + JOB_OVERHEAD_SECONDS


@dataclass(frozen=True)
class StepTimeouts:
    """The TimeoutSeconds of each Task state on the training machine's paths."""

    validate: int
    process: int  # the dataset Processing job, instead of validate above the threshold
    prepare: int
    train: int
    tune: int  # 0 when no contract searches
    gate: int
    register: int
    approval: int  # 0 without manual approval
    close_approval: int
    notify: int
    start_deployment: int
    rounds: int = 1  # judgements at most (PrepareData to Register, modelrail.release)

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0, got {getattr(self, f.name)}")

    def longest_path(self) -> int:
        """Through every step to the last (the registered notification and the deployment's
        start, or closing a failed approval), then the failure notification: any Task's
        Catch leads there, the last one's included."""
        judgement = self.prepare + max(self.train, self.tune) + self.gate + self.register
        head = max(self.validate, self.process) + self.rounds * judgement + self.approval
        tail = self.notify + self.start_deployment
        if self.approval:
            tail = max(tail, self.close_approval)
        return head + tail + self.notify

    def retry_backoff(self) -> int:
        """Waiting between retries on the longest path (transient errors on every Task,
        a full quota on each SageMaker job: the dataset job's and training's, every round)."""
        tasks = 3 + 4 * self.rounds + (1 if self.approval else 0)
        quotas = (1 if self.process else 0) + self.rounds
        return tasks * RETRY_BACKOFF_SECONDS + quotas * QUOTA_BACKOFF_SECONDS


def pipeline_timeout(steps: StepTimeouts) -> int:
    return steps.longest_path() + steps.retry_backoff() + MARGIN_SECONDS
