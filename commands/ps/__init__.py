"""ps: process status, one row per task as crash prints it."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError, Object
from drgn.helpers.linux.mm import task_rss, task_vsize, totalram_pages
from drgn.helpers.linux.sched import task_cpu
from pycrash.commands.ps.views import RECORDS, TIMING, VIEWS, group, timing

from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.tasks import (
    SCHED_POLICIES,
    comm,
    is_group_leader,
    is_kernel_thread,
    parent_pid,
    saved_stack_pointer,
    task_state,
)
from pycrash.records import Hex
from pycrash.session import Session

HEADER = "      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM"
#: ps -s: the saved kernel stack pointer in place of the task
KSTACKP_HEADER = "      PID    PPID  CPU      KSTACKP      ST  %MEM      VSZ      RSS  COMM"


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task as ``ps`` shows it; sizes in KiB, ``task`` the task_struct address."""

    pid: int
    ppid: int
    cpu: int
    task: Hex
    state: str
    mem_pct: float
    vsz_kb: int
    rss_kb: int
    comm: str
    active: bool
    kernel: bool
    kstackp: Hex | None = None  # ps -s: the saved stack pointer; None when running


@dataclass(frozen=True)
class PsView:
    """How ``ps`` shows its rows: with -s, KSTACKP in place of TASK."""

    kstackp: bool = False
    header: bool = True  # False with -H


def ps_line(row: TaskRow, kstackp: bool = False) -> str:
    """Return crash's ``ps`` line for a task (``>`` marks a CPU's running task, kernel
    threads' names in brackets); ``kstackp`` shows the saved stack pointer (``--`` for
    a running task) in place of the task."""
    mark = ">" if row.active else " "
    name = f"[{row.comm}]" if row.kernel else row.comm
    if kstackp:
        where = f"{row.kstackp:016x}" if row.kstackp is not None else f"{'--':^16}"
    else:
        where = f"{row.task:016x}"
    return (
        f"{mark}{row.pid:>8} {row.ppid:>7} {row.cpu:>3}  {where}  "
        f"{row.state}  {row.mem_pct:4.1f} {row.vsz_kb:>8} {row.rss_kb:>8}  {name}"
    )


def task_row(session: Session, task: Object, total_pages: int, page_kb: int,
             kstackp: bool = False) -> TaskRow:
    """Return the :class:`TaskRow` of a ``struct task_struct *`` (``kstackp``: with the
    stack pointer it saved, unless it was running)."""
    kernel = is_kernel_thread(task)
    rss_pages = vsz = 0
    if not kernel:
        try:
            rss_pages = task_rss(session.prog, task).total
            vsz = task_vsize(task)
        except FaultError:
            pass
    active = task.value_() in session.active_tasks()
    saved = None
    if kstackp and not active:
        try:
            saved = saved_stack_pointer(task)
        except (FaultError, AttributeError):
            saved = None
    return TaskRow(
        pid=task.pid.value_(),
        ppid=parent_pid(task),
        cpu=task_cpu(task),
        task=task.value_(),
        state=task_state(task),
        mem_pct=rss_pages * 100.0 / total_pages if total_pages else 0.0,
        vsz_kb=vsz // 1024,
        rss_kb=rss_pages * page_kb,
        comm=comm(task),
        active=active,
        kernel=kernel,
        kstackp=saved,
    )


def render(result: Result) -> Iterable[str]:
    """crash's ps table: the header, then a line per task."""
    kstackp = isinstance(result.view, PsView) and result.view.kstackp
    if not isinstance(result.view, PsView) or result.view.header:
        yield KSTACKP_HEADER if kstackp else HEADER
    for row in result.rows:
        yield ps_line(row, kstackp)


def sched_policies(text: str) -> set[int]:
    """Return the policies of ``ps -y``'s comma-separated list: each a number (or ``0x``
    number) or a name (case-insensitive) of :data:`SCHED_POLICIES`."""
    wanted = set()
    for word in text.split(","):
        upper = word.upper()
        for value, name in enumerate(SCHED_POLICIES):
            if upper.startswith(name) or upper in (str(value), f"0X{value:X}"):
                wanted.add(value)
                break
        else:
            raise CommandError(f"{word}: invalid scheduling policy")
    return wanted


