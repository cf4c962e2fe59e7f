"""pycrash.kernel.attsyntax: capstone's decoding written as gdb writes it (no dump)."""

from __future__ import annotations

import capstone
import pytest

from pycrash.kernel.attsyntax import gdb_instruction, ud1_length, ud1_operands

pytestmark = pytest.mark.fast


def _gdb(hexbytes: str, address: int = 0xFFFFFFFF81000000) -> str:
    att = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    att.syntax = capstone.CS_OPT_SYNTAX_ATT
    att.detail = True
    intel = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    code = bytes.fromhex(hexbytes)
    ins = next(att.disasm(code, address, 1))
    base = next(intel.disasm(code, address, 1)).mnemonic
    names = {0xFFFFFFFF81000100: "prof_on"}
    mnemonic, operands = gdb_instruction(ins, base, lambda a: names.get(a))
    return f"{mnemonic:<6} {operands}"


def test_gdb_spelling() -> None:
    """Lines crash 8.0.2 prints (dis __schedule, panic on Debian 12's kernel)."""
    assert _gdb("55") == "push   %rbp"
    assert _gdb("4889e5") == "mov    %rsp,%rbp"
    assert _gdb("48c745c000000000") == "movq   $0x0,-0x40(%rbp)"
    assert _gdb("0f1f440000") == "nopl   0x0(%rax,%rax,1)"
    assert _gdb("66666690") == "data16 data16 xchg %ax,%ax"
    assert _gdb("f3ab") == "rep stos %eax,%es:(%rdi)"
    assert _gdb("f348a5") == "rep movsq %ds:(%rsi),%es:(%rdi)"
    assert _gdb("65ff342514600000") == "push   %gs:0x6014"
    assert _gdb("4881fa90ce45b4") == "cmp    $0xffffffffb445ce90,%rdx"
    assert _gdb("833df9000000 02".replace(" ", "")) == \
        "cmpl   $0x2,0xf9(%rip)        # 0xffffffff81000100 <prof_on>"
    assert _gdb("e8fb000000") == "call   0xffffffff81000100 <prof_on>"
    assert _gdb("488b04c5 60eb9db4".replace(" ", "")) == "mov    -0x4b6214a0(,%rax,8),%rax"
    assert ud1_length(bytes.fromhex("0fb9cc")) == 3 and ud1_operands(b"\x0f\xb9\xcc") == \
        "%esp,%ecx"
