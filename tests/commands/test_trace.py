"""trace: the empty buffer of the small fixture; the decoding of hand-built ring buffer
pages, entries and print formats; on the tracing fixture (matrix), trace show against the
guest's own /sys/kernel/tracing/trace and per-CPU files, trace dump -m against its format
files, saved_cmdlines and printk_formats, and trace dump -t read by trace-cmd report."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import Dump, fixture_dump

from pycrash.kernel.ftrace import (
    Decoder,
    EventFormat,
    Field,
    binary_printf,
    format_entry,
    format_file,
    lat_flags,
    page_events,
)
from pycrash.kernel.printfmt import FormatError, parse
from pycrash.kernel.tracedat import TraceData, header, trace_dat


def test_trace_show_empty_buffer(session) -> None:  # type: ignore[no-untyped-def]
    result = session.run("trace show")
    buf = result.rows[0]
    assert buf.tracer == "nop" and buf.events == ()
    lines = list(result.render(result))
    assert lines[0] == "# tracer: nop"
    assert lines[2] == f"# entries-in-buffer/entries-written: 0/0   #P:{len(buf.cpus)}"
    assert lines[-1].startswith("#              | |")
    assert str(session.run("trace")).splitlines() == ["current tracer is nop"]


def test_trace_dump_of_an_empty_buffer(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A trace.dat with no pages: trace-cmd reads it and finds the CPUs and no event."""
    if not shutil.which("trace-cmd"):
        pytest.fail("trace-cmd is not installed (scripts/setup installs it)")
    out = tmp_path / "trace.dat"
    row = session.run(f"trace dump -t {out}").rows[0]
    assert [c.pages for c in row.cpus] == [0, 0] and row.formats > 1000
    proc = subprocess.run(["trace-cmd", "report", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "cpus=2\n", "")
    from pycrash.errors import CommandError

    with pytest.raises(CommandError, match="mkdir: .* exists"):
        session.run(f"trace dump {tmp_path}")
    with pytest.raises(CommandError, match="-t writes a trace.dat"):
        session.run(f"trace dump -t -m {out}")


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


# --- the tracing fixture: the guest's own trace files (truth/tracing/) -------------------


@pytest.fixture(scope="module")
def tracing() -> Dump:
    """The tracing fixture: function tracer and sched events recorded, then stopped
    before the guest saved its trace files."""
    return fixture_dump("tracing")


@pytest.fixture(scope="module")
def tsession(tracing: Dump):  # type: ignore[no-untyped-def]
    return tracing.open()


def test_trace_show_is_the_guests_trace_file(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    """Every line of /sys/kernel/tracing/trace as the guest read it: the header's counts,
    each entry's task (the tracer's saved names: exited tasks too), CPU, flags, time stamp
    and text (function lines, trace_marker's message, each event by its print format)."""
    truth = tracing.truth("tracing/trace").splitlines()
    ours = str(tsession.run("trace show")).splitlines()
    assert ours == truth
    kinds = {line.split(": ")[1].split()[0] for line in truth if not line.startswith("#")}
    # what the comparison covered: events of four formats, the function tracer, a marker
    assert {"sched_switch", "sched_wakeup", "sched_process_fork", "sched_process_exec",
            "__x64_sys_bpf", "tracing_mark_write"} <= kinds
    assert len([line for line in truth if not line.startswith("#")]) >= 50


def test_trace_show_cpu_is_the_guests_per_cpu_file(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    cpus = sorted(p.name.split(".")[0] for p in (tracing.dir / "truth/tracing/per_cpu")
                  .glob("cpu*.trace"))
    assert cpus == ["cpu0", "cpu1"]
    for cpu in cpus:
        truth = tracing.truth(f"tracing/per_cpu/{cpu}.trace").splitlines()
        assert str(tsession.run(f"trace show -c {cpu[3:]}")).splitlines() == truth
        assert len(truth) > 12  # entries past the header


def test_trace_names_the_tracer(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    tracer = tracing.truth("tracing/current_tracer").strip()
    assert str(tsession.run("trace")).splitlines() == [f"current tracer is {tracer}"]


def test_trace_dump_meta_is_the_guests_tracing_files(tracing: Dump, tsession,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    """trace dump -m: each event format file (of the events recorded and the ftrace
    entries), header_page, header_event, saved_cmdlines and printk_formats as the
    guest's kernel printed them; trace_pipe_raw holds the ring buffer's pages."""
    out = tmp_path / "dir"
    tsession.run(f"trace dump -m {out}")
    truth = tracing.dir / "truth/tracing"
    formats = sorted(p.relative_to(truth / "events")
                     for p in (truth / "events").rglob("*") if p.is_file())
    assert len(formats) == 9  # header_page, header_event, 4 sched events, 3 ftrace entries
    for rel in formats:
        assert (out / "events" / rel).read_text() == (truth / "events" / rel).read_text(), rel
    for name in ("saved_cmdlines", "printk_formats"):
        assert (out / name).read_text() == (truth / name).read_text(), name
    for cpu in (0, 1):
        raw = (out / f"per_cpu/cpu{cpu}/trace_pipe_raw").read_bytes()
        assert raw and len(raw) % 4096 == 0


_REPORT = re.compile(r"^\s*(.*)-(\d+)\s+\[(\d+)\]\s+(\d+\.\d+): (\w+):\s+(.*)$")
_TRUTH = re.compile(r"^\s*(.*)-(\d+)\s+\[(\d+)\] \S{5}\s+(\d+\.\d+): (.*)$")


def _truth_event(line: str) -> tuple[str, str, str, str, str, str]:
    """A line of the guest's trace file as trace-cmd report names it: the ftrace entries
    as trace-cmd's events (function, print), their text without the parent or name."""
    m = _TRUTH.match(line)
    assert m, line
    comm, pid, cpu, ts, text = m.groups()
    if " <-" in text:
        return comm, pid, cpu, ts, "function", text.split(" <-")[0]
    name, _, rest = text.partition(": ")
    if name == "tracing_mark_write":
        return comm, pid, cpu, ts, "print", text
    return comm, pid, cpu, ts, name, rest


def test_trace_dump_dat_is_read_by_trace_cmd(tracing: Dump, tsession, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """trace-cmd report reads the trace.dat without a complaint and finds the guest's
    events: the same tasks, CPUs, time stamps (trace-cmd rounds to microseconds as the
    kernel does) and event names, the same text where trace-cmd prints an event by its
    format (sched_process_fork, sched_process_exec), the same functions and message."""
    if not shutil.which("trace-cmd"):
        pytest.fail("trace-cmd is not installed (scripts/setup installs it)")
    out = tmp_path / "trace.dat"
    result = tsession.run(f"trace dump -t {out}")
    assert str(result) == ""
    row = result.rows[0]
    assert row.trace_dat and [c.cpu for c in row.cpus] == [0, 1]
    proc = subprocess.run(["trace-cmd", "report", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "cpus=2"
    report = []
    for line in lines[1:]:
        m = _REPORT.match(line)
        assert m, line
        report.append(m.groups())
    truth = [_truth_event(line) for line in tracing.truth("tracing/trace").splitlines()
             if not line.startswith("#")]
    assert len(report) == len(truth) == sum(c.events for c in row.cpus)
    for got, want in zip(report, truth, strict=True):
        assert got[:5] == want[:5]
        if want[4] in ("sched_process_fork", "sched_process_exec", "print"):
            assert got[5] == want[5]
        elif want[4] == "function":
            assert got[5].split()[0] == want[5]


@pytest.mark.fast
def test_print_formats_evaluate_as_the_kernel_prints() -> None:
    """Print formats of 6.1's events: flags, symbols, strings of dynamic fields, casts,
    ?:, %pS, width and sign of each conversion."""
    sym = {0xffffffff81000010: ("do_sys_open", 0x10, 0x80)}

    def name(addr: int, offset: bool) -> str:
        n, off, size = sym[addr]
        return f"{n}+0x{off:x}/0x{size:x}" if offset else n

    fmt = parse('"gfp=%s order=%d migratetype=%d", __print_flags(REC->gfp, "|", '
                '{(unsigned long)0x400, "__GFP_IO"}, {(unsigned long)0x800, "__GFP_FS"}), '
                'REC->order, REC->mt')
    assert fmt.render({"gfp": 0xC01, "order": 2, "mt": -1}, name) == \
        "gfp=__GFP_IO|__GFP_FS|0x1 order=2 migratetype=-1"
    fmt = parse('"irq=%d action=%s", REC->vec, __print_symbolic(REC->vec, {0, "HI"}, '
                '{1, "TIMER"})')
    assert fmt.render({"vec": 1}, name) == "irq=1 action=TIMER"
    assert fmt.render({"vec": 7}, name) == "irq=7 action=0x7"
    fmt = parse('"name=%s ret=%s call=%pS v=%u x=%#llx c=%c", __get_str(name), '
                'REC->ret < 0 ? "fail" : "ok", (void *)REC->ip, REC->v, REC->x, REC->c')
    fields = {"name": 0x100008, "__data__name": b"eth0\0", "ret": -5,
              "ip": 0xffffffff81000010, "v": -1, "x": 255, "c": 65}
    assert fmt.render(fields, name) == \
        "name=eth0 ret=fail call=do_sys_open+0x10/0x80 v=4294967295 x=0xff c=A"
    with pytest.raises(FormatError):
        parse('"%d", REC->a[1]')
    with pytest.raises(FormatError):
        parse('"%s", __get_bitmask(mask)').render({}, name)


@pytest.mark.fast
def test_format_file_and_trace_dat_layout() -> None:
    common = (Field("common_type", "unsigned short", 0, 2, False),
              Field("common_pid", "int", 4, 4, True))
    ev = EventFormat("my_event", (Field("comm", "char[16]", 8, 16, True, 16),
                                  Field("buf", "u32[]", 24, 0, False, 0),
                                  Field("path", "__data_loc char[]", 24, 4, True, 0)),
                     42, "my", '"comm=%s", REC->comm')
    assert format_file(ev, common) == (
        "name: my_event\nID: 42\nformat:\n"
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
        "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:1;\n"
        "\tfield:u32 buf[];\toffset:24;\tsize:0;\tsigned:0;\n"
        "\tfield:__data_loc char[] path;\toffset:24;\tsize:4;\tsigned:1;\n\n"
        'print fmt: "comm=%s", REC->comm\n')
    page = b"\x01" * 4096
    data = TraceData(4096, "hp", "he", ["f1"], [("sched", ["s1", "s2"])], "k", "p", "1 init\n",
                     [[page, page], []])
    raw = b"".join(trace_dat(data))
    assert raw.startswith(b"\x17\x08\x44tracing6\0\0\x08\x00\x10\x00\x00header_page\0")
    head = header(data)
    assert len(head) % 4096 == 0 and len(raw) == len(head) + 2 * 4096
    table = head.index(b"flyrecord\0") + 10
    (off0, size0, off1, size1) = struct.unpack_from("<QQQQ", head, table)
    assert (off0, size0, off1, size1) == (len(head), 8192, len(head) + 8192, 0)
    assert raw[off0:off0 + size0] == page * 2
    assert b"\0sched\0\x02\0\0\0" in head and b"1 init\n" in head
