"""The kernel log's one reader: a bounded walk of the printk ring over raw bytes.

The walk needs two things: ``read(address, size) -> bytes`` over kernel memory, and a
layout, the offsets and sizes of the structures it crosses. The layout comes from the
program's types (:mod:`pycrash.kernel.printk`, with debuginfo or BTF) or from
VMCOREINFO's ``OFFSET()``/``SIZE()`` lines (:mod:`pycrash.triage.printk`, without); a
member a layout lacks (VMCOREINFO has no ``printk_info.facility`` or ``level``) leaves
the records' field None.

Since 5.10 the log is the lockless ring (``prb``): two arrays of ``2^count_bits``
descriptors and infos, and a text ring of ``2^size_bits`` bytes; ``desc_ring.tail_id``
and ``head_id`` name the oldest and newest descriptors. A reader that trusts the ids
walks ``head - tail`` of them, which garbage ids make 2^62 long. This one reads at most
one ring's worth of descriptors (the newest, ending at ``head_id``), in chunks, and each
record's text alone, so a corrupt ring costs neither time nor memory, and it says what
was wrong: ids further apart than the ring holds, or a ring whose sizes are not the
kernel's. Records are checked as the kernel's own reader checks them (the descriptor's
state names its id and says committed or finalized; the text block's positions are in
one wrap or wrap once, ``get_data()``).

Before 5.10 the log is ``log_buf``, a byte ring of ``struct printk_log`` records from
``log_first_idx`` to ``log_next_idx``; each record is checked to lie in the buffer and
to be at least its header long, and the walk wraps at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from drgn import FaultError

from pycrash.errors import DumpError, PycrashError
from pycrash.kernel.walk import WalkError

#: read(virtual address, size) -> bytes; raises FaultError or DumpError where the dump
#: has no such memory
Reader = Callable[[int, int], bytes]
ByteOrder = Literal["little", "big"]
#: The largest ring read: 2^22 descriptors (a 128 MiB log buffer; the kernel's
#: log_buf_len= tops out at 2^25 on most configurations).
MAX_COUNT_BITS = 22
#: PRB_AVGBITS: the kernel sizes the text ring 2^5 bytes per descriptor.
PRB_AVGBITS = 5
#: The largest pre-5.10 log_buf read: 1 GiB.
MAX_LOG_BUF_BITS = 30
#: Descriptors (and infos) read at once.
CHUNK = 512
#: The largest structure a layout may give (prb_desc is 24 bytes, printk_info 88 to 112).
MAX_STRUCT = 4096
#: enum desc_state's committed and finalized (the same in every kernel with the ring)
DESC_COMMITTED, DESC_FINALIZED = 1, 2
#: a data-less block's positions when the record is an empty line (EMPTY_LINE_LPOS,
#: NO_LPOS in 5.10)
EMPTY_LINE_LPOS = 3


class LayoutError(PycrashError, ValueError):
    """A layout whose members do not lie inside their structures."""


@dataclass(frozen=True, slots=True)
class Field:
    """An unsigned integer member: ``size`` bytes at ``offset`` from its structure's
    start; for a bit field, ``bits`` bits ``shift`` bits above the lowest of those bytes
    (read in the layout's byte order)."""

    offset: int
    size: int
    shift: int = 0
    bits: int = 0

    @property
    def end(self) -> int:
        return self.offset + self.size

    def get(self, data: bytes, at: int, order: ByteOrder) -> int:
        """Return the member of the structure at ``at`` in ``data``."""
        start = at + self.offset
        if start < 0 or start + self.size > len(data):
            raise WalkError(f"the kernel log's structures are cut short ({len(data)} bytes "
                            f"read, a member at {start})")
        value = int.from_bytes(data[start:start + self.size], order)
        if self.bits:
            value = (value >> self.shift) & ((1 << self.bits) - 1)
        return value


#: a global variable: its address and size
Var = tuple[int, int]


@dataclass(frozen=True, slots=True)
class RingLayout:
    """The lockless ring (5.10 and later): where ``prb`` is, and its structures. The
    header fields are offsets from the ``struct printk_ringbuffer`` itself (the
    ``desc_ring``'s or ``text_data_ring``'s offset added; ids and ``state_var`` their
    ``atomic_long_t``'s counter)."""

    word: int
    order: ByteOrder
    prb: int  #: the address of ``prb``, the pointer to the ring
    count_bits: Field
    descs: Field
    infos: Field
    head_id: Field
    tail_id: Field
    size_bits: Field
    data: Field
    desc_size: int
    state_var: Field
    lpos_begin: Field
    lpos_next: Field
    info_size: int
    seq: Field
    ts_nsec: Field
    text_len: Field
    caller_id: Field | None = None
    facility: Field | None = None
    level: Field | None = None
    #: ``dev_info.subsystem`` and ``dev_info.device`` (char arrays; dev_printk's dictionary)
    subsystem: Field | None = None
    device: Field | None = None
    committed: int = DESC_COMMITTED
    finalized: int = DESC_FINALIZED

    def __post_init__(self) -> None:
        _fit(self, ("count_bits", "descs", "infos", "head_id", "tail_id", "size_bits", "data"),
             MAX_STRUCT, "printk_ringbuffer")
        _fit(self, ("state_var", "lpos_begin", "lpos_next"), self.desc_size, "prb_desc")
        _fit(self, ("seq", "ts_nsec", "text_len", "caller_id", "facility", "level",
                    "subsystem", "device"), self.info_size, "printk_info")

    @property
    def header_size(self) -> int:
        """The bytes of ``struct printk_ringbuffer`` the walk reads."""
        return max(f.end for f in (self.count_bits, self.descs, self.infos, self.head_id,
                                   self.tail_id, self.size_bits, self.data))


@dataclass(frozen=True, slots=True)
class LogBufLayout:
    """The log before 5.10: the globals that hold ``log_buf``, its length and first and
    next indexes (and ``log_first_seq``, if known: else sequence numbers count from 0),
    and ``struct printk_log``."""

    word: int
    order: ByteOrder
    log_buf: Var
    log_buf_len: Var
    first_idx: Var
    next_idx: Var
    first_seq: Var | None
    hdr_size: int
    ts_nsec: Field
    len: Field
    text_len: Field
    caller_id: Field | None = None
    facility: Field | None = None
    level: Field | None = None

    def __post_init__(self) -> None:
        _fit(self, ("ts_nsec", "len", "text_len", "caller_id", "facility", "level"),
             self.hdr_size, "printk_log")


Layout = RingLayout | LogBufLayout


def _fit(layout: object, names: tuple[str, ...], size: int, struct: str) -> None:
    """Raise LayoutError unless ``struct``'s size is plausible and its members ``names``
    lie inside it."""
    if not 0 < size <= MAX_STRUCT:
        raise LayoutError(f"the layout gives struct {struct} {size} bytes")
    for name in names:
        f = getattr(layout, name)
        if f is not None and (f.offset < 0 or f.end > size):
            raise LayoutError(f"the layout puts {struct}.{name} ({f.offset}+{f.size}) "
                              f"outside the structure's {size} bytes")


def dmesg_stamp(timestamp_ns: int) -> str:
    """Return a log record's time as dmesg and crash's log print it: ``[   12.345678]``
    (seconds since boot, microseconds)."""
    secs, nsec = divmod(timestamp_ns, 1_000_000_000)
    return f"[{secs:5d}.{nsec // 1000:06d}]"


@dataclass(frozen=True, slots=True)
class PrintkRecord:
    """One message of the log: its text, syslog facility and level (None where the
    layout lacks them), sequence number, time since boot (ns), and the thread id or
    CPU that logged it (None where not known)."""

    text: bytes
    facility: int | None
    level: int | None
    seq: int
    timestamp: int
    caller_tid: int | None
    caller_cpu: int | None
    #: dev_printk's dictionary (``SUBSYSTEM=``, ``DEVICE=``), empty where there is none
    subsystem: bytes = b""
    device: bytes = b""


def read_records(read: Reader, layout: Layout) -> tuple[list[PrintkRecord], str | None]:
    """Return the log's records, oldest first, and what was wrong with the log (None:
    nothing); a walk that stops early keeps the records before it."""
    if isinstance(layout, RingLayout):
        walk, what = _ring_records(read, layout), "the printk ring"
    else:
        walk, what = _log_buf_records(read, layout), "the log buffer"
    records: list[PrintkRecord] = []
    try:
        for rec in walk:
            records.append(rec)
    except WalkError as exc:
        return records, str(exc)
    except FaultError as exc:
        why = exc.message if exc.message and exc.message != "could not read memory" \
            else "cannot read memory"
        return records, f"{what} breaks at {exc.address:#x} ({why})"
    except DumpError as exc:
        return records, f"{what} breaks: {exc}"
    return records, None


def _word(read: Reader, var: Var, order: ByteOrder) -> int:
    address, size = var
    return int.from_bytes(read(address, size), order)


def _caller(caller_id: int | None) -> tuple[int | None, int | None]:
    """Return (thread id, CPU) of a caller id: its top bit set for a CPU."""
    if caller_id is None:
        return None, None
    if caller_id & 0x80000000:
        return None, caller_id & ~0x80000000
    return caller_id, None


def _optional(f: Field | None, data: bytes, at: int, order: ByteOrder) -> int | None:
    return None if f is None else f.get(data, at, order)


def _chars(f: Field | None, data: bytes, at: int) -> bytes:
    """Return the NUL-terminated string of a char array member (empty when absent)."""
    if f is None:
        return b""
    start = at + f.offset
    return data[start:start + f.size].split(b"\0", 1)[0]


class _Chunks:
    """An array of ``count`` structures of ``size`` bytes at ``base``, read ``CHUNK`` at
    a time: one chunk held at once."""

    def __init__(self, read: Reader, base: int, size: int, count: int) -> None:
        self.read, self.base, self.size, self.count = read, base, size, count
        self.chunk, self.data = -1, b""

    def at(self, idx: int) -> tuple[bytes, int]:
        """Return the chunk holding structure ``idx`` and the structure's offset in it."""
        chunk = idx // CHUNK
        if chunk != self.chunk:
            n = min(CHUNK, self.count - chunk * CHUNK)
            self.data = self.read(self.base + chunk * CHUNK * self.size, n * self.size)
            self.chunk = chunk
        return self.data, (idx - chunk * CHUNK) * self.size


def _ring_records(read: Reader, lay: RingLayout) -> Iterator[PrintkRecord]:
    order, word = lay.order, lay.word
    prb = _word(read, (lay.prb, word), order)
    hdr = read(prb, lay.header_size)
    flags_shift = word * 8 - 2
    id_mask = (1 << flags_shift) - 1
    count_bits = lay.count_bits.get(hdr, 0, order)
    size_bits = lay.size_bits.get(hdr, 0, order)
    if not 0 < count_bits <= MAX_COUNT_BITS or size_bits != count_bits + PRB_AVGBITS:
        raise WalkError(f"the printk ring's sizes are garbage (2^{count_bits} descriptors, "
                        f"2^{size_bits} bytes of text)", prb)
    count = 1 << count_bits
    data = lay.data.get(hdr, 0, order)
    descs = _Chunks(read, lay.descs.get(hdr, 0, order), lay.desc_size, count)
    infos = _Chunks(read, lay.infos.get(hdr, 0, order), lay.info_size, count)

    head = lay.head_id.get(hdr, 0, order) & id_mask
    tail = lay.tail_id.get(hdr, 0, order) & id_mask
    span = (head - tail) & id_mask
    problem = None
    if span >= count:
        problem = (f"the printk ring's ids are garbage (tail {tail:#x}, head {head:#x}: "
                   f"{span + 1} ids in a ring of {count}); read the last {count} ids")
        tail = (head - count + 1) & id_mask
        span = count - 1

    for step in range(span + 1):
        cur = (tail + step) & id_mask
        idx = cur & (count - 1)
        desc, at = descs.at(idx)
        state_var = lay.state_var.get(desc, at, order)
        state = (state_var >> flags_shift) & 3
        if (state_var & id_mask) != cur or state not in (lay.committed, lay.finalized):
            continue
        where = _text_block(lay.lpos_begin.get(desc, at, order),
                           lay.lpos_next.get(desc, at, order), size_bits, word)
        if where is None:
            continue
        text_off, text_size = where
        info, at = infos.at(idx)
        text_len = min(lay.text_len.get(info, at, order), text_size)
        text = read(data + text_off, text_len) if text_len else b""
        tid, cpu = _caller(_optional(lay.caller_id, info, at, order))
        yield PrintkRecord(text, _optional(lay.facility, info, at, order),
                           _optional(lay.level, info, at, order), lay.seq.get(info, at, order),
                           lay.ts_nsec.get(info, at, order), tid, cpu,
                           _chars(lay.subsystem, info, at), _chars(lay.device, info, at))
    if problem:
        raise WalkError(problem, prb)


def _text_block(begin: int, nxt: int, size_bits: int, word: int) -> tuple[int, int] | None:
    """Return the text's offset in the text ring of ``2^size_bits`` bytes and its most
    bytes for a descriptor's block positions ``[begin, next)`` (the kernel's
    ``get_data()``); None for an invalid or lost block. A data-less block whose
    positions are both EMPTY_LINE_LPOS is an empty message."""
    if begin & 1 and nxt & 1:
        return (0, 0) if begin == nxt == EMPTY_LINE_LPOS else None
    if begin % word or nxt % word:
        return None
    data_size = 1 << size_bits
    mask = (1 << (8 * word)) - 1
    if begin >> size_bits == nxt >> size_bits and begin < nxt:
        off, size = begin & (data_size - 1), nxt - begin
    elif ((begin + data_size) & mask) >> size_bits == nxt >> size_bits:
        off, size = 0, nxt & (data_size - 1)  # wrapped: the block is at the ring's start
    else:
        return None
    if size < word:
        return None
    return off + word, size - word  # after the block's id


def _log_buf_records(read: Reader, lay: LogBufLayout) -> Iterator[PrintkRecord]:
    order, hdr = lay.order, lay.hdr_size
    buf = _word(read, lay.log_buf, order)
    size = _word(read, lay.log_buf_len, order)
    idx = _word(read, lay.first_idx, order)
    nxt = _word(read, lay.next_idx, order)
    seq = _word(read, lay.first_seq, order) if lay.first_seq else 0
    if not 0 < size <= 1 << MAX_LOG_BUF_BITS:
        raise WalkError(f"the log buffer's size is garbage ({size} bytes)", buf)
    # each step passes a record (at least its header long, never past the next record)
    # or wraps, once: a walk that wraps starts after the next record, then meets it
    for _ in range(size // hdr + 2):
        if idx == nxt:
            return
        if idx + hdr > size:
            raise WalkError(f"the log buffer's record at {idx} runs past its end", buf + idx)
        head = read(buf + idx, hdr)
        length = lay.len.get(head, 0, order)
        if length == 0:  # a wrap marker: the next record is at the start
            if idx < nxt:
                raise WalkError(f"the log buffer wraps at {idx} without meeting its next "
                                f"record at {nxt}", buf + idx)
            idx = 0
            continue
        text_len = lay.text_len.get(head, 0, order)
        if length < hdr + text_len or idx + length > size or idx < nxt < idx + length:
            raise WalkError(f"the log buffer's record at {idx} is garbage ({length} bytes, "
                            f"{text_len} of text, the next record at {nxt})", buf + idx)
        text = read(buf + idx + hdr, text_len) if text_len else b""
        tid, cpu = _caller(_optional(lay.caller_id, head, 0, order))
        yield PrintkRecord(text, _optional(lay.facility, head, 0, order),
                           _optional(lay.level, head, 0, order), seq,
                           lay.ts_nsec.get(head, 0, order), tid, cpu)
        seq += 1
        idx += length
    raise WalkError(f"the log buffer's records never reach its next record at {nxt}", buf)

