"""Issue 15's smaller defects, each with its test: argparse errors in one line, every
failure to open in one line whatever its type (the traceback only with --debug), bt's
unwind failures on stderr with a failed status."""

from __future__ import annotations

import io
from typing import Any

import pytest
from conftest import assert_one_line_error, pycrash

from pycrash.errors import DumpError, describe, open_failure


@pytest.mark.fast
@pytest.mark.parametrize("argv, needle", [
    (["--bogus", "x"], "pycrash: unrecognized arguments: --bogus"),
    (["--output", "xml", "x"], "pycrash: argument --output: invalid choice: 'xml'"),
    (["--elfcorehdr", "zz", "x"], "pycrash: argument --elfcorehdr: not an address: 'zz'"),
    (["report"], "pycrash report: the following arguments are required: FILE"),
    (["report", "x", "--bogus"], "pycrash report: unrecognized arguments: --bogus"),
    ([], "pycrash: no dump file given"),
])
def test_usage_errors_are_one_line(argv: list[str], needle: str) -> None:
    run = pycrash(*argv)
    assert_one_line_error(run, needle)
    assert run.rc == 2 and run.err.count("\n") == 1 and run.out == "", run.err


@pytest.mark.fast
def test_an_unexpected_error_while_opening_is_one_line(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    assert open_failure(ZeroDivisionError("x")) == 2
    assert capsys.readouterr().err == (
        "pycrash: internal error: ZeroDivisionError: x (--debug shows the traceback)\n")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as exc:
        assert open_failure(exc, debug=True) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith(
        "pycrash: internal error: ZeroDivisionError: division by zero "
        "(--debug shows the traceback)\n")
    assert open_failure(DumpError("vmcore: bad"), debug=True) == 2
    assert capsys.readouterr().err == "pycrash: vmcore: bad\n"
    assert open_failure(KeyboardInterrupt()) == 130
    assert describe(MemoryError()).startswith("out of memory")
    assert describe(OSError(28, "No space left on device", "f")) == \
        "No space left on device: f"
    assert describe(Exception("libdw error: invalid DWARF")) == \
        "the vmlinux's debug info is damaged (libdw error: invalid DWARF)"


def test_bt_reports_a_task_it_cannot_unwind_on_stderr(session: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from pycrash.interpreter import Interpreter

    def broken(task: Any, with_source: bool = False) -> Any:
        raise ValueError("a stack pointer outside the task's stacks")

    monkeypatch.setattr(session, "trace", broken)
    interp = Interpreter(session)
    out, err = io.StringIO(), io.StringIO()
    assert not interp.run_line("bt -a", out=out, err=err)
    assert "cannot unwind" not in out.getvalue()
    assert "PID:" in out.getvalue()  # the task headers stay
    lines = err.getvalue().splitlines()
    assert lines and all(line.startswith("bt: PID ") and "cannot unwind the stack: a stack "
                         "pointer outside the task's stacks" in line for line in lines), lines
