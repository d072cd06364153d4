"""PrepareData: everything the training job needs besides the data itself.

* The champion for the comparison on the same holdout: its ``model.tar.gz`` is copied
  into this run's ``champion`` channel with ``champion.json`` (its version); with no
  champion the channel holds a ``NONE`` marker, so the channel always exists and the
  state machine needs no second Train state.
* The baseline profile of the validated snapshot, streamed a few columns at a time
  (:func:`modelrail.profile.build_profile_streamed`; quantile bins and category counts for
  later drift checks, plus Model Monitor-shaped ``statistics.json``/``constraints.json``),
  stored beside the snapshot and recorded in the version's lineage.
* The hyperparameter search request when the contract asks for one (modelrail.tuning).
* The training job's name, which carries the environment (modelrail.naming).
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, BinaryIO, cast

import pandas as pd

from modelrail.columns import CsvColumns, ParquetColumns
from modelrail.contract import ModelContract
from modelrail.naming import training_job_name
from modelrail.profile import (
    build_profile_streamed,
    profile_json,
    to_constraints_json,
    to_statistics_json,
)
from modelrail.registry import AliasName, ModelRegistry
from modelrail.steps.gate import split_s3_uri
from modelrail.steps.models import PrepareInput, PrepareOutput
from modelrail.tuning import tuning_request

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def read_frame(data: bytes, key: str) -> pd.DataFrame:
    """The whole dataset in memory, as pandas reads it (small data and tests)."""
    if key.lower().endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_csv(io.BytesIO(data), low_memory=False)


def _columns(s3: S3Client, bucket: str, key: str) -> CsvColumns | ParquetColumns:
    """The snapshot, streamed from S3 again for each pass of the profile."""

    def open_stream() -> BinaryIO:
        return cast(BinaryIO, s3.get_object(Bucket=bucket, Key=key)["Body"])

    if key.lower().endswith(".parquet"):
        return ParquetColumns(open_stream)
    return CsvColumns(open_stream)


def run_prepare(
    request: PrepareInput,
    *,
    contract: ModelContract,
    registry: ModelRegistry,
    s3: S3Client,
    artifacts_bucket: str,
    environment: str,
) -> PrepareOutput:
    run_prefix = f"runs/{request.model}/{request.execution_name}/"
    champion_prefix = f"{run_prefix}champion/"
    champion = registry.resolve_alias(request.model, AliasName.CHAMPION)
    if champion is None:
        s3.put_object(Bucket=artifacts_bucket, Key=f"{champion_prefix}NONE", Body=b"no champion\n")
    else:
        bucket, key = split_s3_uri(champion.lineage.model_artifact_uri)
        s3.copy_object(
            Bucket=artifacts_bucket,
            Key=f"{champion_prefix}model.tar.gz",
            CopySource={"Bucket": bucket, "Key": key},
        )
        s3.put_object(
            Bucket=artifacts_bucket,
            Key=f"{champion_prefix}champion.json",
            Body=json.dumps({"model": champion.model, "version": champion.version}).encode(),
        )

    # The snapshot ValidateData wrote: datasets/<model>/<sha>/data/train.<ext>
    train_bucket, train_prefix = split_s3_uri(request.validation.train_uri)
    listing = s3.list_objects_v2(Bucket=train_bucket, Prefix=train_prefix).get("Contents", [])
    if len(listing) != 1:
        raise ValueError(
            f"expected one validated snapshot under {request.validation.train_uri}, found {len(listing)}"
        )
    key = listing[0]["Key"]
    profile = build_profile_streamed(
        _columns(s3, train_bucket, key),
        contract,
        rows=request.validation.dataset.rows,
        dataset_sha256=request.validation.dataset.sha256,
    )
    folder = train_prefix.rstrip("/").rsplit("/", 1)[0] + "/"  # datasets/<model>/<sha>/
    for name, body in (
        ("profile.json", profile_json(profile)),
        ("statistics.json", json.dumps(to_statistics_json(profile), indent=2).encode()),
        ("constraints.json", json.dumps(to_constraints_json(profile), indent=2).encode()),
    ):
        s3.put_object(
            Bucket=train_bucket, Key=folder + name, Body=body, ContentType="application/json"
        )
    return PrepareOutput.model_validate(
        {
            "trainingJobName": training_job_name(
                environment, request.model, request.execution_name
            ),
            "championUri": f"s3://{artifacts_bucket}/{champion_prefix}",
            "championVersion": champion.version if champion else None,
            "profileUri": f"s3://{train_bucket}/{folder}profile.json",
            "fingerprint": profile.fingerprint,
            "tuning": tuning_request(contract, request.execution_name, environment=environment),
        }
    )
