"""irq's renderer: the handlers, -s counts and -a affinity tables (no dump needed)."""

from __future__ import annotations

import pytest
from pycrash.commands.irq import Irq, IrqView, render

from pycrash.command import Result

pytestmark = pytest.mark.fast

ROWS = [Irq(0, 0xFF3CF91681110000, 0xFF3CF91681100000, ["timer"], "IO-APIC", [0, 1],
            {0: 73, 1: 0}),
        Irq(11, 0x10, 0x20, ["virtio1", "virtio2"], "", [1], {0: 5, 1: 6})]


def test_handlers() -> None:
    assert list(render(Result(ROWS, view=IrqView("handlers", (0, 1))))) == [
        " IRQ   IRQ_DESC/_DATA      IRQACTION      NAME",
        '   0  ff3cf91681110000  ff3cf91681100000  "timer"',
        '  11  0000000000000010  0000000000000020  "virtio1, virtio2"']


def test_stats_and_affinity() -> None:
    assert list(render(Result(ROWS, view=IrqView("stats", (0, 1))))) == [
        "            CPU0       CPU1",
        "  0:          73          0  IO-APIC    timer",
        " 11:           5          6             virtio1, virtio2"]
    assert list(render(Result(ROWS, view=IrqView("affinity", (0, 1))))) == [
        "IRQ NAME                 AFFINITY", "  0 timer                0,1",
        " 11 virtio1, virtio2     1"]
