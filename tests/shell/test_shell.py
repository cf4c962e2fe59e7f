"""The interactive shell, driven in a pseudo-terminal on the real dump."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Dump
from term import Term


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def work(tmp_path: Path) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    return w


@pytest.fixture
def term(dump: Dump, home: Path, work: Path) -> Iterator[Term]:
    t = Term(["-s", str(dump.vmlinux), str(dump.vmcore)], home=home, cwd=work)
    t.wait_prompt()
    yield t
    t.close()


def run(t: Term, line: str, timeout: float = 30.0) -> list[str]:
    """Type a command at an empty prompt; return the screen lines it produced."""
    t.clear_screen()
    t.wait_prompt()
    t.type(line + "\r")
    t.wait(lambda s: s.at_prompt() and s.screen.cursor.y > 0, timeout)
    lines = t.lines()
    return lines[1 : t.screen.cursor.y]


def test_tab_completes_commands_types_and_symbols(term: Term) -> None:
    term.type("str")
    term.wait(lambda s: s.cursor_line() == "crash> str")
    term.type("\t")
    term.wait(lambda s: s.cursor_line() == "crash> struct")
    term.type(" task_s\t")
    term.wait(lambda s: s.cursor_line().startswith("crash> struct task_struct"))
    term.type("\x1b\x15")  # close the menu, clear the line
    term.type("sym pani\t")
    term.wait(lambda s: any(line.strip() == "panic" for line in s.lines()))
    assert term.cursor_line().startswith("crash> sym panic")


def test_pipe_prints_exactly_the_pcfix_rows(term: Term) -> None:
    out = run(term, "ps | grep pcfix")
    assert len(out) == 4
    assert sorted(line.split()[-1] for line in out) == [
        "pcfix-files", "pcfix-sleeper1", "pcfix-sleeper2", "pcfix-sleeper3"]


def test_redirect_writes_the_file_and_nothing_to_the_screen(term: Term, work: Path,
                                                            session) -> None:  # type: ignore[no-untyped-def]
    out = run(term, "log > out.txt")
    assert out == []
    text = (work / "out.txt").read_text()
    assert text == str(session.run("log"))
    assert "pycrash-fixture: marker before crash" in text


def test_ctrl_c_stops_foreach_bt_and_the_next_command_works(term: Term) -> None:
    term.clear_screen()
    term.wait_prompt()
    term.type("; ".join(["foreach bt"] * 400) + "\r")  # several seconds of work
    term.wait(lambda s: "PID:" in s.text(), timeout=30)
    term.pump(0.3)
    term.child.sendintr()
    took = term.wait_prompt(timeout=5)
    assert took < 1.0
    # stopped while computing ("foreach: interrupted") or while showing its output
    assert "interrupted" in term.text()
    out = run(term, "sys | grep CPUS")
    assert out == ["        CPUS: 2"]


def test_a_failing_command_prints_one_line_and_the_shell_goes_on(term: Term,
                                                                 tmp_path: Path) -> None:
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "from pycrash.command import command\n"
        "@command('boom', summary='always fails', synopsis='boom')\n"
        "def boom(session, args):\n"
        "    raise RuntimeError('kaput')\n"
    )
    assert run(term, f"extend {plugin}") == [f"{plugin}: loaded (boom)"]
    assert any(line.startswith("boom ") for line in run(term, "help | grep boom"))
    assert run(term, "boom") == [
        "boom: internal error: RuntimeError: kaput (--debug shows the traceback)"]
    assert run(term, "ps 1")[1].split()[-1] == "init"
    assert run(term, "extend -u boom") == [f"{plugin}: unloaded (boom)"]
    assert run(term, "boom") == ['boom: command not found: "boom"']
    assert run(term, "nosuch -x") == ['nosuch: command not found: "nosuch"']


def test_history_file_holds_the_commands_after_exit(dump: Dump, home: Path,
                                                    work: Path) -> None:
    t = Term(["-s", str(dump.vmlinux), str(dump.vmcore)], home=home, cwd=work)
    t.wait_prompt()
    run(t, "sys | grep RELEASE")
    run(t, "bt -a | head -1")
    t.close()
    history = (home / ".pycrash_history").read_text()
    assert "+sys | grep RELEASE" in history and "+bt -a | head -1" in history
    # and a new session offers them again: Up recalls the last one
    t = Term(["-s", str(dump.vmlinux), str(dump.vmcore)], home=home, cwd=work)
    t.wait_prompt()
    t.type("\x1b[A")
    t.wait(lambda s: s.cursor_line() == "crash> bt -a | head -1")
    t.close()


def test_startup_files_trusted_and_untrusted(dump: Dump, home: Path, work: Path) -> None:
    (home / ".pycrashrc").write_text('# mine\nalias sleepers "ps pcfix-sleeper1"\n')
    local = work / ".pycrashrc"
    local.write_text("set radix 16\n")
    local.chmod(0o666)
    t = Term(["-s", str(dump.vmlinux), str(dump.vmcore)], home=home, cwd=work)
    t.wait_prompt()
    # the line wraps at the terminal's width (where a space may go): compare without spaces
    said = "".join(t.text().split())
    assert f"pycrash:skipping{local}:writablebyothers" in said
    out = run(t, "sleepers")
    assert out[-1].split()[-1] == "pcfix-sleeper1"
    assert run(t, "set radix") == ["     radix: 10"]  # the untrusted file did not run
    t.close()
    local.chmod(0o644)
    t = Term(["-s", str(dump.vmlinux), str(dump.vmcore)], home=home, cwd=work)
    t.wait_prompt()
    assert "skipping" not in t.text()
    assert run(t, "set radix") == ["     radix: 16"]
    t.close()


def test_history_recall_shell_escape_and_command_files(term: Term, work: Path) -> None:
    run(term, "sys | grep CPUS")
    assert run(term, "h")[-2:] == ["[1] sys | grep CPUS", "[2] h"]
    assert run(term, "r 1") == ["crash> sys | grep CPUS", "        CPUS: 2"]
    assert run(term, "!echo hello from the shell") == ["hello from the shell"]
    (work / "cmds").write_text("ps 1 | tail -1\nsys | grep CPUS\n")
    out = run(term, "< cmds")
    assert out[0].split()[-1] == "init" and out[1] == "        CPUS: 2"


def test_python_prompt_and_back(term: Term) -> None:
    assert run(term, "py prog['init_task'].comm.string_()") == ["b'swapper/0'"]
    term.clear_screen()
    term.wait_prompt()
    term.type("py\r")
    term.wait(lambda s: s.cursor_line() == ">>>")
    term.type("len([t for t in for_each_task(prog)]) > 50\r")
    term.wait(lambda s: "True" in s.text())
    term.child.sendcontrol("d")
    term.wait_prompt()
    assert run(term, "sys | grep CPUS") == ["        CPUS: 2"]


def test_ctrl_d_and_quit_leave(dump: Dump, home: Path, work: Path) -> None:
    t = Term(["-s", "-e", "vi", str(dump.vmlinux), str(dump.vmcore)], home=home, cwd=work)
    t.wait_prompt()
    t.type("q\r")
    t.child.expect(__import__("pexpect").EOF, timeout=10)
    t.child.close()
    assert t.child.exitstatus == 0


def test_input_file_then_interactive(dump: Dump, home: Path, work: Path) -> None:
    (work / "first").write_text("alias one \"ps 1\"\nsys | grep CPUS\n")
    t = Term(["-s", "-i", "first", str(dump.vmlinux), str(dump.vmcore)], home=home, cwd=work)
    t.wait_prompt()
    assert "        CPUS: 2" in t.lines()
    assert run(t, "one")[-1].split()[-1] == "init"
    assert run(t, "repeat -2 ps") == [
        "repeat: a dump does not change: repeat is for live systems (--live)"]
    t.close()
