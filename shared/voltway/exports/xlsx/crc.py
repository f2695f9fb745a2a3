"""CRC-32 of concatenated data from the CRCs of its parts (zlib's ``crc32_combine``, which Python lacks).

CRC-32 is linear over GF(2): ``crc(A + B) = crc(A) · x^(8·len(B)) mod P  xor  crc(B)``. The port follows
zlib 1.2.12+ (``multmodp``/``x2nmodp``): O(log len) multiplications, independent of the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

_POLY: Final = 0xEDB88320  # reflected CRC-32 polynomial


def _multmodp(a: int, b: int) -> int:
    """a · b modulo the CRC polynomial (reflected bit order); ``a`` must be non-zero."""
    m = 1 << 31
    product = 0
    while True:
        if a & m:
            product ^= b
            if (a & (m - 1)) == 0:
                return product
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> tuple[int, ...]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))  # x^(2^k)
    return tuple(table)


_X2N: Final = _x2n_table()


def _x2nmodp(n: int, k: int) -> int:
    """x^(n · 2^k) modulo the polynomial."""
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of ``A + B`` given ``crc1 = crc32(A)``, ``crc2 = crc32(B)`` and ``len2 = len(B)``."""
    if len2 < 0:
        raise ValueError("len2 must be >= 0")
    return _multmodp(_x2nmodp(len2, 3), crc1) ^ crc2


def crc32_join(parts: Iterable[tuple[int, int]]) -> int:
    """CRC-32 of the concatenation of parts given as ``(crc32, length)`` pairs, in order."""
    crc = 0
    for part_crc, length in parts:
        crc = crc32_combine(crc, part_crc, length)
    return crc
