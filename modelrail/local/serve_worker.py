"""One serving worker of a local endpoint, as the SageMaker scikit-learn container runs it.

Run as a script (standard library only, like the container's own server) with the
model directory (the unpacked ``model.tar.gz``) as argument and the model's container
``Environment`` in its environment. It imports ``$SAGEMAKER_PROGRAM`` from
``$SAGEMAKER_SUBMIT_DIRECTORY`` (mapped from ``/opt/ml/model/code`` into the model
directory), calls ``model_fn`` once, prints one ``ready`` line, then answers requests:
one JSON line in (``body`` base64, ``contentType``, ``accept``), one JSON line out
(``status`` 200/4xx/5xx, ``body`` base64, ``contentType``, ``modelLatencyUs``,
``error``). The model's own prints go to stderr, never into the protocol.

Statuses as the scikit-learn container's serving stack (sagemaker-containers) gives
them: an exception raised by ``input_fn``/``predict_fn``/``output_fn`` is a 500 whatever
its type; a response object returned by ``output_fn`` is answered with its own status;
a ``(body, content type)`` tuple is a 200. The container's response class is provided
by the stand-in under ``container/`` (put on the path as the image has the real one).

``modelLatencyUs`` is the latency a dedicated instance would see: the request's wall
time minus the time this process waited for a CPU (Linux ``/proc/self/schedstat``).
Every fleet of the local cloud shares one machine, so a fleet starting up (importing
pandas and scikit-learn) would otherwise show up as the *other* fleet's latency and trip
its latency alarm; sleeps and I/O (an injected latency fault) are still counted. Where
schedstat is unavailable the wall time is reported.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

CONTAINER_MODEL_DIR = "/opt/ml/model"
CONTAINER_PACKAGES = Path(__file__).resolve().parent / "container"


SCHEDSTAT = Path("/proc/self/schedstat")


def _run_queue_wait_ns() -> int:
    """Nanoseconds this process has spent runnable but waiting for a CPU, or 0."""
    try:
        return int(SCHEDSTAT.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _answer(stream: Any, payload: dict[str, Any]) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def _response(result: Any) -> dict[str, Any]:
    """The protocol's answer for what ``output_fn`` returned."""
    if isinstance(result, tuple):
        out, content_type = result
        raw = out.encode() if isinstance(out, str) else bytes(out)
        return {"status": 200, "body": base64.b64encode(raw).decode(), "contentType": content_type}
    raw = result.get_data()
    answer = {
        "status": int(result.status_code),
        "body": base64.b64encode(raw).decode(),
        "contentType": result.mimetype,
    }
    if answer["status"] >= 400:
        answer["error"] = raw.decode("utf-8", "replace")
    return answer


def main(argv: list[str]) -> int:
    model_dir = Path(argv[1])
    protocol = sys.stdout
    sys.stdout = sys.stderr  # user code printing must not corrupt the protocol
    submit = os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", f"{CONTAINER_MODEL_DIR}/code")
    if submit.startswith(CONTAINER_MODEL_DIR):
        submit = str(model_dir / submit[len(CONTAINER_MODEL_DIR) :].lstrip("/"))
    program = os.environ.get("SAGEMAKER_PROGRAM", "inference.py")
    try:
        sys.path.insert(0, submit)
        sys.path.append(str(CONTAINER_PACKAGES))
        module = importlib.import_module(Path(program).stem)
        model = module.model_fn(str(model_dir))
    except Exception as exc:
        _answer(protocol, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        traceback.print_exc()
        return 1
    _answer(protocol, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        waited = _run_queue_wait_ns()
        stage = "input_fn"
        try:
            body = base64.b64decode(request["body"])
            data = module.input_fn(body, request.get("contentType") or "application/json")
            stage = "predict_fn"
            prediction = module.predict_fn(data, model)
            stage = "output_fn"
            answer = _response(module.output_fn(prediction, request.get("accept")))
        except Exception as exc:
            # sagemaker-containers wraps whatever the handlers raise and answers 500; the
            # message reaches the caller as OriginalMessage.
            answer = {"status": 500, "error": f"{type(exc).__name__} in {stage}: {exc}"}
            traceback.print_exc()
        wall_us = (time.perf_counter() - started) * 1_000_000
        waited_us = (_run_queue_wait_ns() - waited) / 1000
        answer["modelLatencyUs"] = int(max(0.0, wall_us - waited_us))
        _answer(protocol, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
