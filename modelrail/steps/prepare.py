"""PrepareData: everything the training job needs besides the data itself.

* The reference for the comparison on the same holdout (modelrail.release: the champion,
  or the pending champion on its way to replace it): its ``model.tar.gz`` is copied into
  this run's ``champion`` channel with ``champion.json`` (its version); with no reference
  the channel holds a ``NONE`` marker, so the channel always exists and the state machine
  needs no second Train state. Which version and why is returned as ``comparedWith``.
* The baseline profile of the validated snapshot, streamed in one read, its columns
  spilled to /tmp (:func:`modelrail.profile.build_profile_streamed`; quantile bins and category counts for
  later drift checks, plus Model Monitor-shaped ``statistics.json``/``constraints.json``),
  stored beside the snapshot and recorded in the version's lineage.
* The hyperparameter search request when the contract asks for one (modelrail.tuning).
* The training job's name, which carries the environment (modelrail.naming).
* The training job's instance and volume, from the snapshot's size (modelrail.sizing).

A dataset validated by the Processing job arrives with its profile already built
(``validation.profile``): it is reused, never rebuilt here, since a dataset that needed
the job does not fit this function either.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, BinaryIO, cast

from botocore.exceptions import ClientError

from modelrail.columns import CsvColumns, ParquetColumns
from modelrail.contract import ModelContract
from modelrail.dataset_job import profile_files, read_frame
from modelrail.layout import run_channel
from modelrail.naming import training_job_name
from modelrail.profile import build_profile_streamed
from modelrail.registry import ModelRegistry, ModelVersion
from modelrail.release import comparison_reference
from modelrail.sizing import SizeBand, training_resources
from modelrail.steps.gate import split_s3_uri
from modelrail.steps.models import PrepareInput, PrepareOutput
from modelrail.tuning import tuning_request

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["read_frame", "run_prepare"]


def round_name(execution_name: str, round_number: int) -> str:
    """The name a round's jobs and run folder derive from: the execution's own name for the
    first round, ``<execution>-r<N>`` for a re-judgement (job names must be new)."""
    return execution_name if round_number == 1 else f"{execution_name}-r{round_number}"


def _columns(s3: S3Client, bucket: str, key: str) -> CsvColumns | ParquetColumns:
    """The snapshot, streamed from S3 for the profile's one pass."""

    def open_stream() -> BinaryIO:
        return cast(BinaryIO, s3.get_object(Bucket=bucket, Key=key)["Body"])

    if key.lower().endswith(".parquet"):
        return ParquetColumns(open_stream)
    return CsvColumns(open_stream)


def _reference_channel(
    s3: S3Client, artifacts_bucket: str, prefix: str, champion: ModelVersion | None
) -> None:
    """The comparison channel: the reference's model and its version, or a NONE marker."""
    if champion is None:
        s3.put_object(Bucket=artifacts_bucket, Key=f"{prefix}NONE", Body=b"no champion\n")
        return
    bucket, key = split_s3_uri(champion.lineage.model_artifact_uri)
    s3.copy_object(
        Bucket=artifacts_bucket,
        Key=f"{prefix}model.tar.gz",
        CopySource={"Bucket": bucket, "Key": key},
    )
    s3.put_object(
        Bucket=artifacts_bucket,
        Key=f"{prefix}champion.json",
        Body=json.dumps({"model": champion.model, "version": champion.version}).encode(),
    )


def _baseline(
    request: PrepareInput, contract: ModelContract, s3: S3Client, bucket: str, key: str
) -> tuple[str, str]:
    """(profile URI, fingerprint) of the snapshot: the one the dataset job built, the one
    an earlier round of this run stored, or a new one, streamed."""
    built = request.validation.profile
    if built is not None:
        return built.uri, built.fingerprint
    folder = key.rsplit("/", 2)[0] + "/"  # datasets/<model>/<sha>/ (key: .../data/train.csv)
    uri = f"s3://{bucket}/{folder}profile.json"
    if request.round > 1:  # judged again (modelrail.release): round 1 stored it
        stored = _stored_fingerprint(s3, bucket, folder + "profile.json")
        if stored is not None:
            return uri, stored
    profile = build_profile_streamed(
        _columns(s3, bucket, key),
        contract,
        rows=request.validation.dataset.rows,
        dataset_sha256=request.validation.dataset.sha256,
    )
    for name, body in profile_files(profile).items():
        s3.put_object(Bucket=bucket, Key=folder + name, Body=body, ContentType="application/json")
    return uri, profile.fingerprint


def _stored_fingerprint(s3: S3Client, bucket: str, key: str) -> str | None:
    try:
        stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return str(json.loads(stored)["fingerprint"])


def run_prepare(
    request: PrepareInput,
    *,
    contract: ModelContract,
    registry: ModelRegistry,
    s3: S3Client,
    artifacts_bucket: str,
    environment: str,
    size_bands: tuple[SizeBand, ...],
) -> PrepareOutput:
    run = round_name(request.execution_name, request.round)
    champion_prefix = run_channel(request.model, run, "champion")
    reference = comparison_reference(registry, request.model)
    _reference_channel(s3, artifacts_bucket, champion_prefix, reference.version)

    # The snapshot ValidateData wrote: datasets/<model>/<sha>/data/train.<ext>
    train_bucket, train_prefix = split_s3_uri(request.validation.train_uri)
    listing = s3.list_objects_v2(Bucket=train_bucket, Prefix=train_prefix).get("Contents", [])
    if len(listing) != 1:
        raise ValueError(
            f"expected one validated snapshot under {request.validation.train_uri}, found {len(listing)}"
        )
    key, size = listing[0]["Key"], listing[0]["Size"]
    profile_uri, fingerprint = _baseline(request, contract, s3, train_bucket, key)
    return PrepareOutput.model_validate(
        {
            "trainingJobName": training_job_name(environment, request.model, run),
            "championUri": f"s3://{artifacts_bucket}/{champion_prefix}",
            "championVersion": reference.number,
            "comparedWith": reference.compared_with().model_dump(mode="json"),
            "profileUri": profile_uri,
            "fingerprint": fingerprint,
            "tuning": tuning_request(contract, run, environment=environment),
            "resources": training_resources(size, size_bands).to_json(),
            "holdoutRows": 0 if request.retrain is None else request.retrain.holdout_rows,
        }
    )
