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


def taint_state(prog: Program) -> tuple[int, str]:
    """Return ``tainted_mask`` and its letters as crash's ``sys -t`` prints them.

    One letter per entry of ``taint_flags``: its ``c_true`` (``true`` before 4.15) when
    the bit is set, else its ``c_false`` unless that is blank, ``-`` or ``G``.
    """
    mask = int(prog["tainted_mask"].value_())
    flags = prog["taint_flags"]
    members = {m.name for m in flags.type_.type.members or ()}
    on, off = ("c_true", "c_false") if "c_true" in members else ("true", "false")
    letters = []
    for i in range(len(flags)):
        entry = flags[i]
        if mask >> i & 1:
            letters.append(chr(int(getattr(entry, on).value_()) & 0xFF))
        else:
            char = chr(int(getattr(entry, off).value_()) & 0xFF)
            if char not in " -G\0":
                letters.append(char)
    return mask, "".join(letters)


IKCONFIG_START = b"IKCFG_ST"
IKCONFIG_END = b"IKCFG_ED"


def ikconfig_text(prog: Program) -> str:
    """Return the kernel's own configuration (CONFIG_IKCONFIG: ``kernel_config_data``,
    gzip data between the ``IKCFG_ST`` and ``IKCFG_ED`` markers) as text.

    Raises LookupError when the kernel was built without it (or has it in the ``configs``
    module, which crash does not read either), ValueError when the data is damaged.
    """
    address = prog.symbol("kernel_config_data").address
    size = 32 * 1024
    while True:
        data = prog.read(address - 8, size + 8)
        if not data.startswith(IKCONFIG_START):
            raise ValueError("could not find MAGIC_START!")
        end = data.find(IKCONFIG_END, 8)
        if end >= 0:
            return decompress_ikconfig(data[8:end])
        if size > 512 * 1024:
            raise ValueError("could not find MAGIC_END!")
        size *= 2


def decompress_ikconfig(gz: bytes) -> str:
    """Return the text of the gzip data of ``kernel_config_data``."""
    import zlib

    try:
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(gz).decode("utf-8", "replace")
    except zlib.error as e:
        raise ValueError(f"zlib could not uncompress: {e}") from None


@dataclass(frozen=True)
class Syscall:
    """One entry of ``sys_call_table``: its number, the function's address, the name
    crash gives it (None: no symbol starts there) and the source file (relative to the
    build directory) and line of its first instruction outside an ``include/`` header."""

    number: int
    address: int
    name: str | None
    file: str | None
    line: int | None


def syscall_name(prog: Program, address: int) -> str | None:
    """Return the name crash gives the function at ``address``: ``sys_ni_syscall`` for
    it, else the first by name of the symbols that start exactly there, or None."""
    try:
        if address == prog.symbol("sys_ni_syscall").address:
            return "sys_ni_syscall"
    except LookupError:
        pass
    names = [s.name for s in prog.symbols(address) if s.address == address]
    return min(names) if names else None


def syscall_source(prog: Program, address: int) -> tuple[str | None, int | None]:
    """Return the file (relative to the build directory) and line of the function at
    ``address``: its first instruction not from an ``include/*.h`` header, as crash's
    ``sys -c`` looks for it; (None, None) without line numbers."""
    from pycrash.kernel.linetable import gdb_line

    try:
        sym = prog.symbol(address)
    except LookupError:
        return None, None
    for addr in range(address, sym.address + sym.size):
        where = gdb_line(prog, addr)
        if where is None:
            if addr == address and prog.cache.get("pycrash_line_tables") is False:
                return None, None  # no line table at all
            continue
        name, line = where
        if name.endswith(".h") and "include/" in name:
            continue
        if name.startswith("/"):  # outside the build directory: crash shows no file
            return None, None
        return name, line
    return None, None


def syscalls(prog: Program, lines: bool = True) -> list[Syscall]:
    """Return the entries of ``sys_call_table`` (its length from the debug info)."""
    table = prog["sys_call_table"]
    out = []
    for number in range(len(table)):
        address = int(table[number].value_())
        name = syscall_name(prog, address)
        file, line = syscall_source(prog, address) if lines and name else (None, None)
        out.append(Syscall(number, address, name, file, line))
    return out


def dmi_strings(prog: Program) -> tuple[list[tuple[str, str]], int]:
    """The firmware's DMI strings the kernel kept (``dmi_ident[]``): ``(field, text)`` in
    ``enum dmi_field`` order for each one set, and the longest field name below the
    array's length (crash aligns on it). LookupError when the kernel has no ``dmi_ident``
    (no CONFIG_DMI: arm64 without firmware tables)."""
    from drgn import TypeKind

    idents = prog["dmi_ident"]
    if idents.type_.unqualified().kind != TypeKind.ARRAY or idents.type_.length is None:
        raise LookupError("dmi_ident is not an array")
    length = idents.type_.length
    fields = []
    for e in prog.type("enum dmi_field").enumerators:
        if e.value >= length:
            break  # crash stops at the first enumerator past the array (DMI_STRING_MAX)
        fields.append((e.name, e.value))
    width = max((len(name) for name, _v in fields), default=0)
    out = []
    for name, value in fields:
        ptr = idents[value].value_()
        if ptr:
            text = prog.read_c_string(ptr, max_size=4096).decode("utf-8", "replace")
            out.append((name, text))
    return out, width
