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
from pycrash.kernel.attsyntax import bug_bytes, gdb_instruction, is_ud2, ud1_length, ud1_operands
from pycrash.kernel.sourcelist import SourceLine
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
    #: gdb's x86-64 text (crash keeps the spaces after a mnemonic without operands)
    att: bool = False


@dataclass(frozen=True)
class SourceListing:
    """dis -s: the source file and line a text address was compiled from (as gdb names
    them, relative to the compilation directory), and the lines listed from the file when
    it is on this machine (the address's line marked)."""

    address: Hex
    file: str | None
    line: int | None
    lines: tuple[SourceLine, ...] = ()


@dataclass(frozen=True)
class BugBytes:
    """dis -b: how many bytes after a ud2 (BUG()'s inline data) dis skips."""

    count: int


def render(result: Result) -> Iterable[str]:
    """crash's dis output: ``0xADDRESS <symbol+off>:\tmnemonic operands``, with -l a
    ``file: line`` line before the instructions of each source line; with -s ``FILE:``
    and ``LINE:``, then the source lines (``* `` before the address's); -b's count."""
    last_source = None
    for ins in result.rows:
        if isinstance(ins, BugBytes):
            yield f"encoded bytes being skipped after ud2a: {ins.count}"
            continue
        if isinstance(ins, SourceListing):
            yield f"FILE: {ins.file or '(unknown)'}"
            yield f"LINE: {ins.line or '(unknown)'}"
            yield ""
            for src in ins.lines:
                mark = "* " if src.number == ins.line else "  "
                yield f"{mark}{src.number}\t{src.text}"
            if ins.lines:
                yield ""
            continue
        source = f"{ins.file}: {ins.line}" if ins.file else None
        if source and source != last_source:
            yield source
            last_source = source
        line = f"0x{ins.address:x} <{ins.location}>:\t{ins.mnemonic:<6} {ins.operands}"
        # gdb pads a mnemonic without operands (cltq, ret) but for nop
        yield line if ins.att and ins.mnemonic != "nop" else line.rstrip()


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


def _source(prog: Program, address: int, arm64: bool) -> tuple[str | None, int | None]:
    """The file and line gdb (crash) shows before an instruction: as bt -l shows them
    (the vmlinux's line table, under the kernel's compilation directory), drgn's on arm64."""
    if arm64:
        return source_line(prog, address)
    from pycrash.kernel.stack import source_of

    return source_of(prog, address)


class _Decoded:
    """An instruction capstone does not decode as gdb does (ud1's ModRM byte)."""

    def __init__(self, address: int, raw: bytes) -> None:
        self.address, self.bytes, self.size = address, raw, len(raw)
        self.mnemonic, self.op_str = "ud1", ""


def _decode(md: Any, code: bytes, addr: int, arm64: bool, skip: int = 0) -> Iterable[Any]:
    """Decode ``code`` one instruction at a time (x86-64: a register-form ud1 takes its
    ModRM byte, as gdb decodes it; a ud2 takes the ``skip`` bytes of BUG() data after
    it, as crash's gdb does)."""
    if arm64:
        yield from md.disasm(code, addr)
        return
    offset = 0
    while offset < len(code):
        size = ud1_length(code[offset:offset + 3])
        if size:
            yield _Decoded(addr + offset, code[offset:offset + size])
            offset += size
            continue
        if skip and is_ud2(code[offset:offset + 2]):
            ud2 = _Decoded(addr + offset, code[offset:offset + 2 + skip])
            ud2.mnemonic = "ud2"
            yield ud2
            offset += 2 + skip
            continue
        ins = next(md.disasm(code[offset:offset + 16], addr + offset, 1), None)
        if ins is None:
            return
        yield ins
        offset += ins.size


