"""``index.html``: one self-contained page (no scripts, no external files) of a triage
run: buckets by count with first and last seen, releases affected, the representative
backtrace and a link to each dump's report; then the errors."""

from __future__ import annotations

import html
import os
from typing import Any

STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#eee}pre{margin:0;font-size:90%}code{font-size:95%}"""


def _e(value: Any) -> str:
    """Return a value as escaped HTML text ("" for None)."""
    return "" if value is None else html.escape(str(value))


def _frames(frames: list[dict[str, Any]], limit: int = 12) -> str:
    """Return a backtrace as a <pre> block: ``function+0xoff [module]`` a line."""
    lines = []
    for f in frames[:limit]:
        off = f" +{f['offset']:#x}" if isinstance(f.get("offset"), int) else ""
        mod = f" [{f['module']}]" if f.get("module") else ""
        lines.append(f"{f['function']}{off}{mod}")
    return "<pre>" + _e("\n".join(lines)) + "</pre>"


def _dump_links(bucket: dict[str, Any], records: dict[str, dict[str, Any]]) -> str:
    """Return the links to a bucket's dumps' reports (or their names)."""
    items = []
    for key, path in zip(bucket["keys"], bucket["paths"], strict=False):
        rec = records.get(key, {})
        name = _e(os.path.basename(path) if path else key)
        report = rec.get("report")
        items.append(f'<a href="{_e(report)}">{name}</a>' if report else name)
    return "<br>".join(items)


def page(groups: list[dict[str, Any]], records: list[dict[str, Any]],
         errors: list[dict[str, Any]]) -> str:
    """Return the whole page."""
    by_key = {r["key"]: r for r in records}
    rows = []
    for b in groups:
        rows.append(
            "<tr>" + "".join(f"<td>{c}</td>" for c in (
                f"<code>{_e(b['signature'])}</code>", _e(b["count"]), _e(b["first_seen"]),
                _e(b["last_seen"]), _e(", ".join(b["releases"])),
                _frames(b["representative"]["frames"]), _dump_links(b, by_key))) + "</tr>")
    errs = "".join(f"<tr><td>{_e(e.get('path') or e.get('key'))}</td><td>{_e(e['error'])}"
                   f"</td></tr>" for e in errors)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pycrash triage</title>"
        f"<style>{STYLE}</style></head><body><h1>pycrash triage</h1>"
        f"<p>{len(records)} dumps, {len(groups)} buckets, {len(errors)} errors</p>"
        "<table><tr><th>signature</th><th>dumps</th><th>first seen</th><th>last seen</th>"
        "<th>releases</th><th>representative backtrace</th><th>reports</th></tr>"
        + "".join(rows) + "</table>"
        + (f"<h2>Errors</h2><table><tr><th>dump</th><th>reason</th></tr>{errs}</table>"
           if errors else "")
        + "</body></html>\n")
