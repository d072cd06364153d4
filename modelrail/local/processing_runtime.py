"""Run SageMaker Processing jobs on the local cloud under the Processing container contract.

moto records ``CreateProcessingJob`` and marks it Completed at once without running
anything (and drops its ``ProcessingResources``). This executor runs the job the way
SageMaker Processing does:

* every ``ProcessingInputs[].S3Input`` is downloaded, as the job's role, into its
  ``LocalPath`` (an object keeps its path below the prefix's folder, so the S3 URI of one
  object lands as ``<LocalPath>/<file name>``);
* ``AppSpecification.ContainerEntrypoint`` + ``ContainerArguments`` run in a worker
  process, with every ``/opt/ml/...`` path mapped to the job's temporary folder and the
  container's ``python3`` being this interpreter; the job's code gets no AWS credentials
  (the dataset job makes no AWS calls; SageMaker moves its data);
* ``StoppingCondition.MaxRuntimeInSeconds`` bounds the worker (real seconds, as for
  training jobs; the Step Functions task's own timeout is on the local clock);
* ``/opt/ml/output/message`` becomes ``ExitMessage`` (first 1024 bytes), whatever the
  outcome; a non-zero exit is ``Failed`` with ``FailureReason``
  ``AlgorithmError: <the message or the last line of stderr>``;
* on success each ``ProcessingOutputConfig.Outputs[].S3Output`` folder is uploaded, as
  the job's role, under its ``S3Uri`` (encrypted with the config's ``KmsKeyId``).

The status moves InProgress -> Completed | Failed on moto's record, which the
``createProcessingJob.sync`` integration (:mod:`.training_runtime`) then describes.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelrail.local.clock import LocalClock, working
from modelrail.local.training_runtime import run_job_process, s3_uri, transfer_config

logger = logging.getLogger(__name__)

CONTAINER_ROOT = "/opt/ml"
MESSAGE_FILE = "/opt/ml/output/message"
_MESSAGE_LIMIT = 1024
_PYTHONS = {"python", "python3"}


@dataclass(frozen=True)
class ProcessingRun:
    name: str
    status: str  # Completed | Failed
    failure_reason: str | None
    exit_message: str | None
    seconds: float
    logs_tail: str
    uploaded: tuple[str, ...] = ()


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = s3_uri(uri)[5:].partition("/")
    return bucket, key


@dataclass
class ProcessingRuntime:
    work_dir: Path
    python: str = sys.executable
    # The job computes in real time: the local clock runs at real speed meanwhile (D46).
    clock: LocalClock | None = None
    runs: list[ProcessingRun] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, job: dict[str, Any], *, s3: Any) -> ProcessingRun:
        """Run one job as requested (CreateProcessingJob's parameters), ``s3`` acting as
        the job's role; upload its outputs when it succeeds."""
        name = job["ProcessingJobName"]
        started = time.perf_counter()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.work_dir))
        uploaded: list[str] = []
        try:
            with working(self.clock):
                logs, failure = self._execute(job, root, s3=s3)
        except Exception as exc:  # a platform failure (an input missing), not the code's
            logs, failure = "", f"ClientError: {exc}"
        message = self._message(root)
        if failure is None:
            try:
                uploaded = self._upload_outputs(job, root, s3=s3)
            except Exception as exc:
                failure = f"ClientError: cannot upload the outputs: {exc}"
        shutil.rmtree(root, ignore_errors=True)
        run = ProcessingRun(
            name,
            "Failed" if failure else "Completed",
            failure,
            message,
            time.perf_counter() - started,
            logs[-6000:],
            tuple(uploaded),
        )
        with self._lock:
            self.runs.append(run)
        return run

    @staticmethod
    def local(root: Path, path: str) -> Path:
        """A container path under /opt/ml as a path in the job's folder."""
        if path != CONTAINER_ROOT and not path.startswith(CONTAINER_ROOT + "/"):
            raise ValueError(f"{path!r} is not under {CONTAINER_ROOT}")
        return root / path[len(CONTAINER_ROOT) :].lstrip("/")

    def _command(self, job: dict[str, Any], root: Path) -> list[str]:
        app = job["AppSpecification"]
        command = [*(app.get("ContainerEntrypoint") or []), *(app.get("ContainerArguments") or [])]
        if not command or command[0] not in _PYTHONS:
            raise ValueError(
                f"the local cloud runs Python entry points ({sorted(_PYTHONS)}), not {command[:1]}"
            )
        mapped = [self.python]
        for arg in command[1:]:
            is_path = arg == CONTAINER_ROOT or arg.startswith(CONTAINER_ROOT + "/")
            mapped.append(str(self.local(root, arg)) if is_path else arg)
        return mapped

    def _execute(self, job: dict[str, Any], root: Path, *, s3: Any) -> tuple[str, str | None]:
        for item in job.get("ProcessingInputs") or []:
            source = item["S3Input"]
            self._download(source["S3Uri"], self.local(root, source["LocalPath"]), s3=s3)
        for output in (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            self.local(root, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        self.local(root, MESSAGE_FILE).parent.mkdir(parents=True, exist_ok=True)
        command = self._command(job, root)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env.update({"PYTHONUNBUFFERED": "1", "PROCESSING_JOB_NAME": job["ProcessingJobName"]})
        env.setdefault("OMP_NUM_THREADS", "1")
        done = run_job_process(command, cwd=root, env=env, job=job)
        if done.timed_out is not None:
            return "", done.timed_out
        if done.error is None:
            return done.logs, None
        reason = self._message(root) or done.error
        return done.logs, f"AlgorithmError: {reason}"[:_MESSAGE_LIMIT]

    def _message(self, root: Path) -> str | None:
        path = self.local(root, MESSAGE_FILE)
        if not path.is_file():
            return None
        return path.read_bytes()[:_MESSAGE_LIMIT].decode("utf-8", errors="replace")

    @staticmethod
    def _download(uri: str, target: Path, *, s3: Any) -> None:
        bucket, prefix = _split(uri)
        # Keys keep their path below the prefix's folder: s3://b/in/x.csv -> <target>/x.csv
        if prefix.endswith("/") or not prefix:
            folder = prefix
        else:
            folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        target.mkdir(parents=True, exist_ok=True)
        found = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                dest = target / key[len(folder) :]
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                found += 1
        if not found:
            raise ValueError(f"no objects under {uri}")

    def _upload_outputs(self, job: dict[str, Any], root: Path, *, s3: Any) -> list[str]:
        config = job.get("ProcessingOutputConfig") or {}
        encryption: dict[str, str] = {}
        if config.get("KmsKeyId"):
            encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config["KmsKeyId"]}
        uploaded: list[str] = []
        for output in config.get("Outputs") or []:
            target = output["S3Output"]
            bucket, prefix = _split(target["S3Uri"])
            prefix = prefix.rstrip("/") + "/" if prefix else ""
            folder = self.local(root, target["LocalPath"])
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                key = prefix + path.relative_to(folder).as_posix()
                # Multipart above the threshold, as SageMaker uploads a job's outputs (a
                # single PutObject of a 1 GB snapshot never finished here, D46).
                s3.upload_file(
                    str(path), bucket, key, ExtraArgs=encryption, Config=transfer_config()
                )
                uploaded.append(f"s3://{bucket}/{key}")
        return uploaded


def record_outcome(backend_job: Any, run: ProcessingRun, request: dict[str, Any]) -> None:
    """Write the run's outcome onto moto's processing job record (and what moto drops)."""
    now = datetime.now(UTC)
    backend_job.processing_job_status = run.status
    backend_job.failure_reason = run.failure_reason
    backend_job.exit_message = run.exit_message
    backend_job.processing_end_time = now
    backend_job.last_modified_time = now
    if request.get("ProcessingResources"):
        backend_job.processing_resources = request["ProcessingResources"]
