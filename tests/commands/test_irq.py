"""irq's renderer: the handlers, -s counts and -a affinity tables (no dump needed); the
command against crash 8.0.2 on 5.10 is in test_crash_layout.py."""

from __future__ import annotations

import pytest
from pycrash.commands.irq import Irq, IrqView, cpu_ranges, render

from pycrash.command import Result

pytestmark = pytest.mark.fast

ROWS = [Irq(0, 0xFF3CF91681110000, 0xFF3CF91681100000, ["timer"], "IO-APIC", [0, 1],
            {0: 73, 1: 0}, [0xFF3CF91681100000], "edge"),
        Irq(2, 0x30, 0, [], "IO-APIC", [0, 1], {0: 0, 1: 0}),
        Irq(3, 0, 0, [], "", [], {}),
        Irq(11, 0x10, 0x20, ["virtio1", "virtio2"], "", [1], {0: 5, 1: 6}, [0x20, 0x40])]


def test_handlers() -> None:
    """Every number: a descriptor without handlers, none at all, shared handlers each on a
    line of their own, as crash prints them."""
    assert list(render(Result(ROWS, view=IrqView("handlers", (0, 1))))) == [
        " IRQ   IRQ_DESC/_DATA      IRQACTION      NAME",
        '  0   ff3cf91681110000  ff3cf91681100000  "timer"',
        "  2          30             (unused)      ",
        "  3       (unused)          (unused)      ",
        ' 11          10                20         "virtio1"',
        '                               40         "virtio2"']


def test_stats_and_affinity() -> None:
    assert list(render(Result(ROWS, view=IrqView("stats", (0, 1))))) == [
        "           CPU0       CPU1 ",
        "  0:         73          0  IO-APIC-edge     timer",
        " 11:          5          6          virtio1,virtio2"]
    assert list(render(Result(ROWS, view=IrqView("affinity", (0, 1))))) == [
        "IRQ NAME                 AFFINITY", "  0 timer                0-1",
        " 11 virtio1,virtio2      1"]
    assert cpu_ranges([0, 1, 2, 4, 6, 7]) == "0-2,4,6-7"


def test_in_use_lines_each_action_and_unused() -> None:
    """irq -u as crash prints it: only the numbers with a descriptor, the IRQ centred in
    four columns, each irqaction of the chain on a line of its own, "(unused)" centred
    for a descriptor without one (addresses centred in 16 columns, as crash's mkstring)."""
    rows = [Irq(2, 0, 0, [], "", [], {}), Irq(3, 0xFF36224941148A80, 0, [], "", [], {}),
            Irq(21, 0x10, 0x20, ["ehci", "uhci"], "", [], {}, [0x20, 0x30])]
    assert list(render(Result(rows, view=IrqView("in-use", (0,))))) == [
        " IRQ   IRQ_DESC/_DATA      IRQACTION      NAME",
        "  3   ff36224941148a80      (unused)      ",
        ' 21          10                20         "ehci"',
        '                               30         "uhci"']
