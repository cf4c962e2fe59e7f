"""The ftrace ring buffer of the global trace array, decoded as /sys/kernel/tracing/trace
prints it: per CPU, the reader page then the pages from the head to the commit page, each
``buffer_data_page`` a run of ``ring_buffer_event`` headers (type_len, time delta) whose
payloads start with a ``struct trace_entry``; the function tracer's, trace_printk's
(bprint, bputs, print) and events' entries, each by its own ``print fmt`` (the kernel's
``ftrace_events`` list, evaluated by :mod:`pycrash.kernel.printfmt`), the task names from
the tracer's saved command lines (``savedcmd``), as the kernel names them.

The decoding of pages and entries works on bytes (:func:`page_events`, :func:`format_entry`),
so it is tested on hand-built pages; :func:`cpu_buffers` and :func:`kernel_decoder` read
them from a dump. :func:`format_file`, :func:`header_page`, :func:`header_event`,
:func:`printk_formats` and :func:`cmdline_table` give the text of the tracing directory's
files that a trace.dat holds (:mod:`pycrash.kernel.tracedat`)."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from drgn import FaultError, Object, Program, sizeof

from pycrash.kernel.printfmt import FormatError, PrintFmt, parse
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
    """An event field (ftrace_event_field): name, C type, offset, size, signedness, and
    an array's length where the kernel keeps it (``len``, 5.19 on; else None)."""

    name: str
    type: str
    offset: int
    size: int
    signed: bool
    length: int | None = None


@dataclass(frozen=True)
class EventFormat:
    """A trace event type: its name and fields (past the common trace_entry), and, read
    from the kernel, its id (``event.type``), system and print format."""

    name: str
    fields: tuple[Field, ...] = ()
    id: int = 0
    system: str = ""
    print_fmt: str = ""


@dataclass
class Decoder:
    """What entry decoding needs from the kernel: the event types by id, the ids of the
    function, bprint, bputs and print entries, a symbol namer (``symbol(addr)``, and
    ``offset_symbol(addr)`` for %pS: ``name+0xoff/0xsize``) and a string reader."""

    events: dict[int, EventFormat] = field(default_factory=dict)
    fn: int = 1
    print_: int = 5
    bprint: int = 6
    bputs: int = 14
    symbol: Callable[[int], str] = lambda addr: f"0x{addr:x}"
    string: Callable[[int], str] = lambda addr: ""
    offset_symbol: Callable[[int], str] | None = None
    #: the fields every entry starts with (ftrace_common_fields), for the format files
    common: tuple[Field, ...] = ()
    #: parsed print formats by event id (None: not evaluable, fields are printed)
    _formats: dict[int, PrintFmt | None] = field(default_factory=dict)

    def print_format(self, event: EventFormat) -> PrintFmt | None:
        """The event's parsed print format, or None when pycrash cannot evaluate it."""
        if event.id not in self._formats:
            try:
                self._formats[event.id] = parse(event.print_fmt) if event.print_fmt else None
            except FormatError:
                self._formats[event.id] = None
        return self._formats[event.id]


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
    if "char" in f.type and "[" in f.type and not f.type.startswith("__"):
        return raw.split(b"\0", 1)[0].decode(errors="replace")
    if f.size in (1, 2, 4, 8) and len(raw) == f.size:
        return int.from_bytes(raw, "little", signed=f.signed)
    return raw.hex()


def _dynamic(data: bytes, f: Field) -> bytes | None:
    """The bytes a ``__data_loc`` (offset from the entry) or ``__rel_loc`` (offset from
    the field's end) field points to: its low 16 bits are the offset, its high 16 the
    length."""
    if not f.type.startswith(("__data_loc", "__rel_loc")) or f.size != 4:
        return None
    (loc,) = struct.unpack_from("<I", data, f.offset)
    offset, length = loc & 0xFFFF, loc >> 16
    if f.type.startswith("__rel_loc"):
        offset += f.offset + 4
    return data[offset:offset + length]


