"""The baseline profile built batch by batch, in one read of the data (docs/decisions.md D44).

:class:`ProfileBuilder` takes the dataset's batches (from :mod:`modelrail.columns`, or
the frames validation parses, so validation and profile share one read of the file)
and spills each contract column to a temporary file in compact typed form: float64
numbers, or codes into the column's distinct values for text, booleans and datetimes.
Per batch it keeps only what adds up: null counts, the count per distinct value, the
histogram of the numbers' sort keys. :meth:`ProfileBuilder.finish` then profiles each
column exactly (numbers sorted on disk a bounded run at a time, :mod:`modelrail.ordered`;
pandas' type inference of a CSV text column redone on its distinct values) and mixes the
row hashes from the spills a batch at a time, sorting them in sixteen partitions by
their top bits. The profile is :func:`modelrail.profile.build_profile` of the whole
frame, fingerprint included; memory is a batch, ``memory`` bytes of numbers being
sorted and the distinct values of the text columns, not the file or its row count.
Pure: numpy, pandas and temporary files, no AWS.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from modelrail.categories import as_objects, boolean_labels, categorical_labels
from modelrail.columns import Cells, Coded, infer_like_pandas
from modelrail.contract import Column, ColumnType, ModelContract
from modelrail.ordered import ascending, partition_bits, top_histogram
from modelrail.profile import (
    _NAT,
    _NULL_NUMBER,
    PROFILE_MEMORY,
    ROW_SEED,
    BaselineProfile,
    FeatureProfile,
    _check_bins,
    _numbers,
    _timestamps,
    baseline,
    datetime_profile,
    fold_row_hash,
    label_hashes,
    labels_profile,
    numeric_profile,
)

UIntArray = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]
_ROW_PART_BYTES = 16 * 1024 * 1024  # of row hashes sorted at a time (16 to 256 parts)
_QUEUED = 2  # batches handed to the feeding thread and not yet taken
WORKERS = 2
"""Columns profiled at once by :meth:`ProfileBuilder.finish` (the functions have 2 cores)."""


class _Spill:
    """One column's batches, appended to a file and read back batch by batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO = path.open("wb")
        self.segments: list[tuple[np.dtype[Any], int]] = []

    def write(self, values: npt.NDArray[Any]) -> None:
        values = np.ascontiguousarray(values)
        self.file.write(values.data)
        self.segments.append((values.dtype, len(values)))

    def flush(self) -> None:
        self.file.flush()

    def batches(self) -> Iterator[npt.NDArray[Any]]:
        """The batches written, in order (after :meth:`flush`)."""
        with self.path.open("rb") as stream:
            for dtype, count in self.segments:
                yield np.fromfile(stream, dtype=dtype, count=count)


