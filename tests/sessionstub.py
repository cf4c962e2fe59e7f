"""A session with no kernel and a few stub commands (this module's own, registered as a
plugin would be): what the interpreter's and repeat's tests run without a dump. The
``interp`` fixture (tests/conftest.py) is an interpreter over it."""

from __future__ import annotations

import argparse
import io
import sys
from types import SimpleNamespace

from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.interpreter import Interpreter
from pycrash.registry import Registry
from pycrash.session import Session


@command("say", summary="print the words", synopsis="say [-u] words...",
         arguments=(arg("-u", dest="upper", action="store_true"), arg("words", nargs="*")))
def say(session: Session, args: argparse.Namespace) -> Result:
    """Return the words, one row (upper case with -u)."""
    text = " ".join(args.words)
    return Result([text.upper() if args.upper else text])


@command("raw", summary="print the rest of the line", synopsis="raw text", raw=True)
def raw(session: Session, args: argparse.Namespace) -> Result:
    """Return the argument text as it was typed."""
    return Result([args.text])


@command("fail", summary="fail", synopsis="fail [message]", arguments=(arg("words", nargs="*"),))
def fail(session: Session, args: argparse.Namespace) -> Result:
    """Raise a CommandError with the words."""
    raise CommandError(" ".join(args.words) or "it failed")


@command("items", summary="rows and per-item errors", synopsis="items",
         aliases=("its",))
def items(session: Session, args: argparse.Namespace) -> Result:
    """Return two rows and two per-item errors, one already prefixed with the name."""
    return Result(["one", "two"], errors=["3: no such item", "4: no such item"])


@command("boom", summary="a bug", synopsis="boom")
def boom(session: Session, args: argparse.Namespace) -> Result:
    """Raise an unexpected exception."""
    raise RuntimeError("kaput")


@command("stop", summary="Ctrl-C", synopsis="stop")
def stop(session: Session, args: argparse.Namespace) -> Result:
    """Raise KeyboardInterrupt, as Ctrl-C does."""
    raise KeyboardInterrupt


@command("count", summary="count the calls", synopsis="count [limit]",
         arguments=(arg("limit", nargs="?", type=int),))
def count(session: Session, args: argparse.Namespace) -> Result:
    """Return the call's number; fail once it passes the limit."""
    session.calls = getattr(session, "calls", 0) + 1  # type: ignore[attr-defined]
    if args.limit is not None and session.calls > args.limit:  # type: ignore[attr-defined]
        raise CommandError("limit reached")
    return Result([session.calls])  # type: ignore[attr-defined]


class StubSession(Session):
    """A Session with no program: the interpreter and these commands need none."""

    live = False  # type: ignore[assignment]

    def __init__(self, live: bool = False) -> None:
        reg = Registry()
        reg.register_module(sys.modules[__name__])
        super().__init__(None, SimpleNamespace(vmlinux=None), reg)  # type: ignore[arg-type]
        self.live = live


def run(interp: Interpreter, line: str) -> tuple[bool, str, str]:
    """Run a line; return whether it succeeded, its output and its errors."""
    out, err = io.StringIO(), io.StringIO()
    ok = interp.run_line(line, out=out, err=err)
    return ok, out.getvalue(), err.getvalue()
