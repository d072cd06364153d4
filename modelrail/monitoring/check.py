"""CheckDrift: the champion's captured traffic of the last window against its baseline.

One check, as the monitoring state machine's first step runs it:

1. the champion (none: nothing to watch, ``no_champion``) and its drift baseline, the
   ``drift_baseline.json`` its training job wrote beside ``evaluation.json`` in
   ``output.tar.gz``;
2. the window: the capture files of the champion's endpoint in the hours the window
   spans, and of their records those whose ``inferenceTime`` falls in it;
3. the verdict (:func:`modelrail.drift.compare`), under ``min_rows`` an
   ``insufficient_data`` that never counts as drift;
4. the live metric: labels uploaded under ``ground-truth/<model>/`` joined with the
   window's rows by id;
5. the reports under ``monitoring/<model>/<check>/`` (the verdict as JSON, Model
   Monitor's ``statistics.json`` and ``constraint_violations.json``, a self-contained
   HTML page), the metrics, and a ``monitoring.checked`` event on the champion version.

The I/O is passed in (an S3 client, the registry), so the Lambda, the tests and the CLI
run the same code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from modelrail.contract import ModelContract
from modelrail.deploy.naming import endpoint_name
from modelrail.drift import DriftBaseline, DriftReport, compare
from modelrail.drift.html import render
from modelrail.drift.monitor import constraint_violations_json, statistics_json
from modelrail.layout import capture_prefix, ground_truth_prefix, monitoring_folder
from modelrail.monitoring.capture import CaptureRecords, read_records
from modelrail.monitoring.labelled import labelled_rows
from modelrail.monitoring.labels import Labels, join, read_labels
from modelrail.monitoring.models import CheckInput, CheckOutput, FeatureVerdict
from modelrail.monitoring.policy import LiveMetric
from modelrail.registry.models import AliasName, ModelVersion
from modelrail.registry.port import ModelRegistry
from modelrail.steps.gate import output_archive_uri, read_output_file
from modelrail.telemetry import (
    DRIFT_SHARE,
    FEATURE_DRIFT,
    LABELLED_ROWS,
    LIVE_METRIC,
    NULL_SHARE,
    PREDICTION_DRIFT,
    WINDOW_ROWS,
    Point,
    per_feature,
    point,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BASELINE_FILE = "drift_baseline.json"
LABELLED_FILE = "labelled.csv"
TOP = 5


class BaselineMissing(RuntimeError):
    """The champion's training output has no drift baseline (trained before modelrail
    wrote one): retrain or redeploy a version that has it."""


@dataclass(frozen=True)
class CheckContext:
    contract: ModelContract
    registry: ModelRegistry
    s3: S3Client
    artifacts_bucket: str
    data_bucket: str
    environment: str
    now: datetime


def check_id(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def run_check(request: CheckInput, ctx: CheckContext) -> tuple[CheckOutput, list[Point]]:
    """One check's verdict and the metrics it publishes (the caller prints them)."""
    cfg = ctx.contract.monitoring
    end = ctx.now.astimezone(UTC)
    start = end - timedelta(hours=cfg.window_hours)
    ident = check_id(end)
    champion = ctx.registry.resolve_alias(request.model, AliasName.CHAMPION)
    if champion is None:
        return (
            CheckOutput(
                check_id=ident,
                model=request.model,
                status="no_champion",
                window_end=end,
                reason=f"{request.model} has no champion yet: nothing is served to watch",
                requested_by=request.requested_by,
            ),
            [],
        )
    baseline = read_baseline(ctx.s3, champion)
    records = window_records(ctx, request.model, start, end)
    from modelrail.monitoring.window import captured_window

    captured = captured_window(records, baseline, ctx.contract)
    report = compare(baseline, captured.window, options=cfg.drift)
    labels = _labels(ctx, request.model)
    live = _live(ctx, captured, labels, end)
    enough = captured.rows >= cfg.min_rows
    status = ("drifted" if report.dataset.drifted else "ok") if enough else "insufficient_data"
    folder = monitoring_folder(request.model, ident)
    _write_reports(ctx, folder, report, baseline, captured.window)
    labelled = labelled_rows(records, labels, ctx.contract)
    labelled_uri = None
    if labelled.rows:
        ctx.s3.put_object(
            Bucket=ctx.artifacts_bucket,
            Key=folder + LABELLED_FILE,
            Body=labelled.to_csv(),
            ContentType="text/csv",
        )
        labelled_uri = f"s3://{ctx.artifacts_bucket}/{folder}{LABELLED_FILE}"
    output = CheckOutput(
        check_id=ident,
        model=request.model,
        status=status,
        champion=champion.version,
        window_start=start,
        window_end=end,
        rows=captured.rows,
        drift_share=report.dataset.drift_share,
        drifted=[f.name for f in _by_severity(report) if f.drifted],
        top=[_verdict(f) for f in _by_severity(report)[:TOP]],
        prediction_drifted=None if report.prediction is None else report.prediction.drifted,
        live=live,
        labelled_rows=len(labelled.rows),
        labelled_uri=labelled_uri,
        corrupt=len(captured.corrupt),
        report_uri=f"s3://{ctx.artifacts_bucket}/{folder}",
        reason=_reason(status, report, captured.rows, cfg.min_rows),
        requested_by=request.requested_by,
    )
    ctx.registry.record(
        request.model,
        champion.version,
        "monitoring.checked",
        output.model_dump(mode="json", by_alias=True, exclude_none=True),
    )
    return output, check_points(ctx.environment, output, report)


