"""ValidateData: check the exact uploaded version against its contract.

Valid: the bytes are copied, content-addressed, to the artifacts bucket (SageMaker
channels cannot name an S3 object version, so training reads this snapshot) and the
report is stored beside them. Invalid: the exact version is copied to quarantine/ with
its report and the step fails with a message that names every problem. The uploaded
object is never modified or deleted.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelrail.steps.contracts import UnknownModel, contract_for
from modelrail.steps.models import DatasetRef, PipelineInput, ValidationOutput
from modelrail.validation import DataValidationError, ValidationReport, validate_dataset

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


__all__ = ["UnknownModel", "contract_for", "quarantine_prefix", "run_validation"]


def quarantine_prefix(prefix: str, request: PipelineInput) -> str:
    return f"{prefix}{request.model}/{request.version_id or 'null'}/"


def run_validation(
    request: PipelineInput,
    *,
    s3: S3Client,
    contracts_dir: Path,
    artifacts_bucket: str,
    quarantine: str,
) -> ValidationOutput:
    contract = contract_for(request.model, contracts_dir)
    version: dict[str, Any] = {"VersionId": request.version_id} if request.version_id else {}
    size = s3.head_object(Bucket=request.bucket, Key=request.key, **version)["ContentLength"]
    if size > contract.max_bytes:
        # Never pull an oversized object into Lambda: one byte past the limit is enough
        # for the validator to reject it on size.
        version["Range"] = f"bytes=0-{contract.max_bytes}"
    data = s3.get_object(Bucket=request.bucket, Key=request.key, **version)["Body"].read()
    filename = posixpath.basename(request.key)
    report = validate_dataset(
        data, filename=filename, contract=contract, limits=contract.validation_limits()
    )
    if not report.ok:
        _quarantine(request, report, s3=s3, prefix=quarantine)
        raise DataValidationError(report)

    folder = f"datasets/{request.model}/{report.sha256}/"
    suffix = posixpath.splitext(filename)[1].lower() or ".csv"
    s3.put_object(Bucket=artifacts_bucket, Key=f"{folder}data/train{suffix}", Body=data)
    report_key = f"{folder}validation.json"
    s3.put_object(
        Bucket=artifacts_bucket,
        Key=report_key,
        Body=json.dumps(report.to_json(), indent=2).encode(),
        ContentType="application/json",
    )
    return ValidationOutput.model_validate(
        {
            "model": request.model,
            "dataset": DatasetRef.model_validate(
                {
                    "bucket": request.bucket,
                    "key": request.key,
                    "versionId": request.version_id,
                    "sha256": report.sha256,
                    "rows": report.rows,
                    "sizeBytes": size,
                }
            ),
            "trainUri": f"s3://{artifacts_bucket}/{folder}data/",
            "reportUri": f"s3://{artifacts_bucket}/{report_key}",
            "warnings": [v.message for v in report.violations if v.severity == "warning"],
        }
    )


def _quarantine(
    request: PipelineInput, report: ValidationReport, *, s3: S3Client, prefix: str
) -> None:
    folder = quarantine_prefix(prefix, request)
    source = {"Bucket": request.bucket, "Key": request.key}
    if request.version_id:
        source["VersionId"] = request.version_id
    s3.copy_object(
        Bucket=request.bucket,
        Key=folder + posixpath.basename(request.key),
        CopySource=source,  # type: ignore[arg-type]
        MetadataDirective="COPY",
    )
    s3.put_object(
        Bucket=request.bucket,
        Key=folder + "report.json",
        Body=json.dumps(report.to_json(), indent=2).encode(),
        ContentType="application/json",
    )
