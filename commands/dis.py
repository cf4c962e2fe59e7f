"""dis: disassemble kernel code (x86-64, with capstone), with symbols and source lines."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import FaultError
from pycrash.commands.rd import resolve

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.stack import symbolize_address
from pycrash.session import Session


@dataclass(frozen=True)
class Instruction:
    """One instruction: address, symbol+offset, bytes, mnemonic and operands, source line."""

    address: int
    location: str
    bytes: str
    mnemonic: str
    operands: str
    source: str | None


def _render(result: Result) -> Iterable[str]:
    last_source = None
    for ins in result.rows:
        if ins.source and ins.source != last_source:
            yield ins.source
            last_source = ins.source
        yield f"0x{ins.address:x} <{ins.location}>:\t{ins.mnemonic:<6} {ins.operands}".rstrip()


def _annotate(session: Session, operands: str) -> str:
    """Add ``<symbol+off>`` after a call/jump target address, as gdb does."""
    import re

    m = re.fullmatch(r"\*?\$?0x([0-9a-f]{16})", operands)
    if m:
        target = int(m.group(1), 16)
        name = symbolize_address(session.prog, target)
        if name != f"{target:x}":
            return f"{operands} <{name}>"
    return operands


@command(
    "dis",
    summary="disassemble",
    synopsis="dis [-l] [-r] [-u] address|symbol [count]",
    description="""
Disassembles count instructions (default: the whole function for a symbol,
else one) from a kernel address or symbol, showing each address as
symbol+offset and branch targets by name. -l adds the source file and line
before the instructions of each line; -r disassembles from the start of the
function up to the address; -u reads the context task's user memory.
""",
    examples="""
crash> dis panic 5
crash> dis -l sysrq_handle_crash
crash> dis -r ffffffff8836475a
""",
    arguments=(
        arg("-l", dest="lines", action="store_true", help="source lines"),
        arg("-r", dest="reverse", action="store_true", help="from the function start"),
        arg("-u", dest="user", action="store_true", help="user address"),
        arg("address", metavar="address|symbol"),
        arg("count", nargs="?"),
    ),
)
def dis(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Instruction` per instruction."""
    import capstone

    prog = session.prog
    addr = resolve(session, args.address)
    end = None
    count = int(args.count, 0) if args.count else None
    try:
        sym = prog.symbol(addr)
    except LookupError:
        sym = None
    if args.reverse:
        if sym is None:
            raise CommandError(f"dis: {addr:x} is in no function")
        end, addr = addr + 1, sym.address
    elif count is None:
        if sym is not None and sym.address == addr and sym.size:
            end = addr + sym.size
        else:
            count = 1
    length = (end - addr) if end else count * 15  # type: ignore[operator]
    try:
        if args.user:
            from drgn.helpers.linux.mm import access_process_vm

            code = access_process_vm(session.context, addr, length)
        else:
            code = prog.read(addr, length)
    except FaultError as exc:
        raise CommandError(f"dis: cannot read memory at {exc.address:x}: "
                           f"{session.explain_fault(exc)}") from None
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT  # gdb's (and so crash's) syntax
    rows = []
    for ins in md.disasm(code, addr):
        if end is not None and ins.address >= end:
            break
        source = None
        if args.lines:
            try:
                loc = prog.source_location(ins.address)
                if len(loc):
                    source = f"{loc[0].filename}: {loc[0].line}"
            except (LookupError, ValueError):
                pass
        rows.append(Instruction(ins.address, symbolize_address(prog, ins.address),
                                ins.bytes.hex(), ins.mnemonic, _annotate(session, ins.op_str),
                                source))
        if count is not None and len(rows) >= count:
            break
    if not rows:
        raise CommandError(f"dis: no instruction decoded at {addr:x}")
    return Result(rows, render=_render)
