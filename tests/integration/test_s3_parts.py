"""Multipart uploads through the seams of modelrail.local.s3_parts against moto without them.

Each scenario runs twice, on fresh moto backends: once as moto is, once with the seams
installed; what the S3 API shows must be the same (bytes, ETag, size, checksum, errors).
"""

from __future__ import annotations

import gc
import hashlib
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from modelrail.local import cloud, s3_parts

BUCKET = "modelrail-parts-test"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def _both(scenario: Callable[[Any], Any]) -> tuple[Any, Any]:
    """``scenario(s3)`` on moto as it is, then with the seams."""
    results = []
    for patched in (False, True):
        with mock_aws():
            undo = s3_parts.install() if patched else (lambda: None)
            try:
                s3 = cloud.upload_client("us-east-1")
                s3.create_bucket(Bucket=BUCKET)
                s3.put_bucket_versioning(
                    Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
                )
                results.append(scenario(s3))
            finally:
                undo()
    return results[0], results[1]


def _parts(sizes: list[int], seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for size in sizes]


def _upload(s3: Any, parts: list[bytes], key: str = "k", **create: Any) -> tuple[str, list[Any]]:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
    listed = []
    for number, body in enumerate(parts, start=1):
        sent = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body)
        listed.append({"PartNumber": number, "ETag": sent["ETag"]})
    return upload, listed


def _complete(s3: Any, upload: str, listed: list[Any], key: str = "k") -> Any:
    return s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": listed}
    )


def _shown(s3: Any, key: str = "k") -> dict[str, Any]:
    """The object as the API shows it (the version id is random; only its presence)."""
    got = s3.get_object(Bucket=BUCKET, Key=key)
    attributes = s3.get_object_attributes(
        Bucket=BUCKET, Key=key, ObjectAttributes=["ETag", "Checksum", "ObjectSize"]
    )
    return {
        "sha256": hashlib.sha256(got["Body"].read()).hexdigest(),
        "etag": got["ETag"],
        "size": got["ContentLength"],
        "versioned": bool(got.get("VersionId")),
        "attributes": {k: attributes.get(k) for k in ("ETag", "Checksum", "ObjectSize")},
        "metadata": got["Metadata"],
    }