def event_fields(data: bytes, event: EventFormat) -> dict[str, int | str | bytes]:
    """An entry's fields by name; a dynamic field's bytes also as ``__data__NAME``."""
    values: dict[str, int | str | bytes] = {}
    for f in event.fields:
        if f.offset + f.size > len(data):
            continue
        values[f.name] = _field_value(data, f)
        dyn = _dynamic(data, f)
        if dyn is not None:
            values[f"__data__{f.name}"] = dyn
    return values


def _prev_state(state: int) -> str:
    names = "SDTtXZPI"
    bits = [names[i] for i in range(len(names)) if state & (1 << i)]
    text = "|".join(bits) if bits else "R"
    return text + ("+" if state & (1 << len(names)) else "")


def _message(text: str) -> str:
    """A printed message as its trace line shows it: the kernel adds no newline after
    trace_printk's or trace_marker's text, which ends with one."""
    return text[:-1] if text.endswith("\n") else text


def format_entry(data: bytes, decoder: Decoder) -> tuple[int, int, int, str]:
    """Return ``(pid, flags, preempt_count, text)`` of a trace entry's payload: the
    function tracer's ``func <-parent``, trace_printk's and trace_marker's ``func:
    message``, an event's ``name: `` and its print format's text (sched_switch's line,
    or ``field=value ...`` for events pycrash cannot evaluate)."""
    etype, flags, preempt, pid = struct.unpack_from("<HBBi", data, 0)
    if etype == decoder.fn:
        ip, parent = struct.unpack_from("<QQ", data, 8)
        return pid, flags, preempt, f"{decoder.symbol(ip)} <-{decoder.symbol(parent)}"
    if etype == decoder.bprint:
        ip, fmt = struct.unpack_from("<QQ", data, 8)
        text = binary_printf(decoder.string(fmt), data[24:], decoder)
        return pid, flags, preempt, f"{decoder.symbol(ip)}: {_message(text)}"
    if etype == decoder.bputs:
        ip, string = struct.unpack_from("<QQ", data, 8)
        return pid, flags, preempt, f"{decoder.symbol(ip)}: {_message(decoder.string(string))}"
    if etype == decoder.print_:
        (ip,) = struct.unpack_from("<Q", data, 8)
        text = data[16:].split(b"\0", 1)[0].decode(errors="replace")
        return pid, flags, preempt, f"{decoder.symbol(ip)}: {_message(text)}"
    event = decoder.events.get(etype)
    if event is None:
        return pid, flags, preempt, f"<unknown event type {etype}>"
    fmt = decoder.print_format(event)
    if fmt is not None:
        def name(addr: int, offset: bool) -> str:
            if offset and decoder.offset_symbol is not None:
                return decoder.offset_symbol(addr)
            return decoder.symbol(addr)

        try:
            text = fmt.render(event_fields(data, event), name)
            return pid, flags, preempt, f"{event.name}: {text}"
        except (FormatError, TypeError, ValueError, OverflowError):
            pass
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
    its events in order, and the buffer_data_pages they were read from (whole pages,
    header and data, in reading order: the reader page, then the head page to the commit
    page; pages without data left out)."""

    cpu: int
    entries: int
    written: int
    events: list[RawEvent]
    pages: list[bytes] = field(default_factory=list)


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


def page_size(prog: Program) -> int:
    """The kernel's page size (a ring buffer page's)."""
    try:
        return int(prog["PAGE_SIZE"].value_())
    except KeyError:
        return 4096


def _global_buffer(prog: Program) -> Object:
    """The global trace array's ``struct trace_buffer *``."""
    tr = prog["global_trace"]
    try:
        return tr.array_buffer.buffer
    except AttributeError:  # before 5.6
        return tr.trace_buffer.buffer


def ring_page_size(prog: Program) -> int:
    """The size of the global ring buffer's pages: a page, or since 6.8 its sub-buffers
    of ``PAGE_SIZE << subbuf_order``."""
    size = page_size(prog)
    try:
        buffer = _global_buffer(prog)
        if buffer:
            return size << int(buffer.subbuf_order.value_())
    except (AttributeError, KeyError, FaultError):
        pass
    return size


