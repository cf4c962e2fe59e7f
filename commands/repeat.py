"""repeat: run a command again and again on a live system, until Ctrl-C."""

from __future__ import annotations

import argparse
import time

from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.session import Session


def parse(text: str) -> tuple[float, str]:
    """Return ``(seconds, command)`` of repeat's arguments: a leading ``-N`` is the
    interval (one second when left out). Raises :class:`CommandError` when no
    command is given."""
    words = text.split()
    seconds = 1.0
    if words and words[0].startswith("-") and words[0][1:].replace(".", "", 1).isdigit():
        seconds = float(words[0][1:])
        words = words[1:]
    if not words:
        raise CommandError("no command given")
    return seconds, " ".join(words)


@command(
    "repeat",
    summary="repeat a command",
    synopsis="repeat [-seconds] command",
    raw=True,
    description="""
Runs the command again and again, one second apart or the given number of
seconds apart, until Ctrl-C or until it fails. A dump does not change, so
repeat is for live systems (pycrash --live).
""",
    examples="""
crash> repeat -5 runq
""",
)
def repeat(session: Session, args: argparse.Namespace) -> Result:
    """Return nothing: each round's output goes where the line's output goes."""
    seconds, text = parse(args.text)
    if not session.live:
        raise CommandError("a dump does not change: repeat is for live systems (--live)")
    interpreter = session.interpreter
    while interpreter.run_command(text):
        time.sleep(seconds)
    return Result([])
