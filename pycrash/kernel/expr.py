"""A small C expression evaluator over drgn objects, for ``p`` and ``eval``.

Not Python's eval: the user's text is tokenized and parsed here, and only
C's operators, kernel globals, casts, member access, subscripts, ``*`` and
``&`` are understood, with ``sizeof`` of a type or an expression and gdb's value
history (``$N``, ``$``, ``$$``, ``$$N``: the values ``p`` printed). ``runqueues:1``
selects CPU 1's instance of a per-CPU variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from drgn import FaultError, Object, Program, Type, TypeKind, cast, sizeof

from pycrash.errors import CommandError

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>0[xX][0-9a-fA-F]+|\d+)[uUlL]*
  | (?P<char>'(?:\\.|[^\\'])')
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<hist>\$\$?\d*)
  | (?P<op>->|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>()\[\].,?:])
""", re.X)

_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]
_TYPE_WORDS = {"struct", "union", "enum", "unsigned", "signed", "char", "short", "int", "long",
               "void", "const", "volatile", "_Bool", "bool"}


@dataclass
class Token:
    """A token: ``kind`` is num, char, id, hist (a value-history reference) or op."""

    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; raise CommandError on anything else."""
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise CommandError(f"invalid expression: unexpected {text[pos:pos + 10]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Token(kind, m.group(kind)))
    return out


class Parser:
    """Recursive descent over the tokens, producing drgn Objects."""

    def __init__(self, prog: Program, tokens: list[Token],
                 history: Mapping[int, Object] | None = None) -> None:
        self.prog = prog
        self.toks = tokens
        self.i = 0
        self.history = history or {}

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self, text: str | None = None) -> Token:
        tok = self.peek()
        if tok is None or (text is not None and tok.text != text):
            want = f"{text!r}" if text else "more"
            raise CommandError(f"invalid expression: expected {want}")
        self.i += 1
        return tok

    def parse(self) -> Object:
        value = self.binary(0)
        if self.peek() is not None:
            raise CommandError(f"invalid expression: unexpected {self.peek().text!r}")  # type: ignore[union-attr]
        return value

    def binary(self, level: int) -> Object:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text in _BINARY[level]:
            self.i += 1
            right = self.binary(level + 1)
            left = _apply(tok.text, left, right)
        return left

    def is_cast(self) -> bool:
        tok, nxt = self.peek(), self.peek(1)
        if tok is None or tok.text != "(" or nxt is None or nxt.kind != "id":
            return False
        if nxt.text in _TYPE_WORDS:
            return True
        after = self.peek(2)
        if after is None or after.text not in (")", "*"):
            return False
        try:
            self.prog.type(nxt.text)
            return True
        except LookupError:
            return False

    def type_name(self) -> Type:
        words = []
        while (tok := self.peek()) is not None and tok.text != ")":
            words.append(tok.text)
            self.i += 1
        self.take(")")
        text = " ".join(words).replace(" *", "*").replace("*", " *").strip()
        try:
            return self.prog.type(text)
        except (LookupError, SyntaxError, ValueError):
            raise CommandError(f"invalid type in cast: {text}") from None

    def unary(self) -> Object:
        tok = self.peek()
        if tok is None:
            raise CommandError("invalid expression: it ends too soon")
        if tok.kind == "id" and tok.text == "sizeof":
            self.i += 1
            if self.is_cast():
                self.take("(")
                size_of = self.type_name()
            else:
                size_of = self.unary().type_
            try:
                return Object(self.prog, "unsigned long", sizeof(size_of))
            except (TypeError, ValueError) as exc:
                raise CommandError(f"invalid sizeof: {exc}") from None
        if tok.kind == "op" and tok.text in ("*", "&", "-", "~", "!", "+"):
            self.i += 1
            operand = self.unary()
            if tok.text == "*":
                return _deref(operand)
            if tok.text == "&":
                try:
                    return operand.address_of_()
                except ValueError:
                    raise CommandError("invalid expression: cannot take that address") from None
            try:
                if tok.text == "!":
                    return Object(operand.prog_, "int", int(not operand.value_()))
                return {"-": lambda o: -o, "~": lambda o: ~o, "+": lambda o: +o}[tok.text](operand)
            except (TypeError, ValueError) as exc:
                raise CommandError(f"invalid operand to {tok.text}: {exc}") from None
        if self.is_cast():
            self.take("(")
            t = self.type_name()
            operand = self.unary()
            try:
                return cast(t, operand)
            except (TypeError, ValueError) as exc:
                raise CommandError(f"invalid cast: {exc}") from None
        return self.postfix()

    def postfix(self) -> Object:
        value = self.primary()
        while (tok := self.peek()) is not None and tok.text in (".", "->", "["):
            self.i += 1
            if tok.text == "[":
                index = self.binary(0)
                self.take("]")
                try:
                    value = value[index.value_()]
                except (TypeError, ValueError) as exc:
                    raise CommandError(f"invalid subscript: {exc}") from None
                continue
            name = self.take().text
            try:
                value = value.member_(name) if tok.text == "." or \
                    value.type_.kind != TypeKind.POINTER else value.member_(name)
            except LookupError:
                raise CommandError(f"no member named {name!r} in "
                                   f"{value.type_.type_name()}") from None
            except (TypeError, ValueError) as exc:
                raise CommandError(f"invalid member access: {exc}") from None
        return value

    def primary(self) -> Object:
        tok = self.take()
        if tok.kind == "num":
            return Object(self.prog, "unsigned long", int(tok.text.rstrip("uUlL"), 0))
        if tok.kind == "char":
            return Object(self.prog, "char", ord(tok.text[1:-1].encode().decode("unicode_escape")))
        if tok.kind == "id":
            try:
                return complete_array(self.prog[tok.text])
            except KeyError as exc:
                from pycrash.kernel.nodebug import NoTypeError

                if isinstance(exc, NoTypeError):  # no DWARF: a global of unknown type
                    raise CommandError(str(exc.args[0])) from None
                raise CommandError(f"no symbol \"{tok.text}\" in current context") from None
        if tok.kind == "hist":
            return history_value(self.history, tok.text)
        if tok.text == "(":
            value = self.binary(0)
            self.take(")")
            return value
        raise CommandError(f"invalid expression: unexpected {tok.text!r}")


def history_value(history: Mapping[int, Object], ref: str) -> Object:
    """Return the value a gdb history reference names: ``$N`` the Nth value printed, ``$``
    the last, ``$$`` the one before it, ``$$N`` the Nth before the last; gdb's words when
    there is no such value."""
    last = max(history, default=0)
    if ref.startswith("$$"):
        number = last - (int(ref[2:]) if len(ref) > 2 else 1)
    elif len(ref) > 1:
        number = int(ref[1:])
    else:
        number = last
    if number in history:
        return history[number]
    if not history:
        raise CommandError("History is empty.")
    if number > last:
        raise CommandError(f"History has not yet reached ${number}.")
    raise CommandError(f"no value ${number} in the history")


def complete_array(obj: Object) -> Object:
    """Return the global ``obj`` with an incomplete array type (``const char linux_banner[]``)
    given the length its ELF symbol's size says, as gdb shows it.

    drgn may find a declaration's DIE before the definition's: which one depends on its
    parallel DWARF index, so without this ``p linux_banner`` printed ``""`` or the banner.
    """
    t = obj.type_
    if t.kind != TypeKind.ARRAY or t.length is not None or obj.address_ is None:
        return obj
    try:
        size = obj.prog_.symbol(obj.address_).size
        elem = sizeof(t.type)
    except (LookupError, ValueError):
        return obj
    if not size or not elem:
        return obj
    whole = obj.prog_.array_type(t.type, size // elem, qualifiers=t.qualifiers)
    return Object(obj.prog_, whole, address=obj.address_)


def _deref(obj: Object) -> Object:
    try:
        return obj[0]
    except (TypeError, ValueError):
        raise CommandError("invalid expression: cannot dereference that") from None


def _apply(op: str, a: Object, b: Object) -> Object:
    import operator

    # drgn's true division of integer Objects is C's integer division
    fns = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
           "%": operator.mod, "<<": operator.lshift, ">>": operator.rshift, "&": operator.and_,
           "|": operator.or_, "^": operator.xor}
    try:
        if op in fns:
            if op == "/" and not b.value_():
                raise CommandError("division by zero")
            return fns[op](a, b)
        av, bv = a.value_(), b.value_()
        result = {"==": av == bv, "!=": av != bv, "<": av < bv, ">": av > bv, "<=": av <= bv,
                  ">=": av >= bv, "&&": bool(av) and bool(bv), "||": bool(av) or bool(bv)}[op]
        return Object(a.prog_, "int", int(result))
    except (TypeError, ValueError) as exc:
        raise CommandError(f"invalid operands to {op}: {exc}") from None


def evaluate(prog: Program, text: str,
             history: Mapping[int, Object] | None = None) -> tuple[Object, str | None]:
    """Evaluate ``text``; return the Object and, for a plain symbol, its name.

    ``name:cpu`` gives that CPU's instance of a per-CPU variable; ``history`` holds the
    values ``$N`` names (p's, by number).
    """
    m = re.fullmatch(r"\s*(.*?)\s*:\s*(\d+)\s*", text)
    cpu = None
    if m and ":" not in m.group(1) and "?" not in m.group(1):
        text, cpu = m.group(1), int(m.group(2))
    tokens = tokenize(text)
    if not tokens:
        raise CommandError("no expression given")
    try:
        value = Parser(prog, tokens, history).parse()
    except FaultError as exc:
        raise CommandError(f"cannot read memory at {exc.address:#x}") from None
    if cpu is not None:
        from drgn.helpers.linux.percpu import per_cpu

        try:
            value = per_cpu(value, cpu)
        except (TypeError, ValueError, FaultError) as exc:
            raise CommandError(f"{text}: not a per-CPU variable of CPU {cpu}: {exc}") from None
    simple = tokens[0].text if len(tokens) == 1 and tokens[0].kind == "id" else None
    return value, simple
