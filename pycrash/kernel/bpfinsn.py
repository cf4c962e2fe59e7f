"""eBPF instructions as text, as crash's ``bpf -t`` prints a program's translated
bytecode (``bpf_prog.insnsi``; crash adapted the kernel's kernel/bpf/disasm.c, as bpftool
did): ``(bf) r6 = r1``, ``(18) r1 = map[id:3]``, ``(85) call bpf_map_lookup_elem#73760``.

Where crash 8.0.2 has no text of its own (the JMP32 class, atomic operations other than
add), the kernel's own words are used: ``if w1 > 0x5 goto pc+2``, ``lock *(u64 *)(r0 +0)
|= r1``, ``r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)``.

:func:`instructions` decodes bytes; how a call's function and a map's address are named
comes from the caller (:class:`Namer`)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# classes
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
# sizes, modes, sources
SIZES = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}
BPF_DW, BPF_IMM, BPF_ABS, BPF_IND, BPF_MEM, BPF_ATOMIC = 0x18, 0x00, 0x20, 0x40, 0x60, 0xC0
BPF_X = 0x08
BPF_END, BPF_NEG, BPF_CALL, BPF_EXIT, BPF_JA = 0xD0, 0x80, 0x80, 0x90, 0x00
BPF_PSEUDO_MAP_FD, BPF_PSEUDO_CALL = 1, 1
# atomic operations (imm of BPF_ATOMIC)
BPF_ADD, BPF_OR, BPF_AND, BPF_XOR = 0x00, 0x40, 0x50, 0xA0
BPF_FETCH, BPF_XCHG, BPF_CMPXCHG = 0x01, 0xE0 | 0x01, 0xF0 | 0x01

ALU_OPS = {0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=",
           0x60: "<<=", 0x70: ">>=", 0x80: "neg", 0x90: "%=", 0xA0: "^=", 0xB0: "=",
           0xC0: "s>>=", 0xD0: "endian"}
JMP_OPS = {0x00: "jmp", 0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=",
           0x60: "s>", 0x70: "s>=", 0x80: "call", 0x90: "exit", 0xA0: "<", 0xB0: "<=",
           0xC0: "s<", 0xD0: "s<="}
CLASS_NAMES = ("ld", "ldx", "st", "stx", "alu", "jmp", "BUG", "alu64")
_ATOMIC_OPS = {BPF_ADD: "add", BPF_OR: "or", BPF_AND: "and", BPF_XOR: "xor"}


@dataclass(frozen=True)
class Insn:
    """An instruction: its code, registers, offset and immediate."""

    code: int
    dst: int
    src: int
    off: int
    imm: int


@dataclass
class Namer:
    """How addresses and calls are named: ``map_id(address)`` (None: not a map),
    ``helper(imm)`` (func_id_str's name of a helper id, None past __BPF_FUNC_MAX_ID) and
    ``kernel_function(imm)`` (the function at __bpf_call_base + imm, or None)."""

    map_id: Callable[[int], int | None] = lambda addr: None
    helper: Callable[[int], str | None] = lambda imm: None
    kernel_function: Callable[[int], str | None] = lambda imm: None


def decode(raw: bytes) -> list[Insn]:
    """The ``struct bpf_insn``s of a program's bytes (8 each, little-endian)."""
    out = []
    for pos in range(0, len(raw) - len(raw) % 8, 8):
        code, regs, off, imm = struct.unpack_from("<BBhi", raw, pos)
        out.append(Insn(code, regs & 0xF, regs >> 4, off, imm))
    return out


def _alu(i: Insn) -> str:
    cls = i.code & 7
    op = i.code & 0xF0
    w = "(u32) " if cls == ALU else ""
    if op == BPF_END:
        if cls == ALU64:
            return f"BUG_alu64_{i.code:02x}"
        return f"({i.code:02x}) r{i.dst} = {'be' if i.code & BPF_X else 'le'}{i.imm} r{i.dst}"
    if op == BPF_NEG:
        return f"({i.code:02x}) r{i.dst} = {w}-r{i.dst}"
    if i.code & BPF_X:
        return f"({i.code:02x}) {w}r{i.dst} {ALU_OPS.get(op, '?')} {w}r{i.src}"
    return f"({i.code:02x}) {w}r{i.dst} {ALU_OPS.get(op, '?')} {w}{i.imm}"


def _atomic(i: Insn, size: str) -> str:
    """The kernel's text of a BPF_ATOMIC instruction (crash 8.0.2 knows only add)."""
    where = f"({size} *)(r{i.dst} {i.off:+d})"
    dw = "64" if size == "u64" else ""
    if i.imm in _ATOMIC_OPS and i.imm != BPF_ADD:
        return f"({i.code:02x}) lock *{where} {ALU_OPS[i.imm]} r{i.src}"
    if i.imm & ~BPF_FETCH in _ATOMIC_OPS and i.imm & BPF_FETCH:
        name = _ATOMIC_OPS[i.imm & ~BPF_FETCH]
        return f"({i.code:02x}) r{i.src} = atomic{dw}_fetch_{name}({where}, r{i.src})"
    if i.imm == BPF_CMPXCHG:
        return f"({i.code:02x}) r0 = atomic{dw}_cmpxchg({where}, r0, r{i.src})"
    if i.imm == BPF_XCHG:
        return f"({i.code:02x}) r{i.src} = atomic{dw}_xchg({where}, r{i.src})"
    return f"BUG_{i.code:02x}"


def text(insns: list[Insn], index: int, namer: Namer) -> str:
    """The text of instruction ``index`` (an ld_imm64 takes the next one too)."""
    i = insns[index]
    cls = i.code & 7
    size = SIZES[i.code & 0x18]
    mode = i.code & 0xE0
    if cls in (ALU, ALU64):
        return _alu(i)
    if cls == STX:
        if mode == BPF_MEM:
            return f"({i.code:02x}) *({size} *)(r{i.dst} {i.off:+d}) = r{i.src}"
        if mode == BPF_ATOMIC and i.imm == BPF_ADD:  # crash's XADD
            return f"({i.code:02x}) lock *({size} *)(r{i.dst} {i.off:+d}) += r{i.src}"
        if mode == BPF_ATOMIC:
            return _atomic(i, size)
        return f"BUG_{i.code:02x}"
    if cls == ST:
        if mode != BPF_MEM:
            return f"BUG_st_{i.code:02x}"
        return f"({i.code:02x}) *({size} *)(r{i.dst} {i.off:+d}) = {i.imm}"
    if cls == LDX:
        if mode != BPF_MEM:
            return f"BUG_ldx_{i.code:02x}"
        return f"({i.code:02x}) r{i.dst} = *({size} *)(r{i.src} {i.off:+d})"
    if cls == LD:
        if mode == BPF_ABS:
            return f"({i.code:02x}) r0 = *({size} *)skb[{i.imm}]"
        if mode == BPF_IND:
            return f"({i.code:02x}) r0 = *({size} *)skb[r{i.src} + {i.imm}]"
        if mode == BPF_IMM and i.code & 0x18 == BPF_DW:
            high = insns[index + 1].imm if index + 1 < len(insns) else 0
            imm = ((high & 0xFFFFFFFF) << 32) | (i.imm & 0xFFFFFFFF)
            map_id = namer.map_id(imm)
            value = f"map[id:{map_id}]" if map_id is not None else f"0x{imm:x}"
            return f"({i.code:02x}) r{i.dst} = {value}"
        return f"BUG_ld_{i.code:02x}"
    if cls in (JMP, JMP32):
        op = i.code & 0xF0
        reg = "w" if cls == JMP32 else "r"
        if cls == JMP and op == BPF_CALL:
            if i.src == BPF_PSEUDO_CALL:
                return f"({i.code:02x}) call pc{i.imm:+d}"
            name = namer.helper(i.imm) or namer.kernel_function(i.imm) or "unknown"
            return f"({i.code:02x}) call {name}#{i.imm}"
        if cls == JMP and op == BPF_JA:
            return f"({i.code:02x}) goto pc{i.off:+d}"
        if cls == JMP and op == BPF_EXIT:
            return f"({i.code:02x}) exit"
        if i.code & BPF_X:
            return (f"({i.code:02x}) if {reg}{i.dst} {JMP_OPS.get(op, '?')} {reg}{i.src} "
                    f"goto pc{i.off:+d}")
        return (f"({i.code:02x}) if {reg}{i.dst} {JMP_OPS.get(op, '?')} "
                f"0x{i.imm & 0xFFFFFFFF:x} goto pc{i.off:+d}")
    return f"({i.code:02x}) {CLASS_NAMES[cls]}"


def instructions(raw: bytes, namer: Namer) -> Iterator[tuple[int, str, bytes]]:
    """Yield ``(index, text, bytes)`` of each instruction of a program (an ld_imm64's
    16 bytes together, its second half not shown on its own)."""
    insns = decode(raw)
    skip = False
    for n, insn in enumerate(insns):
        if skip:
            skip = False
            continue
        wide = insn.code == (LD | BPF_IMM | BPF_DW)
        skip = wide
        yield n, text(insns, n, namer), raw[8 * n:8 * n + (16 if wide else 8)]