# ---- inputs ---------------------------------------------------------------------------


def read_baseline(s3: S3Client, version: ModelVersion) -> DriftBaseline:
    uri = output_archive_uri(version.lineage.model_artifact_uri)
    data = read_output_file(uri, BASELINE_FILE, s3=s3)
    if data is None:
        raise BaselineMissing(
            f"v{version.version} of {version.model}: {uri} has no {BASELINE_FILE}; versions "
            "trained before drift baselines existed cannot be monitored (retrain to get one)"
        )
    return DriftBaseline.from_json(data)


def _hours(start: datetime, end: datetime) -> Iterator[str]:
    at = start.replace(minute=0, second=0, microsecond=0)
    while at <= end:
        yield at.strftime("%Y/%m/%d/%H")
        at += timedelta(hours=1)


def _keys(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"]


def window_records(ctx: CheckContext, model: str, start: datetime, end: datetime) -> CaptureRecords:
    """Every captured record of the model's endpoint (all variants) in [start, end]."""
    root = capture_prefix(endpoint_name(ctx.environment, model))
    hours = set(_hours(start, end))
    files: list[tuple[str, bytes]] = []
    for key in _keys(ctx.s3, ctx.artifacts_bucket, root):
        # <root><variant>/yyyy/mm/dd/hh/<file>
        parts = key[len(root) :].split("/")
        if len(parts) != 6 or "/".join(parts[1:5]) not in hours:
            continue
        files.append((key, ctx.s3.get_object(Bucket=ctx.artifacts_bucket, Key=key)["Body"].read()))
    return _within(read_records(files), start, end)


def _within(records: CaptureRecords, start: datetime, end: datetime) -> CaptureRecords:
    low, high = _stamp(start), _stamp(end)
    keep = [i for i, t in enumerate(records.times) if low <= t <= high]
    if len(keep) == len(records):
        return records
    out = CaptureRecords(corrupt=records.corrupt, files=records.files)
    for name in (
        "event_ids", "inference_ids", "times", "input_types", "input_encodings", "inputs",
        "output_types", "output_encodings", "outputs",
    ):  # fmt: skip
        column = getattr(records, name)
        setattr(out, name, [column[i] for i in keep])
    return out


def _stamp(at: datetime) -> str:
    """Capture's ``inferenceTime`` form, which sorts as text."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _labels(ctx: CheckContext, model: str) -> Labels:
    """Every label uploaded for ``model`` (labels arrive late: a label names its row by
    id, whenever it comes; rows outside the window simply find no match)."""
    prefix = ground_truth_prefix(model)
    return read_labels(
        (key, ctx.s3.get_object(Bucket=ctx.data_bucket, Key=key)["Body"].read())
        for key in _keys(ctx.s3, ctx.data_bucket, prefix)
    )


def _live(ctx: CheckContext, captured: Any, labels: Labels, end: datetime) -> LiveMetric | None:
    """The live metric of the window's labelled rows; None without any (or when the
    metric cannot be measured on them: the check's record says how many there were)."""
    if not labels.by_id:
        return None
    joined = join(captured.row_ids, labels)
    if not joined.positions:
        return None
    from modelrail.monitoring.live import LiveMetricUnavailable, RowOutput, live_metric

    out = captured.outputs
    rows = [
        RowOutput(
            out.predictions[p],
            None if out.probabilities is None else list(out.probabilities[p]),
            out.classes,
        )
        if out.present[p]
        else RowOutput(None)  # no answer captured for the row: counted as unusable
        for p in joined.positions
    ]
    measured = live_metric(ctx.contract, joined.labels, rows, window_end=end)
    if isinstance(measured, LiveMetricUnavailable):
        return None
    return LiveMetric.model_validate(measured.model_dump(exclude={"counts"}))


# ---- outputs --------------------------------------------------------------------------


def _by_severity(report: DriftReport) -> list[Any]:
    """Features most past their threshold first (a p-value decides downwards)."""

    def severity(f: Any) -> float:
        if f.score is None:
            return float("-inf")
        if f.test in ("ks", "chisquare", "z"):
            return float(f.threshold - f.score)
        return float(f.score - f.threshold)

    return sorted(report.features, key=severity, reverse=True)


def _verdict(f: Any) -> FeatureVerdict:
    return FeatureVerdict(
        name=f.name, test=f.test, score=f.score, threshold=f.threshold, drifted=f.drifted
    )


def _reason(status: str, report: DriftReport, rows: int, min_rows: int) -> str:
    d = report.dataset
    if status == "insufficient_data":
        return f"{rows} captured rows in the window, fewer than the {min_rows} a verdict needs"
    judged = d.n_features - d.n_insufficient
    return f"{d.n_drifted} of {judged} features drifted (share {d.drift_share:.2f}) on {rows} rows"


def _write_reports(
    ctx: CheckContext, folder: str, report: DriftReport, baseline: DriftBaseline, window: Any
) -> None:
    files = {
        "drift.json": (report.to_json(), "application/json"),
        "statistics.json": (json.dumps(statistics_json(baseline, window)), "application/json"),
        "constraint_violations.json": (
            json.dumps(constraint_violations_json(report)),
            "application/json",
        ),
        "report.html": (render(report, baseline, window), "text/html"),
    }
    for name, (body, content_type) in files.items():
        ctx.s3.put_object(
            Bucket=ctx.artifacts_bucket,
            Key=folder + name,
            Body=body.encode(),
            ContentType=content_type,
        )


def check_points(environment: str, output: CheckOutput, report: DriftReport) -> list[Point]:
    """What a check publishes: rows always; drift scores once the window has enough rows."""
    base = {"Environment": environment, "Model": output.model}
    points = [point(WINDOW_ROWS, output.rows, **base)]
    if output.status in ("drifted", "ok"):
        points.append(point(DRIFT_SHARE, report.dataset.drift_share, **base))
        for f in report.features:
            if f.score is not None:
                points.append(point(per_feature(FEATURE_DRIFT, f.name), f.score, **base))
            points.append(point(per_feature(NULL_SHARE, f.name), f.null_share_current, **base))
        if report.prediction is not None and report.prediction.score is not None:
            points.append(point(PREDICTION_DRIFT, report.prediction.score, **base))
    if output.live is not None:
        points.append(point(LIVE_METRIC, output.live.value, **base))
        points.append(point(LABELLED_ROWS, output.live.labelled_rows, **base))
    return points
