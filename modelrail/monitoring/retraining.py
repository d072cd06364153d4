"""RetrainPolicy: after a check, decide (:mod:`.policy`), and start a retraining through
the same training pipeline an upload starts.

* **Evidence** comes from the registry: the model's recent ``monitoring.checked`` events
  (drift persistence), the check that just ended (live metric, labelled rows) and the
  champion's registration time (its age).
* **The dataset** of a retraining is the champion's training data (the exact object
  version its lineage names) followed by the
  labelled production window the check wrote (``labelled.csv``: the window's captured
  rows with their labels), under ``retraining/<model>/<execution>/data.csv`` of the
  data bucket; with ``include_champion_data: false`` the window alone. Training data of
  5 MiB or more is joined server-side (UploadPartCopy), so the Lambda never holds it.
  The window's second half is the run's holdout (:func:`recent_holdout`): the gate then
  compares champion and challenger on recent traffic neither was trained on.
* **The start** is StartExecution of the training pipeline with the decision's
  deterministic name (``retrain-<model>-<trigger>-<window>``: never one an upload gets,
  which are ``<model>-<hash>``), so a repeated decision starts nothing; the trigger, its
  reason and the check go into the run's input and the new version's lineage.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from modelrail.contract import ModelContract
from modelrail.layout import retraining_key
from modelrail.monitoring.ledger import RetrainLedger
from modelrail.monitoring.models import CheckOutput, RetrainOutput
from modelrail.monitoring.policy import Decision, DriftCheck, Evidence, HolderStatus
from modelrail.monitoring.retrain import consider
from modelrail.registry.models import AliasName, EventType, ModelVersion
from modelrail.registry.port import ModelRegistry
from modelrail.steps.gate import split_s3_uri
from modelrail.steps.models import PipelineInput, dump
from modelrail.telemetry import RETRAIN_DECISIONS, Point, point

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

HISTORY = 100
"""Registry events read for the drift history (checks are most of a model's events)."""
PART = 5 * 1024 * 1024
"""S3's smallest part but the last: a snapshot this large is joined by UploadPartCopy."""
COPY_RANGE = 4 * 1024**3
"""Each UploadPartCopy copies at most 5 GiB; a larger snapshot is several ranges."""
REQUESTED_BY = "monitoring"
MIN_RECENT_HOLDOUT = 50


class RetrainDataError(ValueError):
    """The retraining dataset cannot be built (named columns missing, no rows)."""


@dataclass(frozen=True)
class RetrainContext:
    contract: ModelContract
    registry: ModelRegistry
    ledger: RetrainLedger
    s3: S3Client
    sfn: SFNClient
    data_bucket: str
    state_machine_arn: str
    environment: str
    now: datetime


def run_retrain(check: CheckOutput, ctx: RetrainContext) -> tuple[RetrainOutput, list[Point]]:
    model = check.model
    champion = ctx.registry.resolve_alias(model, AliasName.CHAMPION)
    if champion is None or check.status == "no_champion":
        return RetrainOutput(action="none", reason="no champion to retrain"), []
    if check.champion != champion.version:
        # A check delivered late (or again) after the champion changed: its evidence is
        # about a model that no longer serves.
        return (
            RetrainOutput(
                action="none",
                reason=f"check {check.check_id} watched v{check.champion}; the champion is now "
                f"v{champion.version}",
            ),
            [],
        )
    evidence = evidence_of(check, champion, ctx.registry, ctx.now)
    started: dict[str, str] = {}

    def start(decision: Decision) -> None:
        started.update(start_retraining(decision, check, champion, ctx))

    def record(decision: Decision) -> None:
        kind: EventType = (
            "retraining.started" if decision.action == "start" else "retraining.suppressed"
        )
        detail = {**decision.model_dump(mode="json", exclude_none=True), "check": check.check_id}
        ctx.registry.record(model, champion.version, kind, {**detail, **started})

    decision = consider(
        model,
        evidence,
        ctx.contract.monitoring.retrain,
        ledger=ctx.ledger,
        holder_status=holder_status(ctx),
        start=start,
        record=record,
    )
    output = RetrainOutput(
        action=decision.action,
        trigger=None if decision.trigger is None else decision.trigger.value,
        reason=decision.reason,
        guard=None if decision.guard is None else decision.guard.value,
        execution_name=decision.execution_name,
        execution_arn=started.get("executionArn"),
        dataset_uri=started.get("datasetUri"),
    )
    points = []
    if decision.action != "none" and decision.trigger is not None:
        outcome = "started" if decision.action == "start" else "suppressed"
        points.append(
            point(
                RETRAIN_DECISIONS,
                1,
                Environment=ctx.environment,
                Model=model,
                Outcome=outcome,
                Trigger=decision.trigger.value,
            )
        )
    return output, points


def evidence_of(
    check: CheckOutput, champion: ModelVersion, registry: ModelRegistry, now: datetime
) -> Evidence:
    """The policy's evidence: the champion's checks, oldest first (this one last)."""
    checks: list[CheckOutput] = []
    for event in registry.monitoring_events(check.model, HISTORY):
        if event.type == "monitoring.checked" and event.version == champion.version:
            checks.append(CheckOutput.model_validate(event.detail))
    if all(c.check_id != check.check_id for c in checks):
        checks.append(check)
    checks.sort(key=lambda c: c.window_end)
    return Evidence(
        now=now,
        drift=tuple(
            DriftCheck(window_end=c.window_end, status=c.drift_status, share=c.drift_share)
            for c in checks
        ),
        live=check.live,
        champion_trained_at=champion.created_at,
        new_labelled_rows=check.labelled_rows,
    )


def holder_status(ctx: RetrainContext) -> Callable[[str], HolderStatus]:
    def status(name: str) -> HolderStatus:
        arn = _execution_arn(ctx.state_machine_arn, name)
        try:
            got = ctx.sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return "missing"
            raise
        return "running" if got["status"] == "RUNNING" else "ended"

    return status


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def recent_holdout(check: CheckOutput, contract: ModelContract) -> int:
    """How many of the dataset's newest rows are the holdout: the second half of the
    labelled window, when it is appended to the champion's data and large enough to
    judge on (:data:`MIN_RECENT_HOLDOUT`); else 0, the contract's own split. The champion
    was trained on its data, so a holdout drawn from it would favour the champion."""
    if not contract.monitoring.retrain.include_champion_data:
        return 0
    half = check.labelled_rows // 2
    return half if half >= MIN_RECENT_HOLDOUT else 0


def start_retraining(
    decision: Decision, check: CheckOutput, champion: ModelVersion, ctx: RetrainContext
) -> dict[str, str]:
    """Build the dataset and start the pipeline on it (both idempotent by the name)."""
    assert decision.execution_name is not None and decision.trigger is not None
    name = decision.execution_name
    key = retraining_key(check.model, name)
    version = build_dataset(check, champion, ctx, key)
    run = PipelineInput.model_validate(
        {
            "model": check.model,
            "bucket": ctx.data_bucket,
            "key": key,
            "versionId": version,
            "reason": f"retrain:{decision.trigger.value}",
            "requestedBy": REQUESTED_BY,
            "retrain": {
                "trigger": decision.trigger.value,
                "reason": decision.reason,
                "check": check.check_id,
                "champion": champion.version,
                "holdoutRows": recent_holdout(check, ctx.contract),
            },
        }
    )
    arn = _execution_arn(ctx.state_machine_arn, name)
    try:
        arn = ctx.sfn.start_execution(
            stateMachineArn=ctx.state_machine_arn, name=name, input=json.dumps(dump(run))
        )["executionArn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
    return {"executionArn": arn, "datasetUri": f"s3://{ctx.data_bucket}/{key}"}


# ---- the dataset ----------------------------------------------------------------------


def build_dataset(
    check: CheckOutput, champion: ModelVersion, ctx: RetrainContext, key: str
) -> str | None:
    """Write the retraining dataset at ``key``; its S3 version id."""
    policy = ctx.contract.monitoring.retrain
    window = b""
    if check.labelled_uri is not None:
        bucket, wkey = split_s3_uri(check.labelled_uri)
        window = ctx.s3.get_object(Bucket=bucket, Key=wkey)["Body"].read()
    data = champion.lineage.data
    if not policy.include_champion_data:
        if not window:
            raise RetrainDataError(
                f"{check.model}: no labelled rows in check {check.check_id} and "
                "include_champion_data is false: nothing to retrain on"
            )
        return _put(ctx, key, window)
    head = _read(ctx.s3, data.bucket, data.key, data.version_id, "bytes=0-65535")
    header = next(csv.reader(io.StringIO(head.split(b"\n", 1)[0].decode("utf-8"))))
    rows = _reordered(window, header, check.model)
    if data.size_bytes < PART:
        body = _read(ctx.s3, data.bucket, data.key, data.version_id)
        return _put(ctx, key, _ending(body) + rows)
    return _join(ctx, key, data.bucket, data.key, data.version_id, data.size_bytes, rows)


def _read(
    s3: S3Client, bucket: str, key: str, version_id: str | None, byte_range: str | None = None
) -> bytes:
    """An object's bytes (that version; that range)."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    if byte_range:
        kwargs["Range"] = byte_range
    body: bytes = s3.get_object(**kwargs)["Body"].read()
    return body


def _ending(body: bytes) -> bytes:
    return body if not body or body.endswith(b"\n") else body + b"\n"


def _reordered(window: bytes, header: list[str], model: str) -> bytes:
    """The window's rows (no header) in the snapshot's column order."""
    if not window:
        return b""
    reader = csv.reader(io.StringIO(window.decode("utf-8")))
    names = next(reader)
    missing = [n for n in names if n not in header]
    if missing:
        raise RetrainDataError(
            f"{model}: the champion's training data has no column {', '.join(missing)}"
        )
    at = {n: i for i, n in enumerate(names)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in reader:
        writer.writerow([row[at[n]] if n in at else "" for n in header])
    return out.getvalue().encode()


def _put(ctx: RetrainContext, key: str, body: bytes) -> str | None:
    got = ctx.s3.put_object(Bucket=ctx.data_bucket, Key=key, Body=body, ContentType="text/csv")
    return got.get("VersionId")


def _join(
    ctx: RetrainContext,
    key: str,
    bucket: str,
    source: str,
    version_id: str | None,
    size: int,
    rows: bytes,
) -> str | None:
    """Snapshot (copied server-side in ranges of at least 5 MiB) + the window's rows."""
    upload = ctx.s3.create_multipart_upload(Bucket=ctx.data_bucket, Key=key, ContentType="text/csv")
    uid = upload["UploadId"]
    copy: dict[str, Any] = {"Bucket": bucket, "Key": source}
    if version_id:
        copy["VersionId"] = version_id
    try:
        parts = []
        count = max(1, -(-size // COPY_RANGE))
        edges = [size * i // count for i in range(count + 1)]
        for number, (lo, hi) in enumerate(pairwise(edges), start=1):
            got = ctx.s3.upload_part_copy(
                Bucket=ctx.data_bucket, Key=key, UploadId=uid, PartNumber=number,
                CopySource=copy, CopySourceRange=f"bytes={lo}-{hi - 1}",  # type: ignore[arg-type]
            )  # fmt: skip
            parts.append({"PartNumber": number, "ETag": got["CopyPartResult"]["ETag"]})
        last = _read(ctx.s3, bucket, source, version_id, f"bytes={size - 1}-{size - 1}")
        tail = (b"" if last == b"\n" else b"\n") + rows
        if tail:
            got2 = ctx.s3.upload_part(
                Bucket=ctx.data_bucket, Key=key, UploadId=uid, PartNumber=len(parts) + 1, Body=tail
            )
            parts.append({"PartNumber": len(parts) + 1, "ETag": got2["ETag"]})
        done = ctx.s3.complete_multipart_upload(
            Bucket=ctx.data_bucket,
            Key=key,
            UploadId=uid,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
        )
    except Exception:
        ctx.s3.abort_multipart_upload(Bucket=ctx.data_bucket, Key=key, UploadId=uid)
        raise
    return done.get("VersionId")
