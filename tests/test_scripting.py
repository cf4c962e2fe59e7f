"""The Python API, -c scripts, the triage report, and Jupyter on the real dump."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Dump, assert_one_line_error, parse_stat, pycrash


def test_api_results_are_records(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    import pycrash as api

    s = api.open(str(dump.vmcore))  # the vmlinux is found beside the dump
    ps = s.run("ps -k")
    assert len(ps) == len(list(ps)) and all(r.kernel for r in ps)
    assert ps[0].pid == 0 and ps[0].comm == "swapper/0"
    assert json.loads(ps.to_json())[0]["comm"] == "swapper/0"
    assert str(ps).splitlines()[0].startswith("      PID    PPID  CPU")
    assert ps.columns()[:3] == ["pid", "ppid", "cpu"]
    assert s.task(1).comm.string_() == b"init"
    assert s.symbol("panic").name == "panic"
    assert s.variable("jiffies_64").value_() > 0
    assert type(s.prog).__name__ == "Program"


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
    sleeper = next(p for p, (c, _s, _pp) in parse_stat(dump.truth("stat.txt")).items()
                   if c == "pcfix-sleeper1")
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


def test_report_json_names_the_panic_and_task(dump: Dump, tmp_path: Path) -> None:
    run = pycrash("report", str(dump.vmcore), str(dump.vmlinux), "--json")
    assert run.rc == 0, run.err
    doc = json.loads(run.out)
    assert "sysrq triggered crash" in doc["panic"]["message"]
    bt = doc["crashed_task_bt"][0]
    assert doc["panic"]["pid"] == bt["task"]["pid"] and doc["panic"]["command"] == "sh"
    assert any(f["function"] == "panic" for f in bt["frames"])
    assert len(doc["bt_all"]) == 2 and len(doc["log_tail"]) == 50
    assert doc["blocked"] == [] and doc["taint"]["flags"] is not None
    assert doc["memory"][0]["name"] == "TOTAL MEM"
    out = tmp_path / "r"
    text = pycrash("report", str(dump.vmcore), "-o", str(out))
    assert text.rc == 0, text.err
    report = (out / "report.txt").read_text()
    assert "Backtrace of the task that panicked" in report and "sysrq_handle_crash" in report
    assert json.loads((out / "report.json").read_text())["panic"] == doc["panic"]
    assert_one_line_error(pycrash("report", str(tmp_path / "none")), "no such file")


def test_notebook_magics_in_a_real_kernel(dump: Dump, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    cells = [
        "%load_ext pycrash",
        f"%pycrash open {dump.vmcore} {dump.vmlinux}",
        "%crash ps",
        "%%crash\nsys\nmod",
        "x = %crash ps\nlen(x), type(prog).__name__, type(session).__name__",
        "%crash nosuchcommand",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    def outputs(i: int) -> list[dict]:  # type: ignore[type-arg]
        return nb.cells[i]["outputs"]

    assert all(o["output_type"] != "error" for c in nb.cells for o in c["outputs"])
    assert "as 'session'" in outputs(1)[0]["text"]
    html = outputs(2)[0]["data"]["text/html"]
    assert "<table" in html and "pcfix-sleeper1" in html
    both = outputs(3)[0]["data"]
    assert "RELEASE: " in both["text/plain"] and "OBJECT FILE" in both["text/plain"]
    assert "RELEASE: " in both["text/html"] and "loop" in both["text/html"]
    n, prog_type, session_type = eval(outputs(4)[0]["data"]["text/plain"])  # noqa: S307
    assert n > 60 and prog_type == "Program" and session_type == "Session"
    assert 'command not found: "nosuchcommand"' in outputs(5)[0]["text"]
