"""irq -u, -d, -b and -s -c on the real dump, against crash 8.0.2 and the guest's
/proc/interrupts."""

from __future__ import annotations

from conftest import Dump, crash_commands, pycrash

IRQ_FLAGS = ["irq -u", "irq -d", "irq -b", "irq -s", "irq -s -c 1", "irq -c 0,1 -s"]


def test_irq_flags_are_crash_s_text(dump: Dump) -> None:
    """Each line as crash 8.0.2 prints it on the same dump: the descriptors in use with
    their irqactions, the 256 IDT gates' handlers by symbol, the softirq handlers and the
    per-CPU counts of the CPUs chosen."""
    theirs = crash_commands(dump, IRQ_FLAGS)
    for cmd in IRQ_FLAGS:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        assert run.rc == 0, run.err
        assert run.out.splitlines() == theirs[cmd], cmd
    assert len(theirs["irq -d"]) == 256


def test_irq_s_c_counts_are_the_guest_s(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """The count of each interrupt on CPU 1 is the guest's /proc/interrupts column, or
    more (interrupts taken between the snapshot and the crash)."""
    proc: dict[int, int] = {}
    for line in dump.truth("interrupts.txt").splitlines()[1:]:
        head, _, rest = line.partition(":")
        if head.strip().isdigit():
            proc[int(head)] = int(rest.split()[1])
    rows = session.run("irq -s -c 1").rows
    assert rows and {r.irq for r in rows} <= set(proc)
    for r in rows:
        assert list(r.counts) == [1]
        assert r.counts[1] >= proc[r.irq], r.irq


def test_irq_u_lists_every_descriptor(session) -> None:  # type: ignore[no-untyped-def]
    """-u: the descriptors without handlers too (crash's "(unused)"), those with handlers
    as irq lists them."""
    used = {r.irq: r.desc for r in session.run("irq").rows if r.actions}
    rows = session.run("irq -u").rows
    assert {r.irq: r.desc for r in rows if r.actions} == used
    assert any(not r.actions for r in rows)
