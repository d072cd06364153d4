"""Run SageMaker training jobs on the local cloud under the container contract.

moto records ``CreateTrainingJob`` and marks it Completed without running anything.
This executor runs the job's own entry point the way the SageMaker framework container
does: channels downloaded from S3 into ``input/data/<channel>``, hyperparameters in
``input/config/hyperparameters.json`` and as ``--key value`` arguments, ``SM_*``
variables, the script-mode source unpacked from ``sagemaker_submit_directory``, the
process run with the job's max runtime, then ``model/`` packed into ``model.tar.gz``
and ``output/data`` into ``output.tar.gz`` under ``<S3OutputPath>/<job>/output/``.
A failed job's ``output/failure`` file becomes its ``FailureReason``.

It also registers a ``sagemaker`` service integration with moto's Step Functions
interpreter (which lists SageMaker as unsupported) so ``createTrainingJob.sync`` runs.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from modelrail.local.clock import LocalClock, working
from modelrail.local.iam.requests import Check

if TYPE_CHECKING:
    from modelrail.local.iam.enforce import Enforcer
    from modelrail.local.iam.principals import Principals
    from modelrail.local.processing_runtime import ProcessingRuntime
    from modelrail.local.tuning_runtime import TuningRuntime

logger = logging.getLogger(__name__)

CONTAINER_ROOT = "/opt/ml"
_HTTPS_PATH = re.compile(
    r"^https://s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com(?:\.cn)?/(?P<bucket>[^/]+)/?(?P<key>.*)$"
)
_HTTPS_HOST = re.compile(
    r"^https://(?P<bucket>[^/]+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com(?:\.cn)?/?(?P<key>.*)$"
)
_FAILURE_LIMIT = 1024  # SageMaker truncates FailureReason
# The EventBridge rules Step Functions manages to follow .sync SageMaker jobs.
_TRAINING_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
_TUNING_RULE = "StepFunctionsGetEventsForSageMakerTuningJobsRule"
_PROCESSING_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"


@dataclass(frozen=True)
class JobRun:
    name: str
    status: str  # Completed | Failed
    failure_reason: str | None
    seconds: float
    model_artifacts: str
    stdout_tail: str
    metrics: dict[str, float] = field(default_factory=dict)
    """Values of the job's MetricDefinitions, scraped from its logs as SageMaker does."""


def scrape_metrics(definitions: list[dict[str, str]] | None, logs: str) -> dict[str, float]:
    """The last match of each metric definition's regex (its first group) in the logs."""
    found: dict[str, float] = {}
    for definition in definitions or []:
        matches = re.findall(definition["Regex"], logs)
        for match in reversed(matches):
            text = match[0] if isinstance(match, tuple) else match
            try:
                found[definition["Name"]] = float(text)
            except ValueError:
                continue
            break
    return found


def _decode(value: str) -> str:
    """Hyperparameters arrive JSON-encoded (the SDK's convention); fall back to raw."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return value
    return decoded if isinstance(decoded, str) else json.dumps(decoded)


def _split(uri: str) -> tuple[str, str]:
    """Bucket and key of an S3 URI; SageMaker also accepts https:// S3 URLs (CDK emits them)."""
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        return bucket, key
    match = _HTTPS_PATH.match(uri) or _HTTPS_HOST.match(uri)
    if not match:
        raise ValueError(f"{uri!r} is not an S3 location")
    return match.group("bucket"), match.group("key")


@dataclass(frozen=True)
class JobExit:
    """How a job's container command ended (:func:`run_job_process`)."""

    logs: str
    error: str | None
    """None when it exited 0; else the last line of its stderr, or its exit code."""
    timed_out: str | None = None
    """The MaxRuntimeExceeded reason when the job ran past its stopping condition."""


#: Jobs move data to and from S3 in parts of this size above it (s3transfer).
TRANSFER_PART_BYTES = 64 * 1024**2


