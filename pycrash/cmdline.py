"""Split a crash input line into commands, pipes and redirections.

``ps; bt -a | grep foo > out.txt`` is two commands; the second's output goes
through the shell command ``grep foo`` and then to ``out.txt``. Quotes
protect ``;``, ``|`` and ``>``, as in crash.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Words that end the session where a command would stand (crash's q, quit and exit).
QUIT_WORDS = frozenset({"q", "quit", "exit"})


@dataclass(frozen=True)
class Pipeline:
    """One command: its own text, an optional shell pipe and an optional output file."""

    command: str
    pipe: str | None = None
    outfile: str | None = None
    append: bool = False


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` where it is not inside single or double quotes
    (and, for ``>``, not C's ``->`` operator)."""
    parts: list[str] = []
    buf: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            buf.append(ch)
        elif ch == sep and not (sep == ">" and buf and buf[-1] == "-"):
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def split_commands(line: str) -> list[str]:
    """Return the ``;``-separated commands of a line, stripped, empty ones dropped."""
    return [p.strip() for p in _split_unquoted(line, ";") if p.strip()]


def parse_pipeline(text: str) -> Pipeline:
    """Peel ``| shell command`` and ``> file`` / ``>> file`` off one command."""
    pieces = _split_unquoted(text, "|")
    head = pieces[0]
    pipe = "|".join(pieces[1:]).strip() or None
    target = pipe if pipe is not None else head
    outfile, append = None, False
    redir = _split_unquoted(target, ">")
    if len(redir) > 1:
        append = len(redir) > 2 and redir[1] == ""
        outfile = redir[-1].strip() or None
        target = redir[0]
        if pipe is not None:
            pipe = target.strip() or None
        else:
            head = target
    return Pipeline(head.strip(), pipe, outfile, append)
