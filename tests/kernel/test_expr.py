"""pycrash/kernel/expr.py, p's and eval's C expressions, over a stub kernel (no dump needed):
the tokenizer, C's operators and precedence, globals, members, subscripts, pointers,
casts, per-CPU instances and one message for each kind of bad expression."""

from __future__ import annotations

import pytest
from drgn import Object, Program
from kernelstub import SYMBOLS, Memory, add_objects, program

from pycrash.errors import CommandError
from pycrash.kernel.expr import evaluate, tokenize

pytestmark = pytest.mark.fast

JIFFIES = SYMBOLS["jiffies"][0]
BANNER = SYMBOLS["linux_banner"][0]
PAIRS = JIFFIES + 0x1000
PER_CPU_OFFSET = 0x800  # CPU 1's per-CPU area, after CPU 0's


def _program() -> Program:
    """The stub kernel with globals: ``jiffies``; ``struct pair pairs[2]``, whose
    ``pairs[1]`` has count 7, flag 1 and a node pointing at itself; ``pair_ptr`` (to
    ``pairs[1]``); ``linux_banner`` (``char []``: its size is its symbol's); and two CPUs'
    per-CPU offsets, CPU 1's ``jiffies`` holding 5."""
    prog = program()
    mem = Memory(prog, JIFFIES, 0x4000)
    second = PAIRS + 24
    mem.write(JIFFIES, (4294893556).to_bytes(8, "little"))
    mem.write(JIFFIES + PER_CPU_OFFSET, (5).to_bytes(8, "little"))
    mem.write(second, (7).to_bytes(4, "little") + (1).to_bytes(4, "little")
              + (second + 8).to_bytes(8, "little"))
    mem.write(PAIRS + 0x100, second.to_bytes(8, "little"))
    mem.write(BANNER, b"Linux version 6.1.0")
    pair, ulong = prog.type("struct pair"), prog.type("unsigned long")
    add_objects(prog, {
        "jiffies": Object(prog, ulong, address=JIFFIES),
        "pairs": Object(prog, prog.array_type(pair, 2), address=PAIRS),
        "pair_ptr": Object(prog, prog.pointer_type(pair), address=PAIRS + 0x100),
        "linux_banner": Object(prog, prog.array_type(prog.type("char")), address=BANNER),
        "__per_cpu_offset": Object(prog, prog.array_type(ulong, 2), value=[0, PER_CPU_OFFSET]),
    })
    return prog


PROG = _program()


def value(text: str) -> int:
    """The number ``text`` evaluates to."""
    return int(evaluate(PROG, text)[0].value_())


def test_tokens() -> None:
    tokens = tokenize("a->b[0x10UL] + 'c' << 2u")
    assert [(t.kind, t.text) for t in tokens] == [
        ("id", "a"), ("op", "->"), ("id", "b"), ("op", "["), ("num", "0x10"), ("op", "]"),
        ("op", "+"), ("char", "'c'"), ("op", "<<"), ("num", "2")]
    assert tokenize("  ") == []
    with pytest.raises(CommandError, match="^invalid expression: unexpected '@x'$"):
        tokenize("1 + @x")


@pytest.mark.parametrize(("text", "number"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / 2", 3), ("7 % 4", 3),
    ("10 - 2 - 3", 5), ("1 << 4 | 1", 17), ("6 & 3 ^ 1", 3), ("0x10 >> 2", 4), ("-1 + 2", 1),
    ("~0 & 0xff", 255), ("!0", 1), ("!5", 0),
    ("1 < 2 && 2 >= 3", 0), ("1 == 1 || 0", 1), ("3 != 3", 0), ("'A'", 65), (r"'\n'", 10),
    ("(unsigned int)-1", 0xFFFFFFFF), ("(char)0x141", 0x41),
])
def test_operators_precedence_and_casts(text: str, number: int) -> None:
    assert value(text) == number


def test_globals_members_subscripts_and_pointers() -> None:
    obj, name = evaluate(PROG, "jiffies")
    assert (obj.value_(), name) == (4294893556, "jiffies")
    assert evaluate(PROG, "jiffies + 1")[1] is None  # a name only for a plain symbol
    assert value("jiffies + 1") == 4294893557
    assert value("pairs[1].count") == value("pairs[2 - 1].count") == 7
    assert value("pairs[1].flag") == 1 and value("pairs[0].count") == 0
    assert value("pair_ptr->count") == value("(*pair_ptr).count") == value("pair_ptr[0].count")
    assert value("&pairs[1]") == value("pair_ptr") == PAIRS + 24
    assert value("pairs[1].node.next") == value("&pair_ptr->node") == PAIRS + 32
    assert value("((struct pair *)0xffffffff82001018)->count") == 7
    assert value("*&jiffies") == 4294893556


def test_an_array_of_unknown_length_takes_its_symbols_size() -> None:
    banner, _ = evaluate(PROG, "linux_banner")
    assert banner.type_.length == 16
    assert banner.string_() == b"Linux version 6."


def test_per_cpu_instances() -> None:
    mine, name = evaluate(PROG, "jiffies:1")
    assert (mine.value_(), name) == (5, "jiffies")
    assert evaluate(PROG, "jiffies : 0")[0].value_() == 4294893556
    with pytest.raises(CommandError, match="^1: not a per-CPU variable of CPU 1: "):
        evaluate(PROG, "1:1")


@pytest.mark.parametrize(("text", "message"), [
    ("", "no expression given"),
    ("(1 +", "invalid expression: it ends too soon"),
    ("(1 + 2", "invalid expression: expected ')'"),
    ("1 2", "invalid expression: unexpected '2'"),
    ("nosuch + 1", 'no symbol "nosuch" in current context'),
    ("pairs[1].nosuch", "no member named 'nosuch' in struct pair"),
    ("(struct nosuch *)0", "invalid type in cast: struct nosuch *"),
    ("1 / 0", "division by zero"),
    ("*1", "invalid expression: cannot dereference that"),
    ("&1", "invalid expression: cannot take that address"),
    ("*(unsigned long *)16 + 1", "cannot read memory at 0x10"),
])
def test_bad_expressions_are_one_message(text: str, message: str) -> None:
    with pytest.raises(CommandError) as exc:
        evaluate(PROG, text)
    assert str(exc.value) == message
