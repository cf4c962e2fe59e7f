"""mach -m and mach -c: the e820 map and each CPU's cpuinfo_x86, as crash 8.0.2 prints them
on the same dump, and the map's RAM as the guest's /proc/iomem saw it."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, fixture_dump

COMMANDS = ["mach -m", "mach -c", "mach -c -x", "mach -m -c"]


@pytest.fixture(scope="module")
def crash_mach(dump: Dump) -> dict[str, list[str]]:
    return crash_commands(dump, COMMANDS)


@pytest.mark.parametrize("line", COMMANDS)
def test_mach_maps_equal_crash(session, crash_mach: dict[str, list[str]], line: str) -> None:
    assert str(session.run(line)).splitlines() == crash_mach[line]


def test_e820_ram_is_iomem_system_ram(session, dump: Dump) -> None:
    """Every top-level "System RAM" range of /proc/iomem is an E820_RAM entry."""
    ram = [(r.start, r.end) for r in session.run("mach -m").rows if r.type == 1]
    iomem = []
    for line in dump.truth("iomem.txt").splitlines():
        if not line.startswith(" ") and line.endswith(": System RAM"):
            lo, hi = line.split(" : ")[0].split("-")
            iomem.append((int(lo, 16), int(hi, 16) + 1))
    assert ram == iomem and len(ram) == 2


def test_cpuinfo_is_each_cpus(session) -> None:
    rows = session.run("mach -c").rows
    assert [r.cpu for r in rows] == [0, 1]
    values = {m.name: m.text for m in rows[1].info.value.items if m.name}
    assert values["cpu_index"] == "1" and values["x86_model_id"].startswith('"QEMU')


def test_mach_flags_on_bullseye() -> None:
    d = fixture_dump("bullseye-small")
    theirs = crash_commands(d, ["mach -m", "mach -c"])
    s = d.open()
    for line, lines in theirs.items():
        assert str(s.run(line)).splitlines() == lines
