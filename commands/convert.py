"""eval, ascii, ptov, vtop, ptob, btop: numbers and address translations."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.expr import evaluate
from pycrash.session import Session


@dataclass(frozen=True)
class Number:
    """An evaluated number in the bases crash shows."""

    value: int


def _size(v: int) -> str:
    for unit, shift in (("GB", 30), ("MB", 20), ("KB", 10)):
        if v >= 1 << shift and v % (1 << shift) == 0:
            return f"  ({v >> shift}{unit})"
    return ""


@command("eval", summary="evaluate", synopsis="eval [-b] expression", raw=True,
         description="Evaluates an integer expression and shows it in hex, decimal, octal "
                     "and binary.",
         examples="crash> eval 4096 * 3\ncrash> eval jiffies_64 - 100")
def eval_command(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Number`."""
    text = args.text
    if text.startswith("-b "):
        text = text[3:]
    if not text:
        raise CommandError("eval: no expression given")
    obj, _ = evaluate(session.prog, text)
    try:
        v = obj.value_()
    except FaultError as exc:
        raise CommandError(f"eval: cannot read memory at {exc.address:#x}") from None
    if not isinstance(v, int):
        raise CommandError(f"eval: {text} is not an integer")
    v &= (1 << 64) - 1

    def render(result: Result) -> Iterable[str]:
        n = result.rows[0].value
        yield f"hexadecimal: {n:x}{_size(n)}"
        yield f"    decimal: {n}" + (f"  ({n - (1 << 64)})" if n >= 1 << 63 else "")
        yield f"      octal: {n:o}"
        yield f"     binary: {n:064b}"

    return Result([Number(v)], render=render)


@command("ascii", summary="translate a hexadecimal value to ASCII", synopsis="ascii value ...",
         description="Shows the characters a number holds, lowest byte first.",
         examples="crash> ascii 6f6c6c6568",
         arguments=(arg("values", nargs="+"),))
def ascii_command(session: Session, args: argparse.Namespace) -> Result:
    """Return one row per value: (value, text)."""
    rows = []
    for spec in args.values:
        try:
            v = int(spec, 16)
        except ValueError:
            raise CommandError(f"ascii: invalid hexadecimal value: {spec}") from None
        data = v.to_bytes(max((v.bit_length() + 7) // 8, 1), "little")
        text = "".join(chr(b) if 32 <= b < 127 else f"<{b:02x}>" for b in data)
        rows.append((v, text))
    return Result(rows, render=lambda r: [f"{v:x}: {t}" for v, t in r.rows])


@dataclass(frozen=True)
class Translation:
    """A virtual address and the physical address it maps (None if unmapped)."""

    virtual: int
    physical: int | None


def _render_translation(result: Result) -> Iterable[str]:
    yield "VIRTUAL           PHYSICAL"
    for t in result.rows:
        phys = "(not mapped)" if t.physical is None else f"{t.physical:x}"
        yield f"{t.virtual:<16x}  {phys}"


@command("ptov", summary="physical to virtual", synopsis="ptov address ...",
         description="Translates physical addresses to their kernel direct-map addresses.",
         examples="crash> ptov 1000", arguments=(arg("addresses", nargs="+"),))
def ptov(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Translation` per address."""
    base = session.prog["page_offset_base"].value_()
    rows = [Translation(base + _hex(a, "ptov"), _hex(a, "ptov")) for a in args.addresses]
    return Result(rows, render=_render_translation)


@command("vtop", summary="virtual to physical", synopsis="vtop [-u|-k] address ...",
         description="Translates virtual addresses by walking the page tables: kernel "
                     "addresses through init_mm, user addresses (-u) through the context "
                     "task's.",
         examples="crash> vtop ffffffff81000000",
         arguments=(arg("-u", dest="user", action="store_true"),
                    arg("-k", dest="kernel", action="store_true"),
                    arg("addresses", nargs="+")))
def vtop(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Translation` per address."""
    from drgn.helpers.linux.mm import follow_phys

    prog = session.prog
    rows = []
    for a in args.addresses:
        addr = _hex(a, "vtop")
        user = args.user or (not args.kernel and addr < 1 << 63)
        if user:
            if session.context is None or not session.context.mm:
                raise CommandError("vtop: a user address needs a user task as the context")
            mm = session.context.mm
        else:
            mm = prog["init_mm"].address_of_()
        try:
            rows.append(Translation(addr, follow_phys(mm, addr).value_()))
        except FaultError:
            rows.append(Translation(addr, None))
    return Result(rows, render=_render_translation)


@command("ptob", summary="page to bytes", synopsis="ptob page_number ...",
         description="Converts page frame numbers to byte addresses.",
         examples="crash> ptob 1", arguments=(arg("values", nargs="+"),))
def ptob(session: Session, args: argparse.Namespace) -> Result:
    """Return (pfn, bytes) rows."""
    page = int(session.prog["PAGE_SIZE"].value_())
    rows = [(v, v * page) for v in (_int(x, "ptob") for x in args.values)]
    return Result(rows, render=lambda r: [f"{p:x}: {b:x}" for p, b in r.rows])


@command("btop", summary="bytes to page", synopsis="btop address ...",
         description="Converts byte addresses to page frame numbers.",
         examples="crash> btop 1000", arguments=(arg("values", nargs="+"),))
def btop(session: Session, args: argparse.Namespace) -> Result:
    """Return (bytes, pfn) rows."""
    page = int(session.prog["PAGE_SIZE"].value_())
    rows = [(v, v // page) for v in (_hex(x, "btop") for x in args.values)]
    return Result(rows, render=lambda r: [f"{b:x}: {p:x}" for b, p in r.rows])


def _hex(text: str, cmd: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise CommandError(f"{cmd}: invalid address: {text}") from None


def _int(text: str, cmd: str) -> int:
    try:
        return int(text, 0) if text.startswith("0x") else int(text, 16)
    except ValueError:
        raise CommandError(f"{cmd}: invalid number: {text}") from None
