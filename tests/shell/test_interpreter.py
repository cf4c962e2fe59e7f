"""The command-line interpreter without a dump: a session with no kernel and a few
stub commands (this module's own, registered as a plugin would be)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from pycrash.commands import repeat as repeat_module

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.interpreter import Interpreter, error_line
from pycrash.registry import Registry
from pycrash.session import Session


@command("say", summary="print the words", synopsis="say [-u] words...",
         arguments=(arg("-u", dest="upper", action="store_true"), arg("words", nargs="*")))
def say(session: Session, args: argparse.Namespace) -> Result:
    """Return the words, one row (upper case with -u)."""
    text = " ".join(args.words)
    return Result([text.upper() if args.upper else text])


@command("raw", summary="print the rest of the line", synopsis="raw text", raw=True)
def raw(session: Session, args: argparse.Namespace) -> Result:
    """Return the argument text as it was typed."""
    return Result([args.text])


@command("fail", summary="fail", synopsis="fail [message]", arguments=(arg("words", nargs="*"),))
def fail(session: Session, args: argparse.Namespace) -> Result:
    """Raise a CommandError with the words."""
    raise CommandError(" ".join(args.words) or "it failed")


@command("items", summary="rows and per-item errors", synopsis="items",
         aliases=("its",))
def items(session: Session, args: argparse.Namespace) -> Result:
    """Return two rows and two per-item errors, one already prefixed with the name."""
    return Result(["one", "two"], errors=["3: no such item", "4: no such item"])


@command("boom", summary="a bug", synopsis="boom")
def boom(session: Session, args: argparse.Namespace) -> Result:
    """Raise an unexpected exception."""
    raise RuntimeError("kaput")


@command("stop", summary="Ctrl-C", synopsis="stop")
def stop(session: Session, args: argparse.Namespace) -> Result:
    """Raise KeyboardInterrupt, as Ctrl-C does."""
    raise KeyboardInterrupt


@command("count", summary="count the calls", synopsis="count [limit]",
         arguments=(arg("limit", nargs="?", type=int),))
def count(session: Session, args: argparse.Namespace) -> Result:
    """Return the call's number; fail once it passes the limit."""
    session.calls = getattr(session, "calls", 0) + 1  # type: ignore[attr-defined]
    if args.limit is not None and session.calls > args.limit:  # type: ignore[attr-defined]
        raise CommandError("limit reached")
    return Result([session.calls])  # type: ignore[attr-defined]


class StubSession(Session):
    """A Session with no program: the interpreter and these commands need none."""

    live = False  # type: ignore[assignment]

    def __init__(self, live: bool = False) -> None:
        reg = Registry()
        reg.register_module(sys.modules[__name__])
        super().__init__(None, SimpleNamespace(vmlinux=None), reg)  # type: ignore[arg-type]
        self.live = live


@pytest.fixture
def interp() -> Interpreter:
    return Interpreter(StubSession())


def run(interp: Interpreter, line: str) -> tuple[bool, str, str]:
    """Run a line; return whether it succeeded, its output and its errors."""
    out, err = io.StringIO(), io.StringIO()
    ok = interp.run_line(line, out=out, err=err)
    return ok, out.getvalue(), err.getvalue()


def test_semicolons_split_commands_outside_quotes(interp: Interpreter) -> None:
    assert run(interp, "say a; say -u b ;; say 'c;d'") == (True, "a\nB\nc;d\n", "")
    assert run(interp, "   ") == (True, "", "")


def test_raw_command_gets_the_rest_of_the_line(interp: Interpreter) -> None:
    assert run(interp, "raw  'x' -y \"z\"") == (True, "'x' -y \"z\"\n", "")


def test_pipe_and_redirections(interp: Interpreter, tmp_path: Path) -> None:
    assert run(interp, "say hello world | tr a-z A-Z") == (True, "HELLO WORLD\n", "")
    assert run(interp, 'say "a|b" | cat') == (True, "a|b\n", "")
    target = tmp_path / "out.txt"
    assert run(interp, f"say one > {target}") == (True, "", "")
    assert run(interp, f"say two >> {target}") == (True, "", "")
    assert target.read_text() == "one\ntwo\n"
    assert run(interp, f"say three | tr a-z A-Z > {target}") == (True, "", "")
    assert target.read_text() == "THREE\n"


def test_aliases_expand_before_pipes(interp: Interpreter) -> None:
    interp.state.aliases["shout"] = "say -u"
    interp.state.aliases["upper"] = "say hi | tr a-z A-Z"
    assert run(interp, "shout hey") == (True, "HEY\n", "")
    assert run(interp, "upper") == (True, "HI\n", "")
    assert interp.run("shout api").rows == ["API"]  # Session.run's path too
    assert interp.session.run("shout api").rows == ["API"]


