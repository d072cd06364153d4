"""Run Lambda functions on the local cloud from the code moto holds.

moto records a function's zip but runs it only in Docker. This executor replaces
``LambdaFunction._invoke_lambda`` (the one seam every invoke path goes through: the
Invoke API, Step Functions tasks and our EventBridge delivery): it unpacks the
function's own zip (the asset `cdk synth` produced and the local cloud published),
imports ``handler.py`` from it and calls the handler with the function's environment.

Third-party libraries come from this Python environment, standing in for the managed
layers the deployed function uses (Powertools, AWS SDK for pandas).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

# Environment that is true of the local cloud rather than of a function.
_RUNTIME_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    "POWERTOOLS_METRICS_NAMESPACE": "modelrail",
}


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass(frozen=True)
class Invocation:
    function_name: str
    request_id: str
    seconds: float
    error_type: str | None
    error_message: str | None


@dataclass
class LambdaRuntime:
    """Loads each function's handler once per code version (a warm container)."""

    cache_dir: Path
    # Overrides POWERTOOLS_LOG_LEVEL locally so handler logs do not drown a demo.
    log_level: str | None = None
    invocations: list[Invocation] = field(default_factory=list)
    _modules: dict[str, ModuleType] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def code_dir(self, code_bytes: bytes) -> Path:
        digest = hashlib.sha256(code_bytes).hexdigest()[:16]
        target = self.cache_dir / digest
        if not (target / ".complete").exists():
            target.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
                archive.extractall(target)
            (target / ".complete").touch()
        return target

    def load_handler(self, code_bytes: bytes, handler: str) -> Callable[[Any, Any], Any]:
        module_name, _, function_name = handler.rpartition(".")
        root = self.code_dir(code_bytes)
        path = root / (module_name.replace(".", "/") + ".py")
        key = f"{root.name}:{module_name}"
        module = self._modules.get(key)
        if module is None:
            if not path.is_file():
                raise FileNotFoundError(
                    f"handler module {module_name!r} is not in the function's code"
                )
            spec = importlib.util.spec_from_file_location(
                f"_modelrail_lambda_{root.name}_{module_name}", path
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[key] = module
        fn: Callable[[Any, Any], Any] = getattr(module, function_name)
        return fn

    def loaded_files(self) -> list[str]:
        """The handler files imported so far (each from a function's unpacked zip)."""
        return sorted(str(m.__file__) for m in self._modules.values() if m.__file__)

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Run one invocation of moto's ``LambdaFunction`` ``fn``; moto's return shape."""
        with self._lock, _environment(self._environment(fn)):
            context = LambdaContext(
                function_name=fn.function_name,
                invoked_function_arn=fn.function_arn,
                memory_limit_in_mb=int(fn.memory_size or 128),
                timeout_seconds=int(fn.timeout or 3),
                log_group_name=f"/aws/lambda/{fn.function_name}",
            )
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                handler = self.load_handler(fn.code_bytes, fn.handler)
                payload = event if not isinstance(event, str | bytes) else json.loads(event or "{}")
                result = handler(payload, context)
                body = json.dumps(result)
            except Exception as exc:  # the handler's failure is the invocation's result
                error = exc
                body = json.dumps(
                    {
                        "errorMessage": str(exc),
                        "errorType": type(exc).__name__,
                        "requestId": context.aws_request_id,
                        "stackTrace": traceback.format_exception(exc)[-8:],
                    }
                )
            elapsed = time.perf_counter() - started
            self.invocations.append(
                Invocation(
                    fn.function_name,
                    context.aws_request_id,
                    elapsed,
                    type(error).__name__ if error else None,
                    str(error) if error else None,
                )
            )
            if error is not None:
                logger.info(
                    "lambda %s failed: %s: %s", fn.function_name, type(error).__name__, error
                )
            return body, error is not None, ""

    def _environment(self, fn: Any) -> dict[str, str]:
        env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
        env.update(_RUNTIME_ENV)
        if self.log_level:
            env["POWERTOOLS_LOG_LEVEL"] = self.log_level
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_REGION": fn.region,
                "AWS_DEFAULT_REGION": fn.region,
                "_HANDLER": fn.handler,
            }
        )
        return env


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def install(runtime: LambdaRuntime) -> Callable[[], None]:
    """Route moto's Lambda invocations to ``runtime``; returns the undo function."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._invoke_lambda

    def _invoke_lambda(self: Any, event: str | None = None) -> tuple[str, bool, str]:
        return runtime.invoke(self, event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]

    def undo() -> None:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]

    return undo


def loaded_from(handler: Callable[..., Any]) -> Path:
    """Where a loaded handler's module file lives (tests use it to prove the source)."""
    module = sys.modules.get(handler.__module__)
    file = getattr(module, "__file__", None) or handler.__code__.co_filename
    return Path(file)