def _gdb_symbol(prog: Program, address: int) -> str | None:
    """The ``symbol+offset`` gdb shows for an address in the kernel's space (a per-CPU
    offset, near zero, gets none)."""
    if address < 1 << 63:
        return None
    return symbol_name(prog, address)


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
    synopsis="dis [-lrfus] [-b [num]] address|symbol [count]",
    description="""
x86-64 code is shown as gdb (and so crash) shows it in AT&T syntax.
Disassembles count instructions (default: the whole function for a symbol,
else one) from a kernel address or symbol, showing each address as
symbol+offset and branch targets by name. -f disassembles from the address
to the end of its function (with a count, count instructions from the
address, as without -f). -s shows the source file and line of the address,
then its source code when the file is on this machine (found as gdb finds
it: under the compilation directory, or the current directory): five lines
before it, its line marked with *, then to the end of the function, or
count lines. -b skips num bytes after each ud2 (BUG()'s data in kernels
before 2.6.20, which confuses the disassembler); -b alone shows how many are
skipped (the kernel's own count until set).
""",
    examples="""
crash> dis panic 5
crash> dis -l sysrq_handle_crash
crash> dis -r ffffffff8836475a
crash> dis -f panic+700
crash> dis -s panic
crash> dis -b 4
""",
    records=(Instruction, SourceListing, BugBytes),
    arguments=(
        arg("-l", dest="lines", action="store_true", help="source lines"),
        arg("-r", dest="reverse", action="store_true", help="from the function start"),
        arg("-f", dest="forward", action="store_true", help="to the end of the function"),
        arg("-u", dest="user", action="store_true", help="user address"),
        arg("-s", dest="source", action="store_true",
            help="the source file, line and code of the address"),
        arg("-b", dest="bug", nargs="?", const="", metavar="num",
            help="bytes skipped after a ud2 (alone: show how many)"),
        arg("address", nargs="?", metavar="address|symbol"),
        arg("count", nargs="?"),
    ),
)
def dis(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`Instruction` per instruction (a :class:`SourceListing` for -s,
    :class:`BugBytes` for -b alone)."""
    prog = session.prog
    arm64 = prog.platform is not None and prog.platform.arch.name == "AARCH64"
    if args.reverse and args.forward:
        raise CommandError("-r and -f are mutually exclusive")
    if args.source and (args.reverse or args.forward):
        raise CommandError(f"-{'r' if args.reverse else 'f'} and -s are mutually exclusive")
    if args.source and args.user:
        raise CommandError("-s can only be used with kernel addresses")
    if args.bug is not None:
        if args.bug == "":
            if args.address is None:
                count = session.state.bug_bytes
                return Result([BugBytes(bug_bytes(prog) if count is None else count)],
                              render=render)
            raise CommandError("-b needs a number of bytes")
        try:
            session.state.bug_bytes = int(args.bug, 0)
        except ValueError:
            raise CommandError(f"invalid number of bytes: {args.bug}") from None
    if args.address is None:
        if args.bug is not None:
            return Result([], render=render)
        raise CommandError("an address or symbol is needed")
    addr = resolve_address(prog, args.address)
    end = None
    target = None  # -r: crash's x/Ni stops at the first instruction at or past it
    start_at = None  # -f: crash decodes the function from its start, shows from here on
    count = int(args.count, 0) if args.count else None
    if count == 0:
        raise CommandError("invalid count argument: 0")
    if args.source:
        return _source_listing(session, addr, args.address, count)
    try:
        sym = prog.symbol(addr)
    except LookupError:
        sym = None
    if args.forward and count is None:
        if sym is None or not sym.size:
            raise CommandError(f"{addr:x} is in no function")
        start_at, addr, end = addr, sym.address, sym.address + sym.size
    if args.reverse:
        if sym is None:
            raise CommandError(f"{addr:x} is in no function")
        target, addr = addr, sym.address
    elif start_at is not None:
        pass
    elif count is None:
        if sym is not None and sym.address == addr and sym.size:
            end = addr + sym.size
        else:
            count = 1
    if target is not None:
        length = target - addr + 30
    else:
        length = (end - addr) if end else count * 15  # type: ignore[operator]
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
    intel = None
    if not arm64:
        import capstone

        md.detail = True
        intel = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    skip = session.state.bug_bytes
    if skip is None:
        skip = bug_bytes(prog)
    rows = []
    for ins in _decode(md, code, addr, arm64, 0 if arm64 else skip):
        if end is not None and ins.address >= end:
            break
        if start_at is not None and ins.address < start_at:
            continue
        file, line = _source(prog, ins.address, arm64) if args.lines else (None, None)
        location = symbol_name(prog, ins.address) or f"{ins.address:x}"
        raw = bytes(ins.bytes)
        if intel is None:
            rows.append(Instruction(ins.address, location, raw.hex(), ins.mnemonic,
                                    _annotate(session, ins.mnemonic, ins.op_str, arm64),
                                    file, line))
        else:
            if ud1_length(raw):
                mnemonic, operands = "ud1", ud1_operands(raw)
            elif isinstance(ins, _Decoded):  # a ud2 and the BUG() bytes skipped after it
                mnemonic, operands = ins.mnemonic, ""
            else:
                base = next(intel.disasm(raw, ins.address)).mnemonic
                mnemonic, operands = gdb_instruction(ins, base,
                                                     lambda a: _gdb_symbol(prog, a))
            if "nopl" in mnemonic and operands == "0x0(%rax,%rax,1)" and "+" not in location:
                operands += " [FTRACE NOP]"  # crash's mark at a function's start
            rows.append(Instruction(ins.address, location, raw.hex(), mnemonic,
                                    operands, file, line, True))
        if count is not None and len(rows) >= count:
            break
        if target is not None and ins.address >= target:
            break
    if not rows:
        raise CommandError(f"no instruction decoded at {addr:x}")
    from pycrash.kernel.nodebug import info, needs_dwarf

    if info(prog) is not None and count is None and not args.reverse and start_at is None:
        # kallsyms sizes run to the next symbol: drop the alignment padding after the end
        while len(rows) > 1 and rows[-1].mnemonic.startswith(("nop", "int3")):
            rows.pop()
    missing = needs_dwarf(prog, "source lines (-l)") if args.lines else None
    return Result(rows, render=render, errors=[missing] if missing else [])



def _source_listing(session: Session, addr: int, text: str, count: int | None) -> Result:
    """dis -s: the file and line of a text address, and its source when it is here."""
    from pycrash.kernel.linetable import gdb_line
    from pycrash.kernel.modtext import module_at
    from pycrash.kernel.sourcelist import listing, source_file

    prog = session.prog
    module = module_at(prog, addr)
    if module is not None:
        raise CommandError(f"{module.name}: module source code is not available")
    try:
        prog.symbol(addr)
    except LookupError:
        raise CommandError(f"{addr:x}: not a kernel text address") from None
    found = gdb_line(prog, addr)
    file, line = found if found is not None and found[0] else source_line(prog, addr)
    path = source_file(prog, file) if file else None
    if file is None or line is None or path is None:
        from pycrash.kernel.nodebug import needs_dwarf

        why = needs_dwarf(prog, "source lines (-s)") or f"{text}: source code is not available"
        return Result([SourceListing(addr, file, line)], render=render, errors=[why])
    lines = tuple(listing(path, line, count))
    return Result([SourceListing(addr, file, line, lines)], render=render)