def transfer_config() -> Any:
    """How a job's channels and outputs move: multipart from 64 MiB, 4 at a time."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=TRANSFER_PART_BYTES,
        multipart_chunksize=TRANSFER_PART_BYTES,
        max_concurrency=4,
    )


def run_job_process(
    args: list[str], *, cwd: Path, env: dict[str, str], job: dict[str, Any]
) -> JobExit:
    """A training or processing job's command as a subprocess, bounded by the job's
    ``StoppingCondition.MaxRuntimeInSeconds`` (real seconds, as the job's own work is)."""
    max_runtime = int((job.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
    try:
        proc = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=max_runtime, check=False
        )
    except subprocess.TimeoutExpired:
        return JobExit(
            "", None, f"MaxRuntimeExceeded: the job ran longer than {max_runtime} seconds"
        )
    logs = (proc.stdout + proc.stderr).strip()
    if proc.returncode == 0:
        return JobExit(logs, None)
    last = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
    return JobExit(logs, last[0])


def s3_uri(uri: str) -> str:
    bucket, key = _split(uri)
    return f"s3://{bucket}/{key}"


def _tar_folder(folder: Path) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(folder)))
    return raw.getvalue()


@dataclass
class TrainingRuntime:
    work_dir: Path
    python: str = sys.executable
    # The job computes in real time: the local clock runs at real speed meanwhile (D46).
    clock: LocalClock | None = None
    runs: list[JobRun] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(
        self,
        job: dict[str, Any],
        *,
        s3: Any,
        metric_definitions: list[dict[str, str]] | None = None,
    ) -> JobRun:
        """Run one job described as by ``DescribeTrainingJob``; upload its outputs.

        ``metric_definitions`` are the request's (moto's record drops them).
        """
        name = job["TrainingJobName"]
        started = time.perf_counter()
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.work_dir))
        output_path = s3_uri(job["OutputDataConfig"]["S3OutputPath"]).rstrip("/")
        model_uri = f"{output_path}/{name}/output/model.tar.gz"
        try:
            with working(self.clock):
                logs, failure = self._execute(job, root, s3=s3)
        except Exception as exc:  # a platform failure (bad channel, bad source), not the script's
            logs, failure = "", f"ClientError: {exc}"
        definitions = metric_definitions or (job.get("AlgorithmSpecification") or {}).get(
            "MetricDefinitions"
        )
        metrics = scrape_metrics(definitions, logs)
        tail = logs[-6000:]
        status = "Failed" if failure else "Completed"
        if not failure:
            bucket, key = _split(model_uri)
            s3.put_object(Bucket=bucket, Key=key, Body=_tar_folder(root / "model"))
            out_bucket, out_key = _split(f"{output_path}/{name}/output/output.tar.gz")
            s3.put_object(
                Bucket=out_bucket, Key=out_key, Body=_tar_folder(root / "output" / "data")
            )
        shutil.rmtree(root, ignore_errors=True)
        run = JobRun(name, status, failure, time.perf_counter() - started, model_uri, tail, metrics)
        with self._lock:
            self.runs.append(run)
        return run

    def _execute(self, job: dict[str, Any], root: Path, *, s3: Any) -> tuple[str, str | None]:
        for sub in ("input/config", "input/data", "model", "output/data", "code"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        hps = {k: _decode(v) for k, v in (job.get("HyperParameters") or {}).items()}
        channels = []
        for channel in job.get("InputDataConfig") or []:
            cname = channel["ChannelName"]
            channels.append(cname)
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            self._download_prefix(uri, root / "input" / "data" / cname, s3=s3)
        (root / "input/config/hyperparameters.json").write_text(
            json.dumps(job.get("HyperParameters") or {})
        )
        (root / "input/config/inputdataconfig.json").write_text(
            json.dumps(
                {
                    c["ChannelName"]: {"TrainingInputMode": "File"}
                    for c in job.get("InputDataConfig") or []
                }
            )
        )

        program = hps.pop("sagemaker_program", None)
        submit = hps.pop("sagemaker_submit_directory", None)
        for internal in [k for k in hps if k.startswith("sagemaker_")]:
            hps.pop(internal)
        if not program or not submit:
            raise ValueError(
                "script mode needs the sagemaker_program and sagemaker_submit_directory hyperparameters"
            )
        self._unpack_source(submit, root, s3=s3)
        script = root / "code" / program
        if not script.is_file():
            raise ValueError(f"{program!r} is not in the submitted source")

        env = {
            # No AWS credentials or endpoints reach the job: it runs network-isolated.
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "MOTO_"))
        }
        env.update(
            {
                "SM_MODEL_DIR": str(root / "model"),
                "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
                "SM_OUTPUT_DIR": str(root / "output"),
                "SM_INPUT_DIR": str(root / "input"),
                "SM_INPUT_CONFIG_DIR": str(root / "input" / "config"),
                "SM_CHANNELS": json.dumps(sorted(channels)),
                "SM_HPS": json.dumps(hps),
                "SM_CURRENT_HOST": "algo-1",
                "SM_HOSTS": json.dumps(["algo-1"]),
                "SM_NUM_CPUS": str(os.cpu_count() or 1),
                "SM_NUM_GPUS": "0",
                "SM_MODULE_DIR": str(root / "code"),
                "SM_USER_ENTRY_POINT": program,
                "TRAINING_JOB_NAME": job["TrainingJobName"],
                "PYTHONPATH": str(root / "code"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        # One training job at a time shares this machine with the rest of the local cloud;
        # OpenMP oversubscription makes a 0.4 s fit take several seconds.
        env.setdefault("OMP_NUM_THREADS", "1")
        for cname in channels:
            env[f"SM_CHANNEL_{cname.upper()}"] = str(root / "input" / "data" / cname)
        for key, value in hps.items():
            env[f"SM_HP_{key.upper().replace('-', '_')}"] = value
        args = [self.python, str(script)]
        for key, value in hps.items():
            args += [f"--{key}", value]
        done = run_job_process(args, cwd=root / "code", env=env, job=job)
        if done.timed_out is not None:
            return "", done.timed_out
        if done.error is None:
            return done.logs, None
        failure_file = root / "output" / "failure"
        reason = failure_file.read_text(errors="replace").strip() if failure_file.exists() else ""
        return done.logs, (reason or f"AlgorithmError: {done.error}")[:_FAILURE_LIMIT]

    @staticmethod
    def _download_prefix(uri: str, target: Path, *, s3: Any) -> None:
        bucket, prefix = _split(uri)
        target.mkdir(parents=True, exist_ok=True)
        found = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                rel = key[len(prefix) :].lstrip("/") or Path(key).name
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                # Streamed to disk in ranged parts: a channel may be gigabytes.
                s3.download_file(bucket, key, str(dest), Config=transfer_config())
                found += 1
        if not found:
            raise ValueError(f"no objects under {uri}")

    @staticmethod
    def _unpack_source(submit: str, root: Path, *, s3: Any) -> None:
        if submit.startswith("s3://"):
            bucket, key = _split(submit)
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        else:
            # A path inside the container, e.g. /opt/ml/input/data/code/<asset>.gz
            if not submit.startswith(CONTAINER_ROOT + "/"):
                raise ValueError(
                    f"sagemaker_submit_directory {submit!r} is neither s3:// nor under {CONTAINER_ROOT}"
                )
            data = (root / submit[len(CONTAINER_ROOT) + 1 :]).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(root / "code", filter="data")


def record_outcome(backend_job: Any, run: JobRun, definitions: list[Any] | None) -> None:
    """Write the run's outcome onto moto's training job record."""
    now = datetime.now(UTC)
    backend_job.training_job_status = run.status
    backend_job.secondary_status = run.status
    backend_job.failure_reason = run.failure_reason
    backend_job.training_end_time = now
    backend_job.last_modified_time = now
    backend_job.model_artifacts = (
        {"S3ModelArtifacts": run.model_artifacts} if run.status == "Completed" else None
    )
    backend_job.algorithm_specification["MetricDefinitions"] = definitions or []
    backend_job.final_metric_data_list = [
        {"MetricName": name, "Value": value, "Timestamp": now}
        for name, value in sorted(run.metrics.items())
    ]
    backend_job.secondary_status_transitions = [
        {"Status": "Training", "StartTime": backend_job.creation_time, "EndTime": now,
         "StatusMessage": "Training job completed" if run.status == "Completed" else (run.failure_reason or "")},
    ]  # fmt: skip


# --------------------------------------------------------------------------------------
# Step Functions service integration
# --------------------------------------------------------------------------------------


def install(
    runtime: TrainingRuntime,
    *,
    account_id: str,
    tuning: TuningRuntime | None = None,
    processing: ProcessingRuntime | None = None,
    principals: Principals | None = None,
    enforcer: Enforcer | None = None,
) -> Callable[[], None]:
    """Register ``arn:aws:states:::sagemaker:*`` with moto's interpreter: training jobs,
    hyperparameter tuning jobs and, with a processing runtime, processing jobs (all
    ``.sync``).

    With ``principals``, the task's calls are made as the state machine's role and the
    job reads its channels and writes its output as the job's execution role; with an
    ``enforcer``, ``.sync`` also needs the EventBridge permissions Step Functions uses to
    follow the job (its managed rule)."""
    from modelrail.local.processing_runtime import record_outcome as record_processing
    from modelrail.local.tuning_runtime import TuningRuntime, describe_json

    def client(service: str, region: str, role: str | None = None, session: str = "") -> Any:
        # Checksums only where S3 requires them: botocore's aws-chunked bodies are
        # assembled quadratically in process (modelrail.local.cloud.upload_client).
        kwargs: dict[str, Any] = {
            "region_name": region,
            "config": Config(request_checksum_calculation="when_required"),
        }
        if principals is not None and role is None:
            current = principals.current()
            role, session = (current.role_arn, current.session) if current else (None, "")
        if principals is not None and role is not None:
            kwargs.update(principals.client_kwargs(role, session[:64] or "SageMaker"))
        return boto3.client(service, **kwargs)  # type: ignore[call-overload]

    def require_sync_rule(region: str, rule: str) -> None:
        current = principals.current() if principals is not None else None
        if enforcer is None or current is None:
            return
        arn = f"arn:aws:events:{region}:{account_id}:rule/{rule}"
        for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
            enforcer.require(current, Check(action, arn))

    tuner = tuning or TuningRuntime(runtime)
    actions = {
        "createtrainingjob": "CreateTrainingJob",
        "createhyperparametertuningjob": "CreateHyperParameterTuningJob",
        "createprocessingjob": "CreateProcessingJob",
    }
    from moto.sagemaker.models import sagemaker_backends
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    class StateTaskServiceSageMaker(StateTaskServiceCallback):  # type: ignore[misc,unused-ignore]
        def __init__(self) -> None:
            # WaitForTaskToken is listed so the interpreter builds the callback endpoint it
            # always tears down after a .sync task.
            patterns: set[Any] = {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
            super().__init__(supported_integration_patterns=patterns)

        def _get_boto_service_name(self, boto_service_name: str | None = None) -> str:
            return "sagemaker"

        def _get_supported_parameters(self) -> set[str] | None:
            operation = actions.get(self.resource.api_action.lower())
            if operation is None:
                return None
            model: Any = boto3.client("sagemaker", region_name="us-east-1").meta.service_model
            return set(model.operation_model(operation).input_shape.members)

        def _eval_service_task(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict[str, Any],
            state_credentials: Any,
        ) -> None:
            action = self._get_boto_service_action()
            region = resource_runtime_part.region
            sm: Any = client("sagemaker", region)
            if action == "create_hyper_parameter_tuning_job":
                require_sync_rule(region, _TUNING_RULE)
                response = sm.create_hyper_parameter_tuning_job(**normalised_parameters)
                role = normalised_parameters["TrainingJobDefinition"]["RoleArn"]
                name = normalised_parameters["HyperParameterTuningJobName"]
                # SageMaker, not the caller, creates the trials; each runs as the role.
                tuner.run(
                    normalised_parameters,
                    sagemaker=boto3.client("sagemaker", region_name=region),
                    s3=client("s3", region, role, name),
                    backend=sagemaker_backends[account_id][region],
                )
                env.stack.append(response)
                return
            if action == "create_processing_job" and processing is not None:
                require_sync_rule(region, _PROCESSING_RULE)
                response = sm.create_processing_job(**normalised_parameters)
                name = normalised_parameters["ProcessingJobName"]
                job: Any = sagemaker_backends[account_id][region].processing_jobs[name]
                job.processing_job_status = "InProgress"
                job.exit_message = job.failure_reason = None
                # SageMaker, not the caller, moves the data: as the job's role.
                s3 = client("s3", region, normalised_parameters["RoleArn"], name)
                done = processing.run(normalised_parameters, s3=s3)
                record_processing(job, done, normalised_parameters)
                env.stack.append({"ProcessingJobArn": response["ProcessingJobArn"]})
                return
            if action != "create_training_job":
                raise ValueError(
                    "the local cloud runs sagemaker:createTrainingJob, "
                    f"createHyperParameterTuningJob and createProcessingJob, not {action}"
                )
            require_sync_rule(region, _TRAINING_RULE)
            response = sm.create_training_job(**normalised_parameters)
            name = normalised_parameters["TrainingJobName"]
            backend_job = sagemaker_backends[account_id][region].training_jobs[name]
            definitions = (normalised_parameters.get("AlgorithmSpecification") or {}).get(
                "MetricDefinitions"
            )
            backend_job.training_job_status = "InProgress"
            described = sm.describe_training_job(TrainingJobName=name)
            s3 = client("s3", region, described["RoleArn"], name)
            run = runtime.run(described, s3=s3, metric_definitions=definitions)
            record_outcome(backend_job, run, definitions)
            env.stack.append({"TrainingJobArn": response["TrainingJobArn"]})

        def _build_sync_resolver(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict[str, Any],
            state_credentials: Any,
        ) -> Callable[[], Any]:
            region = resource_runtime_part.region
            env.stack.pop()

            def failed(described: dict[str, Any]) -> Exception:
                return FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(  # type: ignore[typeddict-item]
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error="States.TaskFailed",
                                cause=json.dumps(described),
                            )
                        ),
                    )
                )

            if "HyperParameterTuningJobName" in normalised_parameters:
                tuning_name = normalised_parameters["HyperParameterTuningJobName"]

                def resolve_tuning() -> Any:
                    described = describe_json(client("sagemaker", region), tuning_name)
                    status = described["HyperParameterTuningJobStatus"]
                    if status in ("InProgress", "Stopping"):
                        return None
                    if status == "Completed":
                        return described
                    raise failed(described)

                return resolve_tuning
            if "ProcessingJobName" in normalised_parameters:
                processing_name = normalised_parameters["ProcessingJobName"]

                def resolve_processing() -> Any:
                    raw = client("sagemaker", region).describe_processing_job(
                        ProcessingJobName=processing_name
                    )
                    raw.pop("ResponseMetadata", None)
                    described: dict[str, Any] = json.loads(json.dumps(raw, default=str))
                    status = described["ProcessingJobStatus"]
                    if status in ("InProgress", "Stopping"):
                        return None
                    if status == "Completed":
                        return described
                    raise failed(described)

                return resolve_processing
            name = normalised_parameters["TrainingJobName"]

            def resolve() -> Any:
                raw = client("sagemaker", region).describe_training_job(TrainingJobName=name)
                raw.pop("ResponseMetadata", None)
                described: dict[str, Any] = json.loads(json.dumps(raw, default=str))
                status = described["TrainingJobStatus"]
                if status in ("InProgress", "Stopping"):
                    return None
                if status == "Completed":
                    return described
                raise failed(described)

            return resolve

    factory: Any = state_task_factory
    original = factory.state_task_service_for

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name)

    factory.state_task_service_for = state_task_service_for

    def undo() -> None:
        factory.state_task_service_for = original

    return undo
