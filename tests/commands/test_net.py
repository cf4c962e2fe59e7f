"""net on the real dump (and the system views checked with it: mount, irq, dev, timer, swap)."""

from __future__ import annotations

from conftest import Dump


def test_net_mount_irq_dev_timer_swap(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    names = {d.name for d in session.run("net").rows}
    assert {"lo", "pcfix0"} <= names
    mounts = {(m.devname, m.dirname, m.type) for m in session.run("mount").rows}
    truth = {tuple(line.split()[:3]) for line in dump.truth("mounts.txt").splitlines()}
    assert {(d, p, t) for d, p, t in truth} == mounts
    irqs = {r.irq: r for r in session.run("irq").rows}
    for line in dump.truth("interrupts.txt").splitlines()[1:]:
        head = line.split()
        if head[0].rstrip(":").isdigit():
            n = int(head[0].rstrip(":"))
            assert n in irqs, n
            # counts only grow between the snapshot and the crash
            counts = [irqs[n].counts[cpu] for cpu in (0, 1)]
            assert [int(x) for x in head[1:3]] <= counts or \
                all(a <= b for a, b in zip(map(int, head[1:3]), counts, strict=True))
    assert any(d.name == "mem" and d.major == 1 for d in session.run("dev").rows)
    assert session.run("dev -p").rows
    assert session.run("timer").rows
    assert session.run("swap").rows == []


def test_net_n_and_dev_d(session) -> None:  # type: ignore[no-untyped-def]
    assert {d.name for d in session.run("net -n 1").rows} >= {"lo", "pcfix0"}
    disks = {d.name: d for d in session.run("dev -d").rows}
    assert {"vda", "vdb"} <= set(disks)
    assert all(d.queue for d in disks.values())
