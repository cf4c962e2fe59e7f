"""repeat without a dump: its arguments, its loop on a live stand-in, help's list (the stub
session of tests/sessionstub.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pycrash.commands import repeat as repeat_module
from sessionstub import StubSession, run

from pycrash.interpreter import Interpreter

pytestmark = pytest.mark.fast


def test_repeat_argument_errors(interp: Interpreter) -> None:
    assert run(interp, "repeat") == (False, "", "repeat: no command given\n")
    assert run(interp, "repeat -2") == (False, "", "repeat: no command given\n")
    assert run(interp, "repeat -2 say x") == (
        False, "", "repeat: a dump does not change: repeat is for live systems (--live)\n")
    assert repeat_module.parse("-0.5 say  x") == (0.5, "say x")
    assert repeat_module.parse("-x say") == (1.0, "-x say")


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    slept: list[float] = []
    monkeypatch.setattr(repeat_module.time, "sleep", slept.append)
    yield slept


def test_repeat_runs_until_the_command_fails(no_sleep: list[float]) -> None:
    interp = Interpreter(StubSession(live=True))
    ok, out, err = run(interp, "repeat -3 count 2")
    assert (ok, out, err) == (False, "1\n2\n", "count: limit reached\n")
    assert no_sleep == [3.0, 3.0]
    assert interp.state.history == ["repeat -3 count 2"]


def test_repeat_is_a_listed_command() -> None:
    """repeat is found and listed like any command (before issue 12 the runner special-cased
    it by name and help did not list it)."""
    from pycrash.commands.help import HelpView, entry, render_list

    from pycrash.command import Result
    from pycrash.registry import registry

    reg = registry()
    cmd = reg.lookup("repeat")
    assert cmd.module == "pycrash.commands.repeat" and cmd.raw
    rows = [entry(c) for c in reg.commands()]
    assert "repeat" in [r.name for r in rows]
    text = list(render_list(Result(rows, view=HelpView([]))))
    assert "repeat     repeat a command" in text
