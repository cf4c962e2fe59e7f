"""The kernel log read through VMCOREINFO's printk offsets, without debuginfo.

As ``makedumpfile --dump-dmesg`` does: VMCOREINFO names the ring's symbol
(``SYMBOL(prb)``, 5.10 and later: the lockless ``printk_ringbuffer``; before it
``SYMBOL(log_buf)`` and ``struct printk_log``) and the offsets and sizes of the
structures the walk needs (``OFFSET(prb_desc_ring.descs)``...). The descriptor ring,
the info array and the text ring are each read in one piece; every index, length and
count is checked against the ring's bounds, so a damaged ring gives fewer records,
never a loop or a read past a buffer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from pycrash.errors import DumpError

#: read(virtual address, size) -> bytes; raises on an address the dump lacks
Reader = Callable[[int, int], bytes]
#: the largest rings read: 2^24 descriptors, 2^30 bytes of text
MAX_COUNT_BITS, MAX_SIZE_BITS = 24, 30
DESC_FLAGS_SHIFT = 62
DESC_ID_MASK = (1 << DESC_FLAGS_SHIFT) - 1
DESC_COMMITTED, DESC_FINALIZED = 1, 2


class LogRecord(NamedTuple):
    """One record of the kernel log: sequence number, time since boot (ns), text."""

    seq: int
    ts_nsec: int
    text: str


class _Info:
    """VMCOREINFO's ``KEY=value`` lines, with the lookups the walk needs."""

    def __init__(self, info: Mapping[str, str]) -> None:
        self.info = info

    def num(self, key: str) -> int:
        try:
            return int(self.info[key])
        except (KeyError, ValueError):
            raise DumpError(f"VMCOREINFO has no usable {key}: cannot read the log") from None

    def symbol(self, name: str) -> int | None:
        value = self.info.get(f"SYMBOL({name})")
        return int(value, 16) if value else None


def _u(data: bytes, at: int, size: int) -> int:
    """Return the little-endian unsigned integer of ``size`` bytes at ``at``."""
    if at < 0 or at + size > len(data):
        raise DumpError("the log ring's structures are cut short")
    return int.from_bytes(data[at:at + size], "little")


def read_log(read: Reader, vmcoreinfo: Mapping[str, str]) -> list[LogRecord]:
    """Return the kernel log's records, oldest first: from the lockless ring
    (``printk_ringbuffer``) or the older ``log_buf``. :class:`DumpError` when VMCOREINFO
    names neither, or the ring cannot be read."""
    vi = _Info(vmcoreinfo)
    if vi.symbol("prb") is not None:
        return _read_prb(read, vi)
    if vi.symbol("log_buf") is not None:
        return _read_log_buf(read, vi)
    raise DumpError("VMCOREINFO names no printk buffer (neither prb nor log_buf)")


def _read_prb(read: Reader, vi: _Info) -> list[LogRecord]:
    """Walk the lockless ring from its tail descriptor to its head, as the kernel's
    ``prb_read_valid()`` does, keeping committed and finalized records."""
    sym = vi.symbol("prb")
    assert sym is not None
    prb = _u(read(sym, 8), 0, 8)  # prb is a pointer to the ring
    counter = vi.num("OFFSET(atomic_long_t.counter)")
    desc_ring = prb + vi.num("OFFSET(printk_ringbuffer.desc_ring)")
    ring = read(desc_ring, vi.num("SIZE(prb_desc_ring)"))
    count_bits = _u(ring, vi.num("OFFSET(prb_desc_ring.count_bits)"), 4)
    descs = _u(ring, vi.num("OFFSET(prb_desc_ring.descs)"), 8)
    infos = _u(ring, vi.num("OFFSET(prb_desc_ring.infos)"), 8)
    head_id = _u(ring, vi.num("OFFSET(prb_desc_ring.head_id)") + counter, 8) & DESC_ID_MASK
    tail_id = _u(ring, vi.num("OFFSET(prb_desc_ring.tail_id)") + counter, 8) & DESC_ID_MASK
    data_ring = prb + vi.num("OFFSET(printk_ringbuffer.text_data_ring)")
    dring = read(data_ring, vi.num("SIZE(prb_data_ring)"))
    size_bits = _u(dring, vi.num("OFFSET(prb_data_ring.size_bits)"), 4)
    data_addr = _u(dring, vi.num("OFFSET(prb_data_ring.data)"), 8)
    if not 0 < count_bits <= MAX_COUNT_BITS or not 0 < size_bits <= MAX_SIZE_BITS:
        raise DumpError(f"the log ring's sizes are implausible (2^{count_bits} records, "
                        f"2^{size_bits} bytes)")
    count, data_size = 1 << count_bits, 1 << size_bits
    desc_size, info_size = vi.num("SIZE(prb_desc)"), vi.num("SIZE(printk_info)")
    desc_bytes = read(descs, count * desc_size)
    info_bytes = read(infos, count * info_size)
    data = read(data_addr, data_size)
    sv_at = vi.num("OFFSET(prb_desc.state_var)") + counter
    lpos_at = vi.num("OFFSET(prb_desc.text_blk_lpos)")
    begin_at = lpos_at + vi.num("OFFSET(prb_data_blk_lpos.begin)")
    next_at = lpos_at + vi.num("OFFSET(prb_data_blk_lpos.next)")
    seq_at, ts_at = vi.num("OFFSET(printk_info.seq)"), vi.num("OFFSET(printk_info.ts_nsec)")
    len_at = vi.num("OFFSET(printk_info.text_len)")
    out: list[LogRecord] = []
    ident = tail_id
    for _ in range(count):  # at most one pass over the ring
        idx = ident % count
        base = idx * desc_size
        sv = _u(desc_bytes, base + sv_at, 8)
        state = (sv >> DESC_FLAGS_SHIFT) & 3
        if (sv & DESC_ID_MASK) == ident and state in (DESC_COMMITTED, DESC_FINALIZED):
            text = _block(data, size_bits, _u(desc_bytes, base + begin_at, 8),
                          _u(desc_bytes, base + next_at, 8))
            if text is not None:
                ib = idx * info_size
                text_len = _u(info_bytes, ib + len_at, 2)
                out.append(LogRecord(_u(info_bytes, ib + seq_at, 8),
                                     _u(info_bytes, ib + ts_at, 8),
                                     text[:text_len].decode("utf-8", "replace")))
        if ident == head_id:
            break
        ident = (ident + 1) & DESC_ID_MASK
    out.sort(key=lambda r: r.seq)
    return out


