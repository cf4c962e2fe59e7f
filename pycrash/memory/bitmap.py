"""Page bitmaps as makedumpfile stores them: one bit per page frame, little-endian bytes.

Look-ups are O(1) and rank (how many set bits come before a pfn) uses a
prefix count every 4096 bits, so a bitmap of a terabyte machine (32 MiB)
costs no more per page than a small one.
"""

from __future__ import annotations

from collections.abc import Iterator

CHUNK_BYTES = 512  # 4096 bits


class Bitmap:
    """A read-only bitmap over ``nbits`` page frames."""

    def __init__(self, data: bytes, nbits: int) -> None:
        self.data = bytes(data[: (nbits + 7) // 8])
        self.nbits = nbits
        self._prefix: list[int] | None = None

    def __contains__(self, pfn: int) -> bool:
        byte = pfn >> 3
        return 0 <= pfn < self.nbits and bool((self.data[byte] >> (pfn & 7)) & 1)

    def masked(self, start: int, end: int) -> Bitmap:
        """Return a copy with only the bits in ``[start, end)`` kept."""
        out = bytearray(len(self.data))
        lo, hi = start >> 3, min((end + 7) >> 3, len(self.data))
        out[lo:hi] = self.data[lo:hi]
        if start & 7 and lo < len(out):
            out[lo] &= (0xFF << (start & 7)) & 0xFF
        if end & 7 and (end >> 3) < len(out):
            out[end >> 3] &= (1 << (end & 7)) - 1
        return Bitmap(bytes(out), self.nbits)

    def minus(self, other: Bitmap) -> Bitmap:
        """Return the bits set here and not in ``other``."""
        a = int.from_bytes(self.data, "little")
        b = int.from_bytes(other.data.ljust(len(self.data), b"\0"), "little")
        return Bitmap((a & ~b).to_bytes(len(self.data), "little"), self.nbits)

    def rank(self, pfn: int) -> int:
        """Return how many set bits come before ``pfn``."""
        if self._prefix is None:
            counts, total = [0], 0
            for i in range(0, len(self.data), CHUNK_BYTES):
                total += int.from_bytes(self.data[i : i + CHUNK_BYTES], "little").bit_count()
                counts.append(total)
            self._prefix = counts
        chunk = pfn // (CHUNK_BYTES * 8)
        base = chunk * CHUNK_BYTES
        whole = self.data[base : pfn >> 3]
        part = self.data[pfn >> 3] & ((1 << (pfn & 7)) - 1) if (pfn >> 3) < len(self.data) else 0
        return self._prefix[chunk] + int.from_bytes(whole, "little").bit_count() + part.bit_count()

    def count(self) -> int:
        """Return the number of set bits."""
        return int.from_bytes(self.data, "little").bit_count()

    def runs(self) -> Iterator[tuple[int, int]]:
        """Yield ``(first pfn, count)`` of each run of set bits, in order."""
        zero = bytes(CHUNK_BYTES)
        full = b"\xff" * CHUNK_BYTES
        start = -1
        for base in range(0, len(self.data), CHUNK_BYTES):
            chunk = self.data[base : base + CHUNK_BYTES]
            first = base * 8
            if chunk == zero:
                if start >= 0:
                    yield start, first - start
                    start = -1
                continue
            if chunk == full:
                if start < 0:
                    start = first
                continue
            bits = int.from_bytes(chunk, "little")
            for i in range(len(chunk) * 8):
                if (bits >> i) & 1:
                    if start < 0:
                        start = first + i
                elif start >= 0:
                    yield start, first + i - start
                    start = -1
        if start >= 0:
            yield start, min(len(self.data) * 8, self.nbits) - start
