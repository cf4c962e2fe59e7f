"""HTML views of command results, for notebooks."""

from __future__ import annotations

import dataclasses
import html
from typing import Any

from pycrash.command import Result, to_plain
from pycrash.records import hex_fields

MAX_ROWS = 2000


def _cell(value: Any, hex_: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) and hex_:  # declared Hex on the record's field
        return f"{value:x}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return html.escape(str(value))


def _flat(rows: list[Any]) -> bool:
    """Whether every field of every row is a scalar (else a table would be unreadable)."""
    for row in rows[:50]:
        if not dataclasses.is_dataclass(row):
            return False
        for f in dataclasses.fields(row):
            if isinstance(getattr(row, f.name), (list, dict, tuple)) or \
                    dataclasses.is_dataclass(getattr(row, f.name)):
                return False
    return True


def result_html(result: Result) -> str:
    """Return an HTML table of ``result``'s rows, or its crash text in <pre> when nested."""
    title = f"<p><b>{html.escape(result.name)}</b>: {len(result.rows)} rows</p>" \
        if result.name else ""
    errors = "".join(f"<p style='color:#b00'>{html.escape(e)}</p>" for e in result.errors)
    if not result.rows or not _flat(result.rows):
        return f"{title}{errors}<pre>{html.escape(str(result))}</pre>"
    cols = result.columns()
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for row in result.rows[:MAX_ROWS]:
        plain, hexes = to_plain(row), hex_fields(type(row))
        body.append("<tr>" + "".join(f"<td>{_cell(plain[c], c in hexes)}</td>" for c in cols)
                    + "</tr>")
    more = f"<p>... {len(result.rows) - MAX_ROWS} more rows</p>" \
        if len(result.rows) > MAX_ROWS else ""
    return (f"{title}{errors}<table class='pycrash'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{more}")


class Results(list):
    """The results of a ``%%crash`` cell: each shown in turn."""

    def _repr_html_(self) -> str:
        return "".join(r._repr_html_() for r in self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("\n".join(str(r).rstrip("\n") for r in self))
