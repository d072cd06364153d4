"""The embedded local cloud: the deployed pipeline, in-process, without AWS or Docker.

    with LocalCloud() as cloud:          # synthesize (cached), deploy, executors on
        run = cloud.upload_and_wait("demand", Path("good.csv"))
        print(run.status, run.registered_version)

Everything AWS-shaped is moto (in-process ``mock_aws``). What moto records but does
not run is run by small executors installed at one seam each: Lambda handlers from
their synthesized assets (:mod:`.lambda_runtime`), SageMaker training jobs under the
container contract (:mod:`.training_runtime`), Processing jobs under theirs
(:mod:`.processing_runtime`), EventBridge delivery to Lambda and Step
Functions (:mod:`.events_delivery`). The state machines are the synthesized
definitions, executed by moto's Amazon States Language interpreter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from modelrail.deploy.client import DeploymentRun, wait_for
from modelrail.layout import upload_key
from modelrail.local import (
    clock,
    cloudwatch,
    events_delivery,
    hosting_runtime,
    interpreter,
    lambda_runtime,
    log_metrics,
    processing_runtime,
    provision,
    s3_parts,
    scheduler,
    training_runtime,
    tuning_runtime,
)
from modelrail.local.iam import enforce as iam_enforce
from modelrail.local.iam.principals import Principals
from modelrail.monitoring.client import CheckRun, start_check, wait_check
from modelrail.steps.start import plan_start

ROOT = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)
ACCOUNT = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
_SYNTH_INPUTS = (
    "infra",
    "functions",
    "training",
    "processing",
    "contracts",
    "modelrail",
    "cdk.json",
)
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# Real seconds a Task's TimeoutSeconds lasts at least on the sped-up clock (D27): the
# Lambda functions and jobs behind tasks compute in real time.
TASK_COMPUTE_FLOOR = 30.0


class LocalCloudError(RuntimeError):
    """The local cloud itself failed (not a pipeline run, which may fail legitimately)."""


def source_fingerprint(root: Path = ROOT) -> str:
    """A hash of everything synthesis reads, to reuse an assembly when nothing changed."""
    digest = hashlib.sha256()
    for name in _SYNTH_INPUTS:
        base = root / name
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            rel = path.relative_to(root)
            if "__pycache__" in rel.parts or rel.parts[:2] == ("modelrail", "local"):
                continue
            digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def synthesize(outdir: Path, *, environments: tuple[str, ...] = ("dev",)) -> Path:
    """Run the CDK app (``python -m infra.app``) into ``outdir``."""
    cmd = [sys.executable, "-m", "infra.app", "--out", str(outdir)]
    for env in environments:
        cmd += ["--env", env]
    environ = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LocalCloudError(f"cdk synth failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return outdir


def cached_assembly(environment: str = "dev", *, cache_root: Path | None = None) -> Path:
    """The cloud assembly for the current sources, synthesized once for every environment
    in cdk.json (one synth is cheaper than one per environment) and reused until a source
    file changes."""
    cache_root = cache_root or ROOT / ".modelrail" / "assemblies"
    target = cache_root / source_fingerprint()
    if (target / f"modelrail-{environment}.template.json").exists():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="synth-", dir=cache_root))
    environments = tuple(
        json.loads((ROOT / "cdk.json").read_text())["context"]["modelrail:environments"]
    )
    synthesize(tmp, environments=environments)
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(tmp), target)
    return target


@dataclass(frozen=True)
class StepTiming:
    state: str
    entered: float
    seconds: float | None
    failed: bool


@dataclass
class PipelineRun:
    """What happened to one upload."""

    model: str
    key: str
    version_id: str | None
    execution_arn: str
    status: str
    failed_state: str | None = None
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None
    steps: list[StepTiming] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def message(self) -> str | None:
        """The failure in words: a Lambda error's errorMessage, else the cause as given."""
        if not self.cause:
            return None
        try:
            payload = json.loads(self.cause)
        except ValueError:
            return self.cause
        if isinstance(payload, dict) and "errorMessage" in payload:
            return str(payload["errorMessage"])
        if isinstance(payload, dict) and "FailureReason" in payload:
            return str(payload["FailureReason"])
        return self.cause

    @property
    def registered_version(self) -> int | None:
        if self.output and isinstance(self.output.get("registered"), dict):
            version = self.output["registered"].get("version")
            return int(version) if version is not None else None
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "key": self.key,
            "versionId": self.version_id,
            "executionArn": self.execution_arn,
            "status": self.status,
            "accepted": self.status == "SUCCEEDED",
            "failedState": self.failed_state,
            "error": self.error,
            "message": self.message,
            "cause": self.cause,
            "registeredVersion": self.registered_version,
            "seconds": round(self.seconds, 3),
            "steps": [
                {
                    "state": s.state,
                    "seconds": None if s.seconds is None else round(s.seconds, 3),
                    "failed": s.failed,
                }
                for s in self.steps
            ],
        }


