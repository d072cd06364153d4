"""Exact order statistics of a column too large to sort in memory (see docs/decisions.md D44).

:func:`ascending` yields a column's values in ascending order, a bounded run at a time:
the values are partitioned by the leading bits of an order-preserving 64-bit key (the
histogram of the top 16 bits is counted while the column is written), consecutive key
ranges are grouped while they hold at most ``limit`` values, and each group is gathered
from the column and sorted. A single key range holding more than ``limit`` values is
refined on its next 16 bits (histogram refinement), down to one key (all equal values).
So memory is ``limit`` values, whatever the column's length, and the result is exactly
the sorted column.

:class:`SortedStats` consumes such runs (or one sorted array): the SHA-256 of the sorted
bytes, the distinct count, values at given ranks, the run starts of those values (counts
below them) and the mean and population standard deviation, merged over fixed leaves of
the sorted order, so the figures do not depend on how the runs were cut. Pure numpy.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]
Chunks = Callable[[], Iterable[FloatArray]]
"""A column as chunks of float64 (no NaN), readable again from its start."""

KEY_BITS = 16
"""Bits of the key resolved per histogram level (65,536 buckets)."""
LEAF = 1 << 16
"""The moments are computed per leaf of this many sorted values, then merged."""
_SIGN = np.uint64(1 << 63)
_TOP_SHIFT = 64 - KEY_BITS
_LITTLE = sys.byteorder == "little"


def sort_keys(values: FloatArray) -> UIntArray:
    """An order-preserving map of float64 (no NaN, no ``-0.0``) to uint64."""
    bits = values.view(np.uint64)
    out: UIntArray = np.where(bits & _SIGN, ~bits, bits | _SIGN)
    return out


def top_histogram(values: FloatArray) -> IntArray:
    """The count of values per top-16-bit bucket of their key (adds up over chunks)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    high = values.view(np.uint16)[3::4] if _LITTLE else values.view(np.uint16)[0::4]
    top = np.where(high & 0x8000, ~high, high | 0x8000)  # sort_keys' top 16 bits
    return np.bincount(top, minlength=1 << KEY_BITS).astype(np.int64)


def partition_bits(total: int, per_part: int) -> int:
    """Top bits of a 64-bit hash that pick its partition (files open at once): 16
    partitions, or one for each ``per_part`` of ``total``, up to 256."""
    bits = 4
    while bits < 8 and total > per_part << bits:
        bits += 1
    return bits


def ascending(chunks: Chunks, histogram: IntArray, limit: int) -> Iterator[FloatArray]:
    """The values of ``chunks`` in ascending order, in sorted runs of at most ``limit``
    values (a run of one repeated value may be longer and comes in the chunks' pieces).
    ``histogram`` is :func:`top_histogram` summed over the chunks."""
    return _ascending(chunks, 0, _TOP_SHIFT, histogram, max(limit, 1))


def _ascending(
    chunks: Chunks, low: int, shift: int, counts: IntArray, limit: int
) -> Iterator[FloatArray]:
    """Values whose keys lie in ``[low, low + len(counts) << shift)``; ``counts[i]`` of
    them in the ``i``-th sub-range of ``1 << shift`` keys."""
    for first, last in _groups(counts, limit):
        n = int(counts[first:last].sum())
        start, stop = low + (first << shift), low + (last << shift)
        if n <= limit:
            yield _gather(chunks, start, stop, n)
        elif shift == 0:  # one key: n equal values, already in order
            for chunk in chunks():
                yield chunk[_in_range(sort_keys(chunk), start, stop)]
        else:  # one bucket over the limit: refine it on its next bits
            sub = max(shift - KEY_BITS, 0)
            width = 1 << (shift - sub)
            refined = np.zeros(width, dtype=np.int64)
            for chunk in chunks():
                keys = sort_keys(chunk)
                keys = keys[_in_range(keys, start, stop)]
                refined += np.bincount(
                    ((keys - np.uint64(start)) >> np.uint64(sub)).astype(np.int64),
                    minlength=width,
                )
            yield from _ascending(chunks, start, sub, refined, limit)


def _groups(counts: IntArray, limit: int) -> list[tuple[int, int]]:
    """Consecutive non-empty buckets ``[first, last)`` holding at most ``limit`` values
    together; a bucket over the limit is a group on its own."""
    nonzero = np.flatnonzero(counts)
    groups: list[tuple[int, int]] = []
    total = 0
    for i in nonzero.tolist():
        c = int(counts[i])
        if groups and total + c <= limit:
            groups[-1] = (groups[-1][0], i + 1)
            total += c
        else:
            groups.append((i, i + 1))
            total = c
    return groups


_LOWEST = int(sort_keys(np.array([-np.inf]))[0])  # the keys of -inf and +inf: NaNs lie
_HIGHEST = int(sort_keys(np.array([np.inf]))[0])  # outside, every other float between


def _key_value(key: int) -> float | None:
    """The float whose sort key is ``key``, so that ``x >= value`` is ``key(x) >= key``
    for a float ``x`` that is not NaN (nor -0.0); None when every such ``x`` is on one
    side (a key outside those of -inf and +inf)."""
    if not _LOWEST < key <= _HIGHEST:
        return None
    bits = key ^ (1 << 63) if key >> 63 else ~key & ((1 << 64) - 1)
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def _in_range(keys: UIntArray, start: int, stop: int) -> npt.NDArray[np.bool_]:
    mask: npt.NDArray[np.bool_] = keys >= np.uint64(start)
    if stop < 1 << 64:
        mask &= keys < np.uint64(stop)
    return mask


