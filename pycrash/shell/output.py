"""Deliver command output to the terminal: optional colour, and a pager for long output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

_ADDR = re.compile(r"\b[0-9a-f]{16}\b")
_STATE = re.compile(r"(?<=  )(RU|UN|ZO|IN|ID)(?=  )")
_FUNC = re.compile(r"(?<=\] )(\S+)(?= at [0-9a-f]+)")
_STATE_COLOURS = {"RU": "32", "UN": "31;1", "ZO": "35", "IN": "0", "ID": "2"}


def colourize(text: str) -> str:
    """Return ``text`` with ANSI colours on addresses, task states and frame functions."""
    text = _FUNC.sub(lambda m: f"\x1b[33m{m.group(1)}\x1b[0m", text)
    text = _STATE.sub(lambda m: f"\x1b[{_STATE_COLOURS[m.group(1)]}m{m.group(1)}\x1b[0m", text)
    return _ADDR.sub(lambda m: f"\x1b[36m{m.group(0)}\x1b[0m", text)


def pager_command() -> str:
    """Return the pager: ``$PYCRASH_PAGER``, else ``less -F -R -X`` (crash uses less too)."""
    return os.environ.get("PYCRASH_PAGER") or ("less -F -R -X" if shutil.which("less") else "more")


def show(text: str, scroll: bool, colour: bool) -> bool:
    """Write a command's output to the terminal, through the pager when it is long.

    Returns False when Ctrl-C stopped the output (the shell then drops the rest
    of the line), True otherwise.
    """
    if not text:
        return True
    if colour:
        text = colourize(text)
    rows = shutil.get_terminal_size().lines
    if scroll and text.count("\n") >= rows - 1:
        try:
            subprocess.run(pager_command(), shell=True, input=text, text=True, check=False)
        except KeyboardInterrupt:
            return False
        return True
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return False
    return True
