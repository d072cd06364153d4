"""Steady requests to an endpoint while a rollout runs, as production traffic would be.

Rollback alarms only see a faulty canary through the requests it answers, so the demo,
the benchmarks and the deployment tests keep a client busy during a deployment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from modelrail.contract import load_contract
from modelrail.deploy.client import new_inference_id
from modelrail.deploy.naming import endpoint_name

if TYPE_CHECKING:
    from modelrail.local.cloud import LocalCloud


class Answer(NamedTuple):
    ok: bool
    seconds: float
    config: str | None
    """The endpoint's config right after the answer (when asked to record it)."""


@dataclass
class Traffic:
    runtime: Any
    """A ``sagemaker-runtime`` client."""
    endpoint: str
    bodies: list[bytes]
    """Request bodies, sent in turn (as varied as production traffic: data capture, and
    the drift checks that read it, see the sample's distribution, not one row repeated)."""
    content_type: str = "text/csv"
    sagemaker: Any | None = None
    """A ``sagemaker`` client: when given, each answer records the endpoint's config."""
    interval: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint,
                    Body=self.bodies[len(self.answers) % len(self.bodies)],
                    ContentType=self.content_type,
                    InferenceId=new_inference_id(),
                )
                ok = True
            except Exception:  # a faulty canary answers 5XX: boto3 raises ModelError
                ok = False
            seconds = time.perf_counter() - started
            config = None
            if self.sagemaker is not None:
                config = self.sagemaker.describe_endpoint(EndpointName=self.endpoint)[
                    "EndpointConfigName"
                ]
            self.answers.append(Answer(ok, seconds, config))
            self._stop.wait(self.interval)

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    @classmethod
    def from_sample(
        cls,
        cloud: LocalCloud,
        model: str,
        data: Path,
        *,
        rows: int = 3,
        record_config: bool = False,
    ) -> Traffic:
        """Requests of ``rows`` feature rows each, taken in turn from a sample file, to the
        model's endpoint."""
        contract = load_contract(model)
        frame = pd.read_csv(data, dtype=str, keep_default_na=False)
        frame = frame[[c.name for c in contract.features]]
        bodies = [
            frame.iloc[start : start + rows].to_csv(index=False, header=False).encode()
            for start in range(0, max(len(frame) - rows + 1, 1), rows)
        ]
        return cls(
            cloud.client("sagemaker-runtime"),
            endpoint_name(cloud.environment, model),
            bodies,
            sagemaker=cloud.client("sagemaker") if record_config else None,
        )

    @property
    def sent(self) -> int:
        return len(self.answers)

    @property
    def failed(self) -> int:
        return sum(1 for answer in self.answers if not answer.ok)

    @property
    def latencies(self) -> list[float]:
        """Seconds per successful request."""
        return [answer.seconds for answer in self.answers if answer.ok]


@dataclass(frozen=True)
class Replayed:
    """What :func:`replay` sent: each row's id (as capture names it) and its true label."""

    row_ids: list[str]
    labels: list[str]

    def labels_csv(self) -> bytes:
        """The labels as a ground-truth CSV (``inference_id,label``), as a team uploads."""
        lines = [
            "inference_id,label",
            *(f"{i},{v}" for i, v in zip(self.row_ids, self.labels, strict=True)),
        ]
        return ("\n".join(lines) + "\n").encode()


def replay(cloud: LocalCloud, model: str, data: Path, *, batch: int = 10) -> Replayed:
    """Send every row of a sample file to the model's endpoint, ``batch`` rows a request,
    each request with its own InferenceId; the rows' ids and their (held back) labels."""
    from modelrail.monitoring.capture import row_ids

    contract = load_contract(model)
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    labels = frame.pop(contract.target).tolist()
    frame = frame[[c.name for c in contract.features]]  # the order the endpoint reads
    runtime = cloud.client("sagemaker-runtime")
    name = endpoint_name(cloud.environment, model)
    ids: list[str] = []
    for start in range(0, len(frame), batch):
        chunk = frame.iloc[start : start + batch]
        inference_id = new_inference_id()
        runtime.invoke_endpoint(
            EndpointName=name,
            Body=chunk.to_csv(index=False, header=False).encode(),
            ContentType="text/csv",
            InferenceId=inference_id,
        )
        ids += row_ids(inference_id, "", len(chunk))
    return Replayed(ids, labels)
