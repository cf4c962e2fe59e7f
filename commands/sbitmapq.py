"""sbitmapq: a struct sbitmap_queue's counters, wait queues and bitmap, or the entries of
an array its bits in use index."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from drgn import FaultError, Object
from drgn.helpers.linux.cpumask import for_each_possible_cpu

from pycrash.cmdlib.dumpstruct import crash_struct_dump
from pycrash.cmdlib.resolve import parse_hex
from pycrash.cmdlib.structs import StructDump, dump_lines
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.sbitmap import SbitmapQueue, WaitState, bits_in_use, sbitmap_queue
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class SbitmapEntry:
    """An entry of the array the queue's bits in use index: the bit, the entry's address,
    the structure's address (the entry's, or with -p the pointer it holds) and, with -v, the
    structure (or the members named) as crash's gdb shows it."""

    index: int
    address: Hex
    target: OptHex
    dump: StructDump | None = None


def bitmap_lines(data: list[int]) -> Iterator[str]:
    """crash's bitmap dump: 16 bytes a line at their offset, in pairs."""
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        pairs = [bytes(chunk[i:i + 2]).hex() for i in range(0, len(chunk), 2)]
        yield f"{off:08x}: " + " ".join(pairs)


def _ws_line(w: WaitState) -> str:
    state = "active" if w.active else "inactive"
    if w.wait_cnt is None:
        return f"\t{{ .wait = {state} }},"
    return f"\t{{ .wait_cnt = {w.wait_cnt}, .wait = {state} }},"


def queue_lines(q: SbitmapQueue) -> Iterator[str]:
    """crash's sbitmap_queue_show() and sbitmap_bitmap_show() lines."""
    yield f"depth = {q.depth}"
    yield f"busy = {q.busy}"
    if q.cleared is not None:
        yield f"cleared = {q.cleared}"
    yield f"bits_per_word = {q.bits_per_word}"
    yield f"map_nr = {q.map_nr}"
    yield "alloc_hint = {" + ", ".join(map(str, q.alloc_hint)) + "}"
    yield f"wake_batch = {q.wake_batch}"
    yield f"wake_index = {q.wake_index}"
    if q.ws_active is not None:
        yield f"ws_active = {q.ws_active}"
    yield "ws = {"
    yield from map(_ws_line, q.ws)
    yield "}"
    if q.round_robin is not None:
        yield f"round_robin = {int(q.round_robin)}"
    if q.min_shallow_depth is not None:
        yield f"min_shallow_depth = {q.min_shallow_depth}"
    yield ""
    yield from bitmap_lines(q.bitmap)


def render(result: Result) -> Iterable[str]:
    """crash's sbitmapq output: the queue, or one line (or structure) per bit in use."""
    for row in result.rows:
        if isinstance(row, SbitmapQueue):
            yield from queue_lines(row)
        elif row.dump is None:
            yield f"{row.index}: 0x{row.address:08x}"
        else:
            yield f"{row.index} (0x{row.address:08x}):"
            yield from dump_lines(row.dump)


@command(
    "sbitmapq",
    summary="sbitmap_queue struct contents",
    synopsis="sbitmapq [-s struct[.member[,member]] -a address [-p] [-v]] -[x|d] address",
    description="""
The command dumps the contents of the sbitmap_queue structure and
the used bits in the bitmap. Also, it shows the dump of a structure
array associated with the sbitmap_queue.

The arguments are as follows:

 -s struct  name of a C-code structure, that is stored in an array
            associated with sbitmap_queue structure. Use the
            "struct.member" format in order to display a particular
            member of the structure. -s option requires -a option
-a address  address of a structure array associated with sbitmap_queue
            structure. The set bits in sbitmap are used for the index
            in an associated array.
        -p  associated with sbitmap_queue array contains the points of
            structure.
        -x  override default output format with hexadecimal format.
        -d  override default output format with decimal format.
        -v  By default, the sbitmap command shows only a used sbitmap
            index and a structure address in the associated array.
            This flag says to print a formatted display of the
            contents of a structure in an associated array. -v option
            requires of -s.

A wait queue is "active" when tasks wait on it. Kernels that count wake-ups per
queue (6.1.x, 6.2 on) have no per-wait-queue wait_cnt: its field is left out.
""",
    examples="""
Display a blk-mq tag set's tags (the virtio disk's first hardware queue):

  crash> sbitmapq ffff97daaff2bb20
  depth = 256
  busy = 0
  cleared = 0
  bits_per_word = 64
  map_nr = 4
  alloc_hint = {125, 201}
  wake_batch = 8
  wake_index = 0
  ws_active = 0
  ws = {
          { .wait_cnt = 8, .wait = inactive },
          ...
  }
  round_robin = 0
  min_shallow_depth = 4294967295

  00000000: 0000 0000 0000 0000 0000 0000 0000 0000
  00000010: 0000 0000 0000 0000 0000 0000 0000 0000

The requests its bits in use index (blk_mq_tags.static_rqs, an array of pointers):

  crash> sbitmapq -s request -a ffff97da81efe800 -p ffff97daaff2bb20
""",
    arguments=(
        arg("-s", dest="struct", metavar="struct[.member[,member]]"),
        arg("-a", dest="array", metavar="address"),
        arg("-p", dest="pointers", action="store_true"),
        arg("-v", dest="verbose", action="store_true"),
        arg("-x", dest="hex", action="store_true"),
        arg("-d", dest="dec", action="store_true"),
        arg("address", nargs="*"),
    ),
    records=(SbitmapQueue, WaitState, SbitmapEntry),
)
def sbitmapq(session: Session, args: argparse.Namespace) -> Result:
    """Return the :class:`SbitmapQueue`, or with -s/-a an :class:`SbitmapEntry` per bit
    in use."""
    prog = session.prog
    if args.hex and args.dec:
        raise CommandError("-d and -x are mutually exclusive")
    if not args.address:
        raise CommandError("command argument is required")
    if len(args.address) > 1:
        raise CommandError("too many arguments")
    address = parse_hex(args.address[0], "command argument")
    if args.struct and not args.array:
        raise CommandError("-s option requires -a option")
    if args.array and not args.struct:
        raise CommandError("-a option is used with -s option only")
    if args.pointers and not args.array:
        raise CommandError("-p option requires -a option")
    try:
        prog.read(address, 1)
    except FaultError:
        raise CommandError(f"invalid kernel virtual address: {args.address[0]}") from None
    if not args.struct:
        cpus = list(for_each_possible_cpu(prog))
        return Result([sbitmap_queue(prog, address, cpus)], render=render)
    name, _, members_text = args.struct.partition(".")
    members = [m for m in members_text.split(",") if m]
    try:
        t = prog.type(f"struct {name}")
    except LookupError:
        raise CommandError(f"invalid data structure reference: {args.struct}") from None
    array = parse_hex(args.array, "-a option")
    size = 8 if args.pointers else t.size or 0
    radix = 16 if args.hex or (session.state.settings.get("radix") == 16 and not args.dec) \
        else 10
    sb = Object(prog, "struct sbitmap_queue", address=address).sb
    rows = []
    for bit in bits_in_use(sb):
        slot = array + size * bit
        target = prog.read_u64(slot) if args.pointers else slot
        dump = (crash_struct_dump(Object(prog, t, address=target), members, radix)
                if args.verbose else None)
        rows.append(SbitmapEntry(bit, slot, target, dump))
    return Result(rows, render=render)
