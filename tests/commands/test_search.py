"""search's renderer (no dump needed)."""

from __future__ import annotations

import pytest
from pycrash.commands.search import Match, render

from pycrash.command import Result

pytestmark = pytest.mark.fast


def test_values_and_strings() -> None:
    rows = [Match(0xFF3CF9169CE21F54, value=0xDEADBEEF),
            Match(0xFF3CF91681234570, text="pycrash-fixture: marker before crash.")]
    assert list(render(Result(rows))) == [
        "ff3cf9169ce21f54: deadbeef",
        "ff3cf91681234570: pycrash-fixture: marker before crash."]
