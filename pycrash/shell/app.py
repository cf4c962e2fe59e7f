"""The interactive loop: read a line, hand it to the interpreter, show the output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from pycrash.interpreter import Interpreter
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
    """crash's prompt over one interpreter: prompt_toolkit's line editing, completion and
    history file, and a pager for each command's output; the lines themselves are
    the interpreter's.

    ``input``/``output`` are prompt_toolkit objects (pipe input and a dummy
    output in tests); by default the terminal.
    """

    def __init__(self, interpreter: Interpreter, *, prompt: str = "crash> ", vi: bool = False,
                 history_file: str | None = None, input: Any = None,
                 output: Any = None) -> None:
        self.interpreter = interpreter
        self.prompt_text = prompt
        self.vi = vi
        self.failed = False  # a command failed (the exit status of a non-interactive run)
        self.history_path = os.path.expanduser(
            history_file or os.environ.get("PYCRASH_HISTORY", HISTORY_FILE))
        self._input = input
        self._output = output
        self.tty = output is None and sys.stdout.isatty()
        settings = interpreter.state.settings
        settings.setdefault("color", "on" if self.tty else "off")
        if self.tty:
            settings["scroll"] = True
        interpreter.prompt = prompt
        interpreter.pager = self._show
        self._prompt_session: Any = None

    @property
    def session(self) -> Session:
        """The session the interpreter runs commands on."""
        return self.interpreter.session

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
        try:
            ok = self.interpreter.run_line(line)
        except KeyboardInterrupt:
            ok = False  # the interpreter said "interrupted"; back to the prompt
        self.failed = self.failed or not ok
        return not self.interpreter.finished

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _show(self, text: str) -> bool:
        """Show a command's output; False when Ctrl-C stopped it."""
        from pycrash.shell.output import show

        settings = self.interpreter.state.settings
        try:
            return show(text, scroll=bool(settings.get("scroll")) and self.tty,
                        colour=self.tty and settings.get("color") == "on")
        except KeyboardInterrupt:
            return False

    # -- many lines ----------------------------------------------------------

    def run_lines(self, lines: Iterable[str]) -> bool:
        """Run lines (a start-up file, ``<`` file); return False if one was a quit word."""
        for line in lines:
            if not self.handle(line):
                return False
        return True

    def run_file(self, path: str) -> bool:
        """Run the commands of a file (``-i file``); return False if one was a quit word."""
        return self.handle(f"< {path}")

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
