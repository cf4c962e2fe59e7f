"""Record docs/shell-session.txt: a pycrash shell session on the sample dump, as seen on screen.

Run from the repository root with the test environment: ``.venv/bin/python docs/transcript.py``.
It types into a real pseudo-terminal and keeps the emulated screen after each step.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import _fixture_module  # noqa: E402
from term import Term  # noqa: E402

# (title, keys, whether the step starts on a fresh screen)
STEPS = [
    ("Tab completes a command", "str\t", True),
    ("... and a type after struct", " task_s\t", False),
    ("... and members after the type", ".comm,pi\t", False),
    ("a command with a pipe", "ps | grep pcfix\r", True),
    ("the panic task's backtrace", "bt\r", True),
    ("symbols complete from the kernel's symbol table", "sym sysrq_h\t", True),
]


def main() -> None:
    fx = _fixture_module()
    vmlinux, vmcore = fx.dump_files(fx.ensure("small"))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t = Term([str(vmlinux), str(vmcore)], home=home, cwd=home)
        t.wait_prompt()
        out.append("$ pycrash vmlinux-REL vmcore.kdump\n" + t.text())
        for title, keys, fresh in STEPS:
            if fresh:
                t.type("\x1b\x15")  # close a menu, clear the line
                t.clear_screen()
                t.wait_prompt()
            t.type(keys)
            t.pump(2.0)
            out.append(f"# {title}\n" + t.text())
        t.close()
    (ROOT / "docs" / "shell-session.txt").write_text(
        "A pycrash shell session on the sample dump, as a terminal showed it\n"
        "(recorded by docs/transcript.py in a pseudo-terminal).\n\n"
        + "\n\n".join(out) + "\n")


if __name__ == "__main__":
    main()
