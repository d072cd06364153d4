"""Run Lambda functions on the local cloud as AWS does: in their own environment.

moto records a function's zip but runs it only in Docker. This executor replaces
``LambdaFunction._invoke_lambda`` (the one seam every invoke path goes through: the
Invoke API, Step Functions tasks and our EventBridge delivery) with a worker process
per function, the local counterpart of a warm execution environment:

* the Lambda runtime's Python (``python3.13``) in isolated mode, ``cwd`` the unpacked
  zip moto holds, ``sys.path`` = [the zip, the function's layers, the runtime's boto3,
  stdlib] (:mod:`.layers` rebuilds the managed layers from PyPI), so a handler importing
  something no layer ships fails here as on AWS;
* only the function's environment plus what Lambda sets, the loopback endpoint of the
  local cloud and the credentials of the execution role (``credentials``);
* one invocation per worker at a time, more workers on demand up to the function's
  reserved concurrency (else ``max_workers``); a worker serves the same code and
  configuration until it fails to initialise, times out or dies;
* Lambda's answers: the handler's result, its error payload (``errorType`` as Step
  Functions sees it), ``Runtime.ImportModuleError`` for an import failure at init,
  ``Sandbox.Timedout`` after the function's ``Timeout`` (wall seconds).

Each output line of a handler is kept, with its function and request id, in
``log_lines``. The worker itself is :mod:`.lambda_bootstrap` (standard library only).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from modelrail.local import layers
from modelrail.local.lambda_bootstrap import MARK

logger = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
DEFAULT_MAX_WORKERS = 4
# Lambda gives init (importing the handler) 10 s of its own before the function's timeout.
INIT_SECONDS = 10.0
_TAIL_BYTES = 4096  # what Invoke returns as LogResult
_TESTING_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def testing_credentials(role_arn: str) -> Mapping[str, str]:
    """moto's fake credentials, whatever the role (the default ``credentials`` hook)."""
    return dict(_TESTING_CREDENTIALS)


class LogLine(NamedTuple):
    function: str
    request_id: str
    line: str


@dataclass(frozen=True)
class Invocation:
    function_name: str
    request_id: str
    seconds: float
    error_type: str | None
    error_message: str | None
    cold_start: bool = False


@dataclass(frozen=True)
class _Outcome:
    error: bool
    payload: str
    reusable: bool  # the worker may serve another invocation


@dataclass(frozen=True)
class _WorkerSpec:
    """How to start a worker for one function configuration."""

    function_name: str
    command: tuple[str, ...]
    task_root: Path
    environment: Mapping[str, str]


