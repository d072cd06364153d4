"""One Lambda execution environment: this process imports a function's handler once and
serves its invocations, as the python3.x managed runtime does.

Standard library only, run by path in isolated mode (``python -I -S lambda_bootstrap.py``)
so that nothing from the checkout or a virtualenv is importable::

    lambda_bootstrap.py TASK_ROOT SEARCH_PATH_JSON REQUEST_FD RESPONSE_FD

``sys.path`` becomes [TASK_ROOT, *SEARCH_PATH, stdlib]. Requests arrive as JSON lines on
REQUEST_FD (``{"requestId", "event", "timeoutMs", "arn"}``); for each, this process
writes ``{"type": "started"}`` once the handler is imported and about to run, then
``{"type": "result", "error": bool, "payload": str}`` on RESPONSE_FD. An import failure
is reported as ``{"type": "init_error", ...}`` and ends the process, as Lambda discards
an environment whose init failed. After each invocation it writes ``MARK + requestId``
as a line on stdout and on stderr, so that the parent can tell which output lines
belong to which invocation. Error payloads have Lambda's shape (errorType,
errorMessage, requestId, stackTrace).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

MARK = "\x1emodelrail-invocation-end "


class LambdaContext:
    """The context object the runtime passes to a handler (what Powertools reads)."""

    def __init__(self, request_id: str, invoked_arn: str, timeout_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        # A string, as the managed runtime gives it.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = int(time.time() * 1000) + timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type: str, message: str, request_id: str, stack: list[str]) -> str:
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack,
        }
    )


def _load(handler: str) -> Callable[[Any, Any], Any] | tuple[str, str, list[str]]:
    """The handler function, or (errorType, errorMessage, stackTrace) as Lambda reports
    a failed init."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        return ("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values", [])
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return ("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", [])
    except SyntaxError as exc:
        return ("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", [])
    except Exception as exc:  # the module raised at import: its own error type
        return (
            type(exc).__name__,
            str(exc),
            traceback.format_list(traceback.extract_tb(exc.__traceback__)),
        )
    function = getattr(module, function_name, None)
    if function is None:
        return (
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
            [],
        )
    loaded: Callable[[Any, Any], Any] = function
    return loaded


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _mark(request_id: str) -> None:
    for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
        with contextlib.suppress(OSError, ValueError):  # a handler may have closed it
            stream.flush()
        os.write(fd, (MARK + request_id + "\n").encode())


def _invoke(handler: Callable[[Any, Any], Any], request: dict[str, Any]) -> tuple[bool, str]:
    request_id = request["requestId"]
    context = LambdaContext(request_id, request["arn"], int(request["timeoutMs"]))
    try:
        result = handler(json.loads(request["event"]), context)
    except Exception as exc:  # the handler's failure is the invocation's result
        # From the handler's frame on, as Lambda reports it (this module's frame left out).
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        return True, _error(type(exc).__name__, str(exc), request_id, stack)
    try:
        return False, json.dumps(result)
    except (TypeError, ValueError) as exc:
        return True, _error(
            "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id, []
        )


def main(argv: list[str]) -> int:
    task_root, search_path, request_fd, response_fd = argv
    sys.path[:0] = [task_root, *json.loads(search_path)]
    os.chdir(task_root)
    requests = os.fdopen(int(request_fd), "r", encoding="utf-8")
    responses = os.fdopen(int(response_fd), "w", encoding="utf-8")
    handler: Callable[[Any, Any], Any] | None = None
    for line in requests:
        request = json.loads(line)
        if handler is None:
            loaded = _load(os.environ["_HANDLER"])
            if isinstance(loaded, tuple):
                error_type, message, stack = loaded
                print(f"[ERROR] {error_type}: {message}", file=sys.stderr)
                _mark(request["requestId"])
                payload = _error(error_type, message, request["requestId"], stack)
                _send(responses, {"type": "init_error", "error": True, "payload": payload})
                return 1
            handler = loaded
            module = sys.modules.get(handler.__module__)
            _send(responses, {"type": "loaded", "file": getattr(module, "__file__", None)})
        _send(responses, {"type": "started"})
        failed, payload = _invoke(handler, request)
        _mark(request["requestId"])
        _send(responses, {"type": "result", "error": failed, "payload": payload})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
