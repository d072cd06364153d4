"""ValidateData: check the exact uploaded version against its contract.

The object is streamed through the validator (:func:`modelrail.validation.validate_stream`),
never held whole in the Lambda; its true size comes from ``HeadObject``, and an
oversized object is rejected without a byte read.

Valid: the exact version is copied server-side (``CopyObject``), content-addressed, to
the artifacts bucket (SageMaker channels cannot name an S3 object version, so training
reads this snapshot) and the report is stored beside them. Invalid: the exact version is copied to quarantine/ with
its report and the step fails with a message that names every problem. The uploaded
object is never modified or deleted.
"""

from __future__ import annotations

import io
import json
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from modelrail.layout import dataset_folder, quarantine_folder
from modelrail.steps.contracts import UnknownModel, contract_for
from modelrail.steps.models import DatasetRef, PipelineInput, ValidationOutput
from modelrail.validation import DataValidationError, ValidationReport, validate_stream

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


__all__ = ["UnknownModel", "contract_for", "run_validation"]

MAX_COPY_OBJECT_BYTES = 5 * 1024**3
"""``CopyObject`` copies at most 5 GiB; a larger snapshot is a managed multipart copy."""


def run_validation(
    request: PipelineInput,
    *,
    s3: S3Client,
    contracts_dir: Path,
    artifacts_bucket: str,
) -> ValidationOutput:
    contract = contract_for(request.model, contracts_dir)
    version: dict[str, Any] = {"VersionId": request.version_id} if request.version_id else {}
    head = s3.head_object(Bucket=request.bucket, Key=request.key, **version)
    size, etag = head["ContentLength"], head["ETag"]  # the snapshot is these very bytes
    filename = posixpath.basename(request.key)
    limits = contract.validation_limits()
    if size > contract.max_bytes or size == 0:  # rejected on its size: nothing to read
        report = validate_stream(
            io.BytesIO(), filename=filename, size=size, contract=contract, limits=limits
        )
    else:
        got = s3.get_object(Bucket=request.bucket, Key=request.key, IfMatch=etag, **version)
        body = got["Body"]
        with body:
            report = validate_stream(
                cast(BinaryIO, body), filename=filename, size=size, contract=contract, limits=limits
            )
    if not report.ok:
        _quarantine(request, report, s3=s3)
        raise DataValidationError(report)

    folder = dataset_folder(request.model, report.sha256)
    suffix = posixpath.splitext(filename)[1].lower() or ".csv"
    snapshot = f"{folder}data/train{suffix}"
    _copy(request, size, etag, s3=s3, bucket=artifacts_bucket, key=snapshot)
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


def _source(request: PipelineInput) -> dict[str, str]:
    source = {"Bucket": request.bucket, "Key": request.key}
    if request.version_id:
        source["VersionId"] = request.version_id
    return source


def _copy(
    request: PipelineInput, size: int, etag: str, *, s3: S3Client, bucket: str, key: str
) -> None:
    """The exact validated bytes, copied server-side: they never pass through the Lambda."""
    source: Any = _source(request)
    if size <= MAX_COPY_OBJECT_BYTES:
        s3.copy_object(Bucket=bucket, Key=key, CopySource=source, CopySourceIfMatch=etag)
    else:  # CreateMultipartUpload, UploadPartCopy..., CompleteMultipartUpload
        s3.copy(source, bucket, key, ExtraArgs={"CopySourceIfMatch": etag})


def _quarantine(request: PipelineInput, report: ValidationReport, *, s3: S3Client) -> None:
    folder = quarantine_folder(request.model, request.version_id)
    s3.copy_object(
        Bucket=request.bucket,
        Key=folder + posixpath.basename(request.key),
        CopySource=_source(request),  # type: ignore[arg-type]
        MetadataDirective="COPY",
    )
    s3.put_object(
        Bucket=request.bucket,
        Key=folder + "report.json",
        Body=json.dumps(report.to_json(), indent=2).encode(),
        ContentType="application/json",
    )