class _Worker:
    """One worker process: requests and responses on two pipes, output on stdout/stderr."""

    def __init__(self, spec: _WorkerSpec, sink: Callable[[str, str], None]) -> None:
        request_r, request_w = os.pipe()
        response_r, response_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [*spec.command, str(request_r), str(response_w)],
                cwd=spec.task_root,
                env=dict(spec.environment),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(request_r, response_w),
                start_new_session=True,
            )
        finally:
            os.close(request_r)
            os.close(response_w)
        self.spec = spec
        self.loaded_file: str | None = None
        self._requests = os.fdopen(request_w, "w", encoding="utf-8")
        self._responses: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._sink = sink
        self._request_id = ""
        self._marked: dict[str, set[str]] = {}
        self._output = threading.Condition()
        self._open_streams = 2
        self._threads = [
            threading.Thread(target=self._read_responses, args=(response_r,), daemon=True),
            *(
                threading.Thread(target=self._read_output, args=(name, stream), daemon=True)
                for name, stream in (
                    ("stdout", self.process.stdout),
                    ("stderr", self.process.stderr),
                )
            ),
        ]
        for thread in self._threads:
            thread.start()

    def _read_responses(self, fd: int) -> None:
        with os.fdopen(fd, "r", encoding="utf-8") as responses:
            for line in responses:
                self._responses.put(json.loads(line))
        self._responses.put(None)

    def _read_output(self, name: str, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for raw in stream:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if text.startswith(MARK):
                with self._output:
                    self._marked.setdefault(text[len(MARK) :], set()).add(name)
                    self._output.notify_all()
            else:
                self._sink(self._request_id, text)
        with self._output:
            self._open_streams -= 1
            self._output.notify_all()

    def _wait_for_output(self, request_id: str, seconds: float = 2.0) -> None:
        """Until both streams have passed the invocation's end mark (or closed)."""
        deadline = time.monotonic() + seconds
        with self._output:
            while len(self._marked.get(request_id, ())) + (2 - self._open_streams) < 2:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._output.wait(remaining)
            self._marked.pop(request_id, None)

    def invoke(self, request: dict[str, Any], timeout: float) -> _Outcome:
        request_id = request["requestId"]
        self._request_id = request_id
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
        except (BrokenPipeError, ValueError):
            return self._exited(request_id)
        outcome = self._await(request_id, timeout)
        if not outcome.reusable:
            self.kill()
        self._wait_for_output(request_id)
        return outcome

    def _await(self, request_id: str, timeout: float) -> _Outcome:
        started = time.monotonic()
        deadline = started + INIT_SECONDS + timeout
        while True:
            try:
                message = self._responses.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return _timed_out(request_id, time.monotonic() - started)
            if message is None:
                return self._exited(request_id)
            kind = message["type"]
            if kind == "loaded":
                self.loaded_file = message.get("file")
            elif kind == "started":
                started = time.monotonic()
                deadline = started + timeout
            elif kind == "result":
                return _Outcome(bool(message["error"]), message["payload"], reusable=True)
            else:  # init_error: the environment is discarded, as Lambda does
                return _Outcome(True, message["payload"], reusable=False)

    def _exited(self, request_id: str) -> _Outcome:
        code = self.process.wait(timeout=10)
        status = f"signal: {-code}" if code < 0 else f"exit status {code}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
        return _Outcome(True, _error_payload("Runtime.ExitError", message), reusable=False)

    def kill(self) -> None:
        """The worker and whatever its handler started (its own process group)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            logger.warning("lambda worker %s did not exit", self.process.pid)
        with contextlib.suppress(OSError):
            self._requests.close()


def _error_payload(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message})


def _timed_out(request_id: str, seconds: float) -> _Outcome:
    message = f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds"
    return _Outcome(True, _error_payload("Sandbox.Timedout", message), reusable=False)


class _Pool:
    """The warm workers of one function configuration, at most ``cap`` at a time."""

    def __init__(self, spec: _WorkerSpec, cap: int, sink: Callable[[str, str], None]) -> None:
        self.spec = spec
        self.cap = cap
        self._sink = sink
        self._idle: list[_Worker] = []
        self._size = 0
        self._closed = False
        self._condition = threading.Condition()

    def acquire(self) -> tuple[_Worker, bool]:
        """A warm worker, or a new one (cold) while under the cap; else wait."""
        with self._condition:
            while not self._idle and self._size >= self.cap:
                self._condition.wait()
            if self._idle:
                return self._idle.pop(), False
            self._size += 1
        try:
            return _Worker(self.spec, self._sink), True
        except BaseException:
            with self._condition:
                self._size -= 1
                self._condition.notify()
            raise

    def release(self, worker: _Worker, *, keep: bool) -> None:
        with self._condition:
            if keep and not self._closed:
                self._idle.append(worker)
            else:
                self._size -= 1
                worker.kill()
            self._condition.notify()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            self._condition.notify_all()
        for worker in idle:
            worker.kill()


@dataclass
class LambdaRuntime:
    """Workers for every function invoked on the local cloud, and what they printed."""

    cache_dir: Path
    # Overrides POWERTOOLS_LOG_LEVEL locally so handler logs do not drown a demo.
    log_level: str | None = None
    # The local cloud's loopback server; every AWS call a handler makes goes there.
    endpoint_url: str | None = None
    # Execution role ARN -> AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
    credentials: Callable[[str], Mapping[str, str]] = testing_credentials
    layer_cache: Path = layers.DEFAULT_CACHE
    max_workers: int = DEFAULT_MAX_WORKERS
    # Compiled bytecode for the workers, kept outside the layer and code folders (which
    # hold none, as on AWS); None compiles every import afresh (-B), as a cold start does.
    bytecode_cache: Path | None = layers.DEFAULT_CACHE / "pycache"
    invocations: list[Invocation] = field(default_factory=list)
    log_lines: list[LogLine] = field(default_factory=list)
    # Called with (function name, line) for every line a handler prints, after it is
    # kept: what CloudWatch Logs does with a line (metric extraction) hangs here.
    log_listener: Callable[[str, str], None] | None = None
    _pools: dict[str, tuple[str, _Pool]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loaded: set[str] = field(default_factory=set)
    _role_credentials: dict[str, Mapping[str, str]] = field(default_factory=dict)

    def code_dir(self, code_bytes: bytes) -> Path:
        digest = hashlib.sha256(code_bytes).hexdigest()[:16]
        target = self.cache_dir / digest
        with self._lock:
            if not (target / ".complete").exists():
                target.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
                    archive.extractall(target)
                (target / ".complete").touch()
        return target

    def loaded_files(self) -> list[str]:
        """The handler files imported so far (each from a function's unpacked zip)."""
        with self._lock:
            return sorted(self._loaded)

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Run one invocation of moto's ``LambdaFunction`` ``fn``; moto's return shape
        (payload, failed, log tail)."""
        request_id = str(uuid.uuid4())
        text = event if isinstance(event, str) else json.dumps(event if event is not None else {})
        request = {
            "requestId": request_id,
            "event": text or "{}",
            "timeoutMs": int(float(fn.timeout or 3) * 1000),
            "arn": fn.function_arn,
        }
        pool = self._pool(fn)
        started = time.perf_counter()
        worker, cold = pool.acquire()
        outcome = _Outcome(True, "", reusable=False)
        try:
            outcome = worker.invoke(request, float(fn.timeout or 3))
        finally:
            pool.release(worker, keep=outcome.reusable)
            if worker.loaded_file:
                with self._lock:
                    self._loaded.add(worker.loaded_file)
        self._record(fn.function_name, request_id, time.perf_counter() - started, outcome, cold)
        return outcome.payload, outcome.error, self._tail(fn.function_name, request_id)

    def _record(
        self, function: str, request_id: str, seconds: float, outcome: _Outcome, cold: bool
    ) -> None:
        error_type = error_message = None
        if outcome.error:
            payload = json.loads(outcome.payload)
            error_type, error_message = payload.get("errorType"), payload.get("errorMessage")
            logger.info("lambda %s failed: %s: %s", function, error_type, error_message)
        with self._lock:
            self.invocations.append(
                Invocation(function, request_id, seconds, error_type, error_message, cold)
            )

    def _tail(self, function: str, request_id: str) -> str:
        with self._lock:
            lines = [
                entry.line
                for entry in self.log_lines
                if entry.request_id == request_id and entry.function == function
            ]
        return "\n".join(lines)[-_TAIL_BYTES:]

    def _pool(self, fn: Any) -> _Pool:
        spec = self._spec(fn)
        key = hashlib.sha256(
            json.dumps([spec.command, str(spec.task_root), dict(spec.environment)]).encode()
        ).hexdigest()
        with self._lock:
            current = self._pools.get(fn.function_arn)
            if current is not None and current[0] == key:
                return current[1]
            pool = _Pool(spec, self._cap(fn), self._sink_for(fn.function_name))
            self._pools[fn.function_arn] = (key, pool)
        if current is not None:  # new code or configuration: a fresh environment
            current[1].close()
        return pool

    def _cap(self, fn: Any) -> int:
        reserved = getattr(fn, "reserved_concurrency", None)
        return max(1, int(reserved)) if reserved else self.max_workers

    def _sink_for(self, function: str) -> Callable[[str, str], None]:
        def sink(request_id: str, line: str) -> None:
            with self._lock:
                self.log_lines.append(LogLine(function, request_id, line))
            if self.log_listener is not None:
                try:
                    self.log_listener(function, line)
                except Exception:  # a listener's fault must not lose the worker's output
                    logger.exception("log listener failed for %s", function)

        return sink

    def _spec(self, fn: Any) -> _WorkerSpec:
        arns = [layer["Arn"] for layer in (fn.layers or [])]
        env = layers.ensure_environment(
            arns, runtime=fn.run_time or layers.DEFAULT_RUNTIME, cache_root=self.layer_cache
        )
        task_root = self.code_dir(fn.code_bytes)
        flags = (
            ["-B"]
            if self.bytecode_cache is None
            else ["-X", f"pycache_prefix={self.bytecode_cache}"]
        )
        command = (
            env.python.path, "-I", "-S", *flags, str(BOOTSTRAP),
            str(task_root), json.dumps(env.search_path),
        )  # fmt: skip
        return _WorkerSpec(
            fn.function_name, command, task_root, self._environment(fn, task_root, env)
        )

    def _environment(
        self, fn: Any, task_root: Path, env: layers.LayerEnvironment
    ) -> dict[str, str]:
        """The function's variables, then what Lambda sets, then the local cloud's."""
        if not self.endpoint_url:
            raise RuntimeError("LambdaRuntime.endpoint_url is not set: start the local cloud")
        values = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
        if self.log_level:
            values["POWERTOOLS_LOG_LEVEL"] = self.log_level
        # One stream name per configuration (a real one is per execution environment).
        instance = hashlib.sha256(f"{fn.function_arn}{fn.code_sha_256}".encode()).hexdigest()
        stream = f"{time.strftime('%Y/%m/%d')}/[{fn.version}]{instance[:32]}"
        values.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size or 128),
                "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": fn.region,
                "AWS_DEFAULT_REGION": fn.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time or layers.DEFAULT_RUNTIME}",
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": str(env.runtime),
                "_HANDLER": fn.handler,
                "TZ": ":UTC",
                "LANG": "en_US.UTF-8",
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                # The local cloud's own: no X-Ray daemon, its loopback endpoint, no
                # shared AWS config or credentials files from this machine.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                **self._credentials_for(fn.role),
            }
        )
        return values

    def _credentials_for(self, role_arn: str) -> Mapping[str, str]:
        """Asked once per role: every worker of a function gets the same keys."""
        with self._lock:
            if role_arn not in self._role_credentials:
                self._role_credentials[role_arn] = dict(self.credentials(role_arn))
            return self._role_credentials[role_arn]

    def shutdown(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for _, pool in pools:
            pool.close()


def serialize_dynamodb() -> Callable[[], None]:
    """One DynamoDB request at a time inside moto, as DynamoDB itself guarantees per
    request (moto's TransactWriteItems is not atomic under threads, D17). Concurrent
    workers make that matter. Returns the undo function."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    own = DynamoHandler.__dict__.get("call_action")  # else inherited from BaseResponse
    original = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]

    def undo() -> None:
        if own is None:
            del DynamoHandler.call_action
        else:
            DynamoHandler.call_action = own  # type: ignore[method-assign]

    return undo


def install(runtime: LambdaRuntime) -> Callable[[], None]:
    """Route moto's Lambda invocations to ``runtime``; returns the undo function (which
    also stops every worker)."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._invoke_lambda
    undo_dynamodb = serialize_dynamodb()

    def _invoke_lambda(self: Any, event: str | None = None) -> tuple[str, bool, str]:
        return runtime.invoke(self, event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]

    def undo() -> None:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]
        undo_dynamodb()
        runtime.shutdown()

    return undo
