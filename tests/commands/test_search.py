"""search's renderer (no dump needed); the command against crash 8.0.2 on 5.10 is in
test_crash_layout.py (the kernel-image and vmalloc aliases, the strings' context)."""

from __future__ import annotations

import pytest
from pycrash.commands.search import Match, render

from pycrash.command import Result

pytestmark = pytest.mark.fast


def test_values_and_strings() -> None:
    rows = [Match(0xFF3CF9169CE21F54, value=0xDEADBEEF),
            Match(0xFF3CF91681234570, value=0xFFFFFFFF8FC1AA40, name="init_task"),
            Match(0xFF3CF91681234570, text="pycrash-fixture: marker before crash.")]
    # crash: a space after the value, then the symbol it was asked for by
    assert list(render(Result(rows))) == [
        "ff3cf9169ce21f54: deadbeef ", "ff3cf91681234570: ffffffff8fc1aa40 (init_task)",
        "ff3cf91681234570: pycrash-fixture: marker before crash."]