def test_history_and_recall(interp: Interpreter) -> None:
    interp.prompt = "test> "
    run(interp, "say first")
    run(interp, "say second | cat")
    assert run(interp, "h") == (True, "[1] say first\n[2] say second | cat\n[3] h\n", "")
    assert run(interp, "r") == (True, "test> h\n[1] say first\n[2] say second | cat\n"
                                      "[3] h\n[4] h\n", "")
    assert run(interp, "r 1") == (True, "test> say first\nfirst\n", "")
    assert run(interp, "r say s") == (True, "test> say second | cat\nsecond\n", "")
    assert run(interp, "r 99") == (False, "", "r: no such command in the history: 99\n")
    assert run(interp, "h | tail -1") == (True, "[7] h | tail -1\n", "")


def test_quit_words_stop_the_line_and_tell_the_caller(interp: Interpreter) -> None:
    assert run(interp, "say a; q; say b") == (True, "a\n", "")
    assert interp.finished
    for word in ("quit", "exit"):
        other = Interpreter(StubSession())
        assert run(other, f"  {word}  ") == (True, "", "") and other.finished


def test_errors_are_one_line_named_after_the_typed_command(interp: Interpreter) -> None:
    assert run(interp, "fail bad input") == (False, "", "fail: bad input\n")
    # the interpreter names the command; a command never does (its text is its own)
    assert run(interp, "fail fail: bad input") == (False, "", "fail: fail: bad input\n")
    assert run(interp, "items") == (False, "one\ntwo\n",
                                    "items: 3: no such item\nitems: 4: no such item\n")
    assert run(interp, "its") == (False, "one\ntwo\n",
                                  "its: 3: no such item\nits: 4: no such item\n")
    assert run(interp, "say -z") == (False, "", "say: unrecognized arguments: -z\n")
    assert run(interp, "boom") == (
        False, "", "boom: internal error: RuntimeError: kaput (--debug shows the traceback)\n")
    assert run(interp, "say 'open") == (
        False, "", "say: cannot parse \"say 'open\": No closing quotation\n")
    # one failure makes the line fail, the other commands still run
    assert run(interp, "fail; say after") == (False, "after\n", "fail: it failed\n")


def test_error_line_rule() -> None:
    """The interpreter alone names the command: as typed, never doubled by the command."""
    assert error_line("dmesg", "bad") == "dmesg: bad"
    assert error_line("lsmod", "no module named x") == "lsmod: no module named x"


def test_unknown_command_is_one_line(interp: Interpreter) -> None:
    ok, out, err = run(interp, "nosuchcommand -x")
    assert not ok and out == ""
    assert err == 'nosuchcommand: command not found: "nosuchcommand"\n'


def test_ctrl_c_stops_the_line(interp: Interpreter) -> None:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        interp.run_line("say before; stop; say after", out=out, err=err)
    assert out.getvalue() == "before\n" and err.getvalue() == "stop: interrupted\n"
    assert run(interp, "say again") == (True, "again\n", "")


def test_command_files(interp: Interpreter, tmp_path: Path) -> None:
    cmds = tmp_path / "cmds"
    cmds.write_text("# a comment\nsay one\n\nsay two; fail\nq\nsay never\n")
    assert run(interp, f"< {cmds}") == (False, "one\ntwo\n", "fail: it failed\n")
    assert interp.finished
    other = Interpreter(StubSession())
    assert run(other, f"< {tmp_path / 'none'}") == (
        False, "", f"{tmp_path / 'none'}: No such file or directory\n")


def test_shell_escape(interp: Interpreter, capfd: pytest.CaptureFixture[str]) -> None:
    assert run(interp, "!echo from the shell") == (True, "", "")
    assert capfd.readouterr().out == "from the shell\n"
    assert interp.state.history == []  # ! and < lines are not history


def test_json_output_setting(interp: Interpreter) -> None:
    interp.state.settings["output"] = "json"
    ok, out, _err = run(interp, "its")
    assert not ok
    assert json.loads(out) == {"command": "items", "rows": ["one", "two"],
                               "errors": ["3: no such item", "4: no such item"]}


def test_results_keep_what_has_nowhere_else_to_go(interp: Interpreter) -> None:
    out, err = io.StringIO(), io.StringIO()
    results = interp.results("say a; say b | tr a-z A-Z; fail", out=out, err=err)
    assert [r.rows for r in results] == [["a"]] and results[0].name == "say"
    assert out.getvalue() == "B\n" and err.getvalue() == "fail: it failed\n"


def test_pager_shows_each_command_and_ctrl_c_in_it_stops_the_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    shown: list[str] = []
    interp = Interpreter(StubSession(), pager=lambda text: shown.append(text) or True)
    assert interp.run_line("say a; say b")
    assert shown == ["a\n", "b\n"]
    interp.pager = lambda text: False
    with pytest.raises(KeyboardInterrupt):
        interp.run_line("say a; say b")
    assert capsys.readouterr().err == "say: interrupted\n"


def test_state_belongs_to_the_interpreter_the_session_exposes() -> None:
    session = StubSession()
    first = session.interpreter  # made on first use
    assert session.state is first.state
    second = Interpreter(session)
    assert session.interpreter is second and session.state is second.state
    assert (second.state.next_value(), second.state.next_value()) == (1, 2)
    assert first.state.last_value == 0
    assert second.state.settings == {"output": "crash", "radix": 10, "scroll": False}


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
