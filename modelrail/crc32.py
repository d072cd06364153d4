"""CRC-32 (zlib's) of a concatenation from the CRCs of its pieces.

zlib has ``crc32_combine``; Python's zlib module does not expose it. A CRC-32 is a
remainder modulo a polynomial over GF(2) (after zlib's pre- and post-inversion, which
cancel here), so CRC(A + B) is CRC(A) shifted past len(B) bytes (multiplied by
x ** (8 len(B)) modulo the polynomial) xor CRC(B).
"""

from __future__ import annotations

_POLY = 0xEDB88320  # CRC-32 (zlib), reflected


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial, in the reflected bit order zlib uses."""
    m, product = 1 << 31, 0
    while True:
        if a & m:
            product ^= b
            if a & (m - 1) == 0:
                return product
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x_to_8n(n: int) -> int:
    """x ** (8 n) modulo the polynomial: the shift of a CRC past n bytes."""
    power, square = 1 << 31, 1 << 30  # x ** 0, x ** 1
    for _ in range(3):
        square = _multmodp(square, square)  # x ** 8: one byte
    while n:
        if n & 1:
            power = _multmodp(square, power)
        n >>= 1
        square = _multmodp(square, square)
    return power


def crc32_combine(first: int, second: int, second_length: int) -> int:
    """The CRC-32 of A + B from CRC-32(A), CRC-32(B) and len(B) (zlib's crc32_combine)."""
    return _multmodp(_x_to_8n(second_length), first) ^ second
