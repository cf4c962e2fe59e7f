"""The ftrace ring buffer of the global trace array, decoded as /sys/kernel/tracing/trace
prints it: per CPU, the reader page then the pages from the head to the commit page, each
``buffer_data_page`` a run of ``ring_buffer_event`` headers (type_len, time delta) whose
payloads start with a ``struct trace_entry``; the function tracer's, trace_printk's
(bprint, print) and events' entries (sched_switch by its format, others as their fields).

The decoding of pages and entries works on bytes (:func:`page_events`, :func:`format_entry`),
so it is tested on hand-built pages; :func:`read_trace` reads them from a dump."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program

from pycrash.kernel.walk import WalkError, list_entries

#: ring_buffer_event type_len values past the data lengths
RB_PADDING, RB_TIME_EXTEND, RB_TIME_STAMP = 29, 30, 31
RB_MAX_SMALL_DATA = 28 * 4
#: trace_entry flags (6.1): irqs off, no irq support, need resched, hardirq, softirq,
#: preempt resched, NMI, BH off
F_IRQS_OFF, F_NOSUPPORT, F_RESCHED, F_HARDIRQ = 0x01, 0x02, 0x04, 0x08
F_SOFTIRQ, F_PREEMPT_RESCHED, F_NMI, F_BH_OFF = 0x10, 0x20, 0x40, 0x80
#: the most pages read from one CPU's buffer
MAX_PAGES = 65536


@dataclass(frozen=True)
class RawEvent:
    """A data event of a buffer page: its time stamp (ns) and payload (a trace_entry...)."""

    ts: int
    data: bytes


@dataclass(frozen=True)
class Field:
    """An event field (ftrace_event_field): name, C type, offset, size, signedness."""

    name: str
    type: str
    offset: int
    size: int
    signed: bool


@dataclass(frozen=True)
class EventFormat:
    """A trace event type: its name and fields (past the common trace_entry)."""

    name: str
    fields: tuple[Field, ...] = ()


@dataclass
class Decoder:
    """What entry decoding needs from the kernel: the event types by id, the ids of the
    function, bprint and print entries, a symbol namer and a string reader."""

    events: dict[int, EventFormat] = field(default_factory=dict)
    fn: int = 1
    print_: int = 5
    bprint: int = 6
    symbol: Callable[[int], str] = lambda addr: f"0x{addr:x}"
    string: Callable[[int], str] = lambda addr: ""


def page_events(data: bytes, time_stamp: int, commit: int, start: int = 0) -> Iterator[RawEvent]:
    """Yield the data events of a buffer page's ``data[]`` (``commit`` bytes of it), from
    byte ``start`` (the reader's position), their time stamps from the page's
    ``time_stamp`` and each event's delta (TIME_EXTEND adds, TIME_STAMP sets)."""
    ts = time_stamp
    pos = 0
    end = min(commit, len(data))
    while pos + 4 <= end:
        (head,) = struct.unpack_from("<I", data, pos)
        type_len, delta = head & 0x1F, head >> 5
        if type_len == RB_PADDING:
            if delta == 0:  # discarded at the end of the page: nothing follows
                break
            (length,) = struct.unpack_from("<I", data, pos + 4)
            pos += 4 + length
            continue
        if type_len == RB_TIME_EXTEND:
            (hi,) = struct.unpack_from("<I", data, pos + 4)
            ts += (hi << 27) | delta
            pos += 8
            continue
        if type_len == RB_TIME_STAMP:
            (hi,) = struct.unpack_from("<I", data, pos + 4)
            ts = (hi << 27) | delta
            pos += 8
            continue
        ts += delta
        if type_len == 0:
            (length,) = struct.unpack_from("<I", data, pos + 4)
            body, size = pos + 8, max(length - 4, 0)
        else:
            body, size = pos + 4, type_len * 4
        if body + size > end or size == 0:
            break
        if pos >= start:
            yield RawEvent(ts, data[body:body + size])
        pos = body + size


def lat_flags(flags: int, preempt: int) -> str:
    """Return the five latency columns of a trace line (irqs-off, need-resched,
    hardirq/softirq, preempt depth, migrate-disable), as trace_print_lat_fmt."""
    irqs = ("D" if flags & F_IRQS_OFF and flags & F_BH_OFF else "d" if flags & F_IRQS_OFF
            else "b" if flags & F_BH_OFF else "X" if flags & F_NOSUPPORT else ".")
    resched = {F_RESCHED | F_PREEMPT_RESCHED: "N", F_RESCHED: "n",
               F_PREEMPT_RESCHED: "p"}.get(flags & (F_RESCHED | F_PREEMPT_RESCHED), ".")
    nmi, hard, soft = flags & F_NMI, flags & F_HARDIRQ, flags & F_SOFTIRQ
    irq = ("Z" if nmi and hard else "z" if nmi else "H" if hard and soft else "h" if hard
           else "s" if soft else ".")
    depth = f"{preempt & 0xF:x}" if preempt & 0xF else "."
    migrate = f"{(preempt >> 4) & 0xF:x}" if (preempt >> 4) & 0xF else "."
    return irqs + resched + irq + depth + migrate


_SPEC = re.compile(r"%([-+ #0]*)(\d*|\*)(?:\.(\d+))?(hh|h|ll|l|z|t)?([diouxXcspS%])(\w*)")


def binary_printf(fmt: str, buf: bytes, decoder: Decoder) -> str:
    """Format trace_printk's binary arguments (vbin_printf: each argument aligned to its
    size, strings copied inline and padded to 4 bytes) with ``fmt``."""
    pos = 0
    out: list[str] = []
    last = 0

    def take(size: int) -> int:
        nonlocal pos
        pos = (pos + size - 1) // size * size
        raw = buf[pos:pos + size].ljust(size, b"\0")
        pos += size
        return int.from_bytes(raw, "little")

    for m in _SPEC.finditer(fmt):
        out.append(fmt[last:m.start()])
        last = m.end()
        flags, width, prec, length, conv, suffix = m.groups()
        if conv == "%":
            out.append("%" + suffix)
            continue
        if width == "*":
            width = str(take(4))
        if conv == "s":
            end = buf.find(b"\0", pos)
            end = len(buf) if end < 0 else end
            text = buf[pos:end].decode(errors="replace")
            pos = (end + 1 + 3) // 4 * 4
            out.append(f"%{flags}{width}{'.' + prec if prec else ''}s" % text + suffix)
            continue
        if conv == "p":
            value = take(8)
            if suffix[:1] in ("s", "S", "f", "F"):
                out.append(decoder.symbol(value) + suffix[1:])
            else:
                out.append(f"{value:016x}" + suffix)
            continue
        size = 8 if length in ("l", "ll", "z", "t") else 4
        value = take(size)
        if conv in "di" and value >= 1 << (size * 8 - 1):
            value -= 1 << (size * 8)
        if conv == "c":
            out.append(chr(value & 0xFF) + suffix)
            continue
        conv = "d" if conv in "iu" else conv
        out.append(f"%{flags}{width}{'.' + prec if prec else ''}{conv}" % value + suffix)
    out.append(fmt[last:])
    return "".join(out)


def _field_value(data: bytes, f: Field) -> int | str:
    raw = data[f.offset:f.offset + f.size]
    if "char" in f.type and "[" in f.type:
        return raw.split(b"\0", 1)[0].decode(errors="replace")
    if f.size in (1, 2, 4, 8) and len(raw) == f.size:
        return int.from_bytes(raw, "little", signed=f.signed)
    return raw.hex()


def _prev_state(state: int) -> str:
    names = "SDTtXZPI"
    bits = [names[i] for i in range(len(names)) if state & (1 << i)]
    text = "|".join(bits) if bits else "R"
    return text + ("+" if state & (1 << len(names)) else "")


def format_entry(data: bytes, decoder: Decoder) -> tuple[int, int, int, str]:
    """Return ``(pid, flags, preempt_count, text)`` of a trace entry's payload: the
    function tracer's ``func <-parent``, trace_printk's ``func: message``, sched_switch's
    line, or ``name: field=value ...`` for other events."""
    etype, flags, preempt, pid = struct.unpack_from("<HBBi", data, 0)
    if etype == decoder.fn:
        ip, parent = struct.unpack_from("<QQ", data, 8)
        return pid, flags, preempt, f"{decoder.symbol(ip)} <-{decoder.symbol(parent)}"
    if etype == decoder.bprint:
        ip, fmt = struct.unpack_from("<QQ", data, 8)
        text = binary_printf(decoder.string(fmt), data[24:], decoder)
        return pid, flags, preempt, f"{decoder.symbol(ip)}: {text}"
    if etype == decoder.print_:
        (ip,) = struct.unpack_from("<Q", data, 8)
        text = data[16:].split(b"\0", 1)[0].decode(errors="replace")
        return pid, flags, preempt, f"{decoder.symbol(ip)}: {text}"
    event = decoder.events.get(etype)
    if event is None:
        return pid, flags, preempt, f"<unknown event type {etype}>"
    values = {f.name: _field_value(data, f) for f in event.fields}
    if event.name == "sched_switch" and {"prev_comm", "next_comm"} <= values.keys():
        v = values
        prev_state = v.get("prev_state", 0)
        state = _prev_state(prev_state) if isinstance(prev_state, int) else str(prev_state)
        text = (f"prev_comm={v['prev_comm']} prev_pid={v.get('prev_pid')} "
                f"prev_prio={v.get('prev_prio')} prev_state={state} ==> "
                f"next_comm={v['next_comm']} next_pid={v.get('next_pid')} "
                f"next_prio={v.get('next_prio')}")
    else:
        text = " ".join(f"{k}={v}" for k, v in values.items())
    return pid, flags, preempt, f"{event.name}: {text}"


@dataclass(frozen=True)
class CpuBuffer:
    """One CPU's ring buffer: the entries in it and the entries written (with overruns),
    and its events in order."""

    cpu: int
    entries: int
    written: int
    events: list[RawEvent]


def _local(obj: Object) -> int:
    return int(obj.a.counter.value_())


def _pages_in_order(cpu_buffer: Object) -> Iterator[Object]:
    """Yield the CPU buffer's pages to read: the reader page, then from the head page to
    the commit page (list pointers carry flags in their low 2 bits)."""
    prog = cpu_buffer.prog_
    reader = cpu_buffer.reader_page.read_()
    commit = cpu_buffer.commit_page.value_()
    yield reader
    if reader.value_() == commit:
        return
    page_type = prog.type("struct buffer_page *")
    page = Object(prog, page_type, cpu_buffer.head_page.value_() & ~3)
    seen: set[int] = set()
    for _ in range(min(cpu_buffer.nr_pages.value_() + 1, MAX_PAGES)):
        addr = page.value_()
        if addr in seen:
            return
        seen.add(addr)
        yield page
        if addr == commit:
            return
        page = Object(prog, page_type, page.list.next.value_() & ~3)
    raise WalkError(f"the ring buffer pages of CPU {cpu_buffer.cpu.value_()} do not reach "
                    "its commit page")


def cpu_buffers(prog: Program) -> tuple[str, list[CpuBuffer]]:
    """Return the current tracer's name and each CPU's buffer of the global trace array."""
    tr = prog["global_trace"]
    try:
        buffer = tr.array_buffer.buffer
    except AttributeError:  # before 5.6
        buffer = tr.trace_buffer.buffer
    tracer = tr.current_trace.name.string_().decode(errors="replace") \
        if tr.current_trace else "nop"
    out: list[CpuBuffer] = []
    if not buffer:
        return tracer, out
    page_size = prog.type("struct buffer_data_page").size
    try:  # 6.8 on: sub-buffers of PAGE_SIZE << subbuf_order
        data_size = (4096 << buffer.subbuf_order.value_()) - page_size
    except AttributeError:
        data_size = 4096 - page_size
    try:
        cpus = buffer.cpus.value_()
    except AttributeError:  # 6.12 dropped the count: a buffer per possible CPU
        cpus = prog["nr_cpu_ids"].value_()
    for cpu in range(cpus):
        cb = buffer.buffers[cpu].read_()
        if not cb:
            continue
        overrun = _local(cb.overrun) + _local(cb.commit_overrun)
        entries = _local(cb.entries) - overrun - cb.read.value_()
        events: list[RawEvent] = []
        if entries > 0:
            first = True
            for page in _pages_in_order(cb):
                bdp = page.page.read_()
                commit = _local(bdp.commit) & 0xFFFFF  # RB_WRITE_MASK
                raw = prog.read(bdp.data.address_of_().value_(), min(commit, data_size))
                start = page.read.value_() if first else 0
                events.extend(page_events(raw, bdp.time_stamp.value_(), commit, start))
                first = False
        out.append(CpuBuffer(cpu, max(entries, 0), max(entries, 0) + _local(cb.overrun),
                             events))
    return tracer, out


def kernel_decoder(prog: Program, symbol: Callable[[int], str]) -> Decoder:
    """Return a :class:`Decoder` of the kernel's event types (the ftrace_events list)."""
    def string(addr: int) -> str:
        try:
            return prog.read(addr, 256).split(b"\0", 1)[0].decode(errors="replace")
        except FaultError:
            return ""

    dec = Decoder(fn=prog["TRACE_FN"].value_(), print_=prog["TRACE_PRINT"].value_(),
                  bprint=prog["TRACE_BPRINT"].value_(), symbol=symbol, string=string)
    try:
        tp_flag = prog["TRACE_EVENT_FL_TRACEPOINT"].value_()
    except KeyError:
        tp_flag = 0
    for call in list_entries("struct trace_event_call", prog["ftrace_events"].address_of_(),
                             "list", "the ftrace event list"):
        try:
            if call.flags.value_() & tp_flag:
                name = call.tp.name.string_().decode()
            else:
                name = call.name.string_().decode()
            fields = []
            for f in list_entries("struct ftrace_event_field",
                                  call.member_("class").fields.address_of_(), "link",
                                  f"the fields of event {name}"):
                fields.append(Field(f.name.string_().decode(), f.type.string_().decode(),
                                    f.offset.value_(), f.size.value_(),
                                    bool(f.is_signed.value_())))
            fields.sort(key=lambda f: f.offset)
            dec.events[call.event.type.value_()] = EventFormat(
                name, tuple(f for f in fields if not f.name.startswith("common_")))
        except (FaultError, LookupError, UnicodeDecodeError):
            continue
    return dec
