"""System-wide facts for ``sys``: time, uptime, load, memory size, utsname, panic."""

from __future__ import annotations

import time
from dataclasses import dataclass

from drgn import FaultError, Program
from drgn.helpers.linux.mm import totalram_pages
from drgn.helpers.linux.panic import panic_message
from drgn.helpers.linux.sched import loadavg
from drgn.helpers.linux.timekeeping import ktime_get_real_seconds, uptime


@dataclass(eq=False)
class Utsname:
    """``init_uts_ns.name``: what ``uname -a`` printed on the crashed machine."""

    sysname: str
    nodename: str
    release: str
    version: str
    machine: str


def utsname(prog: Program) -> Utsname:
    """Return the kernel's :class:`Utsname`."""
    name = prog["init_uts_ns"].name

    def field(member: str) -> str:
        return str(getattr(name, member).string_().decode("utf-8", "replace"))

    return Utsname(field("sysname"), field("nodename"), field("release"),
                   field("version"), field("machine"))


def crash_time(prog: Program) -> int:
    """Return the wall-clock time of the dump in seconds since the epoch (timekeeper's xtime)."""
    return int(ktime_get_real_seconds(prog).value_())


def format_date(seconds: int) -> str:
    """Return crash's DATE text: ``Thu Nov 26 04:28:50 UTC 2026`` in the local time zone."""
    return time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(seconds))


def format_uptime(seconds: float) -> str:
    """Return crash's UPTIME text: ``HH:MM:SS``, with ``N days, `` in front when needed."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days} days, {clock}" if days else clock


def hz(prog: Program) -> int | None:
    """Return the kernel's tick rate (CONFIG_HZ), from ``tick_nsec``, or None."""
    try:
        return round(1e9 / prog["tick_nsec"].value_())
    except (KeyError, LookupError, FaultError, ZeroDivisionError):
        return None


def uptime_seconds(prog: Program) -> float:
    """Return the seconds the kernel had been up when the dump was taken.

    Counted in jiffies since INITIAL_JIFFIES (-300 s, as a 32-bit value), as crash
    does; drgn's boot-time clock when the tick rate is unknown.
    """
    rate = hz(prog)
    if rate:
        try:
            jiffies = prog["jiffies_64"].value_()
            return (jiffies - ((1 << 32) - 300 * rate)) / rate
        except (KeyError, LookupError, FaultError):
            pass
    return float(uptime(prog))


def load_average(prog: Program) -> tuple[float, float, float]:
    """Return the 1, 5 and 15 minute load averages."""
    one, five, fifteen = loadavg(prog)
    return (float(one), float(five), float(fifteen))


def present_pages(prog: Program) -> int:
    """Return the number of physical pages present in all NUMA nodes (crash's MEMORY)."""
    try:
        from drgn.helpers.linux.mmzone import for_each_online_pgdat

        return sum(int(pgdat.node_present_pages.value_()) for pgdat in for_each_online_pgdat(prog))
    except (LookupError, FaultError, ImportError):
        return int(totalram_pages(prog))


def format_memory(nbytes: int) -> str:
    """Return a size as crash prints MEMORY: ``767.5 MB``, ``16 GB``."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if nbytes >= scale:
            value = nbytes / scale
            text = f"{value:.1f}"
            if text.endswith(".0"):
                text = text[:-2]
            return f"{text} {unit}"
    return f"{nbytes} bytes"


def cpu_mhz(prog: Program) -> int | None:
    """Return the processor clock in MHz (``cpu_khz / 1000``), or None."""
    try:
        return int(prog["cpu_khz"].value_()) // 1000
    except (KeyError, LookupError, FaultError):
        return None


def panic_text(prog: Program) -> str | None:
    """Return the panic message from the log (``Kernel panic - not syncing: ...``), or None."""
    try:
        msg = panic_message(prog)
    except (LookupError, FaultError, ValueError):
        return None
    return msg.decode("utf-8", "replace") if msg else None
