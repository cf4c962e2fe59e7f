"""-c scripts on the real dump: arguments, exit status, -x before the script, tracebacks
that point at the script."""

from __future__ import annotations

from pathlib import Path

from conftest import Dump, assert_one_line_error, pid_of, pycrash


def test_script_counts_pcfix_tasks_and_gets_its_arguments(dump: Dump, tmp_path: Path) -> None:
    script = tmp_path / "count.py"
    script.write_text(
        "import sys\n"
        "n = sum(1 for r in run('ps').rows if r.comm.startswith('pcfix-'))\n"
        "print(n, prog['init_task'].comm.string_().decode(), sys.argv[1:])\n"
        "raise SystemExit(int(sys.argv[1]))\n")
    run = pycrash("-s", "-c", str(script), str(dump.vmcore), "--", "7", "more")
    assert run.out.splitlines()[-1] == "4 swapper/0 ['7', 'more']"
    assert run.rc == 7
    ok = pycrash("-s", "-c", str(script), str(dump.vmcore), "--", "0")
    assert ok.rc == 0


def test_commands_run_before_the_script(dump: Dump, tmp_path: Path) -> None:
    script = tmp_path / "after.py"
    script.write_text("print('script', session.context.pid.value_())\n")
    sleeper = pid_of(dump, "pcfix-sleeper1")
    run = pycrash("-s", "-x", f"set {sleeper}", "-c", str(script), str(dump.vmcore))
    assert run.rc == 0, run.err
    assert run.out.splitlines()[-1] == f"script {sleeper}"


def test_script_error_points_at_the_script(dump: Dump, tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("x = 1\n\ndef f():\n    return prog['no_such_kernel_variable']\n\nf()\n")
    run = pycrash("-s", "-c", str(script), str(dump.vmcore))
    assert run.rc == 1
    assert f'File "{script}", line 6, in <module>' in run.err
    assert f'File "{script}", line 4, in f' in run.err
    assert "pycrash/" not in run.err.split("Traceback", 1)[1]
    missing = pycrash("-s", "-c", str(tmp_path / "nope.py"), str(dump.vmcore))
    assert_one_line_error(missing, "no such script")
