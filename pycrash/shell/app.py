"""The interactive loop: read a line, run crash's shell conveniences or commands, show output."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pycrash.cmdline import split_commands
from pycrash.registry import QUIT_WORDS
from pycrash.runner import run_one
from pycrash.session import Session

HISTORY_FILE = "~/.pycrash_history"


def _key_bindings() -> Any:
    """Tab inserts the best completion at once (and shows the others), as a shell user expects."""
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()

    @kb.add("tab")
    def _complete(event: Any) -> None:
        buf = event.current_buffer
        if buf.complete_state:
            buf.complete_next()
        else:
            buf.start_completion(select_first=True)

    return kb


class Shell:
    """crash's prompt over one session.

    ``input``/``output`` are prompt_toolkit objects (pipe input and a dummy
    output in tests); by default the terminal.
    """

    def __init__(self, session: Session, *, prompt: str = "crash> ", vi: bool = False,
                 debug: bool = False, history_file: str | None = None,
                 input: Any = None, output: Any = None) -> None:
        self.session = session
        self.debug = debug
        self.prompt_text = prompt
        self.vi = vi
        self.lines: list[str] = []  # this session's commands, for h and r
        self.failed = False  # a command failed (the exit status of a non-interactive run)
        self.history_path = os.path.expanduser(
            history_file or os.environ.get("PYCRASH_HISTORY", HISTORY_FILE))
        self._input = input
        self._output = output
        self.tty = output is None and sys.stdout.isatty()
        session.settings.setdefault("color", "on" if self.tty else "off")
        if self.tty:
            session.settings["scroll"] = True
        self._prompt_session: Any = None

    def prompt_session(self) -> Any:
        """The prompt_toolkit PromptSession, made on first use (it is not needed for -x)."""
        if self._prompt_session is None:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.completion import ThreadedCompleter
            from prompt_toolkit.history import FileHistory
            from prompt_toolkit.lexers import PygmentsLexer

            from pycrash.shell.completion import CrashCompleter
            from pycrash.shell.lexer import CrashLexer
            from pycrash.shell.names import NameIndex

            index = NameIndex(self.session)
            index.warm_up()
            self._prompt_session = PromptSession(
                key_bindings=_key_bindings(),
                history=FileHistory(self.history_path),
                completer=ThreadedCompleter(CrashCompleter(self.session, index)),
                complete_while_typing=False,
                lexer=PygmentsLexer(CrashLexer),
                vi_mode=self.vi,
                input=self._input,
                output=self._output,
            )
        return self._prompt_session

    # -- one line ------------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Run one input line; return False when the user asked to leave."""
        line = line.strip()
        if not line:
            return True
        if line in QUIT_WORDS:
            return False
        if line.startswith("!"):
            self._shell_escape(line[1:].strip())
            return True
        if line.startswith("<"):
            return self.run_file(Path(line[1:].strip()).expanduser())
        word, _, rest = line.partition(" ")
        if word == "h":
            self.lines.append(line)
            self._write("".join(f"[{i}] {cmd}\n" for i, cmd in enumerate(self.lines, 1)))
            return True
        if word == "r":
            again = self._recall(rest.strip())
            if again is None:
                sys.stderr.write(f"r: no such command in the history: {rest.strip()}\n")
                return True
            self._write(f"{self.prompt_text}{again}\n")
            line = again
        self.lines.append(line)
        fmt = str(self.session.settings.get("output", "crash"))
        for text in split_commands(line):  # each command's output shows when it is done
            buf = io.StringIO()
            try:
                ok = run_one(self.session, text, out=buf, err=sys.stderr, fmt=fmt,
                             debug=self.debug)
                self.failed = self.failed or not ok
            except KeyboardInterrupt:
                self.failed = True  # the runner said "interrupted"; back to the prompt
                return True
            if not self._show(buf.getvalue()):
                # Ctrl-C while the output was shown: drop the rest of the line
                sys.stdout.write("\n")
                sys.stderr.write(f"{text.split()[0]}: interrupted\n")
                self.failed = True
                return True
        return True

    def _recall(self, spec: str) -> str | None:
        """crash's ``r``: the last command, command number N, or the last starting with text."""
        if not self.lines:
            return None
        if not spec:
            return self.lines[-1]
        if spec.isdigit():
            n = int(spec)
            return self.lines[n - 1] if 0 < n <= len(self.lines) else None
        for cmd in reversed(self.lines):
            if cmd.startswith(spec):
                return cmd
        return None

    def _shell_escape(self, command: str) -> None:
        shell = os.environ.get("SHELL", "/bin/sh")
        try:
            subprocess.run(command if command else shell, shell=bool(command), check=False,
                           executable=shell if command else None)
        except KeyboardInterrupt:
            sys.stdout.write("\n")

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _show(self, text: str) -> bool:
        """Show a command's output; False when Ctrl-C stopped it."""
        from pycrash.shell.output import show

        try:
            return show(text, scroll=bool(self.session.settings.get("scroll")) and self.tty,
                        colour=self.tty and self.session.settings.get("color") == "on")
        except KeyboardInterrupt:
            return False

    # -- many lines ----------------------------------------------------------

    def run_lines(self, lines: Iterable[str]) -> bool:
        """Run lines (a start-up file, ``<`` file); return False if one was a quit word."""
        for line in lines:
            if not self.handle(line):
                return False
        return True

    def run_file(self, path: Path | str) -> bool:
        """Run the commands of a file (``< file``, ``-i file``, a start-up file)."""
        from pycrash.shell.rc import commands_of

        try:
            lines = commands_of(Path(path))
        except OSError as exc:
            sys.stderr.write(f"{path}: {exc.strerror or exc}\n")
            self.failed = True
            return True
        return self.run_lines(lines)

    def read_stdin(self) -> int:
        """Run commands read from a non-terminal standard input; return 1 if one failed."""
        for line in sys.stdin:
            if not self.handle(line):
                break
        return 1 if self.failed else 0

    def loop(self) -> int:
        """Prompt until Ctrl-D or a quit word; return the exit status (0)."""
        session = self.prompt_session()
        while True:
            try:
                line = session.prompt(self.prompt_text)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EOFError:
                self._write("\n")
                return 0
            if not self.handle(line):
                return 0
