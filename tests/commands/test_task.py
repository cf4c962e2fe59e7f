"""task on the real dump (and set's context, which task follows)."""

from __future__ import annotations

from conftest import Dump, pid_of


def test_task_and_set_context(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    pid = pid_of(dump, "pcfix-sleeper1")
    result = session.run("task -R pid,comm,real_parent.pid pcfix-sleeper1")
    view = result.rows[0]
    # the members as data: their values as numbers where they are numbers
    assert [(m.path, m.value.value) for m in view.members] == [
        ("pid", pid), ("comm", None), ("real_parent.pid", 1)]
    assert view.members[1].value.text == '"pcfix-sleeper1\\000"'
    assert view.task.pid == pid and view.value is None
    assert str(result).splitlines()[1:] == [f"  pid = {pid},", '  comm = "pcfix-sleeper1\\000",',
                                            "  real_parent.pid = 1,", ""]
    session.run(f"set {pid}")
    try:
        assert session.run("bt").rows[0].task.pid == pid
        assert str(session.run("task -R pid")).splitlines()[1:] == [f"  pid = {pid},", ""]
    finally:
        session.run("set -p")
    assert session.run("bt").rows[0].task.pid == session.panic_task.pid.value_()


def test_task_array_of_structs_indented_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """An array of structs (pid_links) has its structs' members two columns further in than
    the array's own braces, as gdb prints them for crash: ``{{`` at the member, the members
    4 in, ``}, {`` 2 in (gdb's ``<symbol+off>`` after a data pointer left aside)."""
    import re

    from conftest import crash_commands

    theirs = crash_commands(dump, ["task"])["task"]
    ours = str(session.run("task")).splitlines()

    def block(lines: list[str]) -> list[str]:
        start = next(i for i, line in enumerate(lines) if line.startswith("  pid_links = {{"))
        end = next(i for i in range(start, len(lines)) if lines[i].endswith("}},"))
        return [re.sub(r" <[^>]*>", "", line) for line in lines[start:end + 1]]

    assert block(ours) == block(theirs)
    assert block(ours)[1].startswith("      next = ") and block(ours)[3] == "    }, {"
