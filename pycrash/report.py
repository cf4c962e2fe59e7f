"""``pycrash report``: the first look at a dump, in one go, as text or JSON.

What an engineer reads first: a verdict (the class of the crash, the function and
module to blame, the log lines that show it; the lock chains of a hang, the largest
memory users of an out-of-memory panic), the system summary, the panic and the task that
panicked with its backtrace, every CPU's backtrace, the end of the kernel
log, the tasks blocked in D state grouped by identical stack, the memory
summary and the modules that taint the kernel.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pycrash.command import Result, to_plain
from pycrash.errors import PycrashError, open_failure
from pycrash.session import Session

LOG_LINES = 50
#: How many memory users and slab caches an out-of-memory verdict names
TOP = 5


@dataclass(frozen=True)
class MemoryUser:
    """A process (thread group) and its resident memory in KiB."""

    pid: int
    comm: str
    rss_kb: int


@dataclass(frozen=True)
class SlabUse:
    """A slab cache and the memory its slabs take, in KiB."""

    name: str
    kb: int


@dataclass(frozen=True)
class Verdict:
    """Why the kernel went down: the class (``oops``, ``bug``, ``warn``, ``hung_task``,
    ``soft_lockup``, ``hard_lockup``, ``rcu_stall``, ``oom``, ``sysrq``, ``machine_check``,
    ``panic``, or ``none`` for a dump of a running system), the detail the report names
    (the oops kind), the function and module to blame (module None: the kernel itself),
    the task that panicked, the log lines that show it; for a hang the wait-for chains
    (as ``lock -c`` prints them) and the deadlock count; for an out-of-memory panic the
    largest memory users and slab caches."""

    cls: str
    detail: str | None
    function: str | None
    module: str | None
    pid: int | None
    command: str | None
    cpu: int | None
    log: list[str]
    chains: list[str]
    deadlocks: int
    memory_users: list[MemoryUser]
    slab_caches: list[SlabUse]


def sections(session: Session) -> list[tuple[str, str, Result | None, Any]]:
    """Return ``(key, title, result, data)`` of each part of the report."""
    from drgn.helpers.linux.panic import tainted

    out: list[tuple[str, str, Result | None, Any]] = []

    def add(key: str, title: str, command: str) -> Result | None:
        try:
            result = session.run(command)
        except PycrashError as exc:
            out.append((key, title, None, {"error": str(exc)}))
            return None
        out.append((key, title, result, result.to_data()))
        return result

    info = add("sys", "System", "sys")
    panic_task = session.panic_task
    panic: dict[str, Any] = {"message": None, "pid": None, "command": None, "cpu": None}
    if info is not None and info.rows:
        row = info.rows[0]
        task = row.panic_task
        panic = {"message": row.panic, "pid": task and task.pid, "command": task and task.comm,
                 "cpu": task and task.cpu, "task": task and task.task}
    out.append(("panic", "Panic", None, panic))
    if panic_task is not None:
        add("crashed_task_bt", "Backtrace of the task that panicked", "bt")
    add("bt_all", "Backtraces of every CPU's task", "bt -a")
    log = session.run("log")
    found = to_plain(verdict(session, info, log))  # first in the report, made from sys and log
    found = {("class" if k == "cls" else k): v for k, v in found.items()}
    out.insert(0, ("verdict", "Verdict", None, found))
    tail = Result(log.rows[-LOG_LINES:], render=log.render, name="log", view=log.view)
    out.append(("log_tail", f"The last {LOG_LINES} lines of the kernel log", tail,
                tail.to_data()))
    add("blocked", "Tasks in D state, grouped by stack", "stacks -t UN")
    add("memory", "Memory", "kmem -i")
    mods = add("tainted_modules", "Modules that taint the kernel", "mod -t")
    del mods
    try:
        flags = tainted(session.prog)
    except Exception:
        flags = "?"
    out.append(("taint", "Kernel taint flags", None, {"flags": flags}))
    return out


def _try(session: Session, command: str) -> Result | None:
    """Return a command's result, or None when it fails on this dump."""
    try:
        return session.run(command)
    except PycrashError:
        return None


