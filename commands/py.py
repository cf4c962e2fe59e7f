"""py: a Python prompt, or one Python line, with the session's objects in scope."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.records import Prose
from pycrash.session import Session


@dataclass(frozen=True)
class PyOutput:
    """What one ``py`` line printed, and the repr of its value (for an expression)."""

    output: Prose
    value: Prose | None


def namespace(session: Session) -> dict[str, Any]:
    """Return the session's persistent Python namespace: prog, session, drgn and its helpers."""
    ns: dict[str, Any] | None = session._cache.get("py_namespace")
    if ns is None:
        import drgn
        import drgn.helpers.linux as linux_helpers

        ns = {name: getattr(linux_helpers, name) for name in linux_helpers.__all__}
        ns.update(prog=session.prog, session=session, drgn=drgn, Object=drgn.Object,
                  run=session.run)
        session._cache["py_namespace"] = ns
    return ns


def render(result: Result) -> Iterable[str]:
    """What the Python line printed, then its value's repr."""
    for row in result.rows:
        if row.output:
            yield from row.output.rstrip("\n").split("\n")
        if row.value is not None:
            yield row.value


@command(
    "py",
    records=(PyOutput,),
    summary="Python prompt with the session in scope",
    synopsis="py [python statement or expression]",
    description="""
With no argument, opens an interactive Python prompt whose namespace holds
prog (the drgn Program), session (the pycrash Session), run (session.run)
and drgn's Linux helpers; Ctrl-D returns to crash>. With text, runs it as
one line of Python in the same namespace and shows what it printed and the
value of an expression.
""",
    examples="""
crash> py prog["jiffies"]
crash> py len(list(for_each_task(prog)))
crash> py
>>> task = find_task(prog, 1)
""",
    raw=True,
)
def py(session: Session, args: argparse.Namespace) -> Result:
    """Return one :class:`PyOutput`, or nothing after an interactive prompt."""
    ns = namespace(session)
    source = args.text
    if not source:
        import code

        code.interact(banner="pycrash Python: prog, session, run, drgn helpers; Ctrl-D returns",
                      local=ns, exitmsg="")
        return Result([])
    buf = io.StringIO()
    value = None
    try:
        with contextlib.redirect_stdout(buf):
            try:
                compiled = compile(source, "<py>", "eval")
            except SyntaxError:
                exec(compile(source, "<py>", "exec"), ns)
            else:
                result = eval(compiled, ns)
                if result is not None:
                    value = repr(result)
                    ns["_"] = result
    except Exception as exc:
        raise CommandError(f"{type(exc).__name__}: {exc}") from None
    return Result([PyOutput(buf.getvalue(), value)], render=render)
