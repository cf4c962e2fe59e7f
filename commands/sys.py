"""sys: system data, as crash prints at start-up and on ``sys``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.command import Result, command
from pycrash.kernel import system
from pycrash.kernel.tasks import STATE_LONG, cpu_count, task_id, task_state
from pycrash.session import Session


@dataclass(frozen=True)
class SysInfo:
    """The system summary of one dump (crash's ``sys``)."""

    kernel: str
    dumpfile: str
    cpus: int
    date: str
    crash_time: int
    uptime: str
    uptime_seconds: float
    load_average: tuple[float, float, float]
    tasks: int
    nodename: str
    release: str
    version: str
    machine: str
    mhz: int | None
    memory_bytes: int
    memory: str
    panic: str | None
    panic_pid: int | None = None
    panic_command: str | None = None
    panic_task: int | None = None
    panic_cpu: int | None = None
    panic_state: str | None = None


def sys_info(session: Session) -> SysInfo:
    """Compute the :class:`SysInfo` of the session's dump."""
    prog = session.prog
    uts = system.utsname(prog)
    when = system.crash_time(prog)
    up = system.uptime_seconds(prog)
    page_size = int(prog["PAGE_SIZE"].value_())
    mem = system.present_pages(prog) * page_size
    info = dict(
        kernel=session.target.vmlinux,
        dumpfile=session.target.dumpfile_label,
        cpus=cpu_count(prog),
        date=system.format_date(when),
        crash_time=when,
        uptime=system.format_uptime(up),
        uptime_seconds=up,
        load_average=system.load_average(prog),
        tasks=len(session.tasks()),
        nodename=uts.nodename,
        release=uts.release,
        version=uts.version,
        machine=uts.machine,
        mhz=system.cpu_mhz(prog),
        memory_bytes=mem,
        memory=system.format_memory(mem),
        panic=system.panic_text(prog),
    )
    task = session.panic_task
    if task is not None:
        tid = task_id(task)
        state = task_state(task)
        info.update(
            panic_pid=tid.pid,
            panic_command=tid.comm,
            panic_task=tid.task,
            panic_cpu=tid.cpu,
            panic_state=f"{STATE_LONG.get(state, state)} (PANIC)",
        )
    return SysInfo(**info)  # type: ignore[arg-type]


def sys_lines(info: SysInfo, banner: bool = False) -> Iterable[str]:
    """Yield crash's ``sys`` lines; ``banner`` adds the panic task, as at start-up."""
    one, five, fifteen = info.load_average
    machine = f"{info.machine}  ({info.mhz} Mhz)" if info.mhz else info.machine
    pairs = [
        ("KERNEL", info.kernel),
        ("DUMPFILE", info.dumpfile),
        ("CPUS", str(info.cpus)),
        ("DATE", info.date),
        ("UPTIME", info.uptime),
        ("LOAD AVERAGE", f"{one:.2f}, {five:.2f}, {fifteen:.2f}"),
        ("TASKS", str(info.tasks)),
        ("NODENAME", info.nodename),
        ("RELEASE", info.release),
        ("VERSION", info.version),
        ("MACHINE", machine),
        ("MEMORY", info.memory),
    ]
    if info.panic:
        pairs.append(("PANIC", f'"{info.panic}"'))
    if banner and info.panic_task is not None:
        pairs += [
            ("PID", str(info.panic_pid)),
            ("COMMAND", f'"{info.panic_command}"'),
            ("TASK", f"{info.panic_task:x}  [THREAD_INFO: {info.panic_task:x}]"),
            ("CPU", str(info.panic_cpu)),
            ("STATE", str(info.panic_state)),
        ]
    for label, value in pairs:
        yield f"{label:>12}: {value}"


def _render(result: Result) -> Iterable[str]:
    for info in result.rows:
        yield from sys_lines(info)


@command(
    "sys",
    summary="system data",
    synopsis="sys",
    description="""
Displays essential system information: the vmlinux and dump files, number of
CPUs, the time of the dump, uptime, load average, number of tasks, the
kernel's utsname, memory size and the panic message.
""",
    examples="""
crash> sys
      KERNEL: vmlinux-6.1.0-56-cloud-amd64
    DUMPFILE: vmcore.kdump  [PARTIAL DUMP]
        CPUS: 2
     RELEASE: 6.1.0-56-cloud-amd64
       PANIC: "Kernel panic - not syncing: sysrq triggered crash"
""",
)
def sys_command(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`SysInfo` row."""
    return Result([sys_info(session)], render=_render)