def group_leaders(session: Session, tasks: list[Object], named: bool) -> list[Object]:
    """Return ps -G's tasks: the thread group leaders among ``tasks``; where tasks were
    ``named``, each one's leader instead, once."""
    if not named:
        return [t for t in tasks if is_group_leader(t)]
    by_pid = {t.pid.value_(): t for t in session.tasks() if is_group_leader(t)}
    out: list[Object] = []
    seen: set[int] = set()
    for t in tasks:
        leader = t if is_group_leader(t) else by_pid.get(t.tgid.value_())
        if leader is not None and leader.value_() not in seen:
            seen.add(leader.value_())
            out.append(leader)
    return out


@command(
    "ps",
    summary="display process status information",
    synopsis="ps [-k|-u|-G|-y policy] [-s] [-p|-c|-t|-[l|m][-C cpu]|-b|-a|-g|-r|-S|-A|-H] "
             "[pid | task | command] ...",
    description="""
Displays process status for selected, or all, processes in the system: PID,
parent PID, CPU, task_struct address, state (RU running, IN interruptible,
UN uninterruptible, ID idle, ZO zombie, ST stopped, TR traced, DE dead,
PA parked), memory use as a percentage of RAM, virtual and resident size in
KiB, and the command name. A ">" marks the task each CPU was running.
Kernel threads are shown in brackets.

-p shows each task's ancestry, -c its children, -t its run time, start time
and user and system time, -l when it last ran (most recent first), -a its
arguments and environment (from its user memory, often filtered out of
dumps), -g its threads, -r its resource limits; -S counts tasks per state;
-A shows only the task each CPU was running; -H leaves out the table's header line.

-G keeps only thread group leaders (a named thread stands for its leader),
-y policy only the tasks of the scheduling policies listed (0 or NORMAL,
1 FIFO, 2 RR, 3 BATCH, 4 ISO, 5 IDLE, 6 DEADLINE; comma-separated), and -s
shows each task's saved kernel stack pointer (KSTACKP; "--" for a running
task) in place of its task_struct. A command name that names no task is a
regular expression over command names (crash's 'regex').

-l shows each task's sched_info.last_arrival (the run queue clock, in ns,
when it last came onto a CPU), most recent first; -m the same as the time
before its CPU's run queue clock, in days, hours, minutes, seconds and
milliseconds. With -C cpu[,cpu|-cpu|all] they list the tasks of each CPU
under a "CPU: N" line. These are crash's -l, -m and -C; crash's idle tasks
show 0 (the scheduler never stamps them), so -m shows their CPU's clock.

-b (pycrash's own) shows how long each task in UN state (or each task named)
had been off its CPU when the system crashed, longest first, in -m's format:
the run queue task clock of its CPU minus se.exec_start (stamped when it left
the CPU), plus how far that CPU's clock lagged the most recent CPU clock (the
crash clock). It can be short by the interrupt and steal time of that CPU
during the wait and by up to a tick; "-" marks a task that was running or
runnable.
""",
    examples="""
crash> ps pcfix-sleeper1
      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM
      102       1   0  ff276d7aefe60000  IN   0.3     2260     1640  pcfix-sleeper1
crash> ps -k          (kernel threads only)
crash> ps -u 1 2      (user tasks among pids 1 and 2)
crash> ps -m          (time since each task last ran)
[0 00:00:00.012] [RU]  PID: 143      TASK: ff3622496fdb0000  CPU: 1    COMMAND: "sh"
[0 00:00:05.013] [IN]  PID: 102      TASK: ff36224942f39a80  CPU: 0    COMMAND: "pcfix-sleeper1"
crash> ps -m -C 1     (the same, for the tasks of CPU 1)
crash> ps -b          (how long each task in UN state has been blocked)
""",
    records=(TaskRow, *RECORDS),
    arguments=(
        arg("-k", dest="kernel", action="store_true", help="kernel threads only"),
        arg("-u", dest="user", action="store_true", help="user tasks only"),
        arg("-p", dest="parents", action="store_true", help="parental hierarchy"),
        arg("-c", dest="children", action="store_true", help="children"),
        arg("-t", dest="times", action="store_true", help="run time, start time, user/sys"),
        arg("-l", dest="last", action="store_true", help="last run, most recent first"),
        arg("-m", dest="msecs", action="store_true",
            help="time since last run (days hh:mm:ss.ms), most recent first"),
        arg("-C", dest="cpus", metavar="cpu", help="with -l or -m: the tasks of these CPUs"),
        arg("-b", dest="blocked", action="store_true",
            help="time off the CPU of tasks in UN state (or those named), longest first"),
        arg("-a", dest="args", action="store_true", help="arguments and environment"),
        arg("-g", dest="group", action="store_true", help="threads of the thread group"),
        arg("-r", dest="rlimits", action="store_true", help="resource limits"),
        arg("-S", dest="summary", action="store_true", help="count of tasks in each state"),
        arg("-A", dest="active", action="store_true", help="only the active task of each CPU"),
        arg("-H", dest="no_header", action="store_true", help="no header line"),
        arg("-G", dest="leaders", action="store_true", help="only thread group leaders"),
        arg("-y", dest="policy", metavar="policy",
            help="only tasks of these scheduling policies (number or name, comma-separated)"),
        arg("-s", dest="kstackp", action="store_true",
            help="the saved kernel stack pointer (KSTACKP) in place of TASK"),
        arg("specs", nargs="*", metavar="pid|task|command"),
    ),
)
def ps(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`TaskRow` for each selected task, sorted by pid."""
    views = [v for v in ("parents", "children", "times", "last", "msecs", "blocked", "args",
                         "group", "rlimits", "summary", "active") if getattr(args, v)]
    if len(views) > 1:
        raise CommandError("-a, -t, -c, -p, -g, -l, -m, -S, -r and -A flags are all "
                           "mutually-exclusive")
    view = views[0] if views else None
    if view == "active":
        view = None
    if args.kernel and args.user:
        raise CommandError("-k and -u are mutually exclusive")
    if args.leaders and view in ("last", "msecs"):
        raise CommandError(f"-G not supported with -{'l' if view == 'last' else 'm'} option")
    if args.policy is not None and (view in TIMING or view == "blocked"):
        raise CommandError("-y is not supported with -l, -m or -b")
    policies = sched_policies(args.policy) if args.policy is not None else None
    if view == "summary" and (args.kernel or args.user or args.leaders):
        raise CommandError("-S option cannot be used with other options")
    if view == "summary" and args.specs:
        raise CommandError("-S option takes no arguments")
    if view in TIMING:
        return timing(session, view, args.specs, args.cpus, args.kernel, args.user)
    if args.cpus is not None:
        raise CommandError("-C option is only applicable with -l and -m")
    if view == "blocked" and not args.specs:
        sel = select_tasks(session, ["UN"], classes=True, kernel=args.kernel, user=args.user)
        return VIEWS[view](session, sel.tasks, [])
    sel = select_tasks(session, args.specs, default="all", regex=True, kernel=args.kernel,
                       user=args.user)
    if policies is not None:
        sel.tasks = [t for t in sel.tasks if t.policy.value_() in policies]
    if args.leaders:
        sel.tasks = group_leaders(session, sel.tasks, bool(args.specs))
    if args.active and not args.specs:  # crash: -A applies to the whole list only
        active = session.active_tasks()
        sel.tasks = [t for t in sel.tasks if t.value_() in active]
    prog = session.prog
    total = int(totalram_pages(prog))
    page_kb = int(prog["PAGE_SIZE"].value_()) // 1024
    if view == "group":
        return group(session, sel.tasks, sel.errors, named=bool(args.specs))
    if view is not None:
        return VIEWS[view](session, sel.tasks, sel.errors)
    rows = [task_row(session, t, total, page_kb, args.kstackp) for t in sel.tasks]
    rows.sort(key=lambda r: r.pid)
    return Result(rows, render=render, errors=sel.errors,
                  view=PsView(args.kstackp, not args.no_header))
