"""The Jupyter magics (%pycrash, %crash) in a real kernel on the real dump."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Dump


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
