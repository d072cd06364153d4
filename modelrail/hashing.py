"""64-bit mixing shared by the data gate's row hashes and the profile's fingerprint."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UIntArray = npt.NDArray[np.uint64]


def mix64(x: UIntArray) -> UIntArray:
    """splitmix64's finalizer: a bijective avalanche of 64-bit words (wrapping)."""
    x = x ^ (x >> np.uint64(30))  # a new array; in place from here (fewer temporaries)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x
