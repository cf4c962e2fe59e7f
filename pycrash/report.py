"""``pycrash report``: the first look at a dump, in one go, as text or JSON.

What an engineer reads first: the system summary, the panic and the task that
panicked with its backtrace, every CPU's backtrace, the end of the kernel
log, the tasks blocked in D state grouped by identical stack, the memory
summary and the modules that taint the kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from pycrash.command import Result
from pycrash.errors import PycrashError
from pycrash.session import Session

LOG_LINES = 50


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


def as_text(parts: list[tuple[str, str, Result | None, Any]]) -> str:
    """Return the report as text: a heading per section, then crash's output."""
    lines = []
    for _key, title, result, data in parts:
        lines += [title, "=" * len(title)]
        if result is not None:
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
    p = argparse.ArgumentParser(prog="pycrash report",
                                description="First-look triage report of a crash dump.")
    p.add_argument("files", nargs="+", metavar="FILE", help="the vmcore (and its vmlinux)")
    p.add_argument("-o", dest="outdir", help="write report.txt and report.json into DIR")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    try:
        session = Session.open(args.files, force=args.force)
        parts = sections(session)
    except PycrashError as exc:
        sys.stderr.write(f"pycrash: {exc}\n")
        return 2
    if args.outdir:
        os.makedirs(args.outdir, exist_ok=True)
        with open(os.path.join(args.outdir, "report.txt"), "w") as f:
            f.write(as_text(parts))
        with open(os.path.join(args.outdir, "report.json"), "w") as f:
            f.write(as_json(parts) + "\n")
        print(f"pycrash: report written to {args.outdir}/report.txt and report.json")
        return 0
    sys.stdout.write((as_json(parts) if args.json else as_text(parts)) + "\n")
    return 0