CHECKSUMS: list[dict[str, str]] = [
    {},  # moto's default: a full-object CRC64NVME (a CRC-32 without awscrt)
    {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"},
    {"ChecksumAlgorithm": "CRC32"},  # composite
    {"ChecksumAlgorithm": "SHA256"},  # composite
]


@pytest.mark.parametrize("create", CHECKSUMS, ids=lambda c: "-".join(c.values()) or "default")
def test_a_multipart_object_is_what_moto_makes_of_it(create: dict[str, str]) -> None:
    parts = _parts([5 * MIB, 6 * MIB + 7, 123_457])

    def scenario(s3: Any) -> dict[str, Any]:
        upload, listed = _upload(s3, parts, Metadata={"m": "v"}, **create)
        completed = _complete(s3, upload, listed)
        return {**_shown(s3), "completed_etag": completed["ETag"]}

    plain, patched = _both(scenario)
    assert patched == plain
    # and what S3 documents: the bytes in order; md5 of the parts' md5s, "-" and their count
    md5s = b"".join(hashlib.md5(part).digest() for part in parts)
    assert patched["etag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert patched["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    assert patched["size"] == sum(map(len, parts)) and patched["versioned"]


def test_an_overwritten_part_and_a_single_small_part_are_what_moto_makes_of_them() -> None:
    first, second = _parts([5 * MIB, 5 * MIB], seed=1)

    def scenario(s3: Any) -> list[dict[str, Any]]:
        upload, listed = _upload(s3, [first, first])
        again = s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload, PartNumber=2, Body=second)
        _complete(s3, upload, [listed[0], {"PartNumber": 2, "ETag": again["ETag"]}])
        small, small_listed = _upload(s3, [b"tiny"], key="small")
        _complete(s3, small, small_listed, key="small")
        return [_shown(s3), _shown(s3, "small")]

    plain, patched = _both(scenario)
    assert patched == plain
    assert patched[0]["sha256"] == hashlib.sha256(first + second).hexdigest()


def _wrong_order(listed: list[Any]) -> list[Any]:
    return [listed[1], listed[0], listed[2]]


def _missing_part(listed: list[Any]) -> list[Any]:
    return [listed[0], {"PartNumber": 4, "ETag": listed[1]["ETag"]}, listed[2]]


def _wrong_etag(listed: list[Any]) -> list[Any]:
    return [listed[0], {"PartNumber": 2, "ETag": listed[0]["ETag"]}, listed[2]]


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (_missing_part, "InvalidPart"),
        (_wrong_etag, "InvalidPart"),
    ],
)
def test_a_bad_part_list_fails_as_moto_fails_and_the_upload_can_still_complete(
    mangle: Callable[[list[Any]], list[Any]], code: str
) -> None:
    parts = _parts([5 * MIB, 5 * MIB, 1000], seed=2)

    def scenario(s3: Any) -> tuple[str, dict[str, Any]]:
        upload, listed = _upload(s3, parts)
        with pytest.raises(ClientError) as failed:
            _complete(s3, upload, mangle(listed))
        _complete(s3, upload, listed)
        return failed.value.response["Error"]["Code"], _shown(s3)

    plain, patched = _both(scenario)
    assert patched == plain
    assert patched[0] == code
    assert patched[1]["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()


@pytest.mark.parametrize("numbers", [[2, 1, 3], [1, 1, 2, 3]])
def test_parts_out_of_order_are_invalid_part_order_as_on_s3(numbers: list[int]) -> None:
    """moto accepts them (its check of the order never advances) and joins the parts in
    the order listed; S3 refuses them, and so does the local cloud."""
    parts = _parts([5 * MIB, 5 * MIB, 1000], seed=4)

    def scenario(s3: Any) -> str:
        upload, listed = _upload(s3, parts)
        try:
            _complete(s3, upload, [listed[n - 1] for n in numbers])
        except ClientError as failed:
            return str(failed.response["Error"]["Code"])
        return "completed"

    plain, patched = _both(scenario)
    assert (plain, patched) == ("completed", "InvalidPartOrder")


def test_a_small_part_before_the_last_is_entity_too_small() -> None:
    parts = _parts([5 * MIB, 1000, 5 * MIB], seed=3)

    def scenario(s3: Any) -> str:
        upload, listed = _upload(s3, parts)
        with pytest.raises(ClientError) as failed:
            _complete(s3, upload, listed)
        return str(failed.value.response["Error"]["Code"])

    assert _both(scenario) == ("EntityTooSmall", "EntityTooSmall")


def test_a_large_put_object_is_stored_on_disk_with_its_md5_etag() -> None:
    body = os.urandom(7 * MIB)

    def scenario(s3: Any) -> dict[str, Any]:
        s3.put_object(Bucket=BUCKET, Key="k", Body=body)
        return _shown(s3)

    plain, patched = _both(scenario)
    assert patched == plain
    assert patched["etag"] == f'"{hashlib.md5(body).hexdigest()}"'


@pytest.mark.parametrize("multipart", [False, True])
def test_a_copy_is_what_moto_makes_of_it(multipart: bool) -> None:
    parts = _parts([5 * MIB, 2 * MIB], seed=5)

    def scenario(s3: Any) -> dict[str, Any]:
        if multipart:
            upload, listed = _upload(s3, parts, Metadata={"m": "v"})
            _complete(s3, upload, listed)
        else:
            s3.put_object(Bucket=BUCKET, Key="k", Body=b"".join(parts), Metadata={"m": "v"})
        copied = s3.copy_object(
            Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "k"}
        )
        # the copy shares the source's files: it outlives the source, deleted and disposed of
        source = _stored("k")
        for version in s3.list_object_versions(Bucket=BUCKET, Prefix="k")["Versions"]:
            s3.delete_object(Bucket=BUCKET, Key="k", VersionId=version["VersionId"])
        source.dispose()
        return {**_shown(s3, "copy"), "copied_etag": copied["CopyObjectResult"]["ETag"]}

    plain, patched = _both(scenario)
    assert patched == plain
    assert patched["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()


def test_the_seams_are_installed_once_and_removed_with_the_last_user() -> None:
    from moto.s3.models import FakeMultipart

    original = FakeMultipart.complete
    first, second = s3_parts.install(), s3_parts.install()
    assert FakeMultipart.complete is not original
    first()
    assert FakeMultipart.complete is not original
    second()
    assert FakeMultipart.complete is original


def test_an_in_process_request_is_freed_when_its_call_returns() -> None:
    """Not at the next garbage collection (werkzeug's request -> environ -> request
    cycle): otherwise every part of an upload stays in memory until the upload ends."""
    from moto.core.request import Request

    def survivors(s3: Any) -> int:
        gc.collect()
        gc.disable()
        try:
            s3.put_object(Bucket=BUCKET, Key="k", Body=b"x" * MIB)
            return sum(isinstance(o, Request) for o in gc.get_objects())
        finally:
            gc.enable()

    plain, patched = _both(survivors)
    assert plain > 0 and patched == 0


RANGES = ["bytes=0-99", "bytes=5242000-5243000", "bytes=-1000", "bytes=7000000-", "bytes=0-"]
ACROSS_PARTS = [
    "bytes=5242870-5242890",
    "bytes=5000000-11534349",
    "bytes=-200000",
    "bytes=11534330-",
]


def _reads(s3: Any, multipart: bool = False) -> list[Any]:
    if multipart:  # stored as its parts' files: ranges read across them
        parts = _parts([5 * MIB, 6 * MIB + 7, 123_457], seed=7)
        upload, listed = _upload(s3, parts, Metadata={"m": "v"})
        _complete(s3, upload, listed)
    else:
        body = _parts([7 * MIB + 3], seed=6)[0]  # on disk in moto: read from its file
        s3.put_object(Bucket=BUCKET, Key="k", Body=body, Metadata={"m": "v"})
    got = s3.get_object(Bucket=BUCKET, Key="k")
    whole = b"".join(got["Body"].iter_chunks(1 << 20))
    shown = [hashlib.sha256(whole).hexdigest(), got["ContentLength"], got["ETag"], got["Metadata"]]
    for spec in RANGES + (ACROSS_PARTS if multipart else []):
        part = s3.get_object(Bucket=BUCKET, Key="k", Range=spec)
        shown.append((spec, part["ContentRange"], part["ContentLength"], part["Body"].read()))
    with pytest.raises(ClientError) as beyond:
        s3.get_object(Bucket=BUCKET, Key="k", Range="bytes=19000000-")
    return [*shown, beyond.value.response["Error"]["Code"]]


@pytest.mark.parametrize("multipart", [False, True])
def test_get_object_reads_a_large_object_from_its_file_as_moto_answers(multipart: bool) -> None:
    plain, patched = _both(lambda s3: _reads(s3, multipart))
    assert patched == plain
    assert patched[-1] == "InvalidRange"


def test_get_object_over_the_loopback_server_is_what_moto_serves() -> None:
    """Other processes (the Lambda workers) read through moto's server."""

    def served(s3: Any) -> list[Any]:
        server, url = cloud.loopback_server()
        try:
            client = boto3.client("s3", region_name="us-east-1", endpoint_url=url)
            return _reads(client) + _reads(client, multipart=True)
        finally:
            server.stop()

    plain, patched = _both(served)
    assert patched == plain


def _stored(key: str = "k") -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(BUCKET, key)


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors (Linux)")
def test_an_upload_is_stored_as_its_parts_files_until_moto_disposes_of_it() -> None:
    """No byte is copied when the upload completes: the object reads its parts where
    they were written, in the upload's few files, which a copy shares; they are closed
    when moto has disposed of both (moto tracks every key it made, deleted or not, until its
    backends are reset)."""
    parts = _parts([5 * MIB, 6 * MIB + 7, 123_457], seed=8)

    def scenario(s3: Any) -> list[Any]:
        gc.collect()
        before = _descriptors()
        upload, listed = _upload(s3, parts)
        _complete(s3, upload, listed)
        s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "k"})
        stored = [type(_stored(key)._value_buffer).__name__ for key in ("k", "copy")]
        return [stored, _descriptors() - before]

    gc.collect()
    before = _descriptors()
    plain, patched = _both(scenario)
    gc.collect()
    assert _descriptors() == before  # all closed with the backends
    assert patched == [["StoredParts", "StoredParts"], 3]  # the upload's: one a part, up to 4
    assert plain == [["SpooledTemporaryFile", "SpooledTemporaryFile"], 2]


def test_segments_read_any_range_across_their_pieces(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"..abc....defghi.")
    file = s3_parts._File(os.open(path, os.O_RDONLY))
    fd = file.fd
    pieces = [(file, 2, 3), (file, 0, 0), (file, 9, 5), (file, 14, 1), (file, 15, 0)]
    segments = s3_parts.Segments(pieces)
    whole = b"abcdefghi"
    assert len(segments) == len(whole)
    for start in range(len(whole) + 2):
        for count in range(len(whole) + 2):
            assert segments.read_at(start, count) == whole[start : start + count], (start, count)
    stored = s3_parts.StoredParts(segments)
    assert stored.read(4) == b"abcd" and stored.tell() == 4
    stored.seek(-2, os.SEEK_END)
    assert stored.read() == b"hi"
    stored.seek(1)
    assert stored.read() == whole[1:]
    stored.close()
    with pytest.raises(ValueError):
        stored.read()
    os.fstat(fd)  # still open: the segments hold the file
    del file, pieces, segments
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the last holder
