"""bpf: the guest loads no eBPF programs or maps, so the output is crash 8.0.2's on the same
dump (a blank line, the errors); the tables are checked on records (crash's help example)."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands
from pycrash.commands.bpf import BpfView, render

from pycrash.command import Result
from pycrash.kernel.bpf import BpfMap, BpfProg

LINES = ["bpf", "bpf -P", "bpf -M", "bpf -p 1", "bpf -m 3", "bpf -j", "bpf -t", "bpf -s"]


@pytest.fixture(scope="module")
def crash_bpf(dump: Dump) -> dict[str, list[str]]:
    return crash_commands(dump, LINES)


@pytest.mark.parametrize("line", LINES)
def test_bpf_equals_crash(session, crash_bpf: dict[str, list[str]], line: str) -> None:
    from pycrash.errors import CommandError

    try:
        ours = str(session.run(line)).splitlines()
    except CommandError as exc:
        ours = [f"bpf: {exc}"]
    assert ours == crash_bpf[line]


@pytest.mark.fast
def test_tables_render_as_crash() -> None:
    """Laid out by crash's own mkstring() centring (its help example's spacing is edited
    by hand: its header and rows disagree by a space)."""
    p = BpfProg(13, 0xFFFFBC00C06D1000, 0xFFFF9FF260F0C400, "CGROUP_SKB", "7be49e3934a125ba",
                [13, 14], 296, 229, 1, 0, True, "", 0)
    m = BpfMap(13, 0xFFFF9FF260F0EC00, "LPM_TRIE", 1, 8, 8, 1, "", 0)
    view = BpfView(True, True, False, False, 13, 14)
    assert list(render(Result([p, m], view=view))) == [
        " ID      BPF_PROG       BPF_PROG_AUX   BPF_PROG_TYPE       TAG        USED_MAPS",
        " 13  ffffbc00c06d1000 ffff9ff260f0c400  CGROUP_SKB   7be49e3934a125ba   13,14   ",
        "",
        " ID      BPF_MAP       BPF_MAP_TYPE  MAP_FLAGS",
        " 13  ffff9ff260f0ec00    LPM_TRIE     00000001 ",
    ]