def cpu_buffers(prog: Program) -> tuple[str, list[CpuBuffer]]:
    """Return the current tracer's name and each CPU's buffer of the global trace array."""
    tr = prog["global_trace"]
    buffer = _global_buffer(prog)
    tracer = tr.current_trace.name.string_().decode(errors="replace") \
        if tr.current_trace else "nop"
    out: list[CpuBuffer] = []
    if not buffer:
        return tracer, out
    size = ring_page_size(prog)
    header = prog.type("struct buffer_data_page").size
    try:
        ncpus = int(buffer.cpus.value_())
    except AttributeError:  # 6.5 on: one per possible CPU id
        ncpus = int(prog["nr_cpu_ids"].value_())
    for cpu in range(ncpus):
        cb = buffer.buffers[cpu].read_()
        if not cb:
            continue
        overrun = _local(cb.overrun) + _local(cb.commit_overrun)
        entries = _local(cb.entries) - overrun - cb.read.value_()
        events: list[RawEvent] = []
        pages: list[bytes] = []
        if entries > 0:
            first = True
            for page in _pages_in_order(cb):
                bdp = page.page.read_()
                commit = _local(bdp.commit) & 0xFFFFF  # RB_WRITE_MASK
                if commit:
                    raw = prog.read(bdp.value_(), size)
                    pages.append(raw)
                    start = page.read.value_() if first else 0
                    events.extend(page_events(raw[header:], bdp.time_stamp.value_(),
                                              commit, start))
                first = False
        out.append(CpuBuffer(cpu, max(entries, 0), max(entries, 0) + _local(cb.overrun),
                             events, pages))
    return tracer, out


def _string(prog: Program, addr: int, limit: int = 4096) -> str:
    """A kernel C string (at most ``limit`` bytes), "" when unreadable."""
    out = b""
    try:
        while len(out) < limit:
            chunk = prog.read(addr + len(out), 256 - (addr + len(out)) % 256)
            end = chunk.find(b"\0")
            if end >= 0:
                return (out + chunk[:end]).decode(errors="replace")
            out += chunk
    except FaultError:
        pass
    return out.decode(errors="replace")


def _fields(prog: Program, head: Object, what: str) -> tuple[Field, ...]:
    """The ftrace_event_fields of a list, in the order the kernel defined them (each was
    added at the list's head)."""
    fields = [Field(f.name.string_().decode(), f.type.string_().decode(),
                    f.offset.value_(), f.size.value_(), bool(f.is_signed.value_()),
                    _length(f))
              for f in list_entries("struct ftrace_event_field", head, "link", what)]
    return tuple(reversed(fields))


def _length(f: Object) -> int | None:
    try:
        return int(f.member_("len").value_())
    except LookupError:
        return None


def kernel_decoder(prog: Program, symbol: Callable[[int], str],
                   offset_symbol: Callable[[int], str] | None = None) -> Decoder:
    """Return a :class:`Decoder` of the kernel's event types (the ftrace_events list:
    each event's id, system, fields and print format)."""
    dec = Decoder(fn=prog["TRACE_FN"].value_(), print_=prog["TRACE_PRINT"].value_(),
                  bprint=prog["TRACE_BPRINT"].value_(), symbol=symbol,
                  string=lambda addr: _string(prog, addr), offset_symbol=offset_symbol)
    try:
        dec.bputs = prog["TRACE_BPUTS"].value_()
    except KeyError:
        pass
    try:
        tp_flag = prog["TRACE_EVENT_FL_TRACEPOINT"].value_()
    except KeyError:
        tp_flag = 0
    try:
        dec.common = _fields(prog, prog["ftrace_common_fields"].address_of_(),
                             "the common event fields")
    except KeyError:
        pass
    for call in list_entries("struct trace_event_call", prog["ftrace_events"].address_of_(),
                             "list", "the ftrace event list"):
        try:
            if call.flags.value_() & tp_flag:
                name = call.tp.name.string_().decode()
            else:
                name = call.name.string_().decode()
            cls = call.member_("class")
            system = cls.system.string_().decode() if cls.system else ""
            fields = _fields(prog, _fields_head(call), f"the fields of event {name}")
            etype = call.event.type.value_()
            print_fmt = _string(prog, call.print_fmt.value_(), 65536) if call.print_fmt else ""
            dec.events[etype] = EventFormat(
                name, tuple(f for f in fields if not f.name.startswith("common_")),
                etype, system, print_fmt)
        except (FaultError, LookupError, UnicodeDecodeError, WalkError):
            continue
    return dec


