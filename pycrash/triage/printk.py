"""The kernel log read through VMCOREINFO's printk offsets, without debuginfo.

As ``makedumpfile --dump-dmesg`` does: VMCOREINFO names the ring's symbol
(``SYMBOL(prb)``, 5.10 and later: the lockless ``printk_ringbuffer``; before it
``SYMBOL(log_buf)`` and ``struct printk_log``) and the offsets and sizes of the
structures the walk needs (``OFFSET(prb_desc_ring.descs)``...). The walk is
:mod:`pycrash.kernel.printkring`'s, the one ``log`` uses too; VMCOREINFO gives no
record's facility or level, so those are None here.
"""

from __future__ import annotations

from collections.abc import Mapping

from pycrash.errors import DumpError
from pycrash.kernel.printkring import (
    ByteOrder,
    Field,
    Layout,
    LogBufLayout,
    PrintkRecord,
    Reader,
    RingLayout,
    dmesg_stamp,
    read_records,
)


class _Info:
    """VMCOREINFO's ``KEY=value`` lines, with the lookups the layout needs."""

    def __init__(self, info: Mapping[str, str]) -> None:
        self.info = info

    def num(self, key: str) -> int:
        try:
            return int(self.info[key])
        except (KeyError, ValueError):
            raise DumpError(f"VMCOREINFO has no usable {key}: cannot read the log") from None

    def symbol(self, name: str) -> int | None:
        value = self.info.get(f"SYMBOL({name})")
        try:
            return int(value, 16) if value else None
        except ValueError:
            raise DumpError(f"VMCOREINFO's SYMBOL({name}) is not an address") from None

    def field(self, member: str, size: int, base: int = 0) -> Field:
        """The member ``struct.member`` of ``size`` bytes, ``base`` bytes further in."""
        return Field(base + self.num(f"OFFSET({member})"), size)


def read_log(read: Reader, vmcoreinfo: Mapping[str, str], word: int = 8,
             order: ByteOrder = "little") -> tuple[list[PrintkRecord], str | None]:
    """Return the kernel log's records, oldest first, and what was wrong with the log
    (None: nothing; the records are those before it). :class:`DumpError` when
    VMCOREINFO names no log or lacks an offset the walk needs."""
    return read_records(read, layout_from_vmcoreinfo(vmcoreinfo, word, order))


def layout_from_vmcoreinfo(vmcoreinfo: Mapping[str, str], word: int = 8,
                           order: ByteOrder = "little") -> Layout:
    """Return the log's layout from VMCOREINFO's SYMBOL, OFFSET and SIZE lines; a kernel
    of ``word``-byte longs and pointers in byte ``order``."""
    vi = _Info(vmcoreinfo)
    prb = vi.symbol("prb")
    if prb is not None:
        return _ring_layout(vi, prb, word, order)
    if vi.symbol("log_buf") is not None:
        return _log_buf_layout(vi, word, order)
    raise DumpError("VMCOREINFO names no printk buffer (neither prb nor log_buf)")


def _ring_layout(vi: _Info, prb: int, word: int, order: ByteOrder) -> RingLayout:
    counter = vi.num("OFFSET(atomic_long_t.counter)")
    ring = vi.num("OFFSET(printk_ringbuffer.desc_ring)")
    text = vi.num("OFFSET(printk_ringbuffer.text_data_ring)")
    lpos = vi.num("OFFSET(prb_desc.text_blk_lpos)")
    caller = "OFFSET(printk_info.caller_id)" in vi.info
    subsystem = device = None
    if "OFFSET(printk_info.dev_info)" in vi.info:  # dev_printk's dictionary (5.10 and later)
        dev = vi.num("OFFSET(printk_info.dev_info)")
        sub_at = vi.num("OFFSET(dev_printk_info.subsystem)")
        dev_at = vi.num("OFFSET(dev_printk_info.device)")
        subsystem = vi.field("dev_printk_info.subsystem", dev_at - sub_at, dev)
        device = vi.field("dev_printk_info.device", vi.num("SIZE(dev_printk_info)") - dev_at, dev)
    return RingLayout(
        word, order, prb,
        count_bits=vi.field("prb_desc_ring.count_bits", 4, ring),
        descs=vi.field("prb_desc_ring.descs", word, ring),
        infos=vi.field("prb_desc_ring.infos", word, ring),
        head_id=vi.field("prb_desc_ring.head_id", word, ring + counter),
        tail_id=vi.field("prb_desc_ring.tail_id", word, ring + counter),
        size_bits=vi.field("prb_data_ring.size_bits", 4, text),
        data=vi.field("prb_data_ring.data", word, text),
        desc_size=vi.num("SIZE(prb_desc)"),
        state_var=vi.field("prb_desc.state_var", word, counter),
        lpos_begin=vi.field("prb_data_blk_lpos.begin", word, lpos),
        lpos_next=vi.field("prb_data_blk_lpos.next", word, lpos),
        info_size=vi.num("SIZE(printk_info)"), seq=vi.field("printk_info.seq", 8),
        ts_nsec=vi.field("printk_info.ts_nsec", 8), text_len=vi.field("printk_info.text_len", 2),
        caller_id=vi.field("printk_info.caller_id", 4) if caller else None,
        subsystem=subsystem, device=device)


def _log_buf_layout(vi: _Info, word: int, order: ByteOrder) -> LogBufLayout:
    def var(name: str, size: int) -> tuple[int, int]:
        addr = vi.symbol(name)
        if addr is None:
            raise DumpError(f"VMCOREINFO has no SYMBOL({name}): cannot read the log")
        return addr, size

    return LogBufLayout(
        word, order, var("log_buf", word), var("log_buf_len", 4), var("log_first_idx", 4),
        var("log_next_idx", 4), None, vi.num("SIZE(printk_log)"),
        ts_nsec=vi.field("printk_log.ts_nsec", 8), len=vi.field("printk_log.len", 2),
        text_len=vi.field("printk_log.text_len", 2))


def stamped_lines(records: list[PrintkRecord]) -> list[str]:
    """Return the log as ``dmesg`` prints it: ``[seconds.micros] text``, a line each."""
    lines = []
    for rec in records:
        stamp = dmesg_stamp(rec.timestamp)
        lines += [f"{stamp} {line}" for line in rec.text.decode("utf-8", "replace").split("\n")]
    return lines
