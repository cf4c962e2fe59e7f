"""trace show: the empty buffer of the small fixture, and the decoding of hand-built
ring buffer pages and entries."""

from __future__ import annotations

import struct

import pytest

from pycrash.kernel.ftrace import (
    Decoder,
    EventFormat,
    Field,
    binary_printf,
    format_entry,
    lat_flags,
    page_events,
)


def test_trace_show_empty_buffer(session) -> None:  # type: ignore[no-untyped-def]
    result = session.run("trace show")
    buf = result.rows[0]
    assert buf.tracer == "nop" and buf.events == ()
    lines = list(result.render(result))
    assert lines[0] == "# tracer: nop"
    assert lines[2] == f"# entries-in-buffer/entries-written: 0/0   #P:{len(buf.cpus)}"
    assert lines[-1].startswith("#              | |")


def _event(payload: bytes, delta: int) -> bytes:
    """A ring_buffer_event: type_len = length in words (<= 28), then the payload."""
    payload += b"\0" * (-len(payload) % 4)
    return struct.pack("<I", (len(payload) // 4) | (delta << 5)) + payload


def _entry(etype: int, pid: int, flags: int = 0, preempt: int = 0) -> bytes:
    return struct.pack("<HBBi", etype, flags, preempt, pid)


SYMS = {0xffffffff81000010: "do_sys_open", 0xffffffff81000020: "__x64_sys_openat",
        0xffffffff81000030: "my_func"}
FORMATS = {0xffffffff82000000: "value=%d name=%s hex=%lx ptr=%pS\n"}


def _decoder() -> Decoder:
    fields = (Field("prev_comm", "char[16]", 8, 16, False),
              Field("prev_pid", "pid_t", 24, 4, True), Field("prev_prio", "int", 28, 4, True),
              Field("prev_state", "long", 32, 8, True),
              Field("next_comm", "char[16]", 40, 16, False),
              Field("next_pid", "pid_t", 56, 4, True), Field("next_prio", "int", 60, 4, True))
    return Decoder(events={300: EventFormat("sched_switch", fields),
                           301: EventFormat("my_event", (Field("x", "int", 8, 4, True),))},
                   fn=1, print_=5, bprint=6, symbol=lambda a: SYMS.get(a, f"0x{a:x}"),
                   string=lambda a: FORMATS.get(a, ""))


@pytest.mark.fast
def test_page_events_time_deltas_extend_and_padding() -> None:
    fn = _entry(1, 42) + struct.pack("<QQ", 0xffffffff81000010, 0xffffffff81000020)
    extend = struct.pack("<II", 30 | (5 << 5), 1)  # TIME_EXTEND: delta (1 << 27) + 5
    padding = struct.pack("<II", 29 | (1 << 5), 8) + b"\0" * 4  # 12 bytes in all
    page = _event(fn, 100) + extend + padding + _event(fn, 7)
    events = list(page_events(page, 1_000_000, len(page)))
    assert [e.ts for e in events] == [1_000_100, 1_000_100 + (1 << 27) + 5 + 7]
    assert events[0].data == fn
    # the reader's position skips what was read; commit bounds the page
    assert len(list(page_events(page, 0, len(page), start=4))) == 1
    assert len(list(page_events(page, 0, len(_event(fn, 1))))) == 1


@pytest.mark.fast
def test_format_function_print_bprint_and_events() -> None:
    dec = _decoder()
    fn = _entry(1, 42) + struct.pack("<QQ", 0xffffffff81000010, 0xffffffff81000020)
    assert format_entry(fn, dec) == (42, 0, 0, "do_sys_open <-__x64_sys_openat")
    pr = _entry(5, 7, 1, 1) + struct.pack("<Q", 0xffffffff81000030) + b"hello world\n\0"
    # the message's own newline ends its line: no empty line after it
    assert format_entry(pr, dec)[3] == "my_func: hello world"
    args = struct.pack("<i", -3) + b"abc\0" + struct.pack("<QQ", 0xbeef, 0xffffffff81000010)
    bp = _entry(6, 7) + struct.pack("<QQ", 0xffffffff81000030, 0xffffffff82000000) + args
    assert format_entry(bp, dec)[3] == "my_func: value=-3 name=abc hex=beef ptr=do_sys_open"
    sw = (_entry(300, 9) + b"sh".ljust(16, b"\0") + struct.pack("<iiq", 9, 120, 1)
          + b"swapper/0".ljust(16, b"\0") + struct.pack("<ii", 0, 120))
    assert format_entry(sw, dec)[3] == ("sched_switch: prev_comm=sh prev_pid=9 prev_prio=120 "
                                        "prev_state=S ==> next_comm=swapper/0 next_pid=0 "
                                        "next_prio=120")
    assert format_entry(_entry(301, 1) + struct.pack("<i", -5), dec)[3] == "my_event: x=-5"
    assert format_entry(_entry(999, 1), dec)[3] == "<unknown event type 999>"


@pytest.mark.fast
def test_lat_flags_and_binary_printf() -> None:
    assert lat_flags(0, 0) == "....."
    assert lat_flags(0x01 | 0x04 | 0x08, 0x12) == "dnh21"
    assert lat_flags(0x01 | 0x80 | 0x40 | 0x08 | 0x04 | 0x20, 0) == "DNZ.."
    assert binary_printf("%5d|%-4s|%c%%", struct.pack("<i", 7) + b"ab\0\0"
                         + struct.pack("<i", 65), _decoder()) == "    7|ab  |A%"
