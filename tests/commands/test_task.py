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
