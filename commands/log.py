"""log: the kernel message buffer, as dmesg would have shown it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.printk import get_printk_records

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel import system
from pycrash.session import Session


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One printk record: ``timestamp_ns`` since boot, syslog ``level`` and ``facility``."""

    seq: int
    timestamp_ns: int
    level: int
    facility: int
    text: str
    caller_tid: int | None
    caller_cpu: int | None


def log_records(session: Session) -> list[LogRecord]:
    """Return every record of the kernel's printk ring buffer, oldest first."""
    try:
        records = get_printk_records(session.prog)
    except (LookupError, ValueError) as exc:
        raise CommandError(f"log: cannot read the kernel log: {exc}") from None
    return [
        LogRecord(r.seq, r.timestamp, r.level, r.facility,
                  r.text.decode("utf-8", "replace"), r.caller_tid, r.caller_cpu)
        for r in records
    ]


def _prefix(rec: LogRecord, mode: str, boot_time: float) -> str:
    if mode == "none":
        return ""
    if mode == "human":
        when = time.localtime(boot_time + rec.timestamp_ns / 1e9)
        return time.strftime("[%a %b %e %H:%M:%S %Y] ", when)
    secs, nsec = divmod(rec.timestamp_ns, 1_000_000_000)
    return f"[{secs:5d}.{nsec // 1000:06d}] "


def _render(result: Result) -> Iterable[str]:
    mode = result.options.get("time", "plain")
    levels = result.options.get("levels", False)
    boot_time = result.options.get("boot_time", 0.0)
    for rec in result.rows:
        prefix = _prefix(rec, mode, boot_time)
        level = f"<{rec.level}>" if levels else ""
        for text in rec.text.split("\n"):  # as the kernel prints it: the prefix on every line
            yield f"{prefix}{level}{text}"


@command(
    "log",
    summary="dump system message buffer",
    synopsis="log [-T | -t] [-m]",
    aliases=("dmesg",),
    description="""
Dumps the kernel log buffer, oldest message first, each prefixed with its
time since boot in seconds.
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
    ),
)
def log(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`LogRecord` per message."""
    if args.human and args.no_time:
        raise CommandError("log: -T and -t are mutually exclusive")
    mode = "human" if args.human else "none" if args.no_time else "plain"
    options: dict[str, object] = {"time": mode, "levels": args.levels}
    if args.human:
        prog = session.prog
        options["boot_time"] = system.crash_time(prog) - system.uptime_seconds(prog)
    return Result(log_records(session), render=_render, options=options)
