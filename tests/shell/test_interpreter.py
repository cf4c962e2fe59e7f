"""The command-line interpreter without a dump: a session with no kernel and a few
stub commands (tests/sessionstub.py; the ``interp`` fixture runs them)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sessionstub import StubSession, run

from pycrash.interpreter import Interpreter, error_line

pytestmark = pytest.mark.fast


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


def test_recall_of_h_and_r_after_a_semicolon(interp: Interpreter) -> None:
    """Issue 18: ``r N`` where line N is ``h`` ran h as a command (not found); ``r``
    after ``;`` and through the API (Session.run, scripts) was not found either."""
    interp.prompt = "test> "
    run(interp, "h")
    assert run(interp, "r 1") == (True, "test> h\n[1] h\n[2] h\n", "")
    assert run(interp, "say x; r 1") == (True, "x\ntest> h\n[1] h\n[2] h\n[3] say x; r 1\n",
                                         "")
    assert run(interp, "say y; r 3") == (False, "y\n", "r: say x; r 1: recalls a line again\n")
    result = interp.run("h")
    assert [(h.number, h.line) for h in result.rows][:2] == [(1, "h"), (2, "h")]
    assert list(result.lines())[0] == "[1] h"
    assert [h.line for h in interp.run("r 1").rows][0] == "h"


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
