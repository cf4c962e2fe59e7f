"""The kernel log read with the program's types: the layout of the printk ring (5.10 and
later) or of ``log_buf`` (before) from ``struct printk_ringbuffer``, ``prb_desc``,
``printk_info`` or ``printk_log`` as DWARF or BTF describes them, walked by
:mod:`pycrash.kernel.printkring` (bounded, without trusting the ring's ids)."""

from __future__ import annotations

from drgn import PlatformFlags, Program, Type, TypeKind, sizeof

from pycrash.kernel.printkring import (
    DESC_COMMITTED,
    DESC_FINALIZED,
    ByteOrder,
    Field,
    Layout,
    LogBufLayout,
    PrintkRecord,
    RingLayout,
    Var,
    read_records,
)

__all__ = ["PrintkRecord", "layout_from_types", "printk_records"]


def printk_records(prog: Program) -> tuple[list[PrintkRecord], str | None]:
    """Return the records of the kernel log, oldest first, and what was wrong with the
    ring (None: nothing). Raises LookupError when the kernel has no log the reader
    knows, ValueError when its types do not fit together."""
    return read_records(prog.read, layout_from_types(prog))


def layout_from_types(prog: Program) -> Layout:
    """Return the layout of the kernel's log from its types: the lockless ring's where
    there is ``prb``, else ``log_buf``'s. LookupError when a type or variable is
    missing."""
    word = sizeof(prog.type("unsigned long"))
    little = prog.platform is None or bool(prog.platform.flags & PlatformFlags.IS_LITTLE_ENDIAN)
    order: ByteOrder = "little" if little else "big"
    try:
        prb = prog["prb"]
    except KeyError:
        return _log_buf_layout(prog, word, order)
    address = prb.address_
    if address is None:
        raise LookupError("prb has no address")
    rb = prog.type("struct printk_ringbuffer")
    desc = prog.type("struct prb_desc")
    info = prog.type("struct printk_info")

    def at(t: Type, path: str) -> Field:
        return member_field(t, path, order)

    return RingLayout(
        word, order, address,
        count_bits=at(rb, "desc_ring.count_bits"), descs=at(rb, "desc_ring.descs"),
        infos=at(rb, "desc_ring.infos"), head_id=at(rb, "desc_ring.head_id.counter"),
        tail_id=at(rb, "desc_ring.tail_id.counter"),
        size_bits=at(rb, "text_data_ring.size_bits"), data=at(rb, "text_data_ring.data"),
        desc_size=sizeof(desc), state_var=at(desc, "state_var.counter"),
        lpos_begin=at(desc, "text_blk_lpos.begin"), lpos_next=at(desc, "text_blk_lpos.next"),
        info_size=sizeof(info), seq=at(info, "seq"), ts_nsec=at(info, "ts_nsec"),
        text_len=at(info, "text_len"), caller_id=_maybe(info, "caller_id", order),
        facility=at(info, "facility"), level=at(info, "level"),
        subsystem=_maybe(info, "dev_info.subsystem", order),
        device=_maybe(info, "dev_info.device", order),
        committed=_constant(prog, "desc_committed", DESC_COMMITTED),
        finalized=_constant(prog, "desc_finalized", DESC_FINALIZED))


def _log_buf_layout(prog: Program, word: int, order: ByteOrder) -> LogBufLayout:
    try:
        rec = prog.type("struct printk_log")
    except LookupError:  # before 3.11 (and RHEL 7): struct log
        rec = prog.type("struct log")

    def var(name: str) -> Var:
        obj = prog[name]
        if obj.address_ is None:
            raise LookupError(f"{name} has no address")
        return obj.address_, sizeof(obj.type_)

    try:
        first_seq: Var | None = var("log_first_seq")
    except LookupError:
        first_seq = None
    return LogBufLayout(
        word, order, var("log_buf"), var("log_buf_len"), var("log_first_idx"),
        var("log_next_idx"), first_seq, sizeof(rec),
        ts_nsec=member_field(rec, "ts_nsec", order), len=member_field(rec, "len", order),
        text_len=member_field(rec, "text_len", order),
        caller_id=_maybe(rec, "caller_id", order), facility=member_field(rec, "facility", order),
        level=member_field(rec, "level", order))


def member_field(t: Type, path: str, order: ByteOrder) -> Field:
    """Return where the integer member ``path`` (``a.b.c``) lies in structure ``t``;
    LookupError when there is no such member."""
    bit = 0
    bits: int | None = None
    for name in path.split("."):
        while t.kind == TypeKind.TYPEDEF:
            t = t.type
        m = t.member(name)
        bit += m.bit_offset
        bits = m.bit_field_size
        t = m.type
    if not bits:
        return Field(bit // 8, sizeof(t))
    first = bit % 8
    size = (first + bits + 7) // 8
    shift = first if order == "little" else size * 8 - first - bits
    return Field(bit // 8, size, shift, bits)


def _maybe(t: Type, path: str, order: ByteOrder) -> Field | None:
    try:
        return member_field(t, path, order)
    except LookupError:
        return None


def _constant(prog: Program, name: str, default: int) -> int:
    """Return the enumerator ``name``'s value, ``default`` when the types lack it."""
    try:
        return int(prog[name].value_())
    except LookupError:
        return default
