"""Starting and following deployments, and what a client sends to an endpoint.

Used by ``modelrail deploy`` / ``predict`` / ``registry rollback``, the local cloud and
the demo. :func:`start_deployment` starts the environment's deployment state machine
(the one the training pipeline starts); :func:`wait_for` follows an execution to its end
and reads what FinishDeployment decided. Works against AWS (standard configuration,
``AWS_ENDPOINT_URL`` honoured) and against ``modelrail local up``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelrail.contract import ModelContract

OUTPUT = "DeploymentStateMachineArn"


class DeploymentNotConfigured(RuntimeError):
    """No deployment state machine can be found for the environment."""


@dataclass(frozen=True)
class DeploymentRun:
    execution_arn: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED | RUNNING
    result: dict[str, Any] | None
    error: str | None
    cause: str | None

    @property
    def message(self) -> str:
        """What happened, in words: the result's message, else the error's cause."""
        if self.status == "RUNNING":
            return "still running"
        return str((self.result or {}).get("message") or self.cause or "")

    @property
    def outcome(self) -> str:
        if self.result and self.result.get("outcome"):
            return str(self.result["outcome"])
        if self.error == "DeploymentRolledBack":
            return "ROLLED_BACK"
        return "PRODUCTION" if self.status == "SUCCEEDED" else self.status

    def to_json(self) -> dict[str, Any]:
        return {
            "execution": self.execution_arn,
            "status": self.status,
            "outcome": self.outcome,
            "result": self.result,
            "error": self.error,
            "cause": self.cause,
        }


def state_machine_arn(env: str, *, cloudformation: Any | None = None) -> str:
    import boto3

    stack = f"modelrail-{env}"
    cfn = cloudformation or boto3.client("cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:  # botocore's ClientError or a connection error
        raise DeploymentNotConfigured(f"cannot read stack {stack!r}: {exc}") from exc
    for entry in stacks:
        for output in entry.get("Outputs", []):
            if output.get("OutputKey") == OUTPUT:
                return str(output["OutputValue"])
    raise DeploymentNotConfigured(f"stack {stack!r} has no output {OUTPUT!r}")


def start_deployment(
    model: str,
    version: int,
    *,
    env: str,
    reason: str,
    requested_by: str,
    fault: dict[str, float] | None = None,
    sfn: Any | None = None,
    arn: str | None = None,
) -> str:
    """Start one deployment execution; returns its ARN."""
    import boto3

    client = sfn or boto3.client("stepfunctions")
    machine = arn or state_machine_arn(env)
    name = f"{model}-v{version}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    payload = {
        "model": model,
        "version": version,
        "reason": reason,
        "requestedBy": requested_by,
        "fault": fault,
    }
    started = client.start_execution(
        stateMachineArn=machine, name=name[:80], input=json.dumps(payload)
    )
    return str(started["executionArn"])


def wait_for(execution_arn: str, *, sfn: Any | None = None, timeout: float = 7200) -> DeploymentRun:
    import boto3

    client = sfn or boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = client.describe_execution(executionArn=execution_arn)
        status = described["status"]
        if status != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    result = None
    if described.get("output"):
        output = json.loads(described["output"])
        result = output.get("result") or _superseded(output.get("error"))
    if result is None and status != "RUNNING":
        # A failed run has no output: the last FinishDeployment result is in its history.
        result = _finish_result(client, execution_arn)
    return DeploymentRun(
        execution_arn, status, result, described.get("error"), described.get("cause")
    )


def _superseded(error: Any) -> dict[str, Any] | None:
    """The queue's decision (modelrail.release) as a result: it ends the run without error."""
    if not isinstance(error, dict) or error.get("Error") != "DeploymentSuperseded":
        return None
    message = str(error.get("Cause") or "")
    with contextlib.suppress(ValueError, AttributeError):
        message = str(json.loads(message).get("errorMessage", message))
    return {"outcome": "SUPERSEDED", "message": message}


def _finish_result(client: Any, execution_arn: str) -> dict[str, Any] | None:
    events = client.get_execution_history(
        executionArn=execution_arn, reverseOrder=True, maxResults=200
    )["events"]
    for event in events:
        details = event.get("taskSucceededEventDetails") or event.get(
            "lambdaFunctionSucceededEventDetails"
        )
        if details and details.get("output"):
            try:
                output = json.loads(details["output"])
            except ValueError:
                continue
            payload = output.get("Payload", output)
            if isinstance(payload, dict) and "outcome" in payload:
                return payload
    return None


class PredictInputError(ValueError):
    """A file ``modelrail predict`` cannot turn into the model's feature rows."""


def feature_rows(text: str, contract: ModelContract) -> bytes:
    """CSV rows of the contract's features, in contract order and without a header.

    A first row naming any feature is a header: columns are taken by name, the target
    (as in the training data) dropped, a missing optional feature left empty; an
    unknown column or a missing required feature is an error naming it. Without a
    header the rows are sent as they are (the features by position)."""
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        raise PredictInputError("the CSV file has no rows")
    features = [c.name for c in contract.features]
    required = [c.name for c in contract.features if c.required]
    header = [cell.strip() for cell in rows[0]]
    if not set(header) & set(features):
        return text.encode()  # no header: the features by position
    if not set(required) <= set(header):
        missing = [name for name in required if name not in header]
        raise PredictInputError(
            f"the CSV header lacks required feature columns {missing} of model {contract.name!r}"
        )
    unknown = [name for name in header if name not in features and name != contract.target]
    if unknown:
        raise PredictInputError(
            f"the CSV header has columns {unknown} that model {contract.name!r} does not "
            f"know; its features are {features} (and the target {contract.target!r})"
        )
    at = {name: index for index, name in enumerate(header)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for number, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise PredictInputError(
                f"CSV row {number} has {len(row)} values; the header has {len(header)}"
            )
        writer.writerow([row[at[name]] if name in at else "" for name in features])
    return out.getvalue().encode()


def new_inference_id() -> str:
    """An InferenceId for a request whose caller named none: capture keeps it, so labels
    uploaded later can name the request's rows (modelrail.monitoring.capture.row_ids)."""
    return uuid.uuid4().hex
