"""The per-dump function every engine runs: open one dump, extract in tiers, return its
record (a dict of plain JSON values); it never raises.

- Tier 0, no debuginfo: format, architecture, release, build id, crash time, the kernel
  log (walked through VMCOREINFO's printk offsets, or the ``dmesg.txt`` kdump saved
  beside the dump), the report in it: class, faulting function and offset, module,
  taint, the report's frames.
- Tier 1, the vmlinux of the build: the panic task's backtrace from pycrash's stack
  engine (``bt``), each frame normalised (function, offset, module).
- Tier 2, full: ``pycrash report``'s content, its verdict in the record, its text and
  JSON under ``OUTDIR/reports/KEY/``.

A local dump's tiers 1 and 2 open it again by path (drgn's own readers, in C); a remote
(fsspec) dump's load the vmlinux into the Program of tier 0, whose reads pycrash's
memory layer serves from the remote file by byte range (the block cache of
:mod:`.sources` between them): only the pages the backtrace and the report read are
fetched. A dump whose vmlinux is not found stops at tier 0 (noted in the record).
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field
from typing import Any

from pycrash.errors import PycrashError
from pycrash.memory.formats import Opened
from pycrash.triage import debuginfo
from pycrash.triage.logparse import Report, bare, parse_report
from pycrash.triage.signature import bucket_id, normalise, rules, sign_record
from pycrash.triage.sources import close_source, local_path, open_source

#: how many of the log's last lines a record keeps
LOG_TAIL = 20
#: record fields that differ from run to run (engine, machine load): left out when runs
#: are compared
TIMING_FIELDS = ("timing",)


@dataclass(frozen=True)
class Task:
    """One dump to extract: its name as given (path or URL), content key and size, the
    ``dmesg.txt`` beside it (if any), the highest tier wanted, where tier 2 writes its
    report, where to look for debuginfo, whether to redact, and the signature rules
    file (None: the shipped one)."""

    path: str
    key: str
    size: int
    dmesg: str | None = None
    tier: int = 2
    outdir: str = ""
    debuginfo_dirs: tuple[str, ...] = ()
    redact: bool = False
    rules: str | None = None
    attempt: int = field(default=0, compare=False)


def extract(task: Task) -> dict[str, Any]:
    """Return the record of ``task``'s dump: ``{"key", "path", ..., "signature"}``, or
    an error record ``{"key", "path", "error": one line, "stage"}``."""
    started = time.monotonic()
    try:
        record = _extract(task)
    except PycrashError as exc:
        record = _error(task, str(exc), "open")
    except MemoryError:
        record = _error(task, "out of memory while reading the dump", "extract")
    except Exception as exc:  # a damaged dump must not stop the run
        record = _error(task, f"internal error: {type(exc).__name__}: {exc}", "extract")
    gc.collect()  # a Session holds reference cycles: free its ~250 MB before the next dump
    record["timing"] = {"seconds": round(time.monotonic() - started, 3), "pid": os.getpid()}
    return record


def _error(task: Task, message: str, stage: str) -> dict[str, Any]:
    """Return an error record: the dump's identity and a one-line reason."""
    line = " ".join(message.split())
    return {"key": task.key, "path": None if task.redact else task.path, "size": task.size,
            "error": line, "stage": stage}


def _extract(task: Task) -> dict[str, Any]:
    """Return the record of a dump (tiers 0 to ``task.tier``); raise on a bad dump."""
    from pycrash.triage.dumpinfo import open_dump, reader
    from pycrash.triage.printk import read_log, stamped_lines

    source, counter = open_source(task.path)
    try:
        facts, opened = open_dump(source)
        lines: list[str] = []
        log_source = None
        notes: list[str] = []
        try:
            records, problem = read_log(reader(opened.prog), facts.vmcoreinfo)
            lines = stamped_lines(records)
            log_source = None if problem and not lines else "dump"
            if problem:
                how = "read from the dump in part" if lines else "not read from the dump"
                notes.append(f"log {how}: {problem}")
        except PycrashError as exc:
            notes.append(f"log not read from the dump: {exc}")
        if not lines and task.dmesg:
            lines = _sidecar(task.dmesg)
            log_source = "sidecar" if lines else None
        report = parse_report(lines)
        record = _tier0(task, facts, report, lines, log_source)
        record["t0_bytes_read"] = counter.bytes_read
        record["bytes_read"] = counter.bytes_read
        if task.tier >= 1:
            remote = local_path(task.path) is None
            served = opened if remote else None
            del opened  # a local file is opened again by drgn's reader: this Program goes
            _deeper(task, record, notes, served)
            if remote:
                record["bytes_read"] = counter.bytes_read
            elif record["tier"] > 0 or record["debuginfo"]:
                record["bytes_read"] = None  # drgn read the file itself: not counted
        record["reads"] = counter.reads if record["bytes_read"] is not None else None
    finally:
        close_source(source)
    record["notes"] = notes
    _finish(task, record)
    return record


