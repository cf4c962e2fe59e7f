"""sbitmapq: the virtio disks' blk-mq tags as crash 8.0.2 prints them on Debian 11's 5.10
dump; on 6.1 (where crash fails: 6.1.x dropped sbq_wait_state.wait_cnt) against the tag
set's own numbers; the bitmap and entry layout on records."""

from __future__ import annotations

import pytest
from conftest import crash_commands, fixture_dump
from drgn import Object
from pycrash.commands.sbitmapq import SbitmapEntry, bitmap_lines, render

from pycrash.command import Result
from pycrash.kernel.sbitmap import SbitmapQueue, WaitState


def _tags(s) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(sbitmap_queue, static_rqs) of each hardware queue of the virtio disks (dev -d)."""
    out = []
    for row in s.run("dev -d").rows:
        if not row.name.startswith("vd"):
            continue
        q = Object(s.prog, "struct request_queue *", row.queue)
        for i in range(q.tag_set.nr_hw_queues.value_()):
            t = q.tag_set.tags[i]
            bt = t.bitmap_tags
            addr = bt.value_() if bt.type_.kind.name == "POINTER" else bt.address_
            out.append((addr, t.static_rqs.value_()))
    return out


def test_tags_of_the_virtio_disks(session) -> None:
    tags = _tags(session)
    assert len(tags) == 4  # vda and vdb, two hardware queues each
    for addr, _ in tags:
        (q,) = session.run(f"sbitmapq {addr:x}").rows
        sbq = Object(session.prog, "struct sbitmap_queue", address=addr)
        assert (q.depth, q.bits_per_word, q.map_nr) == (256, 64, 4)  # queue_depth 256
        assert q.depth == sbq.sb.depth.value_() and q.wake_batch == 8
        assert len(q.alloc_hint) == 2 and all(0 <= h < 256 for h in q.alloc_hint)
        assert q.busy == 0 and not any(q.bitmap)  # idle disks at the crash
        assert [w.wait_cnt for w in q.ws] == [None] * 8 and not any(w.active for w in q.ws)
    text = str(session.run(f"sbitmapq {tags[0][0]:x}")).splitlines()
    assert text[-2:] == ["00000000: " + " ".join(["0000"] * 8),
                         "00000010: " + " ".join(["0000"] * 8)]
    r = session.run(f"sbitmapq -s request -a {tags[0][1]:x} -p {tags[0][0]:x}")
    assert r.rows == []


def test_sbitmapq_argument_errors(session) -> None:
    from pycrash.errors import CommandError

    for line, message in [("sbitmapq", "command argument is required"),
                          ("sbitmapq -s request ffffffff81000000", "-s option requires -a"),
                          ("sbitmapq -p ffffffff81000000", "-p option requires -a")]:
        with pytest.raises(CommandError, match=message):
            session.run(line)


@pytest.mark.fast
def test_bitmap_and_entries_render_as_crash() -> None:
    q = SbitmapQueue(0xC0000000E118C808, 136, 4, 26, 32, 5, [74, 36, 123, 101], 8, 0, 0,
                     [WaitState(8, False)] * 8, False, 4294967295,
                     [0] * 9 + [0x30] + [0] * 6 + [0])
    lines = list(render(Result([q])))
    assert lines[:6] == ["depth = 136", "busy = 4", "cleared = 26", "bits_per_word = 32",
                         "map_nr = 5", "alloc_hint = {74, 36, 123, 101}"]
    assert lines[10] == "\t{ .wait_cnt = 8, .wait = inactive },"
    assert lines[-4:] == ["min_shallow_depth = 4294967295", "",
                          "00000000: 0000 0000 0000 0000 0030 0000 0000 0000", "00000010: 00"]
    entries = [SbitmapEntry(76, 0xC0000000671D5600, 0xC0000000671D5600),
               SbitmapEntry(77, 0xC0000000671D5A80, 0xC0000000671D5A80)]
    assert list(render(Result(entries))) == ["76: 0xc0000000671d5600", "77: 0xc0000000671d5a80"]
    assert list(bitmap_lines([1, 2, 3])) == ["00000000: 0102 03"]


def test_sbitmapq_equals_crash_on_bullseye() -> None:
    d = fixture_dump("bullseye-small")
    s = d.open()
    tags = _tags(s)
    lines = [f"sbitmapq {a:x}" for a, _ in tags]
    lines.append(f"sbitmapq -s request -a {tags[0][1]:x} -p {tags[0][0]:x}")
    theirs = crash_commands(d, lines)
    for line in lines:
        assert str(s.run(line)).splitlines() == theirs[line], line
    assert any(q.cleared for a, _ in tags for q in s.run(f"sbitmapq {a:x}").rows)
