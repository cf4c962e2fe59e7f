"""--output json: every command's rows are its declared records, holding data, not crash's
text; the README's schema section is the one the record types make."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from pycrash.command import to_plain
from pycrash.records import PROSE

COMMANDS = [ln.strip() for ln in (ROOT / "tests" / "golden" / "commands.txt").read_text()
            .splitlines() if ln.strip() and not ln.startswith("#")]
#: crash's formatted text: a task header, a table heading, an indented gdb member line
CRASH_TEXT = re.compile(r"PID: +\d+ +TASK: |^ +[A-Z_]+ +[A-Z_]+ +[A-Z_]+|^ +\w+ = .*,$", re.M)


def _prose(cls: type) -> frozenset[str]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return frozenset(n for n, h in hints.items()
                     if any(m is PROSE for m in getattr(h, "__metadata__", ())))


def text_blocks(value: Any, where: str = "row") -> list[str]:
    """Return the places in a record that hold crash-formatted text: a multi-line string
    (outside fields declared Prose), or a string that looks like crash's output."""
    found: list[str] = []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        prose = _prose(type(value))
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if isinstance(v, str) and f.name in prose:
                continue
            found += text_blocks(v, f"{where}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            found += text_blocks(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += text_blocks(v, f"{where}[{i}]")
    elif isinstance(value, str) and ("\n" in value or CRASH_TEXT.search(value)):
        found.append(f"{where} = {value[:80]!r}")
    return found


@pytest.mark.fast
def test_every_command_declares_its_records() -> None:
    from pycrash.registry import registry

    # repeat writes the output of the command it repeats and returns no rows itself; wr
    # only ever refuses
    missing = [c.name for c in registry().commands()
               if not c.records and c.name not in ("repeat", "wr")]
    assert not missing, f"commands without records=(...): {missing}"


@pytest.mark.parametrize("line", COMMANDS)
def test_json_holds_data_not_crash_text(session, line: str) -> None:  # type: ignore[no-untyped-def]
    from drgn import FaultError

    from pycrash.errors import PycrashError

    try:
        result = session.run(line)
    except (PycrashError, FaultError):
        return  # an error line, no rows (the golden test checks its text)
    cmd = session.registry.lookup(result.name)  # an alias's command
    for row in result.rows:
        assert isinstance(row, cmd.records), f"{type(row).__name__} not in {cmd.name}'s records"
    problems = [p for i, row in enumerate(result.rows[:200]) for p in text_blocks(row, f"[{i}]")]
    assert not problems, "\n".join(problems[:10])
    doc = json.loads(json.dumps({"rows": to_plain(result.rows[:200])}))
    assert len(doc["rows"]) == min(len(result.rows), 200)


@pytest.mark.fast
def test_readme_schema_is_current() -> None:
    from pycrash.schema import BEGIN, END, markdown

    readme = Path(ROOT / "README.md").read_text()
    assert BEGIN in readme and END in readme, "README lacks the JSON schema section"
    section = readme[readme.index(BEGIN):readme.index(END) + len(END)] + "\n"
    assert section == markdown(), "README's JSON schema is stale: python -m pycrash.schema"
