"""log: the kernel message buffer, as dmesg would have shown it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel import system
from pycrash.kernel.printk import printk_records
from pycrash.kernel.printkring import dmesg_stamp
from pycrash.records import Prose
from pycrash.session import Session


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One message of the kernel's printk ring buffer: its sequence number, time since
    boot in ns, syslog level and facility, text, and the thread id or CPU that logged it."""

    seq: int
    timestamp_ns: int
    level: int
    facility: int
    text: Prose  # a message may hold several lines (printk's embedded newlines)
    caller_tid: int | None
    caller_cpu: int | None
    subsystem: str | None = None  # dev_printk's dictionary (log -d), where it has one
    device: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One audit message the kernel had not yet handed to auditd (``log -a``): its
    netlink message type and text."""

    type: int
    text: str


def log_records(session: Session, errors: list[str] | None = None) -> list[LogRecord]:
    """Return every record of the kernel's printk ring buffer, oldest first; what was
    wrong with a corrupt ring (read as far as it could be) goes to ``errors``."""
    try:
        records, problem = printk_records(session.prog)
    except (LookupError, ValueError) as exc:
        raise CommandError(f"cannot read the kernel log: {exc}") from None
    if problem and errors is not None:
        errors.append(problem)
    # the program's types always give level and facility (VMCOREINFO's layout does not)
    return [
        LogRecord(r.seq, r.timestamp, r.level or 0, r.facility or 0,
                  r.text.decode("utf-8", "replace"), r.caller_tid, r.caller_cpu,
                  r.subsystem.decode("utf-8", "replace") or None,
                  r.device.decode("utf-8", "replace") or None)
        for r in records
    ]


@dataclass(frozen=True)
class LogView:
    """How log shows each message: its time (``plain`` seconds since boot, ``human``
    wall-clock time from the boot time given, ``none``) and its level (-m)."""

    time: str
    levels: bool
    boot_time: float = 0.0
    dictionary: bool = False
    caller_width: int = 0  # -c: the caller id's column width (0: not shown)


def _caller(rec: LogRecord, view: LogView) -> str:
    """crash's ``[    T1] `` (a thread) or ``[    C0] `` (a CPU in interrupt context)."""
    if not view.caller_width or (rec.caller_tid is None and rec.caller_cpu is None):
        return ""
    cid = f"C{rec.caller_cpu}" if rec.caller_cpu is not None else f"T{rec.caller_tid}"
    return f"[{cid:>{view.caller_width}}] "


def caller_width(session: Session) -> int:
    """The width crash gives the caller id: by ``pid_max`` on the lockless ring of 5.10
    and later (6 up to 99999, 7 up to 999999), else 8."""
    prog = session.prog
    try:
        prog.symbol("prb")
        pid_max = prog["pid_max"].value_()
    except (LookupError, ValueError):
        return 8
    return 6 if pid_max <= 99999 else 7 if pid_max <= 999999 else 8


def _prefix(rec: LogRecord, view: LogView) -> str:
    if view.time == "none":
        return ""
    if view.time == "human":
        when = time.localtime(view.boot_time + rec.timestamp_ns / 1e9)
        return time.strftime("[%a %b %e %H:%M:%S %Z %Y] ", when)
    return f"{dmesg_stamp(rec.timestamp_ns)} "


def render(result: Result) -> Iterable[str]:
    """crash's log output: each message after its time (and level with -m); the further
    lines of a message holding newlines indented past them, as crash prints them."""
    view = result.view
    for rec in result.rows:
        prefix = _prefix(rec, view) + _caller(rec, view)
        level = f"<{rec.level}>" if view.levels else ""
        indent = " " * (len(prefix) + len(level))
        first, *more = rec.text.split("\n")
        yield f"{prefix}{level}{first}"
        for text in more:
            yield f"{indent}{text}"
        if view.dictionary:  # crash: under the text, indented past the time and level
            if rec.subsystem:
                yield f"{indent}SUBSYSTEM={rec.subsystem}"
            if rec.device:
                yield f"{indent}DEVICE={rec.device}"


def render_audit(result: Result) -> Iterable[str]:
    """crash's log -a: ``type=N text`` per message; crash's note, on stdout and not a
    failure, when the queues are empty."""
    for rec in result.rows:
        yield f"type={rec.type} {rec.text}"
    if not result.rows and not result.errors:
        yield "log: kernel audit log is empty"


def audit(session: Session) -> Result:
    """Return an :class:`AuditRecord` per message of the kernel's audit queues."""
    from pycrash.kernel.audit import audit_queues, queue_messages
    from pycrash.kernel.walk import WalkError

    prog = session.prog
    try:
        names = audit_queues(prog)
    except LookupError:
        raise CommandError("-a option not supported or applicable on this architecture "
                           "or kernel") from None
    rows: list[AuditRecord] = []
    errors: list[str] = []
    for name in names:
        try:
            for msg in queue_messages(prog, name):
                rows.append(AuditRecord(msg.type, msg.text.decode("utf-8", "replace")))
        except WalkError as exc:
            errors.append(str(exc))
    return Result(rows, render=render_audit, errors=errors)


@command(
    "log",
    summary="dump system message buffer",
    synopsis="log [-T | -t] [-m] [-d] [-c] | -a",
    aliases=("dmesg",),
    records=(LogRecord, AuditRecord),
    description="""
Dumps the kernel log buffer, oldest message first, each prefixed with its
time since boot in seconds.

  -d  under each message, the dictionary dev_printk() gave it (SUBSYSTEM=,
      DEVICE=); the lockless ring of 5.10 and later.
  -a  the audit messages left in the kernel's audit queues, not yet copied
      out to the audit daemon (type=N text).
  -c  after the time, the caller id: the thread (T and its id) or, in
      interrupt context, the CPU (C and its number) that logged the message
      (5.1 to 5.9 with CONFIG_PRINTK_CALLER, and 5.10 on).
""",
    examples="""
crash> log | tail -2
[    7.124510] pycrash-fixture: marker before crash
[    8.229030] sysrq: Trigger a crash
crash> log -T | tail -1    (wall-clock times)
crash> log -m | head -1    (with log levels)
[    0.000000] <5>Linux version 6.1.0-56-cloud-amd64 ...
""",
    arguments=(
        arg("-T", dest="human", action="store_true", help="human-readable timestamps"),
        arg("-t", dest="no_time", action="store_true", help="no timestamps"),
        arg("-m", dest="levels", action="store_true", help="show the message level"),
        arg("-d", dest="dictionary", action="store_true",
            help="dev_printk's dictionary (SUBSYSTEM, DEVICE) under each message"),
        arg("-a", dest="audit", action="store_true", help="the audit queues' messages"),
        arg("-c", dest="caller", action="store_true",
            help="the caller id: the thread (T) or CPU (C) that logged each message"),
    ),
)
def log(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`LogRecord` per message (-a: an :class:`AuditRecord` per audit
    message)."""
    if args.audit:
        return audit(session)
    if args.human and args.no_time:
        raise CommandError("-T and -t are mutually exclusive")
    mode = "human" if args.human else "none" if args.no_time else "plain"
    boot_time = 0.0
    if args.human:
        prog = session.prog
        boot_time = system.crash_time(prog) - system.uptime_seconds(prog)
    errors: list[str] = []
    rows = log_records(session, errors)
    width = caller_width(session) if args.caller else 0
    return Result(rows, render=render, errors=errors, view=LogView(mode, args.levels, boot_time,
                                                                 args.dictionary, width))