def _gather(chunks: Chunks, start: int, stop: int, n: int) -> FloatArray:
    """The values whose keys lie in ``[start, stop)``, sorted: picked by comparing the
    values with the floats at those keys (D53), which is the same set (keys preserve
    the order) without computing a key per value."""
    low, high = _key_value(start), _key_value(stop)
    out = np.empty(n, dtype=np.float64)
    filled = 0
    for chunk in chunks():
        if low is not None and high is not None:
            picked = chunk[(chunk >= low) & (chunk < high)]
        elif low is not None:
            picked = chunk[chunk >= low]
        elif high is not None:
            picked = chunk[chunk < high]
        else:
            picked = chunk
        out[filled : filled + len(picked)] = picked
        filled += len(picked)
    if filled != n:
        raise ValueError(f"the column changed while it was sorted ({filled} of {n} values)")
    out.sort()
    return out


class SortedStats:
    """Statistics of ``n`` values fed in ascending order, in runs of any length.

    ``ranks`` are the 0-based ranks whose values are kept (:meth:`at`), with the rank at
    which each such value's run of equal values starts (:meth:`first_rank`: how many
    values are below it). ``magnitude`` (the largest absolute value) scales huge values
    by a power of two so the moments cannot overflow.
    """

    def __init__(self, n: int, ranks: Iterable[int], magnitude: float, digest: hashlib._Hash):
        self.n = n
        self.digest = digest
        self.seen = 0
        self.distinct = 0
        self.last: float | None = None
        self.run_start = 0  # rank where the run of the last value fed began
        self.wanted = np.unique(np.fromiter([0, n - 1, *ranks], dtype=np.int64))
        self.values: dict[int, float] = {}
        self.starts: dict[int, int] = {}
        self.scale = 1.0
        if magnitude > 2.0**500:
            self.scale = math.ldexp(1.0, math.frexp(magnitude)[1] - 1)  # values / scale in (-2, 2)
        self.pending = np.empty(0, dtype=np.float64)  # the open leaf
        self.moments: tuple[int, float, float] = (0, 0.0, 0.0)  # count, mean, M2 (scaled)

    def feed(self, run: FloatArray) -> None:
        if not len(run):
            return
        self.digest.update(np.ascontiguousarray(run, dtype="<f8").data)
        changes = np.flatnonzero(run[1:] != run[:-1]) + 1  # where a new value begins
        fresh = self.last is None or run[0] != self.last
        self.distinct += len(changes) + int(fresh)
        self._pick(run, changes, fresh)
        if len(changes):
            self.run_start = self.seen + int(changes[-1])
        elif fresh:
            self.run_start = self.seen
        self.seen += len(run)
        self.last = float(run[-1])
        self._leaves(run)

    def _pick(self, run: FloatArray, changes: IntArray, fresh: bool) -> None:
        lo, hi = np.searchsorted(self.wanted, [self.seen, self.seen + len(run)])
        for rank in self.wanted[lo:hi].tolist():
            at = rank - self.seen
            self.values[rank] = float(run[at])
            before = np.searchsorted(changes, at, side="right")  # run starts at or before
            if before:
                self.starts[rank] = self.seen + int(changes[before - 1])
            else:
                self.starts[rank] = self.seen if fresh else self.run_start

    def _leaves(self, run: FloatArray) -> None:
        """Merge every leaf the run completes; keep the open one (no copy of the run)."""
        last = self.seen == self.n
        if len(self.pending):  # complete the open leaf first
            take = LEAF - len(self.pending)
            self.pending = np.concatenate((self.pending, run[:take]))
            run = run[take:]
            if len(self.pending) < LEAF and not last:
                return
            self._merge(self.pending)
            self.pending = np.empty(0, dtype=np.float64)
        whole = len(run) if last else len(run) - len(run) % LEAF
        for i in range(0, whole, LEAF):
            self._merge(run[i : min(i + LEAF, whole)])
        self.pending = run[whole:].copy()

    def _merge(self, leaf: FloatArray) -> None:
        scaled = leaf / self.scale if self.scale != 1.0 else leaf
        m = float(np.mean(scaled))
        deviations = scaled - m
        np.square(deviations, out=deviations)
        m2 = float(np.sum(deviations))
        na, mean, total = self.moments
        nb = len(leaf)
        count = na + nb
        delta = m - mean
        self.moments = (
            count,
            mean + delta * nb / count,
            total + m2 + delta * delta * na * nb / count,
        )

    def at(self, rank: int) -> float:
        return self.values[rank]

    def first_rank(self, rank: int) -> int:
        return self.starts[rank]

    def mean_std(self) -> tuple[float, float]:
        """Mean (clamped to the range: rounding may step outside it) and population std."""
        count, mean, m2 = self.moments
        if count != self.n:
            raise ValueError(f"fed {count} of {self.n} values")
        std = math.sqrt(max(m2, 0.0) / count) * self.scale
        low, high = self.at(0), self.at(self.n - 1)
        return min(max(mean * self.scale, low), high), std
