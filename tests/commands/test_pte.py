"""pte: decoded as crash 8.0.2 decodes the same values on the same dump; arm64's layout
from crash's arm64 macros."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, fixture_dump
from pycrash.commands.pte import center, pte_lines

from pycrash.kernel.pte import PteDecode

VALUES = ["pte 8000000012345067", "pte 12345025", "pte 0", "pte fffffffffffff",
          "pte 8000000000000163", "pte 1e7", "pte 12345025 8000000012345067"]


@pytest.fixture(scope="module")
def crash_pte(dump: Dump) -> dict[str, list[str]]:
    return crash_commands(dump, VALUES)


@pytest.mark.parametrize("line", VALUES)
def test_pte_equals_crash(session, crash_pte: dict[str, list[str]], line: str) -> None:
    assert str(session.run(line)).splitlines() == crash_pte[line]


def test_swap_entry_without_swap_area_fails_as_crash(session) -> None:
    """The guest has no swap: crash says it cannot determine the swap location."""
    r = session.run("pte 400")
    assert r.rows == [] and r.errors == ["cannot determine swap location"]
    (d,) = session.run("pte 1e7").rows  # PSE with PRESENT, GLOBAL, no PROTNONE
    assert d.flags == ["PRESENT", "RW", "USER", "ACCESSED", "DIRTY", "PSE", "GLOBAL"]


@pytest.mark.fast
def test_swap_and_centering_layout() -> None:
    assert center("PTE", 16, False) == "      PTE       "
    assert center("0", 8, True) == "    0   "
    d = PteDecode(0x13F600, False, None, [], 0, 5104, "/dev/hda2")
    assert pte_lines(d) == [" PTE      SWAP     OFFSET", "13f600  /dev/hda2   5104 "]


def test_arm64_pte_flags_and_physical() -> None:
    s = fixture_dump("arm64-small").open()
    (d,) = s.run("pte 68000041a00f43").rows
    assert d.physical == 0x41A00000 and d.present
    assert d.flags == ["VALID", "USER", "SHARED", "AF", "NG", "PXN", "UXN"]


def test_wr_refuses_on_a_dump(session) -> None:
    from pycrash.errors import CommandError

    with pytest.raises(CommandError, match="not allowed on dumpfiles"):
        session.run("wr jiffies 1")
