"""search's and stacks' renderers (no dump needed)."""

from __future__ import annotations

from pycrash.commands.search import Match, render
from pycrash.plugins import stacks

from pycrash.command import Result


def test_values_and_strings() -> None:
    rows = [Match(0xFF3CF9169CE21F54, value=0xDEADBEEF),
            Match(0xFF3CF91681234570, text="pycrash-fixture: marker before crash.")]
    assert list(render(Result(rows))) == [
        "ff3cf9169ce21f54: deadbeef",
        "ff3cf91681234570: pycrash-fixture: marker before crash."]


def test_stack_groups() -> None:
    rows = [stacks.StackGroup(9, "IN", ("__schedule", "schedule"), tuple(range(1, 10)),
                              tuple(f"k{i}" for i in range(1, 10))),
            stacks.StackGroup(1, "RU", (), (0,), ("swapper/0",))]
    assert list(stacks.render(Result(rows))) == [
        " COUNT  ST  STACK (innermost first)",
        "     9  IN  __schedule <- schedule",
        "          tasks: 1:k1, 2:k2, 3:k3, 4:k4, 5:k5, 6:k6, 7:k7, 8:k8 (+1 more)",
        "     1  RU  (no stack)",
        "          tasks: 0:swapper/0"]
