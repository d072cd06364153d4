"""The local cloud's S3 keeps large objects on disk: an upload is its parts' files (D45, D54).

moto (pinned, pyproject.toml) holds an object in a ``SpooledTemporaryFile`` (a file on
disk from 5 MiB) but handles the bytes of a multipart upload in Python: each part is
written to memory and then copied to its file, read back for its MD5, and
``CompleteMultipartUpload`` joins every part in a ``bytearray`` (twice: once more for the
full-object checksum), turns both into ``bytes`` and writes the result to the object's
file. A 1 GB upload peaked at 4.8 GB and spent most of its time copying. These seams
keep what the S3 API shows (bytes, ETag, size, version, checksum, errors, events) and
change only where the bytes go:

* ``FakeKey.value`` (setter): a value larger than the key's memory buffer goes straight
  to its file; a :class:`Segments` value (an :class:`Assembled` upload's parts, or a
  copy's source) becomes the key's buffer as those pieces of files (:class:`StoredParts`),
  read in order: no byte is copied (a stored key's bytes are never written again, so
  objects, copies and readers share them; a file closes with its last holder).
* ``S3Backend.copy_object``: the source's value is its files (CopyObject read the whole
  object into memory to write it to the copy's file; ValidateData snapshots by CopyObject).
* ``S3Response.get_object``: an object on disk is answered with a :class:`FileBody`,
  read from its file as it is sent (moto read the whole object into memory, and once
  more for every ranged GET); ``botocore_stubber.MockRawResponse`` reads one in process,
  the server's werkzeug response iterates it, a range slices it.
* ``FakeMultipart.set_part``: the part's bytes are written to one of the upload's few
  files (:class:`_UploadFile`: four descriptors however many parts) in pieces, each
  hashed on the way: its MD5 (its ETag) and, when the upload's checksum is a full-object
  CRC-32, its CRC-32, on the request's thread (hashlib, zlib and the write release the
  GIL, so concurrent parts hash in parallel), in one pass while a piece is in cache.
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
import bisect
import hashlib
import io
import itertools
import os
import tempfile
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, cast

from modelrail.crc32 import crc32_combine

_CRC = "_modelrail_crc32"  # the part's CRC-32, set on moto's part key as it is stored
_PROBE = b"modelrail checksum probe"
_READ_CHUNK = 8 * 1024 * 1024
_HASH_CHUNK = 256 * 1024  # hashed and written while it is in the core's cache
_FILES_PER_UPLOAD = 4  # as many as the uploader sends parts at once


class _File:
    """An open file, closed when nothing holds it any more (no object, reader or part)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        weakref.finalize(self, os.close, fd)

    @classmethod
    def temporary(cls) -> _File:
        with tempfile.TemporaryFile(buffering=0) as made:  # unlinked: gone once closed
            return cls(os.dup(made.fileno()))


#: bytes of a file: (the file, offset in it, size)
Piece = tuple[_File, int, int]


class Segments:
    """Pieces of files read in order as one run of bytes. A stored key's bytes are never
    written again (moto sets a key's value only when it makes the key), so objects,
    copies and readers share the same pieces and files."""

    def __init__(self, pieces: list[Piece]) -> None:
        self.pieces = pieces
        self._starts = list(itertools.accumulate((size for *_, size in pieces), initial=0))

    def __len__(self) -> int:
        return self._starts[-1]

    def read_at(self, offset: int, count: int) -> bytes:
        """``count`` bytes from ``offset`` (fewer at the end), across pieces."""
        count = max(0, min(count, len(self) - offset))
        read, index = [], bisect.bisect_right(self._starts, offset) - 1
        while count > 0:
            while offset >= self._starts[index + 1]:  # past this piece (or an empty one)
                index += 1
            file, at, size = self.pieces[index]
            within = offset - self._starts[index]
            chunk = os.pread(file.fd, min(count, size - within), at + within)
            if not chunk:
                raise OSError(f"read nothing at {at + within} of a stored object's file")
            read.append(chunk)
            offset, count = offset + len(chunk), count - len(chunk)
        return b"".join(read) if len(read) != 1 else read[0]


def _pieces_of(key: Any) -> list[Piece]:
    """A key's bytes on disk (a buffer in memory is rolled over to its file)."""
    with key.lock:
        buffer = key._value_buffer
        if isinstance(buffer, StoredParts):
            return buffer.segments.pieces
        buffer.flush()
        return [(_File(os.dup(buffer.fileno())), 0, int(key.size))]


class Assembled(Segments):
    """The parts of a completed multipart upload, in order, as an object's value (moto
    disposes of the parts when the upload is completed, before the object is stored)."""

    def __init__(self, parts: list[Any]) -> None:
        super().__init__([piece for part in parts for piece in _pieces_of(part)])