class _Numbers:
    """A numeric column: float64 spilled (NaN for null), nulls, key histogram, magnitude."""

    def __init__(self, column: Column, spill: _Spill) -> None:
        self.column, self.spill = column, spill
        self.nulls = 0
        self.magnitude = 0.0
        self.histogram = np.zeros(1 << 16, dtype=np.int64)

    def add(self, series: Cells | None, rows: int) -> None:
        values = np.full(rows, np.nan) if series is None else _numbers(series, self.column.name)
        values = values + 0.0  # -0.0 -> 0.0: one canonical zero
        null = np.isnan(values)
        present = values[~null] if null.any() else values
        self.nulls += rows - len(present)
        if len(present):
            self.histogram += top_histogram(present)
            extreme = max(abs(float(present.min())), abs(float(present.max())))
            self.magnitude = max(self.magnitude, extreme)
        self.spill.write(values)

    def profile(self, rows: int, bins: int, memory: int) -> FeatureProfile:
        def present() -> Iterator[npt.NDArray[np.float64]]:
            batches = self.spill.batches()
            return (v[~np.isnan(v)] for v in batches) if self.nulls else batches

        runs = ascending(present, self.histogram, max(memory // 8, 1))
        return numeric_profile(self.column, bins, rows, self.nulls, runs, self.magnitude)

    def value_hashes(self) -> Iterator[UIntArray]:
        for values in self.spill.batches():
            bits = values.view(np.uint64).copy()
            bits[np.isnan(values)] = _NULL_NUMBER
            yield bits


class _Distinct:
    """A text, boolean or datetime column: codes into its distinct values (0 for null)
    spilled, and the count per code. ``infer``: the values are CSV text, which pandas
    would have typed from the whole column."""

    def __init__(self, column: Column, spill: _Spill, *, infer: bool) -> None:
        self.column, self.spill, self.infer = column, spill, infer
        self.codes: dict[tuple[type, Any], int] = {}
        self.values: list[Any] = []
        self.counts = np.zeros(1, dtype=np.int64)
        self.hashes: UIntArray | None = None  # per code, once profiled

    def add(self, series: Cells | None, rows: int) -> None:
        if series is None:
            codes = np.zeros(rows, dtype=np.int64)
        else:
            local, uniques = (
                (series.codes, series.uniques)
                if isinstance(series, Coded)
                else pd.factorize(as_objects(pd.Series(series, copy=False)))
            )
            lookup = np.array([*(self._code(u) for u in uniques), 0], dtype=np.int64)
            codes = lookup[local]  # -1 (null) indexes the trailing 0
        counts = np.bincount(codes, minlength=len(self.values) + 1)
        counts[: len(self.counts)] += self.counts
        self.counts = counts
        width = np.min_scalar_type(len(self.values))
        self.spill.write(codes.astype(width))

    def _code(self, value: Any) -> int:
        key = (type(value), value)  # True, 1 and 1.0 are different values here
        code = self.codes.get(key)
        if code is None:
            self.values.append(value)
            code = self.codes[key] = len(self.values)
        return code

    def _distinct(self) -> pd.Series:
        """The distinct values as the whole column's dtype would hold them."""
        if not self.infer:
            return pd.Series(self.values) if self.values else pd.Series([], dtype=object)
        text = pd.Series(pd.Categorical(self.values, categories=self.values))
        return infer_like_pandas(text)

    def profile(self, rows: int) -> FeatureProfile:
        column, distinct = self.column, self._distinct()
        if column.type is ColumnType.DATETIME:
            micros = np.concatenate(([_NAT], _timestamps(distinct, column.name)))
            self.hashes = micros.view(np.uint64)
            present = micros != _NAT
            values, where = np.unique(micros[present], return_inverse=True)
            counts = np.zeros(len(values), dtype=np.int64)
            np.add.at(counts, where, self.counts[present])
            return datetime_profile(column, rows, values, counts)
        declared: tuple[str, ...] = ("false", "true")
        if column.type is ColumnType.BOOLEAN:
            labels = boolean_labels(distinct, column.name)
        else:
            labels, declared = categorical_labels(distinct), tuple(column.categories or ())
        mapped = np.concatenate(([-1], labels.codes))  # code -> label, -1 for null
        self.hashes = label_hashes(labels.labels)[mapped]
        known = mapped >= 0
        counts = np.zeros(len(labels.labels), dtype=np.int64)
        np.add.at(counts, mapped[known], self.counts[known])
        return labels_profile(column, rows, labels.labels, counts, declared)

    def value_hashes(self) -> Iterator[UIntArray]:
        assert self.hashes is not None, "profile() first"
        for codes in self.spill.batches():
            yield self.hashes[codes]


class ProfileBuilder:
    """:func:`modelrail.profile.build_profile` of batches fed one at a time (see the module
    doc). A context manager: the spill files live in a temporary folder under
    ``workdir`` (the system's temporary folder by default) until it closes."""

    def __init__(
        self,
        contract: ModelContract,
        *,
        infer_text: bool,
        bins: int,
        memory: int = PROFILE_MEMORY,
        workdir: Path | None = None,
    ) -> None:
        _check_bins(bins)
        self.contract, self.bins, self.memory = contract, bins, memory
        self.folder = Path(tempfile.mkdtemp(prefix="modelrail-profile-", dir=workdir))
        self.rows = 0
        self.error: ValueError | None = None
        # batches are taken in order by one thread while the caller reads the next
        self.feeder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="profile-feed")
        self.pending: deque[Future[None]] = deque()
        numeric = {ColumnType.NUMERIC, ColumnType.INTEGER}
        self.states: list[_Numbers | _Distinct] = []
        for i, column in enumerate(contract.columns):
            spill = _Spill(self.folder / f"column{i}")
            self.states.append(
                _Numbers(column, spill)
                if column.type in numeric
                else _Distinct(column, spill, infer=infer_text)
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.feeder.shutdown(wait=True, cancel_futures=True)
        for state in self.states:
            state.spill.file.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, batch: Mapping[str, Cells] | pd.DataFrame, rows: int) -> None:
        """One batch of ``rows`` rows: the contract's columns by name (a missing optional
        column is all null). A value the profile cannot take is raised by :meth:`finish`,
        so a validator feeding batches still finishes its report. The batch is taken by
        a thread of its own (numpy and file writes release the GIL), at most
        ``_QUEUED`` batches behind the caller."""
        self.pending.append(self.feeder.submit(self._add, batch, rows))
        while len(self.pending) > _QUEUED:
            self.pending.popleft().result()

    def _add(self, batch: Mapping[str, Cells] | pd.DataFrame, rows: int) -> None:
        if self.error is not None or not rows:
            return
        try:
            for state in self.states:
                state.add(batch.get(state.column.name), rows)
        except ValueError as exc:
            self.error = exc
            return
        self.rows += rows

    def finish(
        self, *, rows: int | None = None, dataset_sha256: str | None = None
    ) -> BaselineProfile:
        while self.pending:
            self.pending.popleft().result()
        if self.error is not None:
            raise self.error
        if rows is not None and rows != self.rows:
            raise ValueError(f"expected {rows} rows, read {self.rows}")
        if self.rows == 0:
            raise ValueError(
                f"cannot profile an empty frame: no rows for model {self.contract.name!r}"
            )
        for state in self.states:
            state.spill.flush()
        # text columns first (their value hashes come from their labels); then the numbers
        # are sorted on the pool while this thread mixes the row hashes
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="profile") as pool:
            text = [s for s in self.states if isinstance(s, _Distinct)]
            done = dict(
                zip([s.column.name for s in text], pool.map(self._profile, text), strict=True)
            )
            numbers = [s for s in self.states if isinstance(s, _Numbers)]
            sorting = [(s.column.name, pool.submit(self._profile, s)) for s in numbers]
            multiset = self._row_multiset()
            done.update((name, future.result()) for name, future in sorting)
        profiles = {state.column.name: done[state.column.name] for state in self.states}
        return baseline(
            self.contract,
            self.rows,
            profiles,
            multiset,
            bins=self.bins,
            dataset_sha256=dataset_sha256,
        )

    def _profile(self, state: _Numbers | _Distinct) -> FeatureProfile:
        if isinstance(state, _Numbers):  # each worker sorts its share of the memory
            return state.profile(self.rows, self.bins, self.memory // WORKERS)
        return state.profile(self.rows)

    def _row_multiset(self) -> str:
        """SHA-256 of the sorted row hashes: mixed a batch at a time from the spills,
        split by their top bits into files (``_ROW_PART_BYTES`` of hashes each), each
        sorted in turn."""
        bits = partition_bits(self.rows * 8, _ROW_PART_BYTES)
        names = [self.folder / f"rows{p}" for p in range(1 << bits)]
        starts = np.arange(1 << bits, dtype=np.uint64) << np.uint64(64 - bits)
        parts = [name.open("wb") for name in names]
        for hashes in zip(*(state.value_hashes() for state in self.states), strict=True):
            row_hash = np.full(len(hashes[0]), ROW_SEED, dtype=np.uint64)
            for position, value_hash in enumerate(hashes):
                row_hash = fold_row_hash(row_hash, position, value_hash)
            row_hash.sort()
            cuts = np.searchsorted(row_hash, starts[1:])
            for part, piece in zip(parts, np.split(row_hash, cuts), strict=True):
                part.write(piece.astype("<u8").data)
        digest = hashlib.sha256()
        for name, part in zip(names, parts, strict=True):
            part.close()
            part_hashes = np.fromfile(name, dtype="<u8")
            part_hashes.sort()
            digest.update(part_hashes.data)
        return digest.hexdigest()