def _log_lines(log: Result | None) -> tuple[list[str], list[str]]:
    """Return the lines of ``log``'s records without and with their ``[ seconds]`` stamps."""
    from pycrash.kernel.printkring import dmesg_stamp

    bare: list[str] = []
    stamped: list[str] = []
    for rec in log.rows if log is not None else []:
        stamp = dmesg_stamp(rec.timestamp_ns)
        for line in rec.text.splitlines() or [""]:
            bare.append(line)
            stamped.append(f"{stamp} {line}")
    return bare, stamped


def verdict(session: Session, info: Result | None = None, log: Result | None = None) -> Verdict:
    """Return the :class:`Verdict` of the dump: classified from the kernel's report in its
    log and the panic message, the culprit from the report's instruction pointer, the lock
    chains (hangs) or the panicking task's stack (an explicit panic). ``info`` and ``log``
    are ``sys``'s and ``log``'s results when the caller has them (else they are run)."""
    from pycrash.kernel.verdict import PanicClass, caller_of_panic, classify, hung_task_lines

    bare, stamped = _log_lines(log if log is not None else _try(session, "log"))
    if info is None:
        info = _try(session, "sys")
    row = info.rows[0] if info is not None and info.rows else None
    message = row.panic if row is not None else None
    if message:
        message = message.split("not syncing: ", 1)[-1]
    found = classify(message, bare)
    function, module = found.function, found.module
    evidence = list(found.evidence)
    chains: list[str] = []
    deadlocks = 0
    users: list[MemoryUser] = []
    slabs: list[SlabUse] = []
    if found.cls == PanicClass.HUNG_TASK:
        evidence = sorted(set(evidence) | set(hung_task_lines(bare)))
        graph = _try(session, "lock -c")
        if graph is not None and graph.rows:
            chains = [line for line in graph.lines() if line.strip() and
                      not line.startswith("WAIT-FOR")]
            function, module, deadlocks = _hang_culprit(graph.rows[0])
    elif found.cls == PanicClass.OOM:
        users, slabs = _memory(session)
    if function is None and found.cls in (PanicClass.SYSRQ, PanicClass.PANIC,
                                          PanicClass.MACHINE_CHECK):
        bt = _try(session, "bt")
        if bt is not None and bt.rows and not bt.rows[0].error:
            caller = caller_of_panic((f.function, f.module) for f in bt.rows[0].frames)
            if caller is not None:
                function, module = caller
    task = row.panic_task if row is not None else None
    return Verdict(found.cls.value, found.detail, function, module,
                   task.pid if task else None, task.comm if task else None,
                   task.cpu if task else None, [stamped[i] for i in evidence], chains,
                   deadlocks, users, slabs)


def _hang_culprit(graph: Any) -> tuple[str | None, str | None, int]:
    """Return the function and module to blame for a hang, from ``lock``'s graph: where
    the first deadlocked task waits, else where the holder at the end of the first chain
    sleeps or runs; and the number of deadlocks."""
    from pycrash.kernel.waitfor import ChainEnd

    for chain in graph.chains:
        if chain.end == ChainEnd.CYCLE:
            first = chain.cycle[0].task
            for lock in graph.locks:
                for t in (lock.owner, *lock.waiters):
                    if t is not None and t.task.task == first:
                        return t.where, t.module, graph.deadlocks
    for chain in graph.chains:
        if chain.last is not None:
            return chain.last.where, chain.last.module, graph.deadlocks
    return None, None, graph.deadlocks


