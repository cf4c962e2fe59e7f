"""sys: system data, as crash prints at start-up and on ``sys``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Program

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel import system
from pycrash.kernel.tasks import STATE_LONG, TaskId, cpu_count, task_id, task_state
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class SysInfo:
    """The system summary of one dump (crash's ``sys``): the vmlinux and dump files, CPUs,
    the time of the dump (seconds since the epoch), uptime in seconds, 1/5/15-minute load
    averages, tasks, the kernel's utsname, CPU MHz, memory in bytes, the panic message,
    and the task that panicked with its state (crash's RU, UN...)."""

    kernel: str
    dumpfile: str
    cpus: int
    crash_time: int
    uptime_seconds: float
    load_average: tuple[float, float, float]
    tasks: int
    nodename: str
    release: str
    version: str
    machine: str
    mhz: int | None
    memory_bytes: int
    panic: str | None
    panic_task: TaskId | None = None
    panic_state: str | None = None


@dataclass(frozen=True)
class Taint:
    """The kernel's taint (``sys -t``): ``tainted_mask`` and its letters, one per
    ``taint_flags`` entry set (and the few shown when clear)."""

    mask: Hex
    flags: str


@dataclass(frozen=True)
class DmiString:
    """One DMI string the kernel kept from the firmware (``sys -i``): its ``enum
    dmi_field`` name and text."""

    field: str
    text: str


@dataclass(frozen=True)
class DmiView:
    """``sys -i``: the width crash aligns the field names to (the longest name)."""

    width: int


@dataclass(frozen=True)
class ConfigLine:
    """One line of the kernel's built-in configuration (CONFIG_IKCONFIG, ``sys config``)."""

    text: str


@dataclass(frozen=True)
class SyscallEntry:
    """One entry of the system call table (``sys -c``): its number, the function's
    address and name (None: no function starts at that address, an invalid entry), and
    the source file (from the build directory) and line it was compiled from."""

    number: int
    address: Hex
    name: str | None
    file: str | None
    line: int | None


SYSCALL_HEADER = "NUM  SYSTEM CALL                FILE AND LINE NUMBER"


def syscall_line(row: SyscallEntry) -> str:
    """crash's line of a system call table entry."""
    if row.name is None:
        return f"{row.number:3d}  invalid sys_call_table entry: {row.address:x} "
    where = f"../{row.file}: {row.line}" if row.file else ""
    return f"{row.number:3d}  {row.name:<26} {where}"


def sys_info(session: Session) -> SysInfo:
    """Compute the :class:`SysInfo` of the session's dump."""
    prog = session.prog
    uts = system.utsname(prog)
    page_size = int(prog["PAGE_SIZE"].value_())
    task = session.panic_task
    return SysInfo(
        kernel=session.target.vmlinux or "(no vmlinux: kallsyms and BTF from the dump)",
        dumpfile=session.target.dumpfile_label,
        cpus=cpu_count(prog),
        crash_time=system.crash_time(prog),
        uptime_seconds=system.uptime_seconds(prog),
        load_average=system.load_average(prog),
        tasks=len(session.tasks()),
        nodename=uts.nodename,
        release=uts.release,
        version=uts.version,
        machine=uts.machine,
        mhz=system.cpu_mhz(prog),
        memory_bytes=system.present_pages(prog) * page_size,
        panic=system.panic_text(prog),
        panic_task=task_id(task) if task is not None else None,
        panic_state=task_state(task) if task is not None else None,
    )


def sys_lines(info: SysInfo, banner: bool = False) -> Iterable[str]:
    """Yield crash's ``sys`` lines; ``banner`` adds the panic task, as at start-up."""
    one, five, fifteen = info.load_average
    machine = f"{info.machine}  ({info.mhz} Mhz)" if info.mhz else info.machine
    pairs = [
        ("KERNEL", info.kernel),
        ("DUMPFILE", info.dumpfile),
        ("CPUS", str(info.cpus)),
        ("DATE", system.format_date(info.crash_time)),
        ("UPTIME", system.format_uptime(info.uptime_seconds)),
        ("LOAD AVERAGE", f"{one:.2f}, {five:.2f}, {fifteen:.2f}"),
        ("TASKS", str(info.tasks)),
        ("NODENAME", info.nodename),
        ("RELEASE", info.release),
        ("VERSION", info.version),
        ("MACHINE", machine),
        ("MEMORY", system.format_memory(info.memory_bytes)),
    ]
    if info.panic:
        pairs.append(("PANIC", f'"{info.panic}"'))
    task = info.panic_task
    if banner and task is not None:
        state = str(info.panic_state)
        pairs += [
            ("PID", str(task.pid)),
            ("COMMAND", f'"{task.comm}"'),
            ("TASK", f"{task.task:x}  [THREAD_INFO: {task.task:x}]"),
            ("CPU", str(task.cpu)),
            ("STATE", f"{STATE_LONG.get(state, state)} (PANIC)"),
        ]
    for label, value in pairs:
        yield f"{label:>12}: {value}"


def render(result: Result) -> Iterable[str]:
    """crash's sys output (and its ``-t`` and ``config`` views)."""
    for i, row in enumerate(result.rows):
        if isinstance(row, SyscallEntry):
            if i == 0:
                yield SYSCALL_HEADER
            yield syscall_line(row)
        elif isinstance(row, Taint):
            yield f"TAINTED_MASK: {row.mask:x}  {row.flags}"
        elif isinstance(row, ConfigLine):
            yield row.text
        elif isinstance(row, DmiString):
            width = result.view.width if isinstance(result.view, DmiView) else 0
            yield f"  {row.field:>{width}}: {row.text}"
        else:
            yield from sys_lines(row)


def _syscalls(prog: Program, specs: list[str]) -> list[SyscallEntry]:
    """Return the table's entries, or those the specs select (crash: a number its entry,
    a name the entries whose function's name holds it; each spec in turn)."""
    try:
        table = [SyscallEntry(e.number, e.address, e.name, e.file, e.line)
                 for e in system.syscalls(prog)]
    except (KeyError, LookupError):
        raise CommandError("sys_call_table does not exist in this kernel") from None
    if not specs:
        return table
    rows: list[SyscallEntry] = []
    for spec in specs:
        number = int(spec, 0) if spec.isdigit() or spec.lower().startswith("0x") else None
        if number is not None:
            rows += [e for e in table if e.number == number][:1]
        else:
            rows += [e for e in table if e.name is not None and spec in e.name]
    return rows


@command(
    "sys",
    summary="system data",
    synopsis="sys [-t] [-i] [config] | sys -c [name|number] ...",
    records=(SysInfo, Taint, ConfigLine, SyscallEntry, DmiString),
    arguments=(
        arg("-t", dest="taint", action="store_true", help="the kernel's taint flags"),
        arg("-i", dest="dmi", action="store_true", help="the DMI strings of the firmware"),
        arg("-c", dest="syscalls", action="store_true",
            help="the system call table (or the entries of the names or numbers given)"),
        arg("items", nargs="*", metavar="config|name|number"),
    ),
    description="""
Displays essential system information: the vmlinux and dump files, number of
CPUs, the time of the dump, uptime, load average, number of tasks, the
kernel's utsname, memory size and the panic message.

  -t      the kernel's tainted_mask and its taint letters.
  -i      the DMI strings (BIOS, system, board, chassis) the kernel kept from the
          firmware, by their enum dmi_field names.
  -c [name|number] ...
          the system call table: each entry's number, function, and the source
          file and line it comes from (an entry no function starts at is
          invalid); a number shows that entry, a name the entries whose
          function's name holds it.
  config  the kernel's configuration, when built in (CONFIG_IKCONFIG).
""",
    examples="""
crash> sys
      KERNEL: vmlinux-6.1.0-56-cloud-amd64
    DUMPFILE: vmcore.kdump  [PARTIAL DUMP]
        CPUS: 2
     RELEASE: 6.1.0-56-cloud-amd64
       PANIC: "Kernel panic - not syncing: sysrq triggered crash"

crash> sys -t
TAINTED_MASK: 3000  OE

crash> sys -i
          DMI_BIOS_VENDOR: SeaBIOS
         DMI_BIOS_VERSION: 1.16.2-debian-1.16.2-1
            DMI_BIOS_DATE: 04/01/2014
           DMI_SYS_VENDOR: QEMU
         DMI_PRODUCT_NAME: Standard PC (i440FX + PIIX, 1996)
""",
)
def sys_command(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`SysInfo` row, the :class:`Taint` (``-t``), the
    :class:`DmiString` rows (``-i``) or the :class:`ConfigLine` rows (``config``)."""
    prog = session.prog
    if args.syscalls:
        return Result(_syscalls(prog, args.items), render=render)
    if args.dmi:
        try:
            strings, width = system.dmi_strings(prog)
        except LookupError:
            raise CommandError("dmi_ident does not exist in this kernel") from None
        return Result([DmiString(f, t) for f, t in strings], render=render,
                      view=DmiView(width))
    if args.taint:
        try:
            mask, letters = system.taint_state(prog)
        except (KeyError, LookupError, AttributeError, TypeError) as e:
            raise CommandError(f"-t option not supported or applicable on this architecture or "
                               f"kernel ({e})") from None
        return Result([Taint(mask, letters)], render=render)
    for item in args.items:
        if item != "config":
            raise CommandError(f"unknown argument: {item} (usage: sys [-t] [config])")
    if args.items:
        try:
            text = system.ikconfig_text(prog)
        except LookupError:
            raise CommandError("kernel_config_data does not exist in this kernel") from None
        except ValueError as e:
            raise CommandError(str(e)) from None
        return Result([ConfigLine(line) for line in text.splitlines()], render=render)
    return Result([sys_info(session)], render=render)
