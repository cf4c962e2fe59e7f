"""Why the kernel panicked: the class of the crash and the function to blame, read from
the kernel's own report in its log and from the panicking task's stack.

The kernel prints a report before it panics: ``BUG: kernel NULL pointer dereference``
and ``RIP: 0010:function+0x../0x.. [module]`` for an oops, ``kernel BUG at file:line!``,
``WARNING: CPU: N PID: N at file:line function+...``, ``INFO: task NAME:PID blocked for
more than N seconds.``, ``watchdog: BUG: soft lockup - CPU#N stuck for Ns!``, ``NAME
invoked oom-killer``..., then ``Kernel panic - not syncing: MESSAGE``. The functions
here classify those lines; they take the log's text, so they are tested on any text.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class PanicClass(enum.Enum):
    """What brought the kernel down."""

    OOPS = "oops"
    BUG = "bug"
    WARN = "warn"
    HUNG_TASK = "hung_task"
    SOFT_LOCKUP = "soft_lockup"
    HARD_LOCKUP = "hard_lockup"
    RCU_STALL = "rcu_stall"
    OOM = "oom"
    SYSRQ = "sysrq"
    MACHINE_CHECK = "machine_check"
    PANIC = "panic"
    #: no panic: a dump of a running system (a hypervisor's, or a live kernel)
    NO_PANIC = "none"


#: The panic message (``Kernel panic - not syncing: ...``) of each class the message
#: alone tells, in the order they are tried.
MESSAGES: tuple[tuple[re.Pattern[str], PanicClass], ...] = tuple(
    (re.compile(p, re.I), c) for p, c in (
        (r"hung_task: blocked tasks|hung tasks? detected", PanicClass.HUNG_TASK),
        (r"softlockup: hung tasks|soft lockup", PanicClass.SOFT_LOCKUP),
        (r"hard ?lockup", PanicClass.HARD_LOCKUP),
        (r"RCU Stall", PanicClass.RCU_STALL),
        (r"Out of memory|System is deadlocked on memory", PanicClass.OOM),
        (r"panic_on_warn", PanicClass.WARN),
        (r"sysrq triggered crash", PanicClass.SYSRQ),
        (r"machine check", PanicClass.MACHINE_CHECK),
    ))

#: Log lines that start the kernel's report of each class, with the detail they name.
REPORTS: tuple[tuple[re.Pattern[str], PanicClass, str | None], ...] = tuple(
    (re.compile(p), c, d) for p, c, d in (
        (r"BUG: kernel NULL pointer dereference", PanicClass.OOPS, "NULL pointer dereference"),
        (r"BUG: unable to handle (page fault|kernel paging request)", PanicClass.OOPS,
         "paging request"),
        (r"Unable to handle kernel (NULL pointer dereference|paging request)", PanicClass.OOPS,
         None),
        (r"general protection fault", PanicClass.OOPS, "general protection fault"),
        (r"kernel BUG at ", PanicClass.BUG, None),
        (r"^WARNING: (CPU: |\S+ at )", PanicClass.WARN, None),
        (r"INFO: task .+ blocked for more than \d+ seconds", PanicClass.HUNG_TASK, None),
        (r"BUG: soft lockup - CPU#\d+ stuck", PanicClass.SOFT_LOCKUP, None),
        (r"[Hh]ard LOCKUP", PanicClass.HARD_LOCKUP, None),
        (r"rcu: INFO: \S+ (self-)?detected stalls?", PanicClass.RCU_STALL, None),
        (r"invoked oom-killer", PanicClass.OOM, None),
        (r"Out of memory", PanicClass.OOM, None),
        (r"sysrq: Trigger a crash", PanicClass.SYSRQ, None),
        (r"Machine check", PanicClass.MACHINE_CHECK, None),
        (r"^Oops: ", PanicClass.OOPS, None),
    ))

#: A kernel code address as reports print it: ``function+0x1c/0x30 [module]``
_WHERE = r"(?P<fn>[\w.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[(?P<mod>[\w-]+)\])?"
#: The instruction pointer of a kernel context: x86-64 ``RIP: 0010:...``, arm64 ``pc : ...``
RIP = re.compile(r"(?:RIP: 0010:|^pc : )" + _WHERE)
#: WARN's line names the function itself: ``WARNING: CPU: 1 PID: 173 at FILE:LINE WHERE``,
#: since 7.x ``WARNING: FILE:LINE at WHERE, CPU#1: COMM/PID``
WARNING_AT = re.compile(r"^WARNING: (?:CPU: \d+ PID: \d+ at \S+ |\S+ at )" + _WHERE)


@dataclass(frozen=True, slots=True)
class Classified:
    """A crash's class, the detail the report names (the oops kind), the function and
    module to blame where the log names them, and the indices of the log lines that
    show it (the report's first line, the instruction pointer, the panic)."""

    cls: PanicClass
    detail: str | None
    function: str | None
    module: str | None
    evidence: tuple[int, ...]


def strip_clone(name: str) -> str:
    """Return a function name without gcc's clone suffix (``.constprop.0``, ``.cold``)."""
    return name.split(".", 1)[0] if not name.startswith(".") else name


def classify(message: str | None, log: Sequence[str]) -> Classified:
    """Return the class of the crash from its panic ``message`` and the kernel ``log``'s
    lines (oldest first): the last report before the panic names it; the message decides
    where it names a class of its own (a hung task that an oops followed is still a hung
    task only if the panic says so)."""
    panic_at = _panic_line(log)
    upto = panic_at if panic_at is not None else len(log)
    by_message = next((c for p, c in MESSAGES if message and p.search(message)), None)
    report = _last_report(log, upto, by_message)
    cls = by_message or (report[1] if report else
                         PanicClass.PANIC if panic_at is not None or message else
                         PanicClass.NO_PANIC)
    detail = report[2] if report else None
    evidence: list[int] = []
    function = module = None
    if report is not None:
        evidence.append(report[0])
        function, module, at = _blamed(log, report[0], upto, cls)
        if at is not None and at not in evidence:
            evidence.append(at)
    if panic_at is not None:
        evidence.append(panic_at)
    return Classified(cls, detail, function, module, tuple(evidence))


def _panic_line(log: Sequence[str]) -> int | None:
    """Return the index of the last ``Kernel panic - not syncing`` line, or None."""
    for i in range(len(log) - 1, -1, -1):
        if "Kernel panic - not syncing" in log[i]:
            return i
    return None


def _last_report(log: Sequence[str], upto: int,
                 want: PanicClass | None) -> tuple[int, PanicClass, str | None] | None:
    """Return ``(index, class, detail)`` of the report that led to the panic: the last
    report line before it (of class ``want`` when given); for an oops, the line a few
    lines earlier that says what faulted (``BUG: kernel NULL pointer dereference``)."""
    hit = None
    for i in range(upto - 1, -1, -1):
        hit = next(((i, c, d) for p, c, d in REPORTS
                    if (want is None or c == want) and p.search(log[i])), None)
        if hit is not None:
            break
    if hit is None or hit[1] != PanicClass.OOPS or hit[2] is not None:
        return hit
    for j in range(hit[0] - 1, max(-1, hit[0] - 6), -1):  # what the "Oops:" line follows
        for p, c, d in REPORTS:
            if c in (PanicClass.OOPS, PanicClass.BUG) and (d or c == PanicClass.BUG) \
                    and p.search(log[j]):
                return j, c, d
    return hit


def _blamed(log: Sequence[str], start: int, upto: int,
            cls: PanicClass) -> tuple[str | None, str | None, int | None]:
    """Return the function and module the report blames, and the line that names them:
    WARN's own line, else the report's first kernel instruction pointer."""
    m = WARNING_AT.search(log[start])
    if m:
        return strip_clone(m["fn"]), m["mod"], start
    if cls in (PanicClass.HUNG_TASK, PanicClass.OOM, PanicClass.SYSRQ):
        return None, None, None  # their reports' RIPs are the detector's, not the culprit
    for i in range(start, min(upto + 1, len(log))):
        m = RIP.search(log[i])
        if m:
            return strip_clone(m["fn"]), m["mod"], i
    return None, None, None


#: Functions that report or carry out a panic: the culprit is the first frame below them.
PANIC_FUNCTIONS = frozenset({
    "panic", "vpanic", "nmi_panic", "__crash_kexec", "crash_kexec", "machine_kexec",
    "dump_stack", "dump_stack_lvl", "show_stack", "__warn", "report_bug", "die", "oops_end",
    "crash_setup_regs", "__crash_shutdown_handler", "arch_trigger_cpumask_backtrace",
})


def caller_of_panic(frames: Iterable[tuple[str, str | None]]) -> tuple[str, str | None] | None:
    """Return ``(function, module)`` of the first frame (innermost first) after the
    panic machinery: the code that called ``panic()``; None when no frame follows it."""
    seen_panic = False
    for name, module in frames:
        base = strip_clone(name)
        if base in PANIC_FUNCTIONS:
            seen_panic = True
            continue
        if seen_panic:
            return base, module
    return None


#: Evidence lines for the hung task class: every task the detector named.
HUNG_TASK_LINE = re.compile(r"INFO: task (?P<comm>.+):(?P<pid>\d+) blocked for more than "
                            r"(?P<secs>\d+) seconds")


def hung_task_lines(log: Sequence[str]) -> list[int]:
    """Return the indices of the hung-task detector's "blocked for more than" lines."""
    return [i for i, line in enumerate(log) if HUNG_TASK_LINE.search(line)]
