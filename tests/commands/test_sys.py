"""sys's renderer: the summary and the start-up banner from typed fields (no dump needed)."""

from __future__ import annotations

import time

from pycrash.commands.sys import SysInfo, render, sys_lines

from pycrash.command import Result
from pycrash.kernel.tasks import TaskId

INFO = SysInfo("vmlinux", "vmcore.kdump  [PARTIAL DUMP]", 2, 0, 5.5, (0.0, 0.25, 1.0), 90,
               "debian", "6.1.0", "#1 SMP", "x86_64", 2400, 486555648,
               "Kernel panic - not syncing: sysrq triggered crash",
               TaskId(142, 0xFF3CF9169E460000, 1, "sh"), "RU")


def test_summary() -> None:
    assert list(render(Result([INFO]))) == [
        "      KERNEL: vmlinux", "    DUMPFILE: vmcore.kdump  [PARTIAL DUMP]",
        "        CPUS: 2",
        "        DATE: " + time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(0)),
        "      UPTIME: 00:00:05", "LOAD AVERAGE: 0.00, 0.25, 1.00", "       TASKS: 90",
        "    NODENAME: debian", "     RELEASE: 6.1.0", "     VERSION: #1 SMP",
        "     MACHINE: x86_64  (2400 Mhz)", "      MEMORY: 464 MB",
        '       PANIC: "Kernel panic - not syncing: sysrq triggered crash"']


def test_banner_names_the_panic_task() -> None:
    assert list(sys_lines(INFO, banner=True))[-5:] == [
        "         PID: 142", '     COMMAND: "sh"',
        "        TASK: ff3cf9169e460000  [THREAD_INFO: ff3cf9169e460000]",
        "         CPU: 1", "       STATE: TASK_RUNNING (PANIC)"]
