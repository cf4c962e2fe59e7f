"""``pycrash triage INPUT... -o OUTDIR``: extract every dump, sign it, group the
duplicates, write records, buckets, errors and an HTML index; ``--resign OUTDIR``
regroups a finished run with (new) rules without opening any dump."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from pycrash.errors import PycrashError
from pycrash.triage import outputs
from pycrash.triage.extract import Task


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``pycrash triage``'s options."""
    p = argparse.ArgumentParser(
        prog="pycrash triage",
        description="Open many crash dumps, sign each crash, group the duplicates.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="dump files, directories, globs, manifest files, fsspec URLs")
    p.add_argument("-o", dest="outdir", help="where records, buckets and index.html go")
    p.add_argument("--resign", metavar="OUTDIR",
                   help="regroup a finished run's records (no dump is opened)")
    p.add_argument("--tier", type=int, choices=(0, 1, 2), default=2,
                   help="0: no debuginfo; 1: + the panic task's backtrace; 2: + the report "
                        "(default)")
    p.add_argument("--engine", choices=("local", "ray", "dask"), default="local")
    p.add_argument("--address", help="the Ray cluster to use (default: start a local one)")
    p.add_argument("--scheduler", help="the Dask scheduler to use (default: a local cluster)")
    p.add_argument("-j", "--workers", type=int, help="dumps open at once (default: the CPUs, "
                   "bounded by memory at 300 MB a dump)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds one dump may take before its worker is killed (600)")
    p.add_argument("--max-per-worker", type=int, default=20,
                   help="dumps a worker reads before it is replaced (20)")
    p.add_argument("--debuginfo-dir", action="append", default=[], metavar="DIR",
                   help="a directory of vmlinux files, found by build id (repeatable)")
    p.add_argument("--rules", metavar="FILE",
                   help="signature rules (TOML; default: pycrash's signature.toml)")
    p.add_argument("--redact", action="store_true",
                   help="drop process names, paths and log text from the outputs")
    p.add_argument("--no-parquet", action="store_true", help="write no Parquet files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


class Progress:
    """The progress line on stderr: dumps done of all, failed, dumps per minute."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.start = self.last = time.monotonic()
        self.quiet = quiet
        self.tty = sys.stderr.isatty()

    def update(self, failed: bool) -> None:
        """Count one finished dump and redraw (on a terminal; else every 10 s)."""
        self.done += 1
        self.failed += failed
        now = time.monotonic()
        if self.quiet or not (self.tty or now - self.last > 10 or self.done == self.total):
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-6) * 60
        line = (f"pycrash triage: {self.done}/{self.total} done, {self.failed} failed, "
                f"{rate:.1f}/min")
        sys.stderr.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _warnings(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return errors.jsonl's warnings: dumps read at tier 0 only for want of debuginfo."""
    return [{"key": r["key"], "path": r.get("path"), "size": r.get("size"),
             "error": n, "stage": "debuginfo", "severity": "warning"}
            for r in records for n in r.get("notes", []) if n.startswith("no debuginfo")]


def resign(outdir: str, rules_path: str | None, parquet: bool) -> int:
    """Regroup a run's records with the rules; return the exit status."""
    from pycrash.triage.signature import Rules, bucket_id, sign_record

    records = outputs.read_jsonl(os.path.join(outdir, outputs.RECORDS))
    if not records:
        raise PycrashError(f"{outdir}: no {outputs.RECORDS} to regroup")
    rules = Rules.load(rules_path)
    for rec in records:
        rec["signature"] = sign_record(rec, rules)
        rec["bucket"] = bucket_id(rec["signature"])
    errors = outputs.read_jsonl(os.path.join(outdir, outputs.ERRORS))
    groups = outputs.write_all(outdir, records, errors, parquet)
    sys.stderr.write(f"pycrash triage: {len(records)} dumps regrouped into {len(groups)} "
                     f"buckets in {outdir}\n")
    return 0


def run(args: argparse.Namespace) -> int:
    """Triage the inputs into ``args.outdir``; return the exit status."""
    from pycrash.triage.inputs import expand
    from pycrash.triage.signature import rules as load_rules
    from pycrash.triage.sources import local_path

    load_rules(args.rules)  # a bad rules file is one line, before any dump is read
    outdir = os.path.abspath(args.outdir)
    os.makedirs(outdir, exist_ok=True)
    refs, problems = expand(args.inputs)
    errors: list[dict[str, Any]] = [{"key": None, "path": item, "error": why,
                                     "stage": "input", "severity": "error"}
                                    for item, why in problems]
    done_before = (outputs.read_jsonl(os.path.join(outdir, outputs.RECORDS)) +
                   outputs.read_jsonl(os.path.join(outdir, outputs.RECORDS + ".partial")))
    previous = {r["key"]: r for r in done_before if "key" in r and "error" not in r}
    by_key: dict[str, list[str]] = {}
    tasks: list[Task] = []
    builds: dict[str, str | None] = {}
    records: list[dict[str, Any]] = []
    keyed: list[tuple[Any, str, int, str | None]] = []
    for ref, found in zip(refs, _content_keys([r.path for r in refs]), strict=True):
        if isinstance(found, PycrashError):
            errors.append({"key": None, "path": ref.path, "error": str(found),
                           "stage": "open", "severity": "error"})
            continue
        key, size, build = found
        keyed.append((ref, key, size, build))
        by_key.setdefault(key, []).append(ref.path)
    given_dirs = tuple(os.path.abspath(d) for d in args.debuginfo_dir)
    for ref, key, size, build in keyed:
        if by_key[key][0] != ref.path:
            continue  # a copy: read once, under its first name
        if key in previous:
            continue
        builds[key] = build
        # a copy's directory may hold the vmlinux (the fixtures' layout): look there too
        beside = tuple(os.path.dirname(os.path.abspath(p)) for p in by_key[key][1:]
                       if local_path(p) is not None)
        tasks.append(Task(ref.path, key, size, ref.dmesg, args.tier, outdir,
                          given_dirs + beside, args.redact, args.rules))
    skipped = sum(1 for k in by_key if k in previous and k not in builds)
    progress = Progress(len(tasks), args.quiet)
    log = open(os.path.join(outdir, outputs.RECORDS + ".partial"), "a", encoding="utf-8")

    def copies(record: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for path in by_key.get(record["key"], [record.get("path")]):
            copy = json.loads(json.dumps(record))
            if not args.redact:
                copy["path"] = path
            out.append(copy)
        return out

    def done(task: Task, record: dict[str, Any]) -> None:
        failed = "error" in record
        progress.update(failed)
        if failed:
            record["severity"] = "error"
            errors.extend(copies(record))
            return
        for copy in copies(record):
            records.append(copy)
            log.write(json.dumps(copy, sort_keys=True) + "\n")
        log.flush()

    for key, rec in previous.items():
        if key in by_key and key not in builds:
            records.extend(copies(rec))
    if skipped:
        sys.stderr.write(f"pycrash triage: {skipped} dumps already in {outdir}, skipped\n")
    try:
        _engine(args, tasks, done, builds)
    finally:
        log.close()
    # dumps of an earlier run that were not among this run's inputs stay in the outputs
    seen = {r["key"] for r in records}
    records += [r for k, r in previous.items() if k not in seen]
    errors += _warnings(records)
    groups = outputs.write_all(outdir, records, errors, not args.no_parquet)
    os.remove(os.path.join(outdir, outputs.RECORDS + ".partial"))
    failed = sum(1 for e in errors if e.get("severity") == "error")
    sys.stderr.write(f"pycrash triage: {len(records)} dumps in {len(groups)} buckets, "
                     f"{failed} errors: {os.path.join(outdir, outputs.INDEX)}\n")
    return 0


#: content keys computed at once: remote files' samples are a request or two each, whose
#: latency (tens of ms for an object store) would add up one dump after another
KEY_THREADS = 16


def _content_keys(names: list[str]) -> list[tuple[str, int, str | None] | PycrashError]:
    """Return :func:`~pycrash.triage.inputs.content_key` of each name (the error, for one
    that cannot be read), in order; remote files' several at once."""
    from concurrent.futures import ThreadPoolExecutor

    from pycrash.triage.inputs import content_key
    from pycrash.triage.sources import local_path

    def one(name: str) -> tuple[str, int, str | None] | PycrashError:
        try:
            return content_key(name)
        except PycrashError as exc:
            return exc

    if all(local_path(n) is not None for n in names):
        return [one(n) for n in names]
    with ThreadPoolExecutor(KEY_THREADS) as pool:
        return list(pool.map(one, names))


def _engine(args: argparse.Namespace, tasks: list[Task], done: Any,
            builds: dict[str, str | None]) -> None:
    """Run the tasks on the engine the options name."""
    from pycrash.triage import engines

    if not tasks:
        return
    workers = engines.default_workers(args.workers)
    # a build's dumps one after another: Ray and Dask hand them out in this order
    tasks = sorted(tasks, key=lambda t: (builds.get(t.key) or "", t.path))
    if args.engine == "ray":
        try:
            engines.run_ray(tasks, done, workers, args.timeout, args.max_per_worker,
                            args.address)
        except ImportError:
            raise PycrashError("--engine ray needs ray (pip install 'pycrash-kdump[triage]')"
                               ) from None
    elif args.engine == "dask":
        try:
            engines.run_dask(tasks, done, workers, args.timeout, args.max_per_worker,
                             args.scheduler)
        except ImportError:
            raise PycrashError("--engine dask needs dask[distributed] "
                               "(pip install 'pycrash-kdump[triage]')") from None
    else:
        engines.run_local(tasks, done, workers, args.timeout, args.max_per_worker, builds)


def main(argv: Sequence[str]) -> int:
    """Run ``pycrash triage``; return the exit status (2: bad input)."""
    args = build_parser().parse_args(argv)
    try:
        if args.resign:
            return resign(args.resign, args.rules, not args.no_parquet)
        if not args.inputs or not args.outdir:
            sys.stderr.write("pycrash triage: give the dumps (INPUT...) and -o OUTDIR, "
                             "or --resign OUTDIR\n")
            return 2
        return run(args)
    except PycrashError as exc:
        sys.stderr.write(f"pycrash triage: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("pycrash triage: interrupted (records so far are kept; run again "
                         "to resume)\n")
        return 130