class StoredParts(io.RawIOBase):
    """A key's value buffer that is pieces of files, read in order: an upload's parts
    as they were written (no copy of them into one file), or a copy's source. Read-only:
    moto only reads a key's buffer once it is made (pinned)."""

    def __init__(self, segments: Segments) -> None:
        super().__init__()
        self.segments, self._position = segments, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self.segments)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:  # as a file says it (moto's __getstate__ expects a ValueError)
            raise ValueError("read of a disposed object's bytes")
        if size is None or size < 0:
            size = len(self.segments) - self._position
        data = self.segments.read_at(self._position, size)
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.segments = Segments([])  # its files close when no one else holds them
        super().close()


class _UploadFile:
    """The few files a multipart upload's parts are written into, each part where it is
    given room in one of them (a replaced part's bytes stay unused). Parts in flight go to
    different files: writers of one file wait for each other (the kernel's lock of it)."""

    def __init__(self) -> None:
        self._files: list[_File] = []
        self._ends: list[int] = []
        self._lock = threading.Lock()

    def room(self, part_id: int, size: int) -> tuple[_File, int]:
        """Where part ``part_id`` of ``size`` bytes is written: a file, an offset in it."""
        index = (part_id - 1) % _FILES_PER_UPLOAD
        with self._lock:
            while len(self._files) <= index:
                self._files.append(_File.temporary())
                self._ends.append(0)
            at, self._ends[index] = self._ends[index], self._ends[index] + size
        return self._files[index], at


#: each multipart upload's files (not an attribute: moto deep-copies keys, and their upload)
_upload_files: weakref.WeakKeyDictionary[Any, _UploadFile] = weakref.WeakKeyDictionary()
_upload_files_lock = threading.Lock()


def _upload_file(multipart: Any) -> _UploadFile:
    with _upload_files_lock:
        if (found := _upload_files.get(multipart)) is None:
            found = _upload_files[multipart] = _UploadFile()
    return found


class _Part:
    """A part's bytes on their way from FakeMultipart.set_part to its key's value setter,
    written to the upload's file in pieces, each hashed on the way (MD5, its ETag; CRC-32
    when the upload's checksum is one): one pass over the bytes, on the request's thread
    (hashlib, zlib and the write release the GIL, so concurrent parts hash in parallel)."""

    def __init__(self, data: bytes, crc: bool, where: tuple[_File, int]) -> None:
        self.data, self.crc, self.where = data, crc, where

    def __len__(self) -> int:
        return len(self.data)

    def store(self, key: Any) -> None:
        file, at = self.where
        view, md5, crc = memoryview(self.data), hashlib.md5(usedforsecurity=False), 0
        for start in range(0, len(view), _HASH_CHUNK):
            piece = view[start : start + _HASH_CHUNK]
            md5.update(piece)
            if self.crc:
                crc = zlib.crc32(piece, crc)
            while piece:
                written = os.pwrite(file.fd, piece, at + start)
                piece, start = piece[written:], start + written
        key._etag = md5.hexdigest()
        if self.crc:
            setattr(key, _CRC, crc)
        key._value_buffer.close()
        key._value_buffer = StoredParts(Segments([(file, at, len(self.data))]))


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
        if isinstance(new_value, Segments):  # the parts, or a copy's source: its files
            self._value_buffer.close()
            self._value_buffer = StoredParts(new_value)
        elif isinstance(new_value, _Part):
            new_value.store(self)
        elif isinstance(new_value, bytes) and len(new_value) > self._max_buffer_size:
            self._value_buffer.seek(0)
            self._value_buffer.truncate()
            self._value_buffer.rollover()  # to its file, not through memory first
            self._value_buffer.write(new_value)
        else:
            original.fset(self, new_value)
            return
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
        if isinstance(value, str):  # as moto's value setter takes one
            value = value.encode("utf-8")
        if part_id < 1:  # moto's NoSuchUpload
            return original_set_part(self, part_id, value)
        where = _upload_file(self).room(part_id, len(value))
        part = _Part(value, _streams_crc32(_checksum_builder(self)), where)
        return original_set_part(self, part_id, cast(Any, part))

    FakeMultipart.set_part = set_part  # type: ignore[method-assign]
    FakeMultipart.complete = _complete  # type: ignore[assignment]

    def undo() -> None:
        FakeMultipart.set_part = original_set_part  # type: ignore[method-assign]
        FakeMultipart.complete = original_complete  # type: ignore[method-assign]

    return undo


class _ValueByFile:
    """A key, as copy_object sees its source: the value is its files, which the copy shares."""

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


class FileBody(Segments):
    """An object's bytes as GetObject's response body, read from its files as it is
    sent; sliced for a ranged GET. Only for an object already on disk."""

    def __init__(self, key: Any) -> None:
        super().__init__(_pieces_of(key))

    def __getitem__(self, span: slice) -> bytes:
        start, stop, step = span.indices(len(self))
        if step != 1:
            raise ValueError("only contiguous ranges of an object are read")
        return self.read_at(start, max(0, stop - start))

    def __iter__(self) -> Iterator[bytes]:
        for offset in range(0, len(self), _READ_CHUNK):
            yield self.read_at(offset, _READ_CHUNK)


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
