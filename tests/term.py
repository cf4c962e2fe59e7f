"""Drive pycrash in a pseudo-terminal and read the screen as a person would see it.

pexpect gives the pty; pyte is the terminal emulator that turns the escape
sequences into a screen of text lines.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte

ROWS, COLS = 40, 110


class Term:
    """A pycrash process on a pseudo-terminal, with a virtual screen."""

    def __init__(self, args: list[str], home: Path, cwd: Path,
                 env: dict[str, str] | None = None) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        full_env = dict(os.environ, TERM="xterm", HOME=str(home), PYCRASH_PAGER="cat",
                        PROMPT_TOOLKIT_NO_CPR="1")
        full_env.update(env or {})
        self.child = pexpect.spawn(sys.executable, ["-m", "pycrash", *args], env=full_env,
                                   cwd=str(cwd), dimensions=(ROWS, COLS))

    def pump(self, seconds: float = 0.2) -> None:
        """Read what the program wrote for ``seconds`` into the screen."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.child.read_nonblocking(65536, timeout=0.05)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return
            self.raw += data
            self.stream.feed(data)

    def lines(self) -> list[str]:
        """Return the screen's lines, trailing spaces removed."""
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        """Return the screen as text, without the blank lines at its end."""
        return "\n".join(self.lines()).rstrip()

    def cursor_line(self) -> str:
        """Return the line the cursor is on."""
        return self.lines()[self.screen.cursor.y]

    def wait(self, predicate: Callable[[Term], bool], timeout: float = 30.0) -> float:
        """Pump until ``predicate(self)``; return the seconds it took, or fail the test."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            self.pump(0.05)
            if predicate(self):
                return time.monotonic() - start
        raise AssertionError(f"timed out; screen:\n{self.text()}")

    def at_prompt(self) -> bool:
        """Whether the cursor sits on an empty ``crash>`` prompt."""
        return self.cursor_line() == "crash>"

    def wait_prompt(self, timeout: float = 30.0) -> float:
        """Wait for an empty prompt; return the seconds it took."""
        return self.wait(Term.at_prompt, timeout)

    def type(self, text: str) -> None:
        """Type text (``\\t`` is Tab, ``\\r`` is Enter)."""
        self.child.send(text)

    def clear_screen(self) -> None:
        """Forget what is on the virtual screen (Ctrl-L redraws the prompt at the top)."""
        self.child.send("\x0c")
        self.pump(0.3)

    def close(self) -> None:
        """End the session with Ctrl-D and wait for the process."""
        if self.child.isalive():
            self.child.sendcontrol("d")
            self.pump(0.5)
            self.child.close(force=True)