def _fields_head(call: Object) -> Object:
    """The list of an event's fields: its class's, or for a system call's entry event
    (whose class has a get_fields function) its syscall_metadata's enter_fields."""
    cls = call.member_("class")
    try:
        get_fields = cls.get_fields.value_()
    except AttributeError:
        get_fields = 0
    if get_fields:
        prog = call.prog_
        try:
            fn = prog.symbol(get_fields).name
        except LookupError:
            fn = ""
        if fn == "syscall_get_enter_fields" and call.data:
            meta = Object(prog, "struct syscall_metadata *", call.data.value_())
            return meta.enter_fields.address_of_()
    return cls.fields.address_of_()


def _field_line(f: Field) -> str:
    """A field's line of a format file (f_show): an array's length after its name (the
    kernel's ``len`` where it keeps one, else what its type says)."""
    ftype, name = f.type, f.name
    if "[" in ftype and not ftype.startswith(("__data_loc", "__rel_loc")):
        base, _, dims = ftype.partition("[")
        if f.length is not None:
            dims = f"{f.length}]" if f.length else "]"
        ftype, name = base, f"{name}[{dims}"
    return (f"\tfield:{ftype} {name};\toffset:{f.offset};\tsize:{f.size};"
            f"\tsigned:{int(f.signed)};")


def format_file(event: EventFormat, common: tuple[Field, ...]) -> str:
    """The text of ``events/SYSTEM/NAME/format`` for an event."""
    lines = [f"name: {event.name}", f"ID: {event.id}", "format:"]
    lines += [_field_line(f) for f in common]
    lines.append("")
    lines += [_field_line(f) for f in event.fields]
    lines += ["", f"print fmt: {event.print_fmt}"]
    return "\n".join(lines) + "\n"


def header_page(prog: Program) -> str:
    """The text of ``events/header_page``: the buffer_data_page layout."""
    bdp = prog.type("struct buffer_data_page")
    commit = bdp.member("commit")
    data = bdp.member("data")
    commit_size = sizeof(commit.type)
    data_size = ring_page_size(prog) - data.offset
    return ("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
            f"\tfield: local_t commit;\toffset:{commit.offset};\tsize:{commit_size};"
            "\tsigned:1;\n"
            f"\tfield: int overwrite;\toffset:{commit.offset};\tsize:1;\tsigned:1;\n"
            f"\tfield: char data;\toffset:{data.offset};\tsize:{data_size};\tsigned:1;\n")


def header_event() -> str:
    """The text of ``events/header_event``: the ring_buffer_event header."""
    return ("# compressed entry header\n"
            "\ttype_len    :    5 bits\n"
            "\ttime_delta  :   27 bits\n"
            "\tarray       :   32 bits\n"
            "\n"
            f"\tpadding     : type == {RB_PADDING}\n"
            f"\ttime_extend : type == {RB_TIME_EXTEND}\n"
            f"\ttime_stamp : type == {RB_TIME_STAMP}\n"
            f"\tdata max type_len  == {RB_MAX_SMALL_DATA // 4}\n")


def cmdline_table(prog: Program) -> list[tuple[int, str]]:
    """The tracer's saved command lines (``savedcmd``): ``(pid, comm)`` in slot order, as
    ``saved_cmdlines`` lists them."""
    sc = prog["savedcmd"]
    num = int(sc.cmdline_num.value_())
    if not sc or num <= 0 or num > 1 << 20:
        return []
    pids = prog.read(sc.map_cmdline_to_pid.value_(), 4 * num)
    names = sc.saved_cmdlines
    base = names.address_ if names.type_.kind.name == "ARRAY" else names.value_()
    comms = prog.read(base, 16 * num)
    out = []
    for i in range(num):
        (pid,) = struct.unpack_from("<I", pids, 4 * i)
        if pid == 0xFFFFFFFF:
            continue
        out.append((pid, comms[16 * i:16 * i + 16].split(b"\0", 1)[0]
                    .decode(errors="replace")))
    return out


