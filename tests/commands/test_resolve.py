"""cmdlib.resolve: the one parser of command arguments that name addresses (no dump needed)."""

from __future__ import annotations

import pytest
from kernelstub import program

from pycrash.cmdlib.resolve import parse_hex, parse_offset, resolve_address
from pycrash.errors import CommandError

pytestmark = pytest.mark.fast

PANIC = 0xFFFFFFFF81000000


@pytest.mark.parametrize(("spec", "address"), [
    ("ffffffff81000000", PANIC),
    ("0xffffffff81000000", PANIC),
    ("1000", 0x1000),
    ("panic", PANIC),
    ("panic+20", PANIC + 20),
    ("panic+0x20", PANIC + 0x20),
    ("panic-8", PANIC - 8),
    ("jiffies + 8", 0xFFFFFFFF82000008),
    ("ffffffff81000000+16", PANIC + 16),
])
def test_addresses_symbols_and_offsets(spec: str, address: int) -> None:
    assert resolve_address(program(), spec) == address


@pytest.mark.parametrize("spec", ["nosuch", "nosuch+8", "panic+zz", "+8", ""])
def test_one_message_for_what_names_nothing(spec: str) -> None:
    with pytest.raises(CommandError) as exc:
        resolve_address(program(), spec)
    assert str(exc.value) == f"invalid address or symbol: {spec}"


def test_the_message_names_what_was_expected() -> None:
    with pytest.raises(CommandError, match="^invalid value or symbol: zz$"):
        resolve_address(program(), "zz", "value")


def test_an_object_expression_is_evaluated_for_its_address() -> None:
    with pytest.raises(CommandError, match='no symbol "init_task"'):
        resolve_address(program(), "init_task.tasks")


def test_numbers() -> None:
    assert parse_hex("0x10") == parse_hex("10") == 16
    with pytest.raises(CommandError, match="^invalid number: 1g$"):
        parse_hex("1g", "number")
    assert parse_offset("20") == 20 and parse_offset("0x20") == 32 and parse_offset("020") == 20
