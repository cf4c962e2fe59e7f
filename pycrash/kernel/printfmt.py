"""A trace event's ``print fmt`` (``trace_event_call.print_fmt``, the text of its
``TP_printk``) evaluated over a recorded entry, as the event's compiled output function
prints it: the format string, then its C arguments over ``REC->field``, ``__get_str()``,
``__print_flags()``, ``__print_symbolic()``, casts, arithmetic, comparisons and ``?:``.

:func:`parse` turns the text into a :class:`PrintFmt` (or raises :class:`FormatError` on
what it does not know); :meth:`PrintFmt.render` formats an entry's fields with it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Value = int | str | bytes
#: what an argument reads: a field's value by name, a dynamic field's bytes by name
Fields = Mapping[str, Value]


class FormatError(ValueError):
    """A print format pycrash cannot evaluate (the caller prints the fields instead)."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<chr>'(?:[^'\\]|\\.)')
  | (?P<num>0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*)
  | (?P<id>[A-Za-z_]\w*)
  | (?P<op>->|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>?:,(){}\[\].])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "0": "\0",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}

#: words that start a type name in a cast
_TYPE_WORDS = frozenset({
    "void", "char", "short", "int", "long", "unsigned", "signed", "const", "volatile",
    "struct", "union", "enum", "bool", "_Bool", "u8", "u16", "u32", "u64", "s8", "s16",
    "s32", "s64", "__u8", "__u16", "__u32", "__u64", "__s8", "__s16", "__s32", "__s64",
    "size_t", "ssize_t", "pid_t", "gfp_t", "dev_t", "loff_t", "sector_t", "uintptr_t",
})


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567":
                m = re.match(r"[0-7]{1,3}", text[i + 1:])
                assert m is not None
                out.append(chr(int(m.group(), 8)))
                i += 1 + len(m.group())
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormatError(f"cannot read the print format at {text[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            out.append((kind, m.group()))
    return out


# An expression is a tree of tuples evaluated by _eval: ("num", n), ("str", s),
# ("field", name), ("call", name, args), ("list", items), ("unary", op, e),
# ("binary", op, a, b), ("cond", c, a, b), ("cast", type words, e)
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.toks = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end" or (value is not None and tok[1] != value):
            raise FormatError(f"expected {value or 'more'} in the print format, "
                              f"found {tok[1] or 'its end'}")
        self.pos += 1
        return tok

    def expr(self) -> Node:
        return self.cond()

    def cond(self) -> Node:
        c = self.binary(0)
        if self.peek()[1] == "?":
            self.take("?")
            a = self.expr()
            self.take(":")
            return ("cond", c, a, self.cond())
        return c

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
        ("<<", ">>"), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self._LEVELS[level]:
            op = self.take()[1]
            left = ("binary", op, left, self.binary(level + 1))
        return left

    def _is_cast(self) -> bool:
        kind, word = self.peek(1)
        return self.peek()[1] == "(" and kind == "id" and (
            word in _TYPE_WORDS or word.endswith("_t"))

    def unary(self) -> Node:
        kind, tok = self.peek()
        if kind == "op" and tok in ("-", "!", "~", "+"):
            self.take()
            return ("unary", tok, self.unary())
        if kind == "op" and tok == "&":
            raise FormatError("the print format takes an address (&)")
        if self._is_cast():
            self.take("(")
            words = []
            while self.peek()[1] != ")":
                words.append(self.take()[1])
            self.take(")")
            return ("cast", tuple(words), self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            tok = self.peek()[1]
            if tok == "->" or tok == ".":
                self.take()
                name = self.take()[1]
                if node != ("id", "REC"):
                    raise FormatError(f"the print format reads {name} of something else")
                node = ("field", name)
            elif tok == "(" and node[0] == "id":
                self.take("(")
                args = []
                while self.peek()[1] != ")":
                    args.append(self.expr())
                    if self.peek()[1] == ",":
                        self.take(",")
                self.take(")")
                node = ("call", node[1], tuple(args))
            elif tok == "[":
                raise FormatError("the print format indexes an array")
            else:
                return node

    def primary(self) -> Node:
        kind, tok = self.take()
        if kind == "num":
            return ("num", int(tok.rstrip("uUlL"), 0))
        if kind == "chr":
            return ("num", ord(_unescape(tok[1:-1])))
        if kind == "str":
            text = _unescape(tok[1:-1])
            while self.peek()[0] == "str":  # adjacent literals join
                text += _unescape(self.take()[1][1:-1])
            return ("str", text)
        if kind == "id":
            return ("id", tok)
        if tok == "(":
            node = self.expr()
            self.take(")")
            return node
        if tok == "{":
            items = []
            while self.peek()[1] != "}":
                items.append(self.expr())
                if self.peek()[1] == ",":
                    self.take(",")
            self.take("}")
            return ("list", tuple(items))
        raise FormatError(f"unexpected {tok!r} in the print format")


@dataclass(frozen=True)
class PrintFmt:
    """A parsed print format: the format string and its argument expressions."""

    fmt: str
    args: tuple[Node, ...]

    def render(self, fields: Fields, symbol: Callable[[int, bool], str]) -> str:
        """The text of an entry whose fields are ``fields`` (``__data_loc`` fields as
        their bytes); ``symbol(addr, offset)`` names an address for %ps (%pS with the
        offset)."""
        values = [_eval(a, fields) for a in self.args]
        return c_format(self.fmt, values, symbol)


def parse(text: str) -> PrintFmt:
    """Parse an event's print format (``"fmt", arg, ...``)."""
    p = _Parser(_tokens(text))
    first = p.expr()
    if first[0] != "str":
        raise FormatError("the print format does not start with a string")
    args = []
    while p.peek()[0] != "end":
        p.take(",")
        args.append(p.expr())
    return PrintFmt(first[1], tuple(args))


_CAST_BITS = {"char": 8, "short": 16, "int": 32, "long": 64, "u8": 8, "s8": 8, "u16": 16,
              "s16": 16, "u32": 32, "s32": 32, "u64": 64, "s64": 64, "bool": 1, "_Bool": 1,
              "__u8": 8, "__s8": 8, "__u16": 16, "__s16": 16, "__u32": 32, "__s32": 32,
              "__u64": 64, "__s64": 64, "pid_t": 32, "size_t": 64}


def _cast(words: tuple[str, ...], value: Value) -> Value:
    if "*" in words or not isinstance(value, int):
        return value
    bits = 64
    for w in words:
        if w in _CAST_BITS:
            bits = _CAST_BITS[w]
    if bits == 1:
        return int(bool(value))
    value &= (1 << bits) - 1
    unsigned = "unsigned" in words or words[-1].startswith(("u", "__u")) or words[-1] in (
        "size_t", "bool")
    if not unsigned and value >> (bits - 1):
        value -= 1 << bits
    return value


def _int(v: Value) -> int:
    if isinstance(v, int):
        return v
    raise FormatError("a string where the print format wants a number")


def _binary(op: str, a: Value, b: Value) -> Value:
    if op in ("==", "!=") and isinstance(a, str) and isinstance(b, str):
        return int((a == b) == (op == "=="))
    x, y = _int(a), _int(b)
    if op in ("/", "%") and y == 0:
        raise FormatError("the print format divides by zero")
    result = {
        "||": lambda: int(bool(x) or bool(y)), "&&": lambda: int(bool(x) and bool(y)),
        "|": lambda: x | y, "^": lambda: x ^ y, "&": lambda: x & y,
        "==": lambda: int(x == y), "!=": lambda: int(x != y), "<": lambda: int(x < y),
        ">": lambda: int(x > y), "<=": lambda: int(x <= y), ">=": lambda: int(x >= y),
        "<<": lambda: (x << y) & ((1 << 64) - 1), ">>": lambda: x >> y,
        "+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
        "/": lambda: int(x / y), "%": lambda: x - int(x / y) * y,
    }[op]
    return result()


def _flags(value: int, delim: str, pairs: list[tuple[int, str]]) -> str:
    """trace_print_flags_seq: each named mask fully set, then what is left in hex."""
    out: list[str] = []
    for mask, name in pairs:
        if not value:
            break
        if value & mask != mask:
            continue
        value &= ~mask
        out.append(name)
    if value:
        out.append(f"0x{value & ((1 << 64) - 1):x}")
    return delim.join(out)


def _pairs(nodes: tuple[Node, ...], fields: Fields) -> list[tuple[int, str]]:
    out = []
    for node in nodes:
        if node[0] != "list" or len(node[1]) != 2:
            raise FormatError("a flag or symbol table entry is not { value, name }")
        out.append((_int(_eval(node[1][0], fields)), str(_eval(node[1][1], fields))))
    return out


def _call(name: str, args: tuple[Node, ...], fields: Fields) -> Value:
    if name in ("__get_str", "__get_rel_str") and len(args) == 1 and args[0][0] == "id":
        raw = fields.get(f"__data__{args[0][1]}")
        if not isinstance(raw, bytes):
            raise FormatError(f"no dynamic field {args[0][1]}")
        return raw.split(b"\0", 1)[0].decode(errors="replace")
    if name == "__print_flags" and len(args) >= 2:
        value = _int(_eval(args[0], fields))
        delim = _eval(args[1], fields)
        return _flags(value, str(delim), _pairs(args[2:], fields))
    if name == "__print_symbolic" and args:
        value = _int(_eval(args[0], fields))
        for mask, text in _pairs(args[1:], fields):
            if mask == value:
                return text
        return f"0x{value & ((1 << 64) - 1):x}"
    raise FormatError(f"the print format calls {name}()")


def _eval(node: Node, fields: Fields) -> Value:
    kind = node[0]
    if kind in ("num", "str"):
        return node[1]
    if kind == "field":
        if node[1] not in fields:
            raise FormatError(f"no field {node[1]}")
        return fields[node[1]]
    if kind == "unary":
        v = _int(_eval(node[2], fields))
        return {"-": -v, "+": v, "!": int(not v), "~": ~v}[node[1]]
    if kind == "binary":
        op = node[1]
        if op in ("&&", "||"):  # short-circuit
            a = _int(_eval(node[2], fields))
            if (op == "&&" and not a) or (op == "||" and a):
                return int(bool(a))
            return int(bool(_int(_eval(node[3], fields))))
        return _binary(op, _eval(node[2], fields), _eval(node[3], fields))
    if kind == "cond":
        return _eval(node[2] if _int(_eval(node[1], fields)) else node[3], fields)
    if kind == "cast":
        return _cast(node[1], _eval(node[2], fields))
    if kind == "call":
        return _call(node[1], node[2], fields)
    raise FormatError(f"cannot evaluate {node[1]!r} in the print format")


_SPEC = re.compile(r"%([-+ #0]*)(\d+|\*)?(?:\.(\d+|\*))?(hh|h|ll|l|z|t|L|j)?"
                   r"([diouxXcspS%])")


def c_format(fmt: str, values: list[Value], symbol: Callable[[int, bool], str]) -> str:
    """``fmt`` formatted with ``values`` as the kernel's vsnprintf does (%d %u %x %o %c
    %s %p, %ps/%pS/%pf/%pF as symbols, widths, precisions and length modifiers)."""
    out: list[str] = []
    pos = last = 0
    it = iter(values)

    def nxt() -> Value:
        try:
            return next(it)
        except StopIteration:
            raise FormatError("the print format has more conversions than arguments") \
                from None

    while True:
        m = _SPEC.search(fmt, pos)
        if m is None:
            break
        out.append(fmt[last:m.start()])
        flags, width, prec, length, conv = m.groups()
        pos = last = m.end()
        if conv == "%":
            out.append("%")
            continue
        if width == "*":
            width = str(_int(nxt()))
        if prec == "*":
            prec = str(_int(nxt()))
        spec = f"%{flags}{width or ''}{'.' + prec if prec is not None else ''}"
        value = nxt()
        if conv == "p":
            ext = re.match(r"[sSfFB]", fmt[pos:pos + 1])
            addr = _int(value) & ((1 << 64) - 1)
            if ext:
                text = symbol(addr, ext.group() in "SB")
                pos = last = pos + 1
            else:
                text = f"0x{addr:x}" if addr else "(null)"
                while pos < len(fmt) and fmt[pos].isalnum():  # %pK, %pI4...: unsupported
                    pos += 1
                last = pos
            out.append(("%" + (flags or "") + (width or "") + "s") % text)
            continue
        if conv == "s":
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            out.append((spec + "s") % text)
            continue
        if conv == "c":
            out.append((spec + "c") % chr(_int(value) & 0xFF))
            continue
        bits = {"hh": 8, "h": 16, "l": 64, "ll": 64, "z": 64, "t": 64, "j": 64,
                "L": 64}.get(length or "", 32)
        v = _int(value) & ((1 << bits) - 1)
        if conv in "di":
            if v >> (bits - 1):
                v -= 1 << bits
            out.append((spec + "d") % v)
        else:
            out.append((spec + ("d" if conv == "u" else conv)) % v)
    out.append(fmt[last:])
    return "".join(out)