def saved_comms(prog: Program) -> Callable[[int], str]:
    """Return ``comm(pid)``: the name the kernel's trace output gives a pid
    (trace_find_cmdline: ``<idle>`` for 0, the saved name when the pid's slot still holds
    that pid, else ``<...>``)."""
    sc = prog["savedcmd"]
    num = int(sc.cmdline_num.value_())
    length = sc.map_pid_to_cmdline.type_.length or 32769
    mask = length - 2  # PID_MAX_DEFAULT - 1: the array has PID_MAX_DEFAULT + 1 slots
    slots = prog.read(sc.map_pid_to_cmdline.address_, 4 * length)
    pid_at = prog.read(sc.map_cmdline_to_pid.value_(), 4 * num) if 0 < num <= 1 << 20 else b""
    names = sc.saved_cmdlines
    base = names.address_ if names.type_.kind.name == "ARRAY" else names.value_()

    def comm(pid: int) -> str:
        if pid == 0:
            return "<idle>"
        if pid < 0:
            return "<XXX>"
        (slot,) = struct.unpack_from("<I", slots, 4 * (pid & mask))
        if slot == 0xFFFFFFFF or 4 * slot + 4 > len(pid_at):
            return "<...>"
        (owner,) = struct.unpack_from("<I", pid_at, 4 * slot)
        if owner != pid:
            return "<...>"
        return _string(prog, base + 16 * slot, 16)[:15]
    return comm


def _c_escaped(text: str) -> str:
    """A printk format as printk_formats shows it (t_show): newline, tab and quote
    escaped, a backslash kept as it is."""
    return (text.replace("\n", "\\n").replace("\t", "\\t").replace('"', '\\"'))


def _section_pointers(prog: Program, start: str, stop: str) -> list[int]:
    try:
        begin = prog.symbol(start).address
        end = prog.symbol(stop).address
    except LookupError:
        return []
    if not 0 <= end - begin <= 1 << 20:
        return []
    raw = prog.read(begin, end - begin)
    return [v for (v,) in struct.iter_unpack("<Q", raw)]


def printk_formats(prog: Program) -> str:
    """The text of ``printk_formats``: each trace_printk format of the kernel (the
    ``__trace_bprintk_fmt`` section), each string of the ``__tracepoint_str`` section,
    then the modules' (``trace_bprintk_fmt_list``): ``0xADDRESS : "format"``."""
    lines = []
    pointers = (_section_pointers(prog, "__start___trace_bprintk_fmt",
                                  "__stop___trace_bprintk_fmt")
                + _section_pointers(prog, "__start___tracepoint_str", "__stop___tracepoint_str"))
    try:
        for fmt in list_entries("struct trace_bprintk_fmt",
                                prog["trace_bprintk_fmt_list"].address_of_(), "list",
                                "the modules' trace_printk formats"):
            pointers.append(fmt.fmt.value_() if fmt.fmt.type_.kind.name == "POINTER"
                            else fmt.fmt.address_)
    except KeyError:
        pass
    for addr in pointers:
        if addr:
            lines.append(f'0x{addr:x} : "{_c_escaped(_string(prog, addr))}"\n')
    return "".join(lines)


def kallsyms(prog: Program) -> str:
    """The kernel's symbols as ``/proc/kallsyms`` lists them (``ADDRESS TYPE NAME``, by
    address): functions ``T``/``t``, data ``D``/``d``, weak ``W``, others ``?``."""
    lines = []
    for sym in sorted(prog.symbols(), key=lambda s: s.address):
        if not sym.name or sym.kind.name in ("SECTION", "FILE") or not sym.address:
            continue
        if sym.binding.name == "WEAK":
            letter = "W"
        else:
            letter = {"FUNC": "t", "OBJECT": "d", "TLS": "d"}.get(sym.kind.name, "?")
            if sym.binding.name in ("GLOBAL", "UNIQUE") and letter != "?":
                letter = letter.upper()
        lines.append(f"{sym.address:x} {letter} {sym.name}\n")
    return "".join(lines)
