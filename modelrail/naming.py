"""Names of what SageMaker creates outside CloudFormation, one definition of each.

Every one of them starts with ``modelrail-<env>-`` so that two environments sharing an
account and region never touch each other's jobs, models or endpoint configs: IAM scopes
SageMaker actions to ``<type>/modelrail-<env>-*`` and every clean-up matches its own
environment's prefix. Names are deterministic (a retried state reuses them) and unique
per execution (a digest of the execution name, which is unique per state machine).
SageMaker allows 63 characters of ``[a-zA-Z0-9-]`` (32 for a tuning job); a model name is
at most 32 characters (modelrail.contract), an environment one of :data:`ENVIRONMENTS`.
"""

from __future__ import annotations

import hashlib

ENVIRONMENTS = ("dev", "staging", "prod")
MAX_NAME = 63
MAX_TUNING_JOB_NAME = 32
#: Hex digits of the execution digest in job names (64 bits; 40 in a tuning job's 32).
JOB_DIGEST = 16
TUNING_DIGEST = 10


def resource_prefix(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; expected one of {ENVIRONMENTS}")
    return f"modelrail-{environment}-"


def digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _stem(model: str, room: int) -> str:
    return model[:room].rstrip("-")


def training_job_name(environment: str, model: str, execution_name: str) -> str:
    """``modelrail-<env>-<model>-<16 hex>``; the model is cut to fit 63 characters (the
    digest keeps the name unique)."""
    prefix = resource_prefix(environment)
    room = MAX_NAME - len(prefix) - 1 - JOB_DIGEST
    return f"{prefix}{_stem(model, room)}-{digest(execution_name, JOB_DIGEST)}"


def dataset_job_name(environment: str, model: str, execution_name: str) -> str:
    """The dataset Processing job: ``modelrail-<env>-<model>-<16 hex>``, its digest drawn
    apart from the training job's so that the two names differ."""
    prefix = resource_prefix(environment)
    room = MAX_NAME - len(prefix) - 1 - JOB_DIGEST
    return f"{prefix}{_stem(model, room)}-{digest('dataset:' + execution_name, JOB_DIGEST)}"


def tuning_job_name(environment: str, model: str, execution_name: str) -> str:
    """Within a tuning job's 32 characters: ``modelrail-<env>-<model, cut>-<10 hex>``.
    SageMaker names the trials ``<tuning job>-<NNN>-<8 hex>``, so they carry the prefix."""
    prefix = resource_prefix(environment)
    room = MAX_TUNING_JOB_NAME - len(prefix) - 1 - TUNING_DIGEST
    stem = _stem(model, room)
    tail = digest(execution_name, TUNING_DIGEST)
    return f"{prefix}{stem}-{tail}" if stem else f"{prefix}{tail}"
