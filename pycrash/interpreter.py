"""The one interpreter of crash command lines: the shell, ``-x``, ``-c`` scripts (their
``run``), the Python API (``Session.run``) and Jupyter's magics all go through it.

A line is, in this order:

- ``!command``: the rest of the line goes to the system shell (``!`` alone starts one);
- ``< file``: every command line of the file is run in turn;
- ``r [N | text]``: crash's recall of the last line, line N of the history, or the
  last line starting with text; it is echoed after the prompt and run;
- anything else is added to the history and split on ``;`` (outside quotes) into
  commands (:mod:`pycrash.cmdline` parses; this module decides). Each command is a
  quit word (``q``, ``quit``, ``exit``: the rest is dropped and :attr:`Interpreter.finished`
  tells the caller to stop), ``h`` (the history), or, after a user alias is
  expanded and ``| shell command``, ``> file`` and ``>> file`` are peeled off, a
  registered command: found in the registry, its flags parsed, its function run
  and its Result rendered (crash's text, or JSON after ``set output json``) and
  delivered. ``repeat`` is a registered command like any other
  (``commands/repeat.py``); it runs its command again with :meth:`Interpreter.run_command`.

A failure never ends the session: errors of the user's making, unreadable memory,
unexpected exceptions (with ``debug``, the traceback) and Ctrl-C each become one
line on ``err``, which the interpreter starts with the typed command's name.

Where state lives: the :class:`pycrash.session.Session` keeps the program and the
kernel's facts. What the user changes while working (settings such as radix,
output and scroll, aliases, the history, the ``$N`` counter of ``p``) is a
:class:`State` owned by the interpreter. A command function keeps its
``(session, args) -> Result`` signature and reaches that state as
``session.state``, the state of ``session.interpreter``: the interpreter last
made over the session, or one made on first use (the Python API).
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pycrash.cmdline import QUIT_WORDS, Pipeline, parse_pipeline, split_commands
from pycrash.command import Result
from pycrash.errors import CommandError, PycrashError

if TYPE_CHECKING:
    from pycrash.session import Session

#: The interpreter's own words besides the quit words: the history and crash's recall.
HISTORY_WORD = "h"
RECALL_WORD = "r"


def _settings() -> dict[str, Any]:
    return {"output": "crash", "radix": 10, "scroll": False}


@dataclass
class State:
    """What the user changes while working with one interpreter.

    ``settings`` are ``set``'s (output, radix, scroll; the shell adds color),
    ``aliases`` are ``alias``'s, ``history`` holds the lines run (for ``h`` and
    ``r``), ``last_value`` is the number of the last value ``p`` printed ($N) and
    ``values`` holds those values by number (gdb's value history: ``p $N``); ``bug_bytes``
    is ``dis -b``'s count of bytes after a ud2 (None: the kernel's own).
    """

    settings: dict[str, Any] = field(default_factory=_settings)
    aliases: dict[str, str] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    last_value: int = 0
    values: dict[int, Any] = field(default_factory=dict)
    bug_bytes: int | None = None

    def next_value(self) -> int:
        """Count a printed value; return its number ($1, $2, ...)."""
        self.last_value += 1
        return self.last_value

    def expand_alias(self, text: str) -> str:
        """Return ``text`` with a leading user alias replaced by its command."""
        word, _, rest = text.strip().partition(" ")
        if word in self.aliases:
            return f"{self.aliases[word]} {rest}".strip()
        return text

    def recall(self, spec: str) -> str | None:
        """crash's ``r``: return the last line, line number ``spec``, or the last line
        starting with ``spec``; None when the history has no such line."""
        if not self.history:
            return None
        if not spec:
            return self.history[-1]
        if spec.isdigit():
            n = int(spec)
            return self.history[n - 1] if 0 < n <= len(self.history) else None
        return next((line for line in reversed(self.history) if line.startswith(spec)), None)


@dataclass(frozen=True)
class HistoryLine:
    """A line of the history (``h``): its number for ``r N``, and the line."""

    number: int
    line: str


def _render_history(result: Result) -> Iterable[str]:
    """crash's ``h`` lines: ``[N] line``."""
    for h in result.rows:
        yield f"[{h.number}] {h.line}"


