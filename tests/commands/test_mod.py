"""mod's renderers: the module table and -t taints (no dump needed)."""

from __future__ import annotations

from pycrash.commands.mod import ModuleRow, Taint, render, render_taints

from pycrash.command import Result


def test_modules() -> None:
    rows = [ModuleRow(0xFFFFFFFFC02E3340, "virtio_ring", 0xFFFFFFFFC02DC000, 49152, None),
            ModuleRow(0xFFFFFFFFC02F02C0, "virtio", 0xFFFFFFFFC02EE000, 20480, "/x/virtio.ko")]
    assert list(render(Result(rows))) == [
        "     MODULE       NAME               BASE         SIZE  OBJECT FILE",
        "ffffffffc02e3340  virtio_ring  ffffffffc02dc000  49152  (not loaded)  [CONFIG_KALLSYMS]",
        "ffffffffc02f02c0  virtio       ffffffffc02ee000  20480  /x/virtio.ko"]


def test_taints() -> None:
    assert list(render_taints(Result([]))) == ["no tainted modules"]
    assert list(render_taints(Result([Taint("pcfix", "OE")]))) == [
        "NAME                 TAINTS", "pcfix                OE"]
