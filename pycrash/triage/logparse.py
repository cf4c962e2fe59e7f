"""The kernel's report in its log, as data: the crash's class, its frames, its taint.

The log's lines are classified by :func:`pycrash.kernel.verdict.classify` (the class,
the function and module the report blames); this module adds what a signature needs:
the frames of the report's stack (the faulting instruction pointer first, then the
``Call Trace:`` lines, questionable ``?`` frames left out), the kernel's taint flags and
the panic message. The frames come from the report the class names: an oops's, BUG's,
WARN's or lockup's own trace; a hung task's blocked task; an OOM's allocation; for a
sysrq crash or an explicit ``panic()``, the panic's trace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pycrash.kernel.verdict import Classified, PanicClass, classify, strip_clone

#: ``[    8.350150] `` at the start of a dmesg line (and ``<6>`` before it in some files)
STAMP = re.compile(r"^(?:<\d+>)?\[\s*\d+\.\d+\]\s?")
#: a frame of a printed stack: ``? name+0x1c/0x30 [module]``
FRAME = re.compile(r"^\s*(?P<q>\? )?(?P<fn>[A-Za-z_.$][\w.$]*)\+0x(?P<off>[0-9a-f]+)/0x[0-9a-f]+"
                   r"(?: \[(?P<mod>[\w-]+)\])?\s*$")
#: the instruction pointer of a kernel context: x86-64 ``RIP: 0010:``, arm64 ``pc :``
RIP = re.compile(r"(?:RIP: 0010:|^pc : )(?P<fn>[\w.$]+)\+0x(?P<off>[0-9a-f]+)/0x[0-9a-f]+"
                 r"(?: \[(?P<mod>[\w-]+)\])?")
CALL_TRACE = re.compile(r"^\s*Call [Tt]race:")
#: the lines a trace may hold besides frames: stack markers and a context's registers
MARKERS = frozenset({"<TASK>", "</TASK>", "<IRQ>", "</IRQ>", "<NMI>", "</NMI>", "<EOI>",
                     "<#DF>", "</#DF>"})
REGISTERS = re.compile(r"^\s*(?:R[A-Z0-9]{1,2}:|Code:|FS:|CS:|CR\d:|DR\d:|PKRU:|RIP: 0033:|"
                       r"lr :|sp :|x\d+ ?:|pstate:)")
TAINT = re.compile(r"\b(?:Not tainted|Tainted: (?P<flags>[A-Z][A-Z ]*?))(?:\s+\S*\d|\s*$)")
TASK = re.compile(r"\bCPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<comm>\S+)")
HUNG = re.compile(r"INFO: task (?P<comm>.+):(?P<pid>\d+) blocked for more than")
PANIC = "Kernel panic - not syncing"
MAX_FRAMES = 128


@dataclass(frozen=True)
class LogFrame:
    """A frame of the report's stack: function (gcc's clone suffix kept), offset in it,
    and module (None: the kernel itself)."""

    function: str
    offset: int
    module: str | None


@dataclass
class Report:
    """What the log says of the crash: the classification, the panic message, the
    report's frames, the taint flags (``OE``; "" untainted; None: not printed), the task
    the report names (pid, command), and the indices of the lines that show it."""

    classified: Classified
    message: str | None
    frames: list[LogFrame] = field(default_factory=list)
    taint: str | None = None
    pid: int | None = None
    command: str | None = None


def bare(lines: Sequence[str]) -> list[str]:
    """Return log lines without their ``[seconds]`` stamps."""
    return [STAMP.sub("", line, count=1) for line in lines]


def parse_report(lines: Sequence[str]) -> Report:
    """Return the :class:`Report` of a kernel log given as lines (stamped or bare)."""
    text = bare(lines)
    message = _panic_message(text)
    found = classify(message, text)
    report = Report(found, message)
    start = found.evidence[0] if found.evidence else None
    report.frames = _frames(text, found, start)
    at = start if start is not None else 0
    for line in text[at:] + text[:at]:  # the report's own CPU line first
        m = TASK.search(line)
        if m and report.pid is None:
            report.pid, report.command = int(m["pid"]), m["comm"]
        t = TAINT.search(line)
        if t and report.taint is None:
            flags = "".join((t["flags"] or "").split())
            report.taint = flags[1:] if flags.startswith("G") else flags
        if report.pid is not None and report.taint is not None:
            break
    if found.cls == PanicClass.HUNG_TASK:
        hung = next((HUNG.search(line) for line in reversed(text) if HUNG.search(line)), None)
        if hung:
            report.pid, report.command = int(hung["pid"]), hung["comm"]
    return report


def _panic_message(text: Sequence[str]) -> str | None:
    """Return the last panic's message (after ``not syncing: ``), or None."""
    for line in reversed(text):
        if PANIC in line:
            return line.split("not syncing:", 1)[-1].strip() or None
    return None


def _frames(text: Sequence[str], found: Classified, start: int | None) -> list[LogFrame]:
    """Return the frames of the stack the class's report printed."""
    cls = found.cls
    panic_at = max((i for i, line in enumerate(text) if PANIC in line), default=None)
    end = panic_at if panic_at is not None else len(text)
    if cls == PanicClass.HUNG_TASK:
        return _hung_frames(text, end)
    if cls == PanicClass.OOM:
        at = max((i for i in range(end) if "invoked oom-killer" in text[i]), default=None)
        return _trace_after(text, at, len(text)) if at is not None else []
    if cls in (PanicClass.SYSRQ, PanicClass.PANIC, PanicClass.MACHINE_CHECK,
               PanicClass.NO_PANIC) or start is None:
        return _trace_after(text, panic_at, len(text)) if panic_at is not None else []
    frames: list[LogFrame] = []
    rip_at = None
    for i in range(start, min(end + 1, len(text))):
        m = RIP.search(text[i])
        if m:
            frames.append(LogFrame(m["fn"], int(m["off"], 16), m["mod"]))
            rip_at = i
            break
    return frames + _trace_after(text, rip_at if rip_at is not None else start, len(text))


def _hung_frames(text: Sequence[str], end: int) -> list[LogFrame]:
    """Return the trace of the last blocked task the hung-task detector printed one for."""
    for i in range(end - 1, -1, -1):
        if HUNG.search(text[i]):
            frames = _trace_after(text, i, end, stop=HUNG)
            if frames:
                return frames
    return []


def _trace_after(text: Sequence[str], at: int | None, end: int,
                 stop: re.Pattern[str] | None = None) -> list[LogFrame]:
    """Return the frames of the first ``Call Trace:`` after line ``at`` (before ``end``,
    and before a line matching ``stop``)."""
    if at is None:
        return []
    i = at + 1
    while i < end and not CALL_TRACE.search(text[i]):
        if stop is not None and stop.search(text[i]) or PANIC in text[i]:
            return []
        i += 1
    frames: list[LogFrame] = []
    for line in text[i + 1:end]:
        m = FRAME.match(line)
        if m:
            if not m["q"]:
                frames.append(LogFrame(m["fn"], int(m["off"], 16), m["mod"]))
        elif line.strip() in MARKERS or REGISTERS.match(line):
            continue
        elif (r := RIP.search(line)) is not None:
            frames.append(LogFrame(r["fn"], int(r["off"], 16), r["mod"]))
        else:
            break
        if len(frames) >= MAX_FRAMES:
            break
    return frames


def culprit(report: Report) -> tuple[str | None, str | None]:
    """Return the function (clone suffix dropped) and module the report blames."""
    return report.classified.function, report.classified.module


__all__ = ["LogFrame", "Report", "bare", "culprit", "parse_report", "strip_clone"]
