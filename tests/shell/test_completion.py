"""The shell's completer on the real dump: commands, flags, members, types, tasks,
symbols, pids and files."""

from __future__ import annotations

import os

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document


def test_completer_sources(session) -> None:  # type: ignore[no-untyped-def]
    from pycrash.shell.completion import CrashCompleter
    from pycrash.shell.names import NameIndex

    completer = CrashCompleter(session, NameIndex(session))

    def complete(text: str) -> list[str]:
        doc = Document(text, len(text))
        return [c.text for c in completer.get_completions(doc, CompleteEvent(True))]

    assert complete("dme") == ["dmesg"]
    assert "-a" in complete("bt -") and "-l" in complete("bt -")
    assert complete("struct task_struct.comm,pi")[:1] == ["task_struct.comm,pid"]
    assert "task_struct.se.vruntime" in complete("struct task_struct.se.vrun")
    assert "list_head" in complete("* list_h")
    assert "pcfix-sleeper1" in complete("bt pcfix-s")
    assert complete("sym sysrq_handle_cra") == ["sysrq_handle_crash"]
    assert complete("ps 10")[:1] == ["10"]
    assert os.path.basename(complete("log > /et")[0]) in ("/etc", "c", "etc/", "c/")
