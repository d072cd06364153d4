"""Validate and profile one uploaded dataset inside a SageMaker Processing job.

The pipeline sends an upload larger than its environment's ``processing_threshold_bytes``
here instead of to the ValidateData and PrepareData Lambdas (D42). The job runs the same
validation and profile code and leaves the same files behind:

* valid: ``<dataset>/data/<name>`` (the snapshot training reads), ``validation.json``,
  ``profile.json``, ``statistics.json`` and ``constraints.json`` in the ``dataset``
  output folder;
* invalid: the upload's bytes and ``report.json`` in the ``quarantine`` output folder.

Either way it exits 0: bad data is a verdict, not a broken job. The verdict is the
job's exit message (``/opt/ml/output/message``, DescribeProcessingJob's ``ExitMessage``,
at most 1 KB), a JSON object the state machine reads: ``{"ok": true, "sha256", "rows",
"warnings", "fingerprint"}`` or ``{"ok": false, "summary"}``. A job that cannot judge the
data at all (no input file, an unknown contract) exits non-zero with the reason in the
same file, and the pipeline fails at that state as for any other job failure.

No AWS calls: SageMaker downloads the input and uploads the output folders.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from modelrail.contract import ModelContract
from modelrail.profile import (
    DEFAULT_BINS,
    BaselineProfile,
    profile_json,
    to_constraints_json,
    to_statistics_json,
)
from modelrail.profile_stream import ProfileBuilder
from modelrail.validation import ValidationReport, validate_stream

#: DescribeProcessingJob keeps the first 1024 bytes of the exit message.
EXIT_MESSAGE_LIMIT = 1024


class JobInputError(ValueError):
    """The job cannot judge the data: its input is missing or not what was asked for."""


@dataclass(frozen=True)
class JobPaths:
    """The container's folders (``/opt/ml/processing/...`` on SageMaker)."""

    input_dir: Path
    dataset_dir: Path
    quarantine_dir: Path
    message_file: Path


@dataclass(frozen=True)
class Checked:
    report: ValidationReport
    profile: BaselineProfile | None  # None when the data is invalid


def read_frame(data: bytes, filename: str) -> pd.DataFrame:
    if filename.lower().endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data), low_memory=False)


def validate_and_profile(
    path: Path, *, filename: str, contract: ModelContract, workdir: Path | None = None
) -> Checked:
    """The one adapter to the validation and profile API: one streamed read of the file
    serves both (the profile is built from the batches validation parses and spills its
    columns under ``workdir``), so the job's memory does not bound the dataset (D43, D44)."""
    parquet = filename.lower().endswith(".parquet")
    with ProfileBuilder(
        contract, infer_text=not parquet, bins=DEFAULT_BINS, workdir=workdir
    ) as builder:
        with path.open("rb") as stream:
            report = validate_stream(
                stream,
                filename=filename,
                size=path.stat().st_size,
                contract=contract,
                limits=contract.validation_limits(),
                sink=builder.add,
                workdir=workdir,
            )
        if not report.ok:
            return Checked(report, None)
        profile = builder.finish(rows=report.rows, dataset_sha256=report.sha256)
    return Checked(report, profile)


def profile_files(profile: BaselineProfile) -> dict[str, bytes]:
    """The baseline files stored beside a validated snapshot (PrepareData writes the same)."""
    return {
        "profile.json": profile_json(profile),
        "statistics.json": json.dumps(to_statistics_json(profile), indent=2).encode(),
        "constraints.json": json.dumps(to_constraints_json(profile), indent=2).encode(),
    }


def find_input(input_dir: Path, filename: str, *, expected_size: int | None) -> Path:
    """The upload among the downloaded objects. The input is an S3 prefix (a channel cannot
    name an object version), so a key that extends the upload's key may come along; and the
    size recorded at upload time guards against the key having been overwritten since."""
    path = input_dir / filename
    if not path.is_file():
        found = sorted(p.name for p in input_dir.rglob("*") if p.is_file())
        raise JobInputError(f"{filename!r} is not in the job's input (found {found[:5]})")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise JobInputError(
            f"{filename!r} is {size:,} bytes, the upload was {expected_size:,} bytes: "
            "the key was overwritten after the upload; the newer version starts its own run"
        )
    return path


def exit_message(verdict: dict[str, object]) -> str:
    """``verdict`` as JSON within the exit message's 1 KB: warnings are dropped from the
    end, then the summary is cut (the full report is in S3)."""
    body = dict(verdict)
    text = json.dumps(body, separators=(",", ":"))
    warnings = list(body.get("warnings", []))  # type: ignore[call-overload]
    while len(text.encode()) > EXIT_MESSAGE_LIMIT and warnings:
        warnings.pop()
        body["warnings"] = warnings
        text = json.dumps(body, separators=(",", ":"))
    if len(text.encode()) > EXIT_MESSAGE_LIMIT and isinstance(body.get("summary"), str):
        summary = str(body["summary"])
        over = len(text.encode()) - EXIT_MESSAGE_LIMIT
        body["summary"] = summary[: max(0, len(summary) - over - 3)] + "..."
        text = json.dumps(body, separators=(",", ":"))
    return text


def run_job(
    paths: JobPaths,
    *,
    contract: ModelContract,
    filename: str,
    expected_size: int | None = None,
) -> dict[str, object]:
    """Judge the input, write the output folders and the exit message; return the verdict."""
    source = find_input(paths.input_dir, filename, expected_size=expected_size)
    # the spill beside the input: on the job's volume (processing_volume_gb), not in /tmp
    checked = validate_and_profile(
        source, filename=filename, contract=contract, workdir=source.parent
    )
    report = checked.report
    report_bytes = json.dumps(report.to_json(), indent=2).encode()
    verdict: dict[str, object]
    if checked.profile is None:
        paths.quarantine_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, paths.quarantine_dir / filename)
        (paths.quarantine_dir / "report.json").write_bytes(report_bytes)
        verdict = {"ok": False, "summary": report.summary()}
    else:
        data_dir = paths.dataset_dir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        suffix = Path(filename).suffix.lower() or ".csv"
        shutil.copyfile(source, data_dir / f"train{suffix}")
        (paths.dataset_dir / "validation.json").write_bytes(report_bytes)
        for name, body in profile_files(checked.profile).items():
            (paths.dataset_dir / name).write_bytes(body)
        verdict = {
            "ok": True,
            "sha256": report.sha256,
            "rows": report.rows,
            "fingerprint": checked.profile.fingerprint,
            "warnings": [v.message for v in report.warnings],
        }
    write_message(paths.message_file, exit_message(verdict))
    return verdict


def write_message(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
