"""Syntax highlighting of the input line (pygments): command, flags, numbers, addresses."""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups
from pygments.token import Keyword, Name, Number, Operator, String, Text


class CrashLexer(RegexLexer):
    """Highlights ``cmd -flags args | shell > file`` lines."""

    name = "crash"
    tokens = {
        "root": [
            (r"\s+", Text),
            (r"(!)(.*)", bygroups(Operator, String)),
            (r"[*]?[A-Za-z_?][\w.-]*", Keyword, "args"),
        ],
        "args": [
            (r";", Operator, "#pop"),
            (r"(\|)(.*)", bygroups(Operator, String)),
            (r">>?", Operator),
            (r"\s+", Text),
            (r"--?[A-Za-z][\w-]*", Name.Attribute),
            (r"(0x)?[0-9a-fA-F]{8,16}\b", Number.Hex),
            (r"0x[0-9a-fA-F]+\b", Number.Hex),
            (r"\d+\b", Number.Integer),
            (r"'[^']*'|\"[^\"]*\"", String),
            (r"[^\s;|>]+", Text),
        ],
    }