def error_line(word: str, message: str) -> str:
    """Return a command's error message as the line the user sees: ``"word: message"``,
    ``word`` being the command as typed (an alias of it stays as typed). Commands and
    kernel helpers never name themselves in their messages; this is the one place that
    does."""
    return f"{word}: {message}"


def render(result: Result, fmt: str) -> Iterable[str]:
    """Yield ``result`` as text in ``fmt``: ``crash`` (crash's text, a line at a time,
    so long outputs are never held whole) or ``json`` (one document)."""
    if fmt == "json":
        import json

        doc = {"command": result.name, "rows": result.to_data(), "errors": result.errors}
        yield json.dumps(doc) + "\n"
        return
    for line in result.lines():
        yield line + "\n"


def deliver(chunks: Iterable[str], pipeline: Pipeline, out: TextIO) -> None:
    """Write the text to the pipeline's shell command, its file, or ``out``. A file
    (``> file``) is replaced only once all of it is written (:mod:`pycrash.outfile`): a
    full disk leaves no partial file, and raises :class:`OSError`."""
    from pycrash import outfile

    if pipeline.pipe is not None:
        proc = subprocess.run(
            pipeline.pipe, shell=True, input="".join(chunks), text=True,
            stdout=subprocess.PIPE,
        )
        chunks = [proc.stdout or ""]
        if not pipeline.outfile:
            out.writelines(chunks)
    if pipeline.outfile:
        if pipeline.append:
            outfile.append(pipeline.outfile, chunks)
        else:
            outfile.write_atomically(pipeline.outfile, chunks)
    elif pipeline.pipe is None:
        out.writelines(chunks)
    out.flush()


def shell_escape(command: str) -> None:
    """Run ``command`` with the user's shell (``$SHELL``), or start that shell when empty."""
    shell = os.environ.get("SHELL", "/bin/sh")
    try:
        subprocess.run(command if command else shell, shell=bool(command), check=False,
                       executable=shell if command else None)
    except KeyboardInterrupt:
        sys.stdout.write("\n")


@dataclass
class _Line:
    """Where the line being run sends its output: ``out`` (None: stdout, or the pager),
    ``err`` (None: stderr), and, for :meth:`Interpreter.results`, the list that keeps
    the Results."""

    out: TextIO | None = None
    err: TextIO | None = None
    kept: list[Result] | None = None


