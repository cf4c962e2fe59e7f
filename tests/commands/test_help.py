"""help on the real dump."""

from __future__ import annotations

import pytest

from pycrash.errors import CommandError


def test_help_page_of_a_command(session) -> None:  # type: ignore[no-untyped-def]
    page = str(session.run("help bt")).splitlines()
    assert page[:2] == ["NAME", "  bt - backtrace"]
    assert "SYNOPSIS" in page and "EXAMPLES" in page
    assert any(line.strip().startswith("-l") for line in page)
    with pytest.raises(CommandError):
        session.run("help nosuchcommand")


def test_help_dev_names_d(session) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: the synopsis omitted the working -d."""
    page = str(session.run("help dev"))
    assert "  dev [-p | -d]" in page.splitlines()
    assert session.run("dev -d").rows is not None
