"""The S3 layout: every prefix of the data and artifacts buckets, defined once.

Steps build keys with these helpers, the CDK stacks grant on :attr:`Area.objects`
patterns and the cdk-nag acknowledgments name the same patterns, so a prefix changes in
one place. No other module writes a prefix literal.

Data bucket (what people upload, and what is kept of it)::

    incoming/<model>/<file>                       uploads; each one starts the pipeline
    quarantine/<model>/<version id>/              a rejected upload's exact bytes + report
    ground-truth/<model>/<file>                   delayed labels (monitoring)
    retraining/<model>/<execution>/data.csv       a retraining's dataset (monitoring)

Artifacts bucket (what modelrail makes)::

    datasets/<model>/<sha256 or execution>/       validated snapshot, report, profile
    runs/<model>/<execution>/<channel>/           a run's channels (the champion's model)
    training-output/<job>/output/model.tar.gz     SageMaker training output
    approvals/<model>/v<version>.json             pending manual approvals
    capture/<endpoint>/<variant>/<yyyy/mm/dd/hh>/  SageMaker data capture (JSON Lines)
    monitoring/<model>/<check>/                   drift and live-metric reports
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Bucket = Literal["data", "artifacts"]


@dataclass(frozen=True)
class Area:
    """One top-level prefix of a bucket."""

    bucket: Bucket
    name: str  # no slashes: "incoming"

    @property
    def prefix(self) -> str:
        """``incoming/``: what keys start with (an S3 ListObjects / event prefix)."""
        return f"{self.name}/"

    @property
    def objects(self) -> str:
        """``incoming/*``: every key of the area, as IAM grants and cdk-nag name it."""
        return f"{self.name}/*"

    def of(self, *parts: str) -> str:
        """A key (or, ending in "", a folder) under the area: ``of("demand", "a.csv")``."""
        return "/".join((self.name, *parts))

    def owns(self, key: str) -> bool:
        return key.startswith(self.prefix)


INCOMING = Area("data", "incoming")
QUARANTINE = Area("data", "quarantine")
GROUND_TRUTH = Area("data", "ground-truth")
RETRAINING = Area("data", "retraining")
DATASETS = Area("artifacts", "datasets")
RUNS = Area("artifacts", "runs")
TRAINING_OUTPUT = Area("artifacts", "training-output")
APPROVALS = Area("artifacts", "approvals")
CAPTURE = Area("artifacts", "capture")
MONITORING = Area("artifacts", "monitoring")

AREAS = (
    INCOMING,
    QUARANTINE,
    GROUND_TRUTH,
    RETRAINING,
    DATASETS,
    RUNS,
    TRAINING_OUTPUT,
    APPROVALS,
    CAPTURE,
    MONITORING,
)


def upload_key(model: str, filename: str) -> str:
    """Where an upload of ``filename`` for ``model`` goes to start the pipeline."""
    return INCOMING.of(model, filename)


def quarantine_folder(model: str, version_id: str | None) -> str:
    """The folder a rejected upload's exact version is copied to (``null``: unversioned)."""
    return QUARANTINE.of(model, version_id or "null", "")


def dataset_folder(model: str, name: str) -> str:
    """A validated snapshot's folder: ``name`` is its sha256 (Lambda path) or the
    execution name (Processing path)."""
    return DATASETS.of(model, name, "")


def run_channel(model: str, run: str, channel: str) -> str:
    """The folder of one input channel of a run's training job."""
    return RUNS.of(model, run, channel, "")


def approval_key(model: str, version: int) -> str:
    """The pending approval record of a version."""
    return APPROVALS.of(model, f"v{version}.json")


def capture_prefix(endpoint: str) -> str:
    """Where SageMaker writes the data capture of ``endpoint`` (every variant)."""
    return CAPTURE.of(endpoint, "")


def capture_hour_prefix(endpoint: str, variant: str, hour: str) -> str:
    """The capture files of one variant's hour, ``hour`` as ``yyyy/mm/dd/hh``."""
    return CAPTURE.of(endpoint, variant, hour, "")


def ground_truth_prefix(model: str) -> str:
    """Where labels for ``model``'s predictions are uploaded."""
    return GROUND_TRUTH.of(model, "")


def ground_truth_key(model: str, filename: str) -> str:
    return GROUND_TRUTH.of(model, filename)


def monitoring_folder(model: str, check: str) -> str:
    """One monitoring check's reports."""
    return MONITORING.of(model, check, "")


def retraining_key(model: str, execution: str) -> str:
    """The dataset a retraining execution trains on."""
    return RETRAINING.of(model, execution, "data.csv")
