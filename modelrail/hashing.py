"""64-bit mixing shared by the data gate's row hashes and the profile's fingerprint.

Worked a cache-sized block at a time (D53): each step of the mixer is a pass over its
words, and passes over a block that stays in the core's cache cost about half as much
as passes over main memory; the same words come out either way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UIntArray = npt.NDArray[np.uint64]

BLOCK = 16_384
"""Words mixed at a time: a block and its scratch stay in the core's cache."""
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(x: UIntArray) -> UIntArray:
    """splitmix64's finalizer: a bijective avalanche of 64-bit words (wrapping), into a
    new array."""
    out = np.array(x, dtype=np.uint64, copy=True)
    scratch = np.empty(min(len(out), BLOCK), dtype=np.uint64)
    for start in range(0, len(out), BLOCK):
        block = out[start : start + BLOCK]
        _mix(block, scratch[: len(block)])
    return out


def fold64(acc: UIntArray, values: UIntArray, salt: np.uint64) -> UIntArray:
    """``mix64(acc ^ mix64(values + salt))``, written into ``acc`` (returned)."""
    scratch = np.empty((2, min(len(acc), BLOCK)), dtype=np.uint64)
    for start in range(0, len(acc), BLOCK):
        block = acc[start : start + BLOCK]
        mixed, tmp = scratch[0, : len(block)], scratch[1, : len(block)]
        np.add(values[start : start + BLOCK], salt, out=mixed)
        _mix(mixed, tmp)
        block ^= mixed
        _mix(block, tmp)
    return acc


def _mix(x: UIntArray, tmp: UIntArray) -> None:
    """splitmix64's finalizer in place (``tmp``: scratch of the same length)."""
    np.right_shift(x, _S30, out=tmp)
    x ^= tmp
    x *= _M1
    np.right_shift(x, _S27, out=tmp)
    x ^= tmp
    x *= _M2
    np.right_shift(x, _S31, out=tmp)
    x ^= tmp
