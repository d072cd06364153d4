"""64-bit mixing shared by the data gate's row hashes and the profile's fingerprint."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UIntArray = npt.NDArray[np.uint64]

BLOCK = 16_384
"""Words mixed at a time: a block and its scratch stay in the core's cache (D53)."""
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(x: UIntArray) -> UIntArray:
    """splitmix64's finalizer: a bijective avalanche of 64-bit words (wrapping), into a
    new array. Worked a cache-sized block at a time: each of its six steps is a pass, and
    a pass over a block in cache costs about half one over main memory."""
    x = np.asarray(x, dtype=np.uint64)
    out = np.empty_like(x)
    scratch = np.empty(min(len(x), BLOCK), dtype=np.uint64)
    for start in range(0, len(x), BLOCK):
        block, into = x[start : start + BLOCK], out[start : start + BLOCK]
        tmp = scratch[: len(block)]
        np.right_shift(block, _S30, out=into)
        into ^= block
        into *= _M1
        np.right_shift(into, _S27, out=tmp)
        into ^= tmp
        into *= _M2
        np.right_shift(into, _S31, out=tmp)
        into ^= tmp
    return out
