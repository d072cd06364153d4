"""The local cloud's S3 keeps large objects on disk: parts joined by file copy, reads streamed (D45).

moto (pinned, pyproject.toml) holds an object in a ``SpooledTemporaryFile`` (a file on
disk from 5 MiB) but handles the bytes of a multipart upload in Python: each part is
written to memory and then copied to its file, read back for its MD5, and
``CompleteMultipartUpload`` joins every part in a ``bytearray`` (twice: once more for the
full-object checksum), turns both into ``bytes`` and writes the result to the object's
file. A 1 GB upload peaked at 4.8 GB and spent most of its time copying. These seams
keep what the S3 API shows (bytes, ETag, size, version, checksum, errors, events) and
change only where the bytes go:

* ``FakeKey.value`` (setter): a value larger than the key's memory buffer goes straight
  to its file; an :class:`Assembled` value (the parts of a completed upload) is copied
  part file to object file by the kernel (``os.copy_file_range``).
* ``S3Backend.copy_object``: the source's value is its file (CopyObject read the whole
  object into memory to write it to the copy's file; ValidateData snapshots by CopyObject).
* ``S3Response.get_object``: an object on disk is answered with a :class:`FileBody`,
  read from its file as it is sent (moto read the whole object into memory, and once
  more for every ranged GET); ``botocore_stubber.MockRawResponse`` reads one in process,
  the server's werkzeug response iterates it, a range slices it.
* ``FakeMultipart.set_part``: the part's MD5 (its ETag) and, when the upload's checksum
  is a full-object CRC-32, the part's CRC-32 are computed from the bytes in hand, on the
  request's thread (hashlib and zlib release the GIL, so concurrent parts hash in
  parallel), not read back from disk.
* ``FakeMultipart.complete``: moto's checks in moto's order (``InvalidPart``,
  ``EntityTooSmall``, ``MalformedXML``) and the one moto misses: part numbers out of
  order are ``InvalidPartOrder``, as on S3; the ETag from the parts' MD5s, the checksum
  as moto computes it (a full-object CRC-32 combined from the parts' CRCs), and the
  parts themselves as the value.
* ``Request.from_primitives``: an in-process request's body read once and kept as the
  request's data; werkzeug otherwise copied it into a stream and read it back 64 KiB at a
  time (not for a compressed body, which moto decompresses from the stream). And the
  request is not put in its own environ (werkzeug's debugger's entry), a reference
  cycle that kept every request and its body until the next garbage collection: all
  the parts of an upload at once.

Each is pinned by ``tests/integration/test_local_cloud_seams.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, cast

from modelrail.crc32 import crc32_combine

_CRC = "_modelrail_crc32"  # the part's CRC-32, set on moto's part key by set_part
_PROBE = b"modelrail checksum probe"
_COPY_CHUNK = 64 * 1024 * 1024
_READ_CHUNK = 8 * 1024 * 1024


class Assembled:
    """The parts of a completed multipart upload, in order, as an object's value.

    moto disposes of the parts (closes their files) when the upload is completed, before
    the object is stored: this holds its own descriptor of each part's file, closed once
    the parts are copied (or when it is collected, if the object is never stored)."""

    def __init__(self, parts: list[Any]) -> None:
        self._files: list[tuple[int, int]] = []  # (descriptor, size)
        for part in parts:
            with part.lock:
                part._value_buffer.flush()
                self._files.append((os.dup(part._value_buffer.fileno()), int(part.size)))
        self._finalizer = weakref.finalize(self, _close, [fd for fd, _ in self._files])

    def __len__(self) -> int:
        return sum(size for _, size in self._files)

    def write_into(self, buffer: Any) -> None:
        """Append the parts to ``buffer`` (a key's ``SpooledTemporaryFile``), file to file."""
        buffer.flush()
        target = buffer.fileno()  # rolls the buffer over to its file
        offset = buffer.tell()
        for source, size in self._files:
            offset += _copy_file(source, target, size, offset)
        buffer.seek(offset)
        self._finalizer()


def _close(descriptors: list[int]) -> None:
    for fd in descriptors:
        os.close(fd)


def _copy_file(source: int, target: int, size: int, at: int) -> int:
    """Copy ``size`` bytes from the start of ``source`` to ``target`` at ``at``."""
    copy_range = getattr(os, "copy_file_range", None)  # Linux; elsewhere read and write
    done = 0
    while done < size:
        count = min(size - done, _COPY_CHUNK)
        if copy_range is not None:
            copied = copy_range(source, target, count, done, at + done)
        else:
            copied = os.pwrite(target, os.pread(source, count, done), at + done)
        if copied <= 0:
            raise OSError(f"copied {done} of {size} bytes of a part")
        done += copied
    return done


# ---- checksums --------------------------------------------------------------------------
@cache
def moto_uses_crc32(algorithm: str) -> bool:
    """Whether moto's checksum of ``algorithm`` is a plain CRC-32 here (CRC32 always;
    CRC64NVME without awscrt and CRC32C without crc32c fall back to it)."""
    from moto.s3.utils import compute_checksum

    expected = zlib.crc32(_PROBE).to_bytes(4, "big")
    return bool(compute_checksum(_PROBE, algorithm, encode_base64=False) == expected)


def _checksum_builder(multipart: Any) -> Any:
    from moto.s3.models import MultipartChecksumBuilder

    metadata = multipart.metadata
    return MultipartChecksumBuilder(
        metadata.get("x-amz-checksum-algorithm"), metadata.get("x-amz-checksum-type")
    )


def _streams_crc32(builder: Any) -> bool:
    return builder.checksum_type != "COMPOSITE" and moto_uses_crc32(builder.checksum_algorithm)


def _part_crc(part: Any) -> int:
    crc = getattr(part, _CRC, None)
    if crc is None:  # a part set before the seam was installed
        crc = zlib.crc32(part.value)
    return int(crc)


def _checksum(multipart: Any, parts: list[Any]) -> tuple[str, str, int] | None:
    """What moto's MultipartChecksumBuilder gives for these parts."""
    builder = _checksum_builder(multipart)
    if not _streams_crc32(builder):
        for part in parts:  # per part (COMPOSITE), or the whole object in memory
            builder.addPart(part.value)
        result: tuple[str, str, int] | None = builder.build()
        return result
    crc = 0
    for part in parts:
        crc = crc32_combine(crc, _part_crc(part), int(part.size))
    return builder.checksum_type, base64.b64encode(crc.to_bytes(4, "big")).decode(), 1


# ---- the seams ---------------------------------------------------------------------------
def _complete(multipart: Any, body: Iterator[tuple[int, str]]) -> tuple[Any, str, Any]:
    """FakeMultipart.complete, with the parts as the value instead of their bytes, and the
    part numbers ascending, as S3 requires (moto's reader of the part list means to
    check it but never advances its ``prev``)."""
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, InvalidPartOrder, MalformedXML
    from moto.settings import S3_UPLOAD_PART_MIN_SIZE

    parts: list[Any] = []
    previous = 0
    for number, etag in body:
        if number <= previous:
            raise InvalidPartOrder()
        previous = number
        part = multipart.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if parts and parts[-1].contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        parts.append(part)
    if not parts:
        raise MalformedXML
    md5s = b"".join(bytes.fromhex(part.etag.replace('"', "")) for part in parts)
    etag = f"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(parts)}"
    return Assembled(parts), etag, _checksum(multipart, parts)


def _install_value_setter() -> Callable[[], None]:
    from moto.s3.models import FakeKey

    original: Any = FakeKey.__dict__["value"]  # the property

    def set_value(self: Any, new_value: Any) -> None:
        assembled = isinstance(new_value, Assembled)
        if not assembled and not (
            isinstance(new_value, bytes) and len(new_value) > self._max_buffer_size
        ):
            original.fset(self, new_value)
            return
        self._value_buffer.seek(0)
        self._value_buffer.truncate()
        if assembled:
            new_value.write_into(self._value_buffer)
        else:
            self._value_buffer.rollover()  # to its file, not through memory first
            self._value_buffer.write(new_value)
        self.contentsize = len(new_value)

    FakeKey.value = original.setter(set_value)  # type: ignore[method-assign]

    def undo() -> None:
        FakeKey.value = original  # type: ignore[method-assign]

    return undo


def _install_parts() -> Callable[[], None]:
    from moto.s3.models import FakeMultipart

    original_set_part = FakeMultipart.set_part
    original_complete = FakeMultipart.complete

    def set_part(self: Any, part_id: int, value: bytes) -> Any:
        key = original_set_part(self, part_id, value)
        key._etag = hashlib.md5(value, usedforsecurity=False).hexdigest()
        if _streams_crc32(_checksum_builder(self)):
            setattr(key, _CRC, zlib.crc32(value))
        return key

    FakeMultipart.set_part = set_part  # type: ignore[method-assign]
    FakeMultipart.complete = _complete  # type: ignore[assignment]

    def undo() -> None:
        FakeMultipart.set_part = original_set_part  # type: ignore[method-assign]
        FakeMultipart.complete = original_complete  # type: ignore[method-assign]

    return undo


class _ValueByFile:
    """A key, as copy_object sees its source: the value is its file, copied file to file."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)

    @property
    def value(self) -> Assembled:
        return Assembled([self._key])


def _install_copy() -> Callable[[], None]:
    from moto.s3.models import S3Backend

    original = S3Backend.copy_object

    def copy_object(self: Any, src_key: Any, *args: Any, **kwargs: Any) -> None:
        original(self, cast(Any, _ValueByFile(src_key)), *args, **kwargs)

    S3Backend.copy_object = copy_object  # type: ignore[method-assign]

    def undo() -> None:
        S3Backend.copy_object = original  # type: ignore[method-assign]

    return undo


class FileBody:
    """An object's bytes as GetObject's response body, read from (a descriptor of) its
    file as it is sent; sliced for a ranged GET. Only for an object already on disk."""

    def __init__(self, key: Any) -> None:
        with key.lock:
            key._value_buffer.flush()
            self._fd = os.dup(key._value_buffer.fileno())
        self._size = int(key.size)
        self._finalizer = weakref.finalize(self, _close, [self._fd])

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, span: slice) -> bytes:
        start, stop, step = span.indices(self._size)
        if step != 1:
            raise ValueError("only contiguous ranges of an object are read")
        return self.read_at(start, max(0, stop - start))

    def __iter__(self) -> Iterator[bytes]:
        for offset in range(0, self._size, _READ_CHUNK):
            yield self.read_at(offset, min(_READ_CHUNK, self._size - offset))

    def read_at(self, offset: int, count: int) -> bytes:
        parts, done = [], 0
        while done < count:
            chunk = os.pread(self._fd, count - done, offset + done)
            if not chunk:
                raise OSError(f"read {done} of {count} bytes at {offset}")
            parts.append(chunk)
            done += len(chunk)
        return b"".join(parts) if len(parts) != 1 else parts[0]


class _BodyByFile(_ValueByFile):
    @property
    def value(self) -> Any:
        return FileBody(self._key)


class _RawFileResponse(io.RawIOBase):
    """What botocore reads an in-process FileBody response from (moto's is a BytesIO)."""

    def __init__(self, body: FileBody) -> None:
        self._body, self._position = body, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read_at(
            self._position, min(len(buffer), len(self._body) - self._position)
        )
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = len(self._body) - self._position
        data = self._body.read_at(self._position, min(size, len(self._body) - self._position))
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        while chunk := self.read(_READ_CHUNK):
            yield chunk


def _install_get_object() -> Callable[[], None]:
    from moto.core import botocore_stubber
    from moto.s3.responses import S3Response

    original_get = S3Response.get_object
    original_raw = botocore_stubber.MockRawResponse

    def get_object(self: Any) -> Any:
        get_key = self._get_key

        def on_disk(*args: Any, **kwargs: Any) -> tuple[Any, bool]:
            key, not_modified = get_key(*args, **kwargs)
            if key.size > key._max_buffer_size:  # small ones stay bytes in memory
                key = _BodyByFile(key)
            return key, not_modified

        self._get_key = on_disk
        try:
            return original_get(self)
        finally:
            del self._get_key

    def raw_response(body: Any) -> Any:
        return _RawFileResponse(body) if isinstance(body, FileBody) else original_raw(body)

    S3Response.get_object = get_object  # type: ignore[method-assign]
    botocore_stubber.MockRawResponse = raw_response  # type: ignore[misc,assignment]

    def undo() -> None:
        S3Response.get_object = original_get  # type: ignore[method-assign]
        botocore_stubber.MockRawResponse = original_raw  # type: ignore[misc]

    return undo


def _install_request_body() -> Callable[[], None]:
    from moto.core.request import Request

    original = Request.__dict__["from_primitives"]

    def from_primitives(
        cls: type[Request], method: str, url: str, headers: Any, body: Any = None
    ) -> Request:
        from moto.core.request import AwsChunkedWrapper  # type: ignore[attr-defined]

        if hasattr(body, "read") and not isinstance(body, AwsChunkedWrapper):
            body = body.read()
        request: Request = original.__func__(cls, method, url, headers, body)
        length = request.headers.get("Content-Length")
        if (
            isinstance(body, bytes)
            and "gzip" not in (request.content_encoding or "")
            and (length is None or int(length) == len(body))
        ):
            request._cached_data = body  # what get_data would read from the stream
        # The cycle request -> environ -> request: freed when the call returns, not by gc.
        if request.environ.get("werkzeug.request") is request:
            del request.environ["werkzeug.request"]
        return request

    Request.from_primitives = classmethod(from_primitives)  # type: ignore[method-assign,assignment]

    def undo() -> None:
        Request.from_primitives = original  # type: ignore[method-assign]

    return undo


_installed: list[Callable[[], None]] = []  # one set of seams, however many clouds
_users = 0
_lock = threading.Lock()


def install() -> Callable[[], None]:
    """Install the seams (once, while any local cloud of this process uses them)."""
    global _users
    with _lock:
        _users += 1
        if _users == 1:
            _installed[:] = [
                _install_value_setter(),
                _install_parts(),
                _install_copy(),
                _install_get_object(),
                _install_request_body(),
            ]

    def undo() -> None:
        global _users
        with _lock:
            _users -= 1
            if _users == 0:
                for step in reversed(_installed):
                    step()
                _installed.clear()

    return undo
