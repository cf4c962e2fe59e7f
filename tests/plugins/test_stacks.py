"""The stacks plugin: its renderer (no dump needed), and the command on the real dump."""

from __future__ import annotations

import pytest
from pycrash.plugins import stacks

from pycrash.command import Result


@pytest.mark.fast
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


def test_stacks_groups_the_fixture_sleepers(session) -> None:  # type: ignore[no-untyped-def]
    groups = session.run("stacks -c do_wait").rows
    assert len(groups) == 1
    g = groups[0]
    # init and the four pcfix shells wait for their children in the same place
    assert set(g.comms) == {"init", "pcfix-sleeper1", "pcfix-sleeper2", "pcfix-sleeper3",
                            "pcfix-files"}
    assert g.state == "IN" and g.count == 5 and g.functions[:2] == ("__schedule", "schedule")
    un = session.run("stacks -t UN").rows
    assert un == []  # nothing was blocked in D state in the fixture
