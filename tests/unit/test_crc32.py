"""crc32_combine against zlib's CRC-32 of the joined bytes."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from modelrail.crc32 import crc32_combine


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=6))
def test_the_crc_of_joined_pieces_is_the_combination_of_their_crcs(pieces: list[bytes]) -> None:
    combined = 0
    for piece in pieces:
        combined = crc32_combine(combined, zlib.crc32(piece), len(piece))
    assert combined == zlib.crc32(b"".join(pieces))


def test_a_long_second_piece_shifts_by_its_length() -> None:
    first, second = b"modelrail", bytes(range(256)) * 4099  # past several powers of two
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(
        first + second
    )
