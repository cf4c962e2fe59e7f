"""The kernel log: a bounded reader of the printk ring buffer (``prb``, 5.10 and later).

The ring is two arrays of ``2^count_bits`` descriptors and infos, and a text ring of
``2^size_bits`` bytes; ``desc_ring.tail_id`` and ``head_id`` name the oldest and newest
descriptors. A reader that trusts the ids walks ``head - tail`` of them, which garbage
ids make 2^62 long. This one reads at most one ring's worth of descriptors (the newest,
ending at ``head_id``), in chunks, so a corrupt ring costs neither time nor memory, and
says what was wrong: ids further apart than the ring holds, or a ring whose sizes are
not the kernel's. Records are checked as the kernel's own reader checks them (the
descriptor's state names its id and says committed or finalized; the text block's
positions are in one wrap or wrap once).

Kernels before 5.10 (the ``log_buf`` of ``struct printk_log``) are read by drgn's
helper, whose walk of that buffer already stops at a corrupt length.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, PlatformFlags, Program

from pycrash.kernel.walk import WalkError

#: The largest ring read: 2^22 descriptors (a 128 MiB log buffer; the kernel's
#: log_buf_len= tops out at 2^25 on most configurations).
MAX_COUNT_BITS = 22
#: PRB_AVGBITS: the kernel sizes the text ring 2^5 bytes per descriptor.
PRB_AVGBITS = 5
#: Descriptors read at once.
CHUNK = 512


@dataclass(frozen=True, slots=True)
class PrintkRecord:
    """One message of the ring: as drgn's ``PrintkRecord`` (the fields log uses)."""

    text: bytes
    facility: int
    level: int
    seq: int
    timestamp: int
    caller_tid: int | None
    caller_cpu: int | None


def _caller(caller_id: int) -> tuple[int | None, int | None]:
    if caller_id & 0x80000000:
        return None, caller_id & ~0x80000000
    return caller_id, None


def printk_records(prog: Program) -> tuple[list[PrintkRecord], str | None]:
    """Return the records of the kernel log, oldest first, and what was wrong with the
    ring (None: nothing). Raises LookupError when the kernel has no log the reader
    knows."""
    try:
        prb = prog["prb"]
    except KeyError:
        from drgn.helpers.linux.printk import get_printk_records

        old = get_printk_records(prog)
        return [PrintkRecord(r.text, r.facility, r.level, r.seq, r.timestamp,
                             r.caller_tid, r.caller_cpu) for r in old], None
    records: list[PrintkRecord] = []
    try:
        for rec in _ring_records(prog, prb):
            records.append(rec)
    except WalkError as exc:
        return records, str(exc)
    except FaultError as exc:
        return records, f"the printk ring breaks at {exc.address:#x} (cannot read memory)"
    return records, None


def _ring_records(prog: Program, prb: Object) -> Iterator[PrintkRecord]:
    ulong = prog.type("unsigned long").size
    little = prog.platform is None or bool(prog.platform.flags & PlatformFlags.IS_LITTLE_ENDIAN)
    fmt = "<" if little else ">"
    ulong_fmt = fmt + ("Q" if ulong == 8 else "I")
    sv_bits = ulong * 8
    flags_shift = sv_bits - 2
    id_mask = (1 << flags_shift) - 1
    committed = prog["desc_committed"].value_()
    finalized = prog["desc_finalized"].value_()

    ring = prb.desc_ring
    count_bits = ring.count_bits.value_()
    size_bits = prb.text_data_ring.size_bits.value_()
    if not 0 < count_bits <= MAX_COUNT_BITS or size_bits != count_bits + PRB_AVGBITS:
        raise WalkError(f"the printk ring's sizes are garbage (2^{count_bits} descriptors, "
                        f"2^{size_bits} bytes of text)", ring.address_)
    count = 1 << count_bits
    data_size = 1 << size_bits
    data = prb.text_data_ring.data.value_()
    descs = ring.descs.value_()
    infos = ring.infos.value_()
    desc_type = prog.type("struct prb_desc")
    info_type = prog.type("struct printk_info")
    desc_size = desc_type.size
    info_size = info_type.size
    lpos_off = next(m.bit_offset for m in desc_type.members if m.name == "text_blk_lpos") // 8
    if desc_size is None or info_size is None:
        raise LookupError("struct prb_desc or printk_info has no size")

    head = ring.head_id.counter.value_() & id_mask
    tail = ring.tail_id.counter.value_() & id_mask
    span = (head - tail) & id_mask
    problem = None
    if span >= count:
        problem = (f"the printk ring's ids are garbage (tail {tail:#x}, head {head:#x}: "
                   f"{span + 1} ids in a ring of {count}); read the last {count} ids")
        tail = (head - count + 1) & id_mask
        span = count - 1

    cached_chunk = -1
    desc_bytes = b""
    for step in range(span + 1):
        cur = (tail + step) & id_mask
        idx = cur & (count - 1)
        chunk = idx // CHUNK
        if chunk != cached_chunk:
            n = min(CHUNK, count - chunk * CHUNK)
            desc_bytes = prog.read(descs + chunk * CHUNK * desc_size, n * desc_size)
            cached_chunk = chunk
        off = (idx - chunk * CHUNK) * desc_size
        (state_var,) = struct.unpack_from(ulong_fmt, desc_bytes, off)
        begin, nxt = struct.unpack_from(fmt + ulong_fmt[1] * 2, desc_bytes, off + lpos_off)
        state = (state_var >> flags_shift) & 3
        if (state_var & id_mask) != cur or state not in (committed, finalized):
            continue
        where = _text_block(begin, nxt, size_bits, data_size, ulong)
        if where is None:
            continue
        text_off, text_size = where
        info = Object.from_bytes_(prog, info_type,
                                  prog.read(infos + idx * info_size, info_size))
        text_len = min(info.text_len.value_(), text_size)
        text = prog.read(data + text_off, text_len) if text_len else b""
        tid, cpu = _caller(info.caller_id.value_())
        yield PrintkRecord(text, info.facility.value_(), info.level.value_(),
                           info.seq.value_(), info.ts_nsec.value_(), tid, cpu)
    if problem:
        raise WalkError(problem, ring.address_)


def _text_block(begin: int, nxt: int, size_bits: int, data_size: int,
                ulong: int) -> tuple[int, int] | None:
    """Return the text's offset in the text ring and its most bytes for a descriptor's
    block positions (the kernel's ``get_data()``); None for an invalid block. A block
    without data (both positions NO_LPOS) is an empty message."""
    if begin & 1 and nxt & 1:
        return (0, 0) if begin == 3 and nxt == 3 else None
    if begin % ulong or nxt % ulong:
        return None
    mask = (1 << (8 * ulong)) - 1
    if begin >> size_bits == nxt >> size_bits and begin < nxt:
        off, size = begin & (data_size - 1), nxt - begin
    elif ((begin + data_size) & mask) >> size_bits == nxt >> size_bits:
        off, size = 0, nxt & (data_size - 1)
    else:
        return None
    if size < ulong:
        return None
    return off + ulong, size - ulong
