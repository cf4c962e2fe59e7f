"""Tab completion for crash command lines.

Command names and aliases first; then, by command, its flags, kernel
symbols, struct/union names and ``type.member`` paths, pids and task names;
file names after ``>``. Wrapped in a ThreadedCompleter by the shell, so a
slow source never freezes the prompt.
"""

from __future__ import annotations

from collections.abc import Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from pycrash.cmdline import _split_unquoted
from pycrash.interpreter import HISTORY_WORD, RECALL_WORD
from pycrash.session import Session
from pycrash.shell.names import NameIndex, prefixed

#: Commands whose first argument is a type, and the type keywords to try.
TYPE_COMMANDS = {"struct": ("struct",), "union": ("union",), "*": ("struct", "union"),
                 "whatis": ("struct", "union")}
#: Commands whose arguments are kernel symbols.
SYMBOL_COMMANDS = {"sym", "dis", "rd", "p", "px", "pd", "whatis", "list", "tree", "kmem"}
#: Commands whose arguments are tasks.
TASK_COMMANDS = {"ps", "bt", "set", "foreach", "task", "files", "vm", "sig"}
#: Words the interpreter understands that are not commands (the registry's names
#: include the quit words).
SHELL_WORDS = (HISTORY_WORD, RECALL_WORD)


class CrashCompleter(Completer):
    """Completes pycrash command lines against one session."""

    def __init__(self, session: Session, index: NameIndex) -> None:
        self.session = session
        self.index = index
        self.paths = PathCompleter(expanduser=True)

    def _command_names(self) -> list[str]:
        reg = self.session.registry
        names = set(reg.names()) | set(SHELL_WORDS) | set(self.session.state.aliases)
        return sorted(names)

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        current = _split_unquoted(text, ";")[-1]
        if ">" in current:
            target = current.rsplit(">", 1)[1].lstrip()
            yield from self.paths.get_completions(Document(target, len(target)), complete_event)
            return
        if "|" in current:
            return
        words = current.split()
        partial = "" if current.endswith((" ", "\t")) or not words else words[-1]
        if len(words) == 0 or (len(words) == 1 and partial):
            for name in self._command_names():
                if name.startswith(partial):
                    yield Completion(name, -len(partial))
            return
        cmd_name = words[0]
        if cmd_name.startswith("*") and cmd_name != "*":  # "*task_struct" form
            cmd_name, words = "*", ["*", cmd_name[1:], *words[1:]]
        yield from self._arguments(cmd_name, words, partial)

    def _arguments(self, cmd_name: str, words: list[str], partial: str) -> Iterable[Completion]:
        reg = self.session.registry
        name = self.session.state.aliases.get(cmd_name, cmd_name)
        try:
            cmd = reg.lookup(name)
        except Exception:
            return
        if partial.startswith("-"):
            for a in cmd.arguments:
                for flag in a.names:
                    if flag.startswith("-") and flag.startswith(partial):
                        yield Completion(flag, -len(partial), display_meta=a.options.get("help"))
            return
        positional = [w for w in words[1:] if not w.startswith("-")]
        if partial:
            positional = positional[:-1]
        if cmd.name in TYPE_COMMANDS and not positional:
            keywords = TYPE_COMMANDS[cmd.name]
            if "." in partial:
                # struct task_struct.se.vrun / struct task_struct.pid,com
                type_name, _, members = partial.partition(".")
                done, _, last = members.rpartition(",")
                path = f"{type_name}.{last}"
                head = partial[: len(partial) - len(last.rpartition(".")[2])]
                for member in self.index.members(keywords, path):
                    if member.startswith(last.rpartition(".")[2]):
                        yield Completion(head + member, -len(partial), display=member)
                return
            # shortest first: "task_s" offers task_struct before task_security_struct
            for t in sorted(self.index.type_names(keywords, partial), key=lambda n: (len(n), n)):
                yield Completion(t, -len(partial))
            return
        if cmd.name in SYMBOL_COMMANDS or cmd.name in TYPE_COMMANDS:
            if partial:
                found = list(prefixed(self.index.symbols(), partial, limit=500))
                for sym in sorted(found, key=lambda n: (len(n), n))[:200]:
                    yield Completion(sym, -len(partial))
            return
        if cmd.name in TASK_COMMANDS:
            seen = set()
            for pid, comm in self.index.tasks():
                for word, meta in ((pid, comm), (comm, pid)):
                    if word.startswith(partial) and word not in seen:
                        seen.add(word)
                        yield Completion(word, -len(partial), display_meta=meta)
