"""The command line's exit status and errors: a failing command is one line and does not stop
the rest."""

from __future__ import annotations

from pathlib import Path

from conftest import Dump, pycrash


def test_unknown_command_and_flag_do_not_stop_the_rest(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore),
                  "-x", "nosuch; ps -z; sys; pss 1; ps 999999; log -t | tail -1")
    assert run.rc == 1
    assert "Traceback" not in run.err
    errs = run.err.splitlines()
    assert errs[0] == 'nosuch: command not found: "nosuch"'
    assert errs[1] == "ps: unrecognized arguments: -z"
    assert errs[2].startswith('pss: command not found: "pss" (did you mean: ps')
    assert errs[3] == "ps: invalid task or pid value: 999999"
    assert len(errs) == 4
    assert "RELEASE:" in run.out  # sys ran after the failures
    last_log_line = str(session.run("log -t")).splitlines()[-1]
    assert run.out.splitlines()[-1] == last_log_line  # and so did the last command


def test_successful_commands_exit_zero(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "sys", "-x", "ps 1")
    assert run.rc == 0 and run.err == ""


def test_unexpected_exception_is_one_line(tmp_path: Path, dump: Dump) -> None:
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "from pycrash.command import command\n"
        "@command('boom', summary='fails', synopsis='boom')\n"
        "def boom(session, args):\n"
        "    raise RuntimeError('kaput')\n"
    )
    dist = tmp_path / "boom-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: boom\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[pycrash.commands]\nboom = boom\n")
    import os
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "boom; ps 1", env=env)
    assert run.rc == 1
    assert run.err == "boom: internal error: RuntimeError: kaput (--debug shows the traceback)\n"
    assert "[kthreadd]" not in run.out and " init" in run.out
    debug = pycrash("--debug", "-s", str(dump.vmlinux), str(dump.vmcore), "-x", "boom", env=env)
    assert "Traceback" in debug.err and "kaput" in debug.err
