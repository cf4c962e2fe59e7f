"""x86-64 instructions as gdb (and so crash) prints them in AT&T syntax, from capstone's
decoding: gdb's mnemonic spelling (no size suffix where a register gives the size),
hexadecimal immediates and displacements, ``0x0(%rax,%rax,1)`` memory operands, operands
without spaces, and the ``# 0xADDRESS <symbol>`` comment after a RIP-relative operand."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: mnemonics gdb spells with their size letters whatever the operands
_KEEP = frozenset({
    "movzbl", "movzbw", "movzbq", "movzwl", "movzwq", "movsbl", "movsbw", "movsbq",
    "movswl", "movswq", "movslq", "cltq", "cqto", "cltd", "cwtl", "cbtw", "cwtd",
})
#: capstone's spelling -> gdb's, for instructions with no operand that says their size
_RENAME = {"callq": "call", "retq": "ret", "jmpq": "jmp", "leaveq": "leave",
           "pushfq": "pushf", "popfq": "popf", "iretq": "iretq", "sysretq": "sysretq"}

_REG = 1
_IMM = 2
_MEM = 3


def _hex(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def _imm_text(value: int, size: int) -> str:
    """gdb's immediate: hex, a negative one as the unsigned number of its operand size."""
    if value < 0:
        value &= (1 << (8 * (size or 8))) - 1
    return f"${value:#x}"


def _mem_text(op: Any, ins: Any, reg_name: Callable[[int], str]) -> str:
    """gdb's memory operand: ``%seg:disp(base,index,scale)``."""
    mem = op.mem
    out = f"%{reg_name(mem.segment)}:" if mem.segment else ""
    base = reg_name(mem.base) if mem.base else ""
    index = reg_name(mem.index) if mem.index else ""
    disp = mem.disp
    if base == "rip":
        disp_text = _hex(disp)
    elif disp or getattr(ins, "disp_size", 0) or not (base or index):
        disp_text = _hex(disp) if (base or index) else f"{disp & (1 << 64) - 1:#x}"
    else:
        disp_text = ""
    if base or index:
        inner = f"%{base}" if base else ""
        if index:
            inner += f",%{index},{mem.scale}"
        return f"{out}{disp_text}({inner})"
    return out + disp_text


_STRING_SIZES = {"b": "al", "w": "ax", "l": "eax", "q": "rax"}


_REG32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")


def ud1_length(code: bytes) -> int:
    """The length of a ``0f b9 ModRM`` ud1 with register operands (capstone stops after
    two bytes, gdb reads the ModRM byte), or 0 when ``code`` starts with no such one."""
    if len(code) >= 3 and code[:2] == b"\x0f\xb9" and code[2] >> 6 == 3:
        return 3
    return 0


def ud1_operands(code: bytes) -> str:
    """gdb's operands of a register-form ud1: ``%esp,%ecx`` for ``0f b9 cc``."""
    modrm = code[2]
    return f"%{_REG32[modrm & 7]},%{_REG32[(modrm >> 3) & 7]}"


def _string_instruction(ins: Any) -> tuple[str, str] | None:
    """gdb's string instructions, their implicit operands written out: ``rep stos
    %eax,%es:(%rdi)``, ``rep movsq %ds:(%rsi),%es:(%rdi)``."""
    prefix, _, name = ins.mnemonic.rpartition(" ")
    m = re.fullmatch(r"(stos|lods|scas|movs|cmps)([bwlq])", name)
    if m is None:
        return None
    kind, size = m.groups()
    reg = f"%{_STRING_SIZES[size]}"
    lead = f"{prefix} " if prefix else ""
    if kind == "stos":
        return f"{lead}stos", f"{reg},%es:(%rdi)"
    if kind == "lods":
        return f"{lead}lods", f"%ds:(%rsi),{reg}"
    if kind == "scas":
        return f"{lead}scas", f"%es:(%rdi),{reg}"
    if kind == "movs":
        return f"{lead}movs{size}", "%ds:(%rsi),%es:(%rdi)"
    return f"{lead}cmps{size}", "%es:(%rdi),%ds:(%rsi)"


def gdb_instruction(ins: Any, intel_mnemonic: str,
                    symbolize: Callable[[int], str | None]) -> tuple[str, str]:
    """Return gdb's mnemonic and operands of a capstone x86-64 instruction decoded in AT&T
    syntax with details (``intel_mnemonic``: the same bytes' Intel mnemonic, which has no
    size letter). ``symbolize`` names an address (``sym+off``) or returns None."""
    mnemonic = ins.mnemonic
    code = bytes(ins.bytes)
    if code[-1:] == b"\x90" and len(code) > 1 and set(code[:-1]) == {0x66}:
        # 66 .. 66 90: gdb's xchg %ax,%ax behind the extra operand-size prefixes
        return "data16 " * (len(code) - 2) + "xchg", "%ax,%ax"
    string = _string_instruction(ins)
    if string is not None:
        return string
    ops = list(ins.operands)
    prefix = ""
    if " " in mnemonic:  # lock, rep...
        prefix, _, mnemonic = mnemonic.rpartition(" ")
        prefix += " "
        intel_mnemonic = intel_mnemonic.rpartition(" ")[2]
    has_reg = any(o.type == _REG for o in ops)
    if mnemonic in _RENAME:
        mnemonic = _RENAME[mnemonic]
    elif (mnemonic not in _KEEP and has_reg and mnemonic[-1:] in "bwlq"
          and mnemonic[:-1] == intel_mnemonic):
        mnemonic = mnemonic[:-1]
    elif mnemonic in ("pushq", "popq"):  # 64 bits whatever the operand: no letter
        mnemonic = mnemonic[:-1]
    reg_name = ins.reg_name
    texts: list[str] = []
    comment = ""
    for op in ops:  # capstone's AT&T order: source first
        if op.type == _REG:
            texts.append(f"%{reg_name(op.reg)}")
        elif op.type == _IMM:
            if mnemonic.startswith(("call", "j")) or mnemonic in ("loop", "jrcxz"):
                target = op.imm & (1 << 64) - 1
                name = symbolize(target)
                texts.append(f"{target:#x}" + (f" <{name}>" if name else ""))
            else:
                texts.append(_imm_text(op.imm, op.size))
        elif op.type == _MEM:
            texts.append(_mem_text(op, ins, reg_name))
            if op.mem.base and reg_name(op.mem.base) == "rip":
                target = (ins.address + ins.size + op.mem.disp) & (1 << 64) - 1
                name = symbolize(target)
                comment = f"        # {target:#x}" + (f" <{name}>" if name else "")
    if ins.op_str.startswith("*"):  # an indirect call or jump
        texts = ["*" + t for t in texts]
    operands = ",".join(texts)
    return prefix + mnemonic, operands + comment



def bug_bytes(prog: Any) -> int:
    """How many bytes of BUG() data follow a ud2 in the kernel's code (crash's BUG_bytes):
    none since 2.6.20's __bug_table, else the old inline ``struct bug_frame`` less the
    ud2's two bytes."""
    try:
        frame = prog.type("struct bug_frame")
    except LookupError:
        return 0
    return max(int(frame.size) - 2, 0)


def is_ud2(code: bytes) -> bool:
    """Whether ``code`` starts with a ud2 (``0f 0b``), after which BUG() data may follow."""
    return code[:2] == b"\x0f\x0b"