def _block(data: bytes, size_bits: int, begin: int, nxt: int) -> bytes | None:
    """Return the text of the data block ``[begin, next)`` (logical positions) in the
    text ring ``data``, without its leading block id; None for a data-less or invalid
    block (the kernel's ``get_data()``)."""
    size = 1 << size_bits
    if begin & 1 and nxt & 1:  # data-less record
        return None
    if begin >> size_bits == nxt >> size_bits and begin < nxt:
        start, length = begin % size, nxt - begin
    elif (begin + size) >> size_bits == nxt >> size_bits:  # wrapped: the text is at 0
        start, length = 0, nxt % size
    else:
        return None
    if length < 8 or start + length > size:
        return None
    return data[start + 8:start + length]


def _read_log_buf(read: Reader, vi: _Info) -> list[LogRecord]:
    """Walk the pre-5.10 ring (``log_buf`` of ``struct printk_log`` records) from
    ``log_first_idx`` to ``log_next_idx``."""
    def sym(name: str) -> int:
        addr = vi.symbol(name)
        if addr is None:
            raise DumpError(f"VMCOREINFO has no SYMBOL({name}): cannot read the log")
        return addr

    buf = _u(read(sym("log_buf"), 8), 0, 8)
    size = _u(read(sym("log_buf_len"), 4), 0, 4)
    first = _u(read(sym("log_first_idx"), 4), 0, 4)
    nxt = _u(read(sym("log_next_idx"), 4), 0, 4)
    if not 0 < size <= 1 << MAX_SIZE_BITS:
        raise DumpError(f"the log buffer's size is implausible ({size})")
    data = read(buf, size)
    hdr = vi.num("SIZE(printk_log)")
    ts_at, len_at = vi.num("OFFSET(printk_log.ts_nsec)"), vi.num("OFFSET(printk_log.len)")
    text_len_at = vi.num("OFFSET(printk_log.text_len)")
    out: list[LogRecord] = []
    idx, seq = first, 0
    for _ in range(size // max(hdr, 1) + 1):
        if idx == nxt or idx + hdr > size:
            break
        length = _u(data, idx + len_at, 2)
        if length == 0:  # a wrap marker: the next record is at the start
            idx = 0
            continue
        text_len = _u(data, idx + text_len_at, 2)
        text = data[idx + hdr:idx + hdr + text_len]
        out.append(LogRecord(seq, _u(data, idx + ts_at, 8), text.decode("utf-8", "replace")))
        seq += 1
        idx += length
    return out


def stamped_lines(records: list[LogRecord]) -> list[str]:
    """Return the log as ``dmesg`` prints it: ``[seconds.micros] text``, a line each."""
    lines = []
    for rec in records:
        stamp = f"[{rec.ts_nsec // 1_000_000_000:5}.{rec.ts_nsec // 1000 % 1_000_000:06}]"
        lines += [f"{stamp} {line}" for line in rec.text.split("\n")]
    return lines


