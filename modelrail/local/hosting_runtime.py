"""Serve SageMaker endpoints on the local cloud, with blue/green canaries and rollback.

moto records ``CreateEndpoint`` as InService at once, serves nothing, and has no
``UpdateEndpoint``. This executor, installed at those seams, behaves as SageMaker does:

* **Fleets.** An endpoint config's model (``ModelDataUrl``, container ``Environment``)
  is served by a worker process (:mod:`.serve_worker`) that unpacks ``model.tar.gz``,
  imports ``inference.py`` from ``code/`` and calls ``model_fn`` once. ``CreateEndpoint``
  goes Creating -> InService (or Failed with the worker's error as FailureReason).
* **UpdateEndpoint** with a blue/green ``DeploymentConfig``: the green fleet is
  provisioned, then CANARY (``CanarySize`` of the traffic, then a bake of
  ``WaitIntervalInSeconds``), LINEAR (steps) or ALL_AT_ONCE, then all traffic on green
  for ``TerminationWaitInSeconds`` before blue is terminated. Throughout, the
  ``AutoRollbackConfiguration`` alarms are watched: one in ALARM (or the
  ``MaximumExecutionTimeoutInSeconds`` passing) sends all traffic back to blue and the
  endpoint returns to InService **on the old config with no FailureReason**, as
  SageMaker's guardrails do. ``DescribeEndpoint`` keeps the old ``EndpointConfigName``
  until the update completes and shows ``PendingDeploymentSummary`` meanwhile.
* **InvokeEndpoint** (moto's sagemaker-runtime) is answered by the fleet the request is
  routed to; model failures are ``ModelError`` with the original status and message
  ("client error" for a 4XX, "server error" for a 5XX).
  ``ModelLatency`` is what a dedicated instance would measure (the worker subtracts the
  time it waited for a CPU, see :mod:`.serve_worker`), so one fleet's start-up on this
  shared machine does not trip another fleet's latency alarm.
  Every request publishes ``AWS/SageMaker`` metrics (Invocations, Invocation4XXErrors,
  Invocation5XXErrors, InvocationModelErrors, ModelLatency, OverheadLatency; dimensions
  EndpointName and VariantName) to local CloudWatch; a 4XX counts in
  Invocation4XXErrors only (D40).
* **Alarms.** The ``AutoRollbackConfiguration`` alarms are those the local CloudWatch
  (:mod:`.cloudwatch`) evaluates over these datapoints; a bake watches their state.
* **Data capture** in SageMaker's JSON Lines format (``captureData.endpointInput`` /
  ``endpointOutput``, ``eventMetadata.eventId`` and ``inferenceId``) under
  ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, KMS-encrypted.

Durations (bake, termination wait, alarm periods) run on :class:`.clock.LocalClock`.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from modelrail.local.clock import LocalClock
from modelrail.local.training_runtime import _split

if TYPE_CHECKING:
    from modelrail.local.cloudwatch import CloudWatchRuntime
    from modelrail.local.iam.enforce import Enforcer
    from modelrail.local.iam.principals import Principals

logger = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("serve_worker.py")
NAMESPACE = "AWS/SageMaker"
INVOCATION_TIMEOUT = 60.0  # SageMaker's limit for a real-time request, in seconds
CAPTURE_FLUSH_RECORDS = 500
CAPTURE_FLUSH_SECONDS = 2.0
WATCH_EVERY = 0.05  # real seconds between looks at a bake's alarms


# What publishing to an encrypted topic or queue needs on its key (SNS and SQS docs).
class HostingError(RuntimeError):
    """A fleet could not be provisioned (becomes the endpoint's FailureReason)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str
    error: str | None
    model_latency_us: int


@dataclass
class Fleet:
    """The instances of one endpoint config: one worker process serving its model."""

    config_name: str
    variant: dict[str, Any]
    model_name: str
    container: dict[str, Any]
    folder: Path
    # The model's execution role: it downloads the artifact and writes data capture.
    execution_role: str | None = None
    process: subprocess.Popen[str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    started_at: datetime = field(default_factory=_now)

    @property
    def instance_count(self) -> int:
        return int(self.variant.get("InitialInstanceCount") or 1)

    @property
    def image(self) -> str:
        return str(self.container.get("Image", ""))

    def start(self, s3: Any) -> None:
        url = self.container.get("ModelDataUrl")
        if not url:
            raise HostingError(f"model {self.model_name} has no ModelDataUrl")
        bucket, key = _split(str(url))
        try:
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise HostingError(
                f"could not download {url} for model {self.model_name}: {exc}"
            ) from exc
        model_dir = self.folder / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            tar.extractall(model_dir, filter="data")
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            # one thread per worker, as for training jobs (D10): two cores are shared
            # by every fleet and the rest of the local cloud
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            **{str(k): str(v) for k, v in (self.container.get("Environment") or {}).items()},
            "PYTHONUNBUFFERED": "1",
        }
        log = (self.folder / "worker.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=environment,
            cwd=model_dir,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        try:
            ready = json.loads(first) if first else {"ready": False, "error": "worker exited"}
        except ValueError:
            ready = {"ready": False, "error": f"unexpected worker output {first[:200]!r}"}
        if not ready.get("ready"):
            self.stop()
            tail = (self.folder / "worker.log").read_text()[-1500:]
            raise HostingError(
                f"model {self.model_name} failed to load: {ready.get('error')}\n{tail}".strip()
            )

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> Answer:
        with self.lock:
            process = self.process
            if process is None or process.poll() is not None:
                return Answer(500, b"", "text/plain", "the model server is not running", 0)
            assert process.stdin is not None and process.stdout is not None
            request = {
                "body": base64.b64encode(body).decode(),
                "contentType": content_type,
                "accept": accept,
            }
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        if not line:
            return Answer(500, b"", "text/plain", "the model server stopped", 0)
        reply = json.loads(line)
        return Answer(
            int(reply["status"]),
            base64.b64decode(reply.get("body") or ""),
            str(reply.get("contentType") or "application/json"),
            reply.get("error"),
            int(reply.get("modelLatencyUs") or 0),
        )

    def stop(self) -> None:
        with self.lock:
            process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin:
                process.stdin.close()
            process.wait(timeout=5)
        except Exception:
            process.kill()
            process.wait(timeout=5)


@dataclass
class CaptureBuffer:
    """Data capture of one endpoint config, buffered and written as JSON Lines."""

    config: dict[str, Any]
    records: list[str] = field(default_factory=list)
    counter: int = 0

    def wants(self) -> bool:
        if not self.config.get("EnableCapture"):
            return False
        percent = float(self.config.get("InitialSamplingPercentage", 0))
        self.counter += 1
        # Deterministic sampling: exactly `percent` of the requests, evenly spread.
        return math.floor(self.counter * percent / 100) > math.floor(
            (self.counter - 1) * percent / 100
        )

    def _encoding(self, content_type: str) -> str:
        headers = self.config.get("CaptureContentTypeHeader") or {}
        media = content_type.split(";")[0].strip().lower()
        if media in [c.lower() for c in headers.get("CsvContentTypes", [])]:
            return "CSV"
        if media in [c.lower() for c in headers.get("JsonContentTypes", [])]:
            return "JSON"
        return "BASE64"

    def _part(self, mode: str, content_type: str, data: bytes) -> dict[str, Any]:
        encoding = self._encoding(content_type)
        text = base64.b64encode(data).decode() if encoding == "BASE64" else data.decode()
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": text,
            "encoding": encoding,
        }

    def add(
        self,
        *,
        request: tuple[str, bytes],
        response: tuple[str, bytes] | None,
        inference_id: str | None,
    ) -> None:
        modes = {o.get("CaptureMode") for o in self.config.get("CaptureOptions", [])}
        capture: dict[str, Any] = {}
        if "Input" in modes:
            capture["endpointInput"] = self._part("INPUT", *request)
        if "Output" in modes and response is not None:
            capture["endpointOutput"] = self._part("OUTPUT", *response)
        metadata: dict[str, Any] = {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if inference_id:
            metadata["inferenceId"] = inference_id
        record = {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}
        self.records.append(json.dumps(record))


@dataclass
class LocalEndpoint:
    name: str
    live: Fleet | None = None
    canary: Fleet | None = None
    canary_fraction: float = 0.0
    requests: int = 0
    capture: dict[str, CaptureBuffer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    events: list[tuple[datetime, str]] = field(default_factory=list)
    """What the endpoint did (provisioned, canary, rolled back...), for demos and tests."""

    def log(self, what: str) -> None:
        self.events.append((_now(), what))
        logger.info("endpoint %s: %s", self.name, what)

    def route(self) -> Fleet | None:
        """The fleet for the next request: the canary gets exactly its share, spread
        evenly over the requests."""
        with self.lock:
            self.requests += 1
            if self.canary is not None and self.canary_fraction > 0:
                n, f = self.requests, self.canary_fraction
                if math.floor(n * f) > math.floor((n - 1) * f):
                    return self.canary
            return self.live


class HostingRuntime:
    def __init__(
        self,
        work_dir: Path,
        clock: LocalClock,
        *,
        account_id: str,
        region: str,
        cloudwatch: CloudWatchRuntime,
        principals: Principals | None = None,
        enforcer: Enforcer | None = None,
    ) -> None:
        self.cloudwatch = cloudwatch
        self.principals = principals
        self.enforcer = enforcer
        self.work_dir = work_dir
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.endpoints: dict[str, LocalEndpoint] = {}
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self._capture_lock = threading.Lock()
        self.capture_errors: list[str] = []

    # ---- moto backends ----------------------------------------------------------------
    def _sagemaker(self) -> Any:
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[self.account_id][self.region]

    def _fleet(self, endpoint: str, config_name: str) -> Fleet:
        backend = self._sagemaker()
        config = backend.endpoint_configs[config_name]
        variant = config.production_variants[0]
        model = backend._models[variant["ModelName"]]
        container = model.primary_container or {}
        folder = self.work_dir / endpoint / f"{config_name}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True, exist_ok=True)
        role = getattr(model, "execution_role_arn", None)
        return Fleet(config_name, variant, variant["ModelName"], container, folder, role)

    def _s3_as(self, fleet: Fleet | None) -> Any:
        """An S3 client acting as the fleet's model execution role, as SageMaker does."""
        role = fleet.execution_role if fleet is not None else None
        if self.principals is None or role is None:
            return boto3.client("s3", region_name=self.region)
        kwargs = self.principals.client_kwargs(role, "SageMaker")
        return boto3.client("s3", region_name=self.region, **kwargs)  # type: ignore[call-overload]

    def _capture_for(self, ep: LocalEndpoint, config_name: str) -> CaptureBuffer:
        buffer = ep.capture.get(config_name)
        if buffer is None:
            config = self._sagemaker().endpoint_configs.get(config_name)
            data = dict(config.data_capture_config) if config is not None else {}
            buffer = ep.capture[config_name] = CaptureBuffer(data)
        return buffer

    def _variant_view(
        self, fleet: Fleet, *, weight: float, statuses: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        view: dict[str, Any] = {
            "VariantName": fleet.variant.get("VariantName"),
            "DeployedImages": [
                {
                    "SpecifiedImage": fleet.image,
                    "ResolvedImage": fleet.image,
                    "ResolutionTime": fleet.started_at,
                }
            ],
            "CurrentWeight": weight,
            "DesiredWeight": weight,
            "CurrentInstanceCount": fleet.instance_count,
            "DesiredInstanceCount": fleet.instance_count,
        }
        if statuses:
            view["VariantStatus"] = statuses
        return view

    def _set(self, name: str, **attributes: Any) -> None:
        fake = self._sagemaker().endpoints.get(name)
        if fake is None:
            return
        for key, value in attributes.items():
            setattr(fake, key, value)
        fake.last_modified_time = _now()

    # ---- CreateEndpoint -----------------------------------------------------------------
    def on_created(self, name: str, config_name: str) -> None:
        ep = self.endpoints[name] = LocalEndpoint(name)
        fleet = self._fleet(name, config_name)
        self._set(
            name,
            endpoint_status="Creating",
            failure_reason=None,
            production_variants=[
                self._variant_view(
                    fleet,
                    weight=1.0,
                    statuses=[{"Status": "Creating", "StartTime": _now()}],
                )
            ],
        )
        ep.log(f"creating on {config_name}")

        def provision() -> None:
            try:
                fleet.start(self._s3_as(fleet))
            except Exception as exc:
                fleet.stop()
                self._set(name, endpoint_status="Failed", failure_reason=str(exc)[:1024])
                ep.log(f"creation failed: {exc}")
                return
            ep.live = fleet
            self._set(
                name,
                endpoint_status="InService",
                production_variants=[self._variant_view(fleet, weight=1.0)],
            )
            ep.log(f"in service on {config_name}")

        # Started before it is published on the endpoint: shutdown joins ep.thread.
        thread = threading.Thread(target=provision, name=f"endpoint-{name}", daemon=True)
        thread.start()
        ep.thread = thread
        self._ensure_flusher()

    def on_deleted(self, name: str) -> None:
        ep = self.endpoints.pop(name, None)
        if ep is None:
            return
        self._flush(ep)
        for fleet in (ep.canary, ep.live):
            if fleet is not None:
                fleet.stop()

    # ---- UpdateEndpoint ---------------------------------------------------------------------
    def update(self, name: str, config_name: str, deployment: dict[str, Any]) -> None:
        from moto.sagemaker.exceptions import ValidationError

        backend = self._sagemaker()
        fake = backend.endpoints.get(name)
        ep = self.endpoints.get(name)
        if fake is None or ep is None:
            raise ValidationError(message=f'Could not find endpoint "{name}".')
        if config_name not in backend.endpoint_configs:
            raise ValidationError(message=f'Could not find endpoint configuration "{config_name}".')
        if fake.endpoint_status != "InService":
            raise ValidationError(
                message=f'Cannot update in-progress endpoint "{fake.arn}".'
                if fake.endpoint_status in ("Creating", "Updating", "RollingBack")
                else f'Cannot update endpoint "{fake.arn}" in status {fake.endpoint_status}.'
            )
        if config_name == fake.endpoint_config_name:
            raise ValidationError(
                message="Cannot update endpoint with the same endpoint configuration "
                f'"{config_name}"; create a new endpoint configuration.'
            )
        green = self._fleet(name, config_name)
        started = _now()
        self._set(
            name,
            endpoint_status="Updating",
            failure_reason=None,
            pending_deployment_summary={
                "EndpointConfigName": config_name,
                "ProductionVariants": [
                    self._variant_view(
                        green, weight=0.0, statuses=[{"Status": "Creating", "StartTime": started}]
                    )
                ],
                "StartTime": started,
            },
        )
        ep.log(f"updating to {config_name}")
        thread = threading.Thread(
            target=self._blue_green,
            args=(ep, green, deployment),
            name=f"endpoint-{name}-update",
            daemon=True,
        )
        thread.start()
        ep.thread = thread

    def _phase(self, ep: LocalEndpoint, green: Fleet, status: str, weight: float) -> None:
        fake = self._sagemaker().endpoints.get(ep.name)
        if fake is None:
            return
        summary = dict(getattr(fake, "pending_deployment_summary", None) or {})
        summary["ProductionVariants"] = [
            self._variant_view(
                green, weight=weight, statuses=[{"Status": status, "StartTime": _now()}]
            )
        ]
        self._set(ep.name, pending_deployment_summary=summary)

    def _watch(self, alarms: list[str], aws_seconds: float, deadline: float) -> str | None:
        """Bake for ``aws_seconds`` of local time (``deadline``: local time too, so a bake
        follows the clock's speed changes); the reason to roll back if one arises."""
        until = self.clock.now() + aws_seconds
        while True:
            tripped = self.cloudwatch.in_alarm(alarms)
            if tripped:
                return f"alarm {', '.join(tripped)} in ALARM"
            now = self.clock.now()
            if now >= deadline:
                return "the maximum execution time passed"
            if now >= until:
                return None
            if self._stop.wait(WATCH_EVERY):
                return "the local cloud stopped"

    def _blue_green(self, ep: LocalEndpoint, green: Fleet, deployment: dict[str, Any]) -> None:
        policy = deployment.get("BlueGreenUpdatePolicy") or {}
        routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
        termination = float(policy.get("TerminationWaitInSeconds", 0))
        max_seconds = float(policy.get("MaximumExecutionTimeoutInSeconds", 3600))
        rollback = deployment.get("AutoRollbackConfiguration") or {}
        alarms = [a["AlarmName"] for a in rollback.get("Alarms", [])]
        deadline = self.clock.now() + max_seconds
        blue = ep.live
        try:
            green.start(self._s3_as(green))
        except Exception as exc:
            green.stop()
            # The update fails; the endpoint keeps serving the old fleet.
            self._set(
                ep.name,
                endpoint_status="InService",
                failure_reason=str(exc)[:1024],
                pending_deployment_summary=None,
            )
            ep.log(f"update failed, green fleet did not start: {exc}")
            return
        kind = routing.get("Type", "ALL_AT_ONCE")
        interval = float(routing.get("WaitIntervalInSeconds", 0))
        steps: list[float] = []
        if kind == "CANARY":
            steps = [self._share(routing.get("CanarySize"), green)]
        elif kind == "LINEAR":
            step = self._share(routing.get("LinearStepSize"), green)
            steps = [min(1.0, step * i) for i in range(1, math.ceil(1 / step))]
        reason: str | None = None
        for share in steps:
            with ep.lock:
                ep.canary, ep.canary_fraction = green, share
            self._phase(ep, green, "Baking", share)
            ep.log(f"{kind.lower()}: {share:.0%} of traffic on {green.config_name}")
            reason = self._watch(alarms, interval, deadline)
            if reason:
                break
        if reason is None:
            self._phase(ep, green, "ActivatingTraffic", 1.0)
            with ep.lock:
                ep.live, ep.canary, ep.canary_fraction = green, blue, 0.0
            ep.log(f"all traffic on {green.config_name}; blue kept {termination:g}s")
            reason = self._watch(alarms, termination, deadline)
            if reason:
                with ep.lock:
                    ep.live, ep.canary = blue, green
        if reason:
            self._set(ep.name, endpoint_status="RollingBack")
            with ep.lock:
                ep.live, ep.canary, ep.canary_fraction = blue, None, 0.0
            green.stop()
            # SageMaker's guardrails: back to InService on the old config, no reason given.
            self._set(
                ep.name,
                endpoint_status="InService",
                failure_reason=None,
                pending_deployment_summary=None,
            )
            ep.log(f"rolled back to {blue.config_name if blue else '?'}: {reason}")
            return
        with ep.lock:
            ep.canary = None
        if blue is not None:
            blue.stop()
        self._set(
            ep.name,
            endpoint_status="InService",
            endpoint_config_name=green.config_name,
            production_variants=[self._variant_view(green, weight=1.0)],
            pending_deployment_summary=None,
            last_deployment_config=deployment,
        )
        ep.log(f"in service on {green.config_name}")

    @staticmethod
    def _share(size: dict[str, Any] | None, fleet: Fleet) -> float:
        """The traffic share of a canary or linear step (its capacity over the fleet's)."""
        size = size or {"Type": "CAPACITY_PERCENT", "Value": 10}
        value = float(size.get("Value", 1))
        if size.get("Type") == "INSTANCE_COUNT":
            return max(0.0, min(1.0, value / fleet.instance_count))
        return max(0.0, min(1.0, value / 100))

    # ---- InvokeEndpoint ---------------------------------------------------------------------
    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str,
        accept: str | None,
        inference_id: str | None,
    ) -> tuple[bytes, str, str]:
        fake = self._sagemaker().endpoints.get(name)
        ep = self.endpoints.get(name)
        if fake is None or ep is None:
            raise RuntimeValidationError(f"Endpoint {name} of account {self.account_id} not found.")
        fleet = ep.route()
        if fleet is None or fake.endpoint_status not in ("InService", "Updating", "RollingBack"):
            raise RuntimeValidationError(
                f"Endpoint {name} is not in service (status {fake.endpoint_status})."
            )
        started = time.perf_counter()
        answer = fleet.invoke(body, content_type, accept)
        total_us = int((time.perf_counter() - started) * 1_000_000)
        variant = str(fleet.variant.get("VariantName"))
        self._metrics(name, variant, answer, total_us)
        capture = self._capture_for(ep, fleet.config_name)
        with self._capture_lock:
            if capture.wants():
                capture.add(
                    request=(content_type, body),
                    response=(answer.content_type, answer.body) if answer.status == 200 else None,
                    inference_id=inference_id,
                )
        if answer.status != 200:
            raise ModelErrorFactory.make(name, self.account_id, self.region, answer)
        return answer.body, answer.content_type, variant

    def _metrics(self, endpoint: str, variant: str, answer: Answer, total_us: int) -> None:
        dims = [
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": variant},
        ]
        at = _now()
        values = {
            "Invocations": (1.0, "None"),
            "Invocation4XXErrors": (float(400 <= answer.status < 500), "None"),
            "Invocation5XXErrors": (float(answer.status >= 500), "None"),
            # A request the model could not read (4XX) is the caller's error, not the
            # model's: it counts in Invocation4XXErrors only (D40).
            "InvocationModelErrors": (float(answer.status >= 500), "None"),
            "ModelLatency": (float(answer.model_latency_us), "Microseconds"),
            "OverheadLatency": (float(max(0, total_us - answer.model_latency_us)), "Microseconds"),
        }
        self.cloudwatch.put_metrics(
            NAMESPACE,
            [
                {
                    "MetricName": metric,
                    "Value": value,
                    "Unit": unit,
                    "Dimensions": dims,
                    "Timestamp": at,
                }
                for metric, (value, unit) in values.items()
            ],
        )

    # ---- data capture and lifecycle -----------------------------------------------------------
    def _flush(self, ep: LocalEndpoint) -> None:
        s3 = self._s3_as(ep.live)
        for buffer in ep.capture.values():
            with self._capture_lock:
                records, buffer.records = buffer.records, []
            if not records:
                continue
            destination = str(buffer.config.get("DestinationS3Uri", ""))
            bucket, prefix = _split(destination)
            variant = "live"
            at = _now()
            key = "/".join(
                p
                for p in (
                    prefix.rstrip("/"),
                    ep.name,
                    variant,
                    at.strftime("%Y/%m/%d/%H"),
                    f"{at.strftime('%M-%S-%f')[:-3]}-{uuid.uuid4()}.jsonl",
                )
                if p
            )
            extra: dict[str, Any] = {}
            if buffer.config.get("KmsKeyId"):
                extra = {
                    "ServerSideEncryption": "aws:kms",
                    "SSEKMSKeyId": buffer.config["KmsKeyId"],
                }
            body = "\n".join(records).encode() + b"\n"
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
            except ClientError as exc:
                # SageMaker drops capture it cannot write; the endpoint keeps serving.
                self.capture_errors.append(f"{ep.name}: s3://{bucket}/{key}: {exc}")
                logger.warning("capture for %s not written: %s", ep.name, exc)

    def _ensure_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(
                target=self._flush_forever, name="capture-flusher", daemon=True
            )
            self._flusher.start()

    def _flush_forever(self) -> None:
        while not self._stop.wait(CAPTURE_FLUSH_SECONDS):
            try:
                self.flush_capture()
            except Exception:  # keep flushing; the next round may succeed
                logger.exception("capture flush failed")

    def flush_capture(self) -> None:
        """Write buffered capture records to S3 now (SageMaker does so every few minutes)."""
        for ep in list(self.endpoints.values()):
            self._flush(ep)

    def shutdown(self) -> None:
        self._stop.set()
        for ep in list(self.endpoints.values()):
            if ep.thread is not None:
                ep.thread.join(timeout=10)
            try:
                self._flush(ep)
            except Exception:
                logger.debug("capture flush failed at shutdown", exc_info=True)
            for fleet in (ep.canary, ep.live):
                if fleet is not None:
                    fleet.stop()
        self.endpoints.clear()
        if self._flusher is not None:
            self._flusher.join(timeout=5)


class RuntimeValidationError(Exception):
    """Raised inside the sagemaker-runtime seam; converted to moto's error below."""


class ModelErrorFactory:
    @staticmethod
    def make(endpoint: str, account: str, region: str, answer: Answer) -> Exception:
        from moto.core.exceptions import JsonRESTError

        message = answer.error or "the model failed"
        kind = "client" if 400 <= answer.status < 500 else "server"
        error = JsonRESTError(
            "ModelError",
            f'Received {kind} error ({answer.status}) from primary with message "{message}". '
            f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint} in account {account} "
            "for more information.",
        )
        error.code = 424
        body = json.loads(error.description)
        body.update(
            {
                "OriginalStatusCode": answer.status,
                "OriginalMessage": message,
                "LogStreamArn": f"arn:aws:logs:{region}:{account}:log-group:"
                f"/aws/sagemaker/Endpoints/{endpoint}",
            }
        )
        error.description = json.dumps(body)
        return error


def install(runtime: HostingRuntime) -> Callable[[], None]:
    """Hook the runtime into moto: CreateEndpoint/DeleteEndpoint, a new UpdateEndpoint,
    InvokeEndpoint, and CloudWatch DescribeAlarmHistory."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    originals: dict[tuple[type, str], Any] = {}

    def patch(cls: type, name: str, value: Any) -> None:
        originals[(cls, name)] = cls.__dict__.get(name)
        setattr(cls, name, value)

    create_original = SageMakerModelBackend.create_endpoint
    delete_original = SageMakerModelBackend.delete_endpoint

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        if endpoint_name in self.endpoints:
            from moto.sagemaker.exceptions import ValidationError

            raise ValidationError(
                message=f'Cannot create already existing endpoint "{endpoint_name}".'
            )
        endpoint = create_original(self, endpoint_name, endpoint_config_name, tags)
        runtime.on_created(endpoint_name, endpoint_config_name)
        return endpoint

    def delete_endpoint(self: Any, endpoint_name: str) -> None:
        delete_original(self, endpoint_name)
        runtime.on_deleted(endpoint_name)

    def update_endpoint(self: Any) -> Any:
        name = self._get_param("EndpointName")
        runtime.update(
            name, self._get_param("EndpointConfigName"), self._get_param("DeploymentConfig") or {}
        )
        return ActionResult({"EndpointArn": self.sagemaker_backend.endpoints[name].arn})

    def invoke_endpoint(self: Any) -> Any:
        params = self._get_params()
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
        try:
            out, content_type, variant = runtime.invoke(
                params.get("EndpointName") or self.path.split("/")[2],
                body,
                headers.get("content-type", "application/json"),
                headers.get("accept"),
                headers.get("x-amzn-sagemaker-inference-id"),
            )
        except RuntimeValidationError as exc:
            raise JsonRESTError("ValidationError", str(exc)) from None
        return (
            200,
            {"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant},
            out,
        )

    patch(SageMakerModelBackend, "create_endpoint", create_endpoint)
    patch(SageMakerModelBackend, "delete_endpoint", delete_endpoint)
    patch(SageMakerResponse, "update_endpoint", update_endpoint)
    patch(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)

    def undo() -> None:
        for (cls, name), value in originals.items():
            if value is None:
                delattr(cls, name)
            else:
                setattr(cls, name, value)

    return undo