class LocalCloud:
    def __init__(
        self,
        *,
        environment: str = "dev",
        assembly: Path | None = None,
        region: str = DEFAULT_REGION,
        work_dir: Path | None = None,
        lambda_log_level: str = "WARNING",
        clock_speed: float = 60.0,
        enforce_iam: bool | None = None,
    ) -> None:
        self.environment = environment
        self.region = region
        self.stack_name = f"modelrail-{environment}"
        self._assembly = assembly
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="modelrail-local-"))
        # Who calls what: every executor acts as the role AWS would use, and every call
        # is authorized against the synthesized policies (MODELRAIL_LOCAL_IAM=off: not).
        if enforce_iam is None:
            enforce_iam = os.environ.get("MODELRAIL_LOCAL_IAM", "on").lower() != "off"
        self.principals = Principals()
        self.iam = iam_enforce.Enforcer(self.principals, ACCOUNT, region, enabled=enforce_iam)
        # One local clock: endpoint bakes, alarm periods and Wait states run `clock_speed`
        # times faster than on AWS (a 5-minute canary bake takes 5 s at 60x); while a
        # handler or a job computes, it runs at real speed (D46).
        self.clock = clock.LocalClock(speed=clock_speed)
        self.lambdas = lambda_runtime.LambdaRuntime(
            self.work_dir / "lambda",
            log_level=lambda_log_level,
            credentials=self.principals.credentials,  # each function as its execution role
        )
        self.training = training_runtime.TrainingRuntime(
            self.work_dir / "training", clock=self.clock
        )
        self.tuning = tuning_runtime.TuningRuntime(self.training)
        self.processing = processing_runtime.ProcessingRuntime(
            self.work_dir / "processing", clock=self.clock
        )
        self.cloudwatch = cloudwatch.CloudWatchRuntime(
            self.clock, account_id=ACCOUNT, region=region, enforcer=self.iam
        )
        # Handler log lines in the embedded metric format become metrics, as CloudWatch
        # Logs extracts them (once the stack is deployed, each function's log group).
        self.log_metrics = log_metrics.LogMetrics(
            self.cloudwatch, ACCOUNT, region, enforcer=self.iam
        )
        self.lambdas.log_listener = self.log_metrics.deliver
        self.hosting = hosting_runtime.HostingRuntime(
            self.work_dir / "hosting",
            self.clock,
            account_id=ACCOUNT,
            region=region,
            cloudwatch=self.cloudwatch,
            principals=self.principals,
            enforcer=self.iam,
        )
        self.events = events_delivery.EventsDelivery(principals=self.principals, enforcer=self.iam)
        # EventBridge Scheduler schedules fire on the local clock, as their execution role.
        self.scheduler = scheduler.SchedulerRuntime(
            self.clock, ACCOUNT, region, principals=self.principals, enforcer=self.iam
        )
        self._undo: list[Callable[[], None]] = []
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._server: Any = None
        self.stack: provision.DeployedStack | None = None
        self.artifact: provision.StackArtifact | None = None

    # ---- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        self.start()
        try:
            self.deploy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        # Fake credentials and the region for every client made while the cloud is up.
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.pop("AWS_PROFILE", None)
        (self.work_dir / "lambda").mkdir(parents=True, exist_ok=True)
        (self.work_dir / "training").mkdir(parents=True, exist_ok=True)
        (self.work_dir / "hosting").mkdir(parents=True, exist_ok=True)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self._undo = [
            lambda_runtime.install(self.lambdas),
            training_runtime.install(
                self.training,
                account_id=ACCOUNT,
                tuning=self.tuning,
                processing=self.processing,
                principals=self.principals,
                enforcer=self.iam,
            ),
            events_delivery.install(self.events),
            interpreter.install(),
            clock.install_wait_scaling(self.clock),
            interpreter.install_timeouts(self.clock, compute_floor=TASK_COMPUTE_FLOOR),
            # After the interpreter's own corrections, which it wraps.
            iam_enforce.install(self.iam),
            iam_enforce.install_interpreter_roles(self.principals),
            hosting_runtime.install(self.hosting),
            cloudwatch.install(self.cloudwatch),
            provision.install_attribute_fixes(),
            scheduler.install(self.scheduler),
            s3_parts.install(),  # large objects on disk, an upload as its parts (D45, D54)
        ]
        self.cloudwatch.start()
        # Lambda workers are other processes: they reach these backends over HTTP. The
        # server stops last, after the workers (undo runs in reverse).
        loopback, self.lambdas.endpoint_url = loopback_server()
        self._undo.insert(0, loopback.stop)

    def stop(self) -> None:
        if self._mock is not None:
            self.events.drain()
            self._stop_running_executions()
            self.hosting.shutdown()
            self.cloudwatch.shutdown()
        for undo in reversed(self._undo):
            undo()
        self._undo = []
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _stop_running_executions(self) -> None:
        """Deployments run on after the training run that started them; stop what is
        still running so no interpreter thread outlives the mock."""
        if self.stack is None:
            return
        sfn = self.client("stepfunctions")
        try:
            machines = sfn.list_state_machines()["stateMachines"]
            for machine in machines:
                running = sfn.list_executions(
                    stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
                )["executions"]
                for execution in running:
                    sfn.stop_execution(
                        executionArn=execution["executionArn"], cause="local cloud stopped"
                    )
        except Exception:  # best effort while tearing down
            logger.debug("could not stop running executions", exc_info=True)

    def deploy(self) -> provision.DeployedStack:
        preset = os.environ.get("MODELRAIL_ASSEMBLY")
        assembly = self._assembly or (Path(preset) if preset else cached_assembly(self.environment))
        self.artifact = provision.read_assembly(assembly, self.stack_name)
        provision.bootstrap(ACCOUNT, self.region)
        provision.publish_assets(self.artifact, ACCOUNT, self.region)
        self.stack = provision.create_stack(self.artifact, self.region)
        provision.reconcile(
            self.artifact,
            self.stack,
            self.region,
            execute_state_machines=True,
            enforcer=self.iam,
        )
        self.log_metrics.log_groups = log_metrics.function_log_groups(self.artifact, self.stack)
        return self.stack

    def serve(self, port: int = 4566, host: str = "127.0.0.1") -> str:
        """Also answer AWS API calls over HTTP on loopback (for the AWS CLI, boto3 in
        other processes and ``modelrail`` commands via ``AWS_ENDPOINT_URL``). The server
        shares this process's backends and executors."""
        self._server, url = loopback_server(host, port)
        self._undo.append(self._server.stop)
        return url

    # ---- access ---------------------------------------------------------------------
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)  # type: ignore[call-overload]

    def output(self, name: str) -> str:
        if self.stack is None:
            raise LocalCloudError("the local cloud is not deployed")
        return self.stack.outputs[name]

    @property
    def data_bucket(self) -> str:
        return self.output("DataBucketName")

    @property
    def state_machine_arn(self) -> str:
        return self.output("TrainingStateMachineArn")

    # ---- the loop ---------------------------------------------------------------------
    def upload(
        self,
        model: str,
        path: Path,
        *,
        key: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> tuple[str, str | None]:
        """Put a file under incoming/<model>/ (S3 -> EventBridge -> starter -> pipeline).

        ``metadata`` is S3 user metadata, e.g. ``{"modelrail-fault-error-rate": "1"}``.
        """
        key = key or upload_key(model, path.name)
        s3 = upload_client(self.region)
        return key, upload_file(s3, path, self.data_bucket, key, metadata or {})

    def execution_arn_for(self, key: str, version_id: str | None) -> str:
        plan = plan_start(self.data_bucket, key, version_id)
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{plan.name}"

    def deployment_arn_for(self, training_execution_arn: str) -> str:
        """The deployment the training run starts once its version is registered."""
        name = training_execution_arn.rsplit(":", 1)[-1]
        machine = self.output("DeploymentStateMachineArn")
        return machine.replace(":stateMachine:", ":execution:") + f":{name}-deploy"

    def deployment_of(self, run: PipelineRun, *, timeout: float = 0.0) -> DeploymentRun | None:
        """The deployment ``run`` started (None if it started none), waited for up to
        ``timeout`` seconds; RUNNING if it has not ended by then."""
        if not (run.output or {}).get("deployment"):
            return None
        arn = self.deployment_arn_for(run.execution_arn)
        return wait_for(arn, sfn=self.client("stepfunctions"), timeout=timeout)

    def wait(
        self,
        execution_arn: str,
        *,
        timeout: float | None = 600.0,
        on_step: Callable[[StepTiming], None] | None = None,
    ) -> PipelineRun:
        """Follow the execution to its end, for at most ``timeout`` real seconds; None: for
        as long as it runs (its own TimeoutSeconds, on the local clock, ends it)."""
        sfn = self.client("stepfunctions")
        started = time.monotonic()
        reported: set[tuple[str, bool]] = set()
        while True:
            try:
                described = sfn.describe_execution(executionArn=execution_arn)
            except sfn.exceptions.ExecutionDoesNotExist:
                described = None
            if described is not None and on_step is not None:
                for step in self.steps(execution_arn):
                    marker = (step.state, step.seconds is not None)
                    if marker not in reported:
                        reported.add(marker)
                        on_step(step)
            if described is not None and described["status"] in _TERMINAL:
                break
            if timeout is not None and time.monotonic() - started > timeout:
                raise LocalCloudError(f"{execution_arn} did not finish within {timeout:.0f}s")
            time.sleep(0.05)
        return self._run_from(described, execution_arn, time.monotonic() - started)

    def upload_and_wait(
        self,
        model: str,
        path: Path,
        *,
        on_step: Callable[[StepTiming], None] | None = None,
        timeout: float | None = 600.0,
        metadata: dict[str, str] | None = None,
    ) -> PipelineRun:
        key, version_id = self.upload(model, path, metadata=metadata)
        arn = self.execution_arn_for(key, version_id)
        run = self.wait(arn, on_step=on_step, timeout=timeout)
        run.key, run.version_id = key, version_id
        return run

    def check_now(
        self, model: str, *, requested_by: str = "local", timeout: float = 300
    ) -> CheckRun:
        """Run the model's monitoring check now, as its schedule would: the endpoints'
        buffered capture is written first (SageMaker writes it every few minutes)."""
        self.hosting.flush_capture()
        sfn = self.client("stepfunctions")
        arn = start_check(
            model,
            state_machine_arn=self.output("MonitoringStateMachineArn"),
            sfn=sfn,
            requested_by=requested_by,
        )
        return wait_check(arn, sfn=sfn, timeout=timeout)

    def scheduled_check(self, model: str, *, timeout: float = 120) -> CheckRun | None:
        """Wait for a monitoring run of ``model`` that its schedule started (let local time
        pass first, e.g. ``clock.fast_forward``) to end; None if none did in ``timeout``."""
        sfn = self.client("stepfunctions")
        machine = self.output("MonitoringStateMachineArn")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                payload = json.loads(described.get("input") or "{}")
                if (payload.get("model"), payload.get("requestedBy")) != (model, "schedule"):
                    continue
                if described["status"] != "RUNNING":
                    return wait_check(execution["executionArn"], sfn=sfn)
            time.sleep(0.2)
        return None

    def steps(self, execution_arn: str) -> list[StepTiming]:
        sfn = self.client("stepfunctions")
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        if not events:
            return []
        t0 = events[0]["timestamp"].timestamp()
        open_states: dict[str, float] = {}
        failed: set[str] = set()
        timings: list[StepTiming] = []
        current: str | None = None
        for event in events:
            kind = event["type"]
            ts = event["timestamp"].timestamp() - t0
            if kind.endswith("StateEntered"):
                current = event["stateEnteredEventDetails"]["name"]
                open_states[current] = ts
            elif kind.endswith("Failed") and current is not None:
                failed.add(current)
            elif kind.endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                entered = open_states.pop(name, ts)
                timings.append(StepTiming(name, entered, ts - entered, name in failed))
        for name, entered in open_states.items():
            timings.append(StepTiming(name, entered, None, name in failed))
        return sorted(timings, key=lambda s: s.entered)

    def _run_from(self, described: dict[str, Any], arn: str, seconds: float) -> PipelineRun:
        payload = json.loads(described.get("input") or "{}")
        output = json.loads(described["output"]) if described.get("output") else None
        run = PipelineRun(
            model=payload.get("model", ""),
            key=payload.get("key", ""),
            version_id=payload.get("versionId"),
            execution_arn=arn,
            status=described["status"],
            error=described.get("error"),
            cause=described.get("cause"),
            output=output,
            steps=self.steps(arn),
            seconds=seconds,
        )
        if run.status != "SUCCEEDED":
            run.failed_state = self._failed_state(arn)
        return run

    def _failed_state(self, arn: str) -> str | None:
        """The state whose Catch sent the run to the failure path (recorded as failedState)."""
        sfn = self.client("stepfunctions")
        for event in reversed(
            sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        ):
            details = event.get("stateEnteredEventDetails")
            if details and details.get("name") == "NotifyFailure":
                state = json.loads(details.get("input") or "{}").get("failedState")
                return str(state) if state else None
        return None

    def notifications(self) -> list[dict[str, Any]]:
        """Messages published to the notifications topic, oldest first, parsed when JSON
        (moto keeps them on the topic)."""
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][self.region].topics[self.output("NotificationsTopicArn")]
        messages: list[dict[str, Any]] = []
        for sent in topic.sent_notifications:
            try:
                body = json.loads(sent[1])
            except ValueError:
                body = {"message": sent[1]}
            messages.append(body if isinstance(body, dict) else {"message": body})
        return messages