class Interpreter:
    """Runs crash command lines over one session, with its own :class:`State`.

    ``debug`` shows tracebacks of internal errors; ``prompt`` is what ``r`` echoes
    before the line it recalls; ``pager``, when given, shows each command's output
    whose line has no ``out`` (the shell's pager and colours) and returns False
    when Ctrl-C stopped it.
    """

    def __init__(self, session: Session, *, debug: bool = False, prompt: str = "crash> ",
                 pager: Callable[[str], bool] | None = None) -> None:
        self.session = session
        self.state = State()
        self.debug = debug
        self.prompt = prompt
        self.pager = pager
        #: a quit word was run: the caller should read no more lines.
        self.finished = False
        self._failures = 0
        self._line = _Line()
        session.interpreter = self

    # -- one command, as a Result ---------------------------------------------

    def run(self, text: str) -> Result:
        """Run one command (a user alias expanded; no ``;``, pipe or redirection) and
        return its Result. Raises :class:`PycrashError` (and whatever the command
        raised) instead of reporting it."""
        text = self.state.expand_alias(text)
        word, _, rest = text.strip().partition(" ")
        if word == HISTORY_WORD:
            return Result([HistoryLine(i, line)
                           for i, line in enumerate(self.state.history, 1)],
                          render=_render_history)
        if word == RECALL_WORD:
            again = self.state.recall(rest.strip())
            if again is None:
                raise CommandError(f"no such command in the history: {rest.strip()}")
            commands = split_commands(again)
            if len(commands) != 1 or commands[0].split(None, 1)[0] == RECALL_WORD:
                raise CommandError(f"cannot run again as one command: {again}")
            return self.run(commands[0])
        return self._call(text)

    def _call(self, text: str) -> Result:
        """Find the command ``text`` names, parse its arguments, run it; return its Result."""
        registry = self.session.registry
        word, _, rest = text.strip().partition(" ")
        if word in ("p/x", "p/d"):  # gdb's print format, as crash passes it to gdb
            word, rest = "p", f"{word[1:]} {rest}"
            text = f"{word} {rest}"
        cmd = registry.find(word) if word else None
        if cmd is not None and cmd.raw:  # its argument is the rest of the line, verbatim
            args = argparse.Namespace(text=rest.strip())
        else:
            try:
                argv = shlex.split(text, posix=True)
            except ValueError as exc:
                raise CommandError(f"cannot parse {text!r}: {exc}") from None
            if not argv:
                return Result([])
            cmd = registry.lookup(argv[0])
            args = cmd.parse(argv[1:])
        self.session.take_notes()  # a failed command's notes are not this one's
        result = cmd.func(self.session, args)
        result.name = cmd.name
        for message in self.session.take_notes():  # broken kernel lists it walked
            if message not in result.errors:
                result.errors.append(message)
        return result

    # -- lines ------------------------------------------------------------------

    def run_line(self, line: str, out: TextIO | None = None, err: TextIO | None = None) -> bool:
        """Run one input line; return False if a command of it failed.

        Output goes to ``out`` (by default stdout, or the pager command by command),
        errors to ``err`` (stderr). After a quit word :attr:`finished` is set. On
        Ctrl-C the command reports ``NAME: interrupted``, the rest of the line is
        dropped and KeyboardInterrupt is raised again: the shell goes back to its
        prompt, ``-x`` ends.
        """
        return self._run(lambda: self._interpret(line.strip()), _Line(out, err))

    def results(self, line: str, out: TextIO | None = None,
                err: TextIO | None = None) -> list[Result]:
        """Run ``line`` as :meth:`run_line` does, but return the Results of the commands
        whose output has no pipe or file to go to instead of writing them (Jupyter)."""
        kept: list[Result] = []
        self._run(lambda: self._interpret(line.strip()), _Line(out, err, kept))
        return kept

    def _run(self, body: Callable[[], None], where: _Line) -> bool:
        """Run ``body`` with the output going ``where``; return False if a command failed."""
        before, saved = self._failures, self._line
        self._line = where
        try:
            body()
        finally:
            self._line = saved
        return self._failures == before

    def _interpret(self, line: str) -> None:
        """Run one stripped line: ``!``, ``<``, ``r``, or its ``;``-separated commands."""
        if not line:
            return
        if line.startswith("!"):
            shell_escape(line[1:].strip())
            return
        if line.startswith("<"):
            self._file(Path(line[1:].strip()).expanduser())
            return
        word, _, rest = line.partition(" ")
        if word == RECALL_WORD:
            again = self.state.recall(rest.strip())
            if again is None:
                self._fail(f"r: no such command in the history: {rest.strip()}")
                return
            self._stdout().write(f"{self.prompt}{again}\n")
            line = again
        self.state.history.append(line)
        for text in split_commands(line):
            if text in QUIT_WORDS:
                self.finished = True
                return
            word, _, rest = text.partition(" ")
            if word == RECALL_WORD:  # r after ';': the recalled line's commands, here
                again = self.state.recall(rest.strip())
                if again is None or any(t.split(None, 1)[0] == RECALL_WORD
                                        for t in split_commands(again) if t):
                    self._fail(f"r: no such command in the history: {rest.strip()}"
                               if again is None else f"r: {again}: recalls a line again")
                    continue
                self._stdout().write(f"{self.prompt}{again}\n")
                for recalled in split_commands(again):
                    if recalled in QUIT_WORDS:
                        self.finished = True
                        return
                    self.run_command(recalled)
                continue
            self.run_command(text)

    def _file(self, path: Path) -> None:
        """Run the command lines of ``path`` until one is a quit word."""
        from pycrash.shell.rc import commands_of

        try:
            lines = commands_of(path)
        except OSError as exc:
            self._fail(f"{path}: {exc.strerror or exc}")
            return
        for line in lines:
            self._interpret(line)
            if self.finished:
                return

    # -- one command of a line --------------------------------------------------

    def run_command(self, text: str) -> bool:
        """Run one command of the line being run (``;`` already split off), with its
        alias, pipe and redirection, its output going where the line's goes; return
        False if it failed. ``repeat`` calls it for each round."""
        pipeline = parse_pipeline(self.state.expand_alias(text))
        word = pipeline.command.split(None, 1)[0] if pipeline.command else ""
        buffer = io.StringIO() if self._line.out is None and self.pager is not None else None
        ok = self._execute(word, pipeline, buffer if buffer is not None else self._stdout())
        if buffer is not None and self.pager is not None and not self.pager(buffer.getvalue()):
            sys.stdout.write("\n")  # Ctrl-C while the output was shown
            self._stderr().write(f"{word}: interrupted\n")
            self._failures += 1
            raise KeyboardInterrupt
        if not ok:
            self._failures += 1
        return ok

    def _execute(self, word: str, pipeline: Pipeline, out: TextIO) -> bool:
        """Run the command of ``pipeline`` (typed as ``word``) and deliver its output;
        return False if it failed, after writing why to the line's ``err``."""
        err = self._stderr()
        try:
            if word == HISTORY_WORD:
                deliver(self._history(), pipeline, out)
                return True
            result = self._call(pipeline.command)
            kept = self._line.kept
            if kept is not None and pipeline.pipe is None and pipeline.outfile is None:
                kept.append(result)
            else:
                fmt = str(self.state.settings.get("output", "crash"))
                deliver(render(result, fmt), pipeline, out)
            for msg in result.errors:
                err.write(error_line(word, msg) + "\n")
            return not result.errors
        except PycrashError as exc:
            err.write(error_line(word, str(exc)) + "\n")
        except KeyboardInterrupt:
            err.write(f"{word}: interrupted\n")
            err.flush()
            self._failures += 1
            raise  # Ctrl-C stops the rest of the line too
        except BrokenPipeError:
            return True
        except OSError as exc:  # a file of the redirection: its name, and why
            where = pipeline.outfile or exc.filename or ""
            err.write(f"{word}: {where}{': ' if where else ''}{exc.strerror or exc}\n")
        except Exception as exc:  # any bug in a command ends that command only
            if self.debug:
                traceback.print_exc(file=err)
            err.write(f"{word}: {self._describe(exc)}\n")
        err.flush()
        return False

    def _describe(self, exc: BaseException) -> str:
        """Return the one line that tells what an unexpected exception was."""
        from drgn import FaultError

        from pycrash.errors import describe

        if isinstance(exc, FaultError):
            return f"cannot read memory at {exc.address:#x}: {self.session.explain_fault(exc)}"
        from pycrash.kernel.nodebug import NoTypeError

        if isinstance(exc, NoTypeError):  # a session without DWARF lacks a global's type
            return str(exc.args[0])
        return describe(exc)

    def _history(self) -> Iterator[str]:
        """Yield crash's ``h`` lines: ``[N] line`` for each line run."""
        for i, line in enumerate(self.state.history, 1):
            yield f"[{i}] {line}\n"

    def _stdout(self) -> TextIO:
        return self._line.out if self._line.out is not None else sys.stdout

    def _stderr(self) -> TextIO:
        return self._line.err if self._line.err is not None else sys.stderr

    def _fail(self, message: str) -> None:
        """Report a failure of the line itself (not of a command) on its ``err``."""
        err = self._stderr()
        err.write(message + "\n")
        err.flush()
        self._failures += 1
