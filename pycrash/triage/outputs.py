"""What ``pycrash triage`` writes into OUTDIR: ``records.jsonl`` (one record a dump),
``buckets.jsonl`` (one a signature), ``errors.jsonl`` (one a dump that could not be read,
or was read without its debuginfo), Parquet copies when pyarrow is installed, and
``index.html``. Records are written sorted by key and path, so that two runs over the
same dumps write the same files but for the timing fields.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterable
from typing import Any

from pycrash.triage.signature import bucket_id

RECORDS, BUCKETS, ERRORS, INDEX = "records.jsonl", "buckets.jsonl", "errors.jsonl", "index.html"


def read_jsonl(path: str) -> list[dict[str, Any]]:
    """Return the objects of a JSON-lines file ([] when it does not exist); a damaged
    line (a run killed while writing) is skipped."""
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return out


def write_jsonl(path: str, rows: Iterable[dict[str, Any]]) -> None:
    """Write ``rows`` as JSON lines, atomically (a temporary file renamed)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _iso(stamp: int | None) -> str | None:
    """Return a crash time (seconds since the epoch) as ISO 8601 UTC, or None."""
    if stamp is None:
        return None
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def buckets(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one bucket per signature, most dumps first: the signature, class, count,
    distinct dumps (content keys), first and last crash time, releases and modules
    affected, the dumps' paths, and a representative (the dump read at the highest tier,
    then the first by path) with its frames."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(rec["signature"], []).append(rec)
    out: list[dict[str, Any]] = []
    for signature, recs in groups.items():
        recs.sort(key=lambda r: (r.get("path") or "", r["key"]))
        times = [r["crash_time"] for r in recs if r.get("crash_time") is not None]
        rep = max(recs, key=lambda r: (r.get("tier", 0), -recs.index(r)))
        out.append({
            "bucket": bucket_id(signature), "signature": signature, "class": rep.get("class"),
            "count": len(recs), "dumps": len({r["key"] for r in recs}),
            "first_seen": _iso(min(times)) if times else None,
            "last_seen": _iso(max(times)) if times else None,
            "releases": sorted({r["release"] for r in recs if r.get("release")}),
            "modules": sorted({r["module"] for r in recs if r.get("module")}),
            "paths": [r.get("path") for r in recs],
            "keys": [r["key"] for r in recs],
            "representative": {"key": rep["key"], "path": rep.get("path"),
                               "tier": rep.get("tier"), "report": rep.get("report"),
                               "frames": rep.get("frames") or rep.get("backtrace") or []},
        })
    out.sort(key=lambda b: (-b["count"], b["signature"]))
    return out


def sort_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return records in the order they are written: by path, then key."""
    return sorted(records, key=lambda r: (r.get("path") or "", r["key"]))


def write_all(outdir: str, records: list[dict[str, Any]], errors: list[dict[str, Any]],
              parquet: bool = True) -> list[dict[str, Any]]:
    """Write every output file into ``outdir``; return the buckets."""
    records = sort_records(records)
    groups = buckets(records)
    write_jsonl(os.path.join(outdir, RECORDS), records)
    write_jsonl(os.path.join(outdir, BUCKETS), groups)
    write_jsonl(os.path.join(outdir, ERRORS),
                sorted(errors, key=lambda e: (e.get("path") or "", e.get("key") or "")))
    if parquet:
        write_parquet(outdir, records, groups)
    from pycrash.triage.htmlindex import page

    with open(os.path.join(outdir, INDEX), "w", encoding="utf-8") as f:
        f.write(page(groups, records, errors))
    return groups


def write_parquet(outdir: str, records: list[dict[str, Any]],
                  groups: list[dict[str, Any]]) -> bool:
    """Write ``records.parquet`` and ``buckets.parquet`` (nested fields as JSON text)
    when pyarrow is installed; return whether it was."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False

    def table(rows: list[dict[str, Any]]) -> Any:
        columns = sorted({k for r in rows for k in r})
        data = {c: [_cell(r.get(c)) for r in rows] for c in columns}
        return pa.table(data)

    if records:
        pq.write_table(table(records), os.path.join(outdir, "records.parquet"))
    if groups:
        pq.write_table(table(groups), os.path.join(outdir, "buckets.parquet"))
    return True


def _cell(value: Any) -> Any:
    """Return a value as a Parquet cell: scalars as text or numbers, nested as JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value)
    return str(value)
