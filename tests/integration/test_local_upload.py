"""The local uploader: one PutObject for a small file, a managed multipart upload for a large one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.local import cloud, s3_parts

BUCKET = "modelrail-upload-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        undo = s3_parts.install()  # as the local cloud has it
        client = cloud.upload_client("us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
        undo()


def _calls(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.s3.*", lambda model, **k: calls.append(model.name))
    return calls


def test_a_small_file_is_one_put_and_names_its_version(s3: Any, tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_bytes(b"a,b\n1,2\n")
    calls = _calls(s3)
    version = cloud.upload_file(s3, path, BUCKET, "incoming/m/small.csv", {"k": "v"})
    assert calls == ["PutObject"]
    head = boto3.client("s3", region_name="us-east-1").head_object(
        Bucket=BUCKET, Key="incoming/m/small.csv"
    )
    assert head["VersionId"] == version and head["Metadata"] == {"k": "v"}


def test_a_large_file_is_uploaded_in_parts_streamed_from_disk(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloud, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)  # S3's smallest part
    monkeypatch.setattr(cloud, "MULTIPART_CHUNKSIZE", 5 * 1024 * 1024)
    path = tmp_path / "large.csv"
    data = (b"x" * 1023 + b"\n") * (11 * 1024)  # 11 MiB: three parts
    path.write_bytes(data)
    calls = _calls(s3)
    version = cloud.upload_file(s3, path, BUCKET, "incoming/m/large.csv", {"k": "v"})
    assert sorted(set(calls)) == [
        "CompleteMultipartUpload",
        "CreateMultipartUpload",
        "HeadObject",
        "UploadPart",
    ]
    assert calls.count("UploadPart") == 3
    got = s3.get_object(Bucket=BUCKET, Key="incoming/m/large.csv", VersionId=version)
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert got["Metadata"] == {"k": "v"}