def _sidecar(path: str) -> list[str]:
    """Return the lines of the ``dmesg.txt`` kdump saved beside a dump ([] unreadable)."""
    try:
        local = local_path(path)
        if local is not None:
            with open(local, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        import fsspec

        with fsspec.open(path, "rt", encoding="utf-8", errors="replace") as f:
            return str(f.read()).splitlines()
    except Exception:
        return []


def _tier0(task: Task, facts: Any, report: Report, lines: list[str],
           log_source: str | None) -> dict[str, Any]:
    """Return the tier-0 record: the dump's facts and its log's report."""
    found = report.classified
    first = report.frames[0] if report.frames else None
    offset = first.offset if first and found.function and \
        normalise(first.function) == found.function else None
    return {
        "key": task.key, "path": task.path, "size": task.size, "tier": 0,
        "format": facts.format, "arch": facts.arch, "release": facts.release,
        "build_id": facts.build_id, "crash_time": facts.crash_time,
        "log_source": log_source, "log_lines": len(lines),
        "class": found.cls.value, "detail": found.detail, "panic_message": report.message,
        "function": found.function, "offset": offset, "module": found.module,
        "taint": report.taint, "pid": report.pid, "command": report.command,
        "report_lines": [lines[i] for i in found.evidence if i < len(lines)],
        "log_tail": lines[-LOG_TAIL:],
        "frames": [{"function": f.function, "offset": f.offset, "module": f.module}
                   for f in report.frames],
        "debuginfo": None, "backtrace": [], "verdict": None, "report": None,
    }


def _deeper(task: Task, record: dict[str, Any], notes: list[str],
            opened: Opened | None = None) -> None:
    """Add tiers 1 and 2 to ``record`` where the dump's vmlinux is found: a local dump is
    opened again by drgn's own reader (from its path); a remote one (``opened``: tier 0's
    Program, served from the remote file by pycrash's readers) gets the vmlinux loaded
    into the Program tier 0 read its log through, so that nothing is read twice."""
    local = local_path(task.path)
    where = os.path.dirname(os.path.abspath(local)) if local is not None else None
    vmlinux = debuginfo.find(record["release"], record["build_id"], where,
                             task.debuginfo_dirs)
    if vmlinux is None:
        notes.append(f"no debuginfo for build {record['build_id'] or '?'} (release "
                     f"{record['release']}): tier 0 only")
        return
    record["debuginfo"] = vmlinux
    from pycrash.session import Session

    try:
        if opened is not None:
            from pycrash.target import with_debuginfo

            session = Session(*with_debuginfo(opened, vmlinux, False, False, ""))
        else:
            session = Session.open(local or task.path, vmlinux)
    except PycrashError as exc:
        notes.append(f"tier 1 failed: {exc}")
        return
    record["tier"] = 1
    try:
        bt = session.run("bt")
        if bt.rows and not bt.rows[0].error:
            record["backtrace"] = backtrace(bt.rows[0].frames)
    except PycrashError as exc:
        notes.append(f"bt failed: {exc}")
    if task.tier >= 2:
        _tier2(task, record, session, notes)


def backtrace(frames: Any) -> list[dict[str, Any]]:
    """Return ``bt``'s frames normalised: function, offset, module; an exception frame's
    interrupted kernel function (``[exception RIP: f+12]``) follows it as a frame."""
    out: list[dict[str, Any]] = []
    for f in frames:
        out.append({"function": f.function, "offset": f.offset, "module": f.module})
        rip = f.exception.kernel_rip if f.exception is not None else None
        if rip:
            name, _sep, off = rip.partition("+")
            out.append({"function": name, "offset": int(off, 0) if off.isdigit() else None,
                        "module": None})
    return out


def _tier2(task: Task, record: dict[str, Any], session: Any, notes: list[str]) -> None:
    """Add the report's verdict to ``record`` and write the report under the outdir."""
    from pycrash.report import as_json, as_text, sections

    try:
        parts = sections(session)
    except PycrashError as exc:
        notes.append(f"report failed: {exc}")
        return
    record["tier"] = 2
    verdict = next((data for key, _t, _r, data in parts if key == "verdict"), None)
    record["verdict"] = verdict
    if task.outdir and not task.redact:
        rel = os.path.join("reports", task.key)
        where = os.path.join(task.outdir, rel)
        os.makedirs(where, exist_ok=True)
        with open(os.path.join(where, "report.txt"), "w") as f:
            f.write(as_text(parts) + "\n")
        with open(os.path.join(where, "report.json"), "w") as f:
            f.write(as_json(parts) + "\n")
        record["report"] = os.path.join(rel, "report.txt")


def _finish(task: Task, record: dict[str, Any]) -> None:
    """Sign the record, and with ``redact`` drop process names, paths and log text."""
    signature = sign_record(record, rules(task.rules))
    record["signature"] = signature
    record["bucket"] = bucket_id(signature)
    if task.redact:
        redact(record)


def redact(record: dict[str, Any]) -> None:
    """Drop from a record what may name people, hosts or data: process names, paths
    (the dump's, the vmlinux's, the report's), the log's text."""
    record["path"] = None
    record["command"] = None
    record["debuginfo"] = None
    record["report"] = None
    record["report_lines"] = []
    record["log_tail"] = []
    record["panic_message"] = None
    record["notes"] = [n for n in record.get("notes", []) if "/" not in n]
    verdict = record.get("verdict")
    if isinstance(verdict, dict):
        verdict["command"] = None
        verdict["log"] = []
        verdict["chains"] = []
        for user in verdict.get("memory_users") or []:
            user["comm"] = None


__all__ = ["TIMING_FIELDS", "Task", "bare", "extract", "redact"]
