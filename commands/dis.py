"""dis: disassemble kernel code (x86-64 and arm64, with capstone), with symbols and source
lines."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drgn import FaultError, Program

from pycrash.cmdlib.resolve import resolve_address, symbol_name
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.symbols import source_line
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Instruction:
    """One machine instruction of kernel code: its address, ``symbol+offset`` there, its
    bytes (hex), mnemonic and operands (AT&T syntax, branch targets named), and with -l
    the source file and line it was compiled from."""

    address: Hex
    location: str
    bytes: str
    mnemonic: str
    operands: str
    file: str | None = None
    line: int | None = None


def render(result: Result) -> Iterable[str]:
    """crash's dis output: ``0xADDRESS <symbol+off>:\tmnemonic operands``, with -l a
    ``file: line`` line before the instructions of each source line."""
    last_source = None
    for ins in result.rows:
        source = f"{ins.file}: {ins.line}" if ins.file else None
        if source and source != last_source:
            yield source
            last_source = source
        yield f"0x{ins.address:x} <{ins.location}>:\t{ins.mnemonic:<6} {ins.operands}".rstrip()


#: arm64 instructions whose last operand is a code or page address (gdb names it)
_ARM64_TARGETS = re.compile(r"^(b|bl|b\.\w+|cbn?z|tbn?z|adrp?)$")


def _annotate(session: Session, mnemonic: str, operands: str, arm64: bool) -> str:
    """Add ``<symbol+off>`` after a call/jump target address, as gdb does (arm64: the
    target written ``0x...`` as gdb writes it, not capstone's ``#0x...``)."""
    if arm64:
        m = re.search(r"#0x([0-9a-f]+)$", operands)
        if not _ARM64_TARGETS.match(mnemonic) or m is None:
            return operands
        target = int(m.group(1), 16)
        operands = operands[: m.start()] + f"0x{target:x}"
    else:
        m = re.fullmatch(r"\*?\$?0x([0-9a-f]{16})", operands)
        if not m:
            return operands
        target = int(m.group(1), 16)
    name = symbol_name(session.prog, target)
    return f"{operands} <{name}>" if name is not None else operands


def _disassembler(prog: Program) -> Any:
    """Return a capstone disassembler for the dump's architecture (AT&T syntax on
    x86-64, as gdb and crash show it)."""
    import capstone

    arch = prog.platform.arch.name if prog.platform is not None else "X86_64"
    if arch == "AARCH64":
        return capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    if arch != "X86_64":
        raise CommandError(f"cannot disassemble {arch} code")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    return md


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
    records=(Instruction,),
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
    prog = session.prog
    arm64 = prog.platform is not None and prog.platform.arch.name == "AARCH64"
    addr = resolve_address(prog, args.address)
    end = None
    count = int(args.count, 0) if args.count else None
    try:
        sym = prog.symbol(addr)
    except LookupError:
        sym = None
    if args.reverse:
        if sym is None:
            raise CommandError(f"{addr:x} is in no function")
        end, addr = addr + 1, sym.address
    elif count is None:
        if sym is not None and sym.address == addr and sym.size:
            end = addr + sym.size
        else:
            count = 1
    # -r: the instruction at the address given may end past it
    length = (end - addr + (15 if args.reverse else 0)) if end else count * 15  # type: ignore[operator]
    try:
        if args.user:
            from drgn.helpers.linux.mm import access_process_vm

            code = access_process_vm(session.context, addr, length)
        else:
            code = prog.read(addr, length)
    except FaultError as exc:
        raise CommandError(f"cannot read memory at {exc.address:x}: "
                           f"{session.explain_fault(exc)}") from None
    md = _disassembler(prog)
    rows = []
    for ins in md.disasm(code, addr):
        if end is not None and ins.address >= end:
            break
        file, line = source_line(prog, ins.address) if args.lines else (None, None)
        rows.append(Instruction(ins.address, symbol_name(prog, ins.address) or f"{ins.address:x}",
                                ins.bytes.hex(), ins.mnemonic,
                                _annotate(session, ins.mnemonic, ins.op_str, arm64),
                                file, line))
        if count is not None and len(rows) >= count:
            break
    if not rows:
        raise CommandError(f"no instruction decoded at {addr:x}")
    from pycrash.kernel.nodebug import info, needs_dwarf

    if info(prog) is not None and count is None and not args.reverse:
        # kallsyms sizes run to the next symbol: drop the alignment padding after the end
        while len(rows) > 1 and rows[-1].mnemonic.startswith(("nop", "int3")):
            rows.pop()
    missing = needs_dwarf(prog, "source lines (-l)") if args.lines else None
    return Result(rows, render=render, errors=[missing] if missing else [])