MULTIPART_THRESHOLD = 64 * 1024 * 1024
"""Files from this size up are uploaded in parts (a managed transfer)."""
MULTIPART_CHUNKSIZE = 16 * 1024 * 1024
"""The size of those parts (D54)."""
MULTIPART_CONCURRENCY = 4


def upload_client(region: str) -> Any:
    """An S3 client that sends a checksum only where S3 requires one.

    botocore's default (``when_supported``) streams every upload as ``aws-chunked`` with
    a CRC32 trailer; both botocore's in-process reader of that body and moto's decoder
    of it grow a bytes object chunk by chunk, which is quadratic: a 2 GB upload to the
    in-process local cloud never finished. Real S3 needs no checksum on PutObject or
    UploadPart (the SDK still verifies what it can), so the local uploader opts out.
    Nor does it sign the payload (``UNSIGNED-PAYLOAD``, which S3 accepts over HTTPS, as
    the AWS CLI sends uploads): a SHA-256 of every part cost as much as the upload (D45).
    """
    from botocore.config import Config

    config = Config(
        request_checksum_calculation="when_required",
        s3={"payload_signing_enabled": False},
    )
    return boto3.client("s3", region_name=region, config=config)


def upload_file(s3: Any, path: Path, bucket: str, key: str, metadata: dict[str, str]) -> str | None:
    """Upload ``path`` streamed from disk; returns the new object's version id.

    A small file is one ``PutObject`` (its response names the version). A large one is a
    managed multipart upload (CreateMultipartUpload, UploadPart in parallel,
    CompleteMultipartUpload; AbortMultipartUpload on failure), which s3transfer runs
    without returning the response, so the version is read back by ``HeadObject``.
    """
    from boto3.s3.transfer import TransferConfig

    size = path.stat().st_size
    if size < MULTIPART_THRESHOLD:
        with path.open("rb") as body:
            response = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
        return response.get("VersionId")  # type: ignore[no-any-return]
    config = TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=MULTIPART_CHUNKSIZE,
        max_concurrency=MULTIPART_CONCURRENCY,
    )
    s3.upload_file(str(path), bucket, key, ExtraArgs={"Metadata": metadata}, Config=config)
    return s3.head_object(Bucket=bucket, Key=key).get("VersionId")  # type: ignore[no-any-return]


def loopback_server(host: str = "127.0.0.1", port: int = 0) -> tuple[Any, str]:
    """moto's server on a loopback address (port 0: a free one) and its URL. It shares
    this process's backends, so what it serves reaches the executors too (D15)."""
    from moto.server import ThreadedMotoServer

    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise LocalCloudError("the local cloud only listens on loopback")
    # One line per request (every AWS call a Lambda makes) would drown the output.
    werkzeug = logging.getLogger("werkzeug")
    if werkzeug.level == logging.NOTSET:
        werkzeug.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{'[::1]' if bound_host == '::1' else bound_host}:{bound_port}"


def iter_runs(cloud: LocalCloud, uploads: list[tuple[str, Path]]) -> Iterator[PipelineRun]:
    for model, path in uploads:
        yield cloud.upload_and_wait(model, path)