def _memory(session: Session) -> tuple[list[MemoryUser], list[SlabUse]]:
    """Return the largest processes by resident memory and the largest slab caches."""
    users: list[MemoryUser] = []
    ps = _try(session, "ps")
    if ps is not None:
        leaders = {t.pid.value_() for t in session.tasks() if t.pid.value_() == t.tgid.value_()}
        rows = [r for r in ps.rows if r.pid in leaders and r.pid and r.rss_kb]
        rows.sort(key=lambda r: -r.rss_kb)
        users = [MemoryUser(r.pid, r.comm, r.rss_kb) for r in rows[:TOP]]
    slabs: list[SlabUse] = []
    kmem = _try(session, "kmem -s")
    if kmem is not None:
        caches = [r for r in kmem.rows if hasattr(r, "slab_size")]
        caches.sort(key=lambda c: -c.slabs * c.slab_size)
        slabs = [SlabUse(c.name, c.slabs * c.slab_size // 1024) for c in caches[:TOP]]
    return users, slabs


def verdict_text(v: dict[str, Any]) -> list[str]:
    """Return the verdict section's lines."""
    what = v["class"].replace("_", " ") + (f" ({v['detail']})" if v["detail"] else "")
    lines = [f"   CLASS: {what}"]
    if v["function"]:
        lines.append(f"  GUILTY: {v['function']}" + (f" [{v['module']}]" if v["module"] else ""))
    if v["pid"] is not None:
        lines.append(f"   PANIC: PID {v['pid']} \"{v['command']}\" on CPU {v['cpu']}")
    if v["chains"]:
        lines.append(f"   LOCKS: {v['deadlocks']} deadlock(s)" if v["deadlocks"] else "   LOCKS:")
        lines += [f"    {c.strip()}" for c in v["chains"]]
    if v["memory_users"]:
        lines.append("  MEMORY: " + ", ".join(f"{u['comm']} ({u['pid']}) {u['rss_kb']} KiB"
                                             for u in v["memory_users"]))
    if v["slab_caches"]:
        lines.append("   SLABS: " + ", ".join(f"{c['name']} {c['kb']} KiB"
                                             for c in v["slab_caches"]))
    if v["log"]:
        lines.append("     LOG:")
        lines += [f"    {line}" for line in v["log"]]
    return lines


def as_text(parts: list[tuple[str, str, Result | None, Any]]) -> str:
    """Return the report as text: a heading per section, then crash's output."""
    lines = []
    for _key, title, result, data in parts:
        lines += [title, "=" * len(title)]
        if _key == "verdict":
            lines += verdict_text(data)
        elif result is not None:
            text = str(result).rstrip("\n")
            lines.append(text if text else "(none)")
        else:
            lines += [f"{k}: {v:x}" if k == "task" and isinstance(v, int) else f"{k}: {v}"
                      for k, v in data.items()]
        lines.append("")
    return "\n".join(lines)


def as_json(parts: list[tuple[str, str, Result | None, Any]]) -> str:
    """Return the report as one JSON object keyed by section."""
    return json.dumps({key: data for key, _title, _r, data in parts}, indent=1)


def main(argv: Sequence[str]) -> int:
    """Run ``pycrash report``; return the exit status."""
    from pycrash.errors import one_line_parser

    p = one_line_parser(prog="pycrash report",
                        description="First-look triage report of a crash dump.")
    p.add_argument("files", nargs="+", metavar="FILE", help="the vmcore (and its vmlinux)")
    p.add_argument("-o", dest="outdir", help="write report.txt and report.json into DIR")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    try:
        session = Session.open(args.files, force=args.force)
        parts = sections(session)
    except (Exception, KeyboardInterrupt) as exc:  # every failure: one line
        return open_failure(exc)
    if args.outdir:
        from pycrash.outfile import write_files

        try:  # both files or neither
            os.makedirs(args.outdir, exist_ok=True)
            write_files({os.path.join(args.outdir, "report.txt"): [as_text(parts)],
                         os.path.join(args.outdir, "report.json"): [as_json(parts) + "\n"]})
        except OSError as exc:
            sys.stderr.write(f"pycrash: cannot write the report into {args.outdir}: "
                             f"{exc.strerror or exc}\n")
            return 1
        print(f"pycrash: report written to {args.outdir}/report.txt and report.json")
        return 0
    sys.stdout.write((as_json(parts) if args.json else as_text(parts)) + "\n")
    return 0
