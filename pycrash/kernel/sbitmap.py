"""A ``struct sbitmap_queue`` (blk-mq tags, iSCSI and target session tags) as crash's
``sbitmapq`` reads it: its counters, wait queues and bitmap, and the bits in use."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import Object, Program
from drgn.helpers.linux.percpu import per_cpu_ptr

from pycrash.records import Hex

#: SBQ_WAIT_QUEUES: the wait states of a queue
WAIT_QUEUES = 8


@dataclass(frozen=True)
class WaitState:
    """One ``struct sbq_wait_state``: its wake-up countdown (None: the kernel has none, 6.1.x
    and 6.2 on count per queue) and whether tasks wait on it."""

    wait_cnt: int | None
    active: bool


@dataclass(frozen=True)
class SbitmapQueue:
    """A ``struct sbitmap_queue``: depth, bits set less those cleared (busy), cleared bits
    (None before 5.0), bits per word, words, each possible CPU's allocation hint, wake batch
    and index, active wait queues (None before 5.0), its wait states, round robin and
    minimum shallow depth (None where the kernel has none), and the bitmap of bits in use
    (set and not cleared) packed as crash packs it, 8 bits a byte."""

    address: Hex
    depth: int
    busy: int
    cleared: int | None
    bits_per_word: int
    map_nr: int
    alloc_hint: list[int]
    wake_batch: int
    wake_index: int
    ws_active: int | None
    ws: list[WaitState]
    round_robin: bool | None
    min_shallow_depth: int | None
    bitmap: list[int]


def _has(obj: Object, name: str) -> bool:
    try:
        obj.member_(name)
        return True
    except LookupError:
        return False


def _int(obj: Object) -> int:
    """The value of an int or an atomic_t."""
    return int((obj.counter if _has(obj, "counter") else obj).value_())


def sbitmap_words(sb: Object) -> list[tuple[int, int, int]]:
    """Return ``(word, cleared, depth)`` of each ``struct sbitmap_word`` of ``sb``."""
    depth, shift, map_nr = (int(sb.depth.value_()), int(sb.shift.value_()),
                            int(sb.map_nr.value_()))
    cleared_member = _has(sb.map[0], "cleared") if map_nr else False
    out = []
    for i in range(map_nr):
        w = sb.map[i]
        bits = depth - (i << shift) if i == map_nr - 1 else 1 << shift
        out.append((int(w.word.value_()), int(w.cleared.value_()) if cleared_member else 0,
                    bits))
    return out


def bits_in_use(sb: Object) -> list[int]:
    """Return the bits set and not cleared, lowest first (crash's order of entries)."""
    shift = int(sb.shift.value_())
    out: list[int] = []
    for i, (word, cleared, bits) in enumerate(sbitmap_words(sb)):
        used = word & ~cleared & ((1 << bits) - 1)
        out.extend((i << shift) + b for b in range(bits) if used >> b & 1)
    return out


def _bitmap(words: list[tuple[int, int, int]]) -> list[int]:
    """The bits in use, packed across words as crash's sbitmap_bitmap_show() does."""
    value, nbits = 0, 0
    for word, cleared, bits in words:
        value |= ((word & ~cleared) & ((1 << bits) - 1)) << nbits
        nbits += bits
    return list(value.to_bytes((nbits + 7) // 8, "little"))


def sbitmap_queue(prog: Program, address: int, cpus: list[int]) -> SbitmapQueue:
    """Return the :class:`SbitmapQueue` at ``address``; ``cpus``: the possible CPUs."""
    sbq = Object(prog, "struct sbitmap_queue", address=address)
    sb = sbq.sb
    words = sbitmap_words(sb)
    has_cleared = bool(words) and _has(sb.map[0], "cleared")
    weight = sum(bin(w & ((1 << b) - 1)).count("1") for w, _, b in words)
    cleared = sum(bin(c & ((1 << b) - 1)).count("1") for _, c, b in words)
    owner = sbq if _has(sbq, "alloc_hint") else sb
    hints = [int(per_cpu_ptr(owner.alloc_hint, cpu)[0].value_()) for cpu in cpus] \
        if _has(owner, "alloc_hint") else []
    ws = []
    for i in range(WAIT_QUEUES):
        state = sbq.ws[i]
        head = state.wait.head
        ws.append(WaitState(_int(state.wait_cnt) if _has(state, "wait_cnt") else None,
                            head.next.value_() != head.address_))
    rr_owner = sbq if _has(sbq, "round_robin") else sb
    return SbitmapQueue(
        address, int(sb.depth.value_()), weight - cleared, cleared if has_cleared else None,
        1 << int(sb.shift.value_()), int(sb.map_nr.value_()), hints,
        int(sbq.wake_batch.value_()), _int(sbq.wake_index),
        _int(sbq.ws_active) if _has(sbq, "ws_active") else None, ws,
        bool(rr_owner.round_robin.value_()) if _has(rr_owner, "round_robin") else None,
        int(sbq.min_shallow_depth.value_()) if _has(sbq, "min_shallow_depth") else None,
        _bitmap(words))
