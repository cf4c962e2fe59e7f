"""IPython magics: ``%load_ext pycrash``, ``%pycrash open``, ``%crash CMD`` and ``%%crash``.

The opened session is ``session`` in the notebook, and its drgn Program ``prog``.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from pycrash.errors import PycrashError
from pycrash.html import Results


class CrashMagics:
    """The magics, bound to one IPython shell."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    def _session(self) -> Any:
        session = self.shell.user_ns.get("session")
        from pycrash.session import Session

        if not isinstance(session, Session):
            raise PycrashError("no dump is open: %pycrash open VMCORE [VMLINUX]")
        return session

    def pycrash(self, line: str) -> Any:
        """``%pycrash open VMCORE [VMLINUX] [name=value ...]``: open a dump as ``session``."""
        words = shlex.split(line)
        if not words or words[0] != "open" or len(words) < 2:
            print("usage: %pycrash open VMCORE [VMLINUX] [force=1] [zero_excluded=1]")
            return None
        files = [w for w in words[1:] if "=" not in w]
        opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        name = opts.pop("session", "session")
        options: dict[str, Any] = {k: v not in ("0", "false", "False", "")
                                   for k, v in opts.items()}
        import pycrash

        try:
            session = pycrash.open(files, **options)
        except PycrashError as exc:
            print(f"pycrash: {exc}")
            return None
        self.shell.user_ns[name] = session
        self.shell.user_ns["prog"] = session.prog
        print(f"pycrash: {session.target.dumpfile_label} with {session.target.vmlinux} "
              f"(release {session.target.release}) as {name!r}")
        return None

    def crash(self, line: str, cell: str | None = None) -> Any:
        """``%crash CMD`` returns the command's Result (several for ``a; b``); ``%%crash``
        runs each line of the cell and returns all the Results. They run as the shell
        runs lines (the session's interpreter); errors print as one line each."""
        try:
            interpreter = self._session().interpreter
        except PycrashError as exc:
            print(str(exc))
            return None
        if cell is None:
            results = interpreter.results(line, err=sys.stdout)
            if len(results) == 1:
                return results[0]
            return Results(results) if results else None
        out = Results()
        for raw in cell.splitlines():
            out.extend(interpreter.results(raw, err=sys.stdout))
        return out


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%pycrash``, ``%crash`` and ``%%crash``."""
    m = CrashMagics(ipython)
    ipython.register_magic_function(m.pycrash, "line", "pycrash")
    ipython.register_magic_function(m.crash, "line_cell", "crash")
