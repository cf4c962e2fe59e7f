"""Bad input to each command is one line on stderr and a non-zero exit (the real dump)."""

from __future__ import annotations

import pytest
from conftest import Dump, assert_one_line_error, pycrash


@pytest.mark.parametrize("cmd,message", [
    ("files 99999", "files: invalid task or pid value: 99999"),
    ("vm 99999", "vm: invalid task or pid value: 99999"),
    ("task nosuchtask", "task: no task named 'nosuchtask'"),
    ("kmem -S nosuch", "kmem: invalid slab cache: nosuch"),
    ("kmem -p zzz", "kmem: "),
    ("runq -c 9", "runq: invalid cpu: 9"),
    ("mod -s nosuch", "mod: cannot find a debuginfo file for nosuch"),
    ("mod -s nosuch /etc/passwd", "mod: module not loaded: nosuch"),
    ("bt -c 9", "bt: invalid cpu: 9"),
    ("foreach 'zz.*' bt", "foreach: no task matches"),
    ("p init_task.nosuch", "no member named 'nosuch'"),
    ("p (1 +", "invalid expression"),
    ("p nosuchsymbol", 'no symbol "nosuchsymbol"'),
    ("struct nosuchtype", "invalid data structure reference: nosuchtype"),
    ("whatis nosuchthing", "not a symbol or type"),
    ("sym 1", "no symbol contains this address"),
    ("rd 10", "invalid kernel virtual address: 10"),
    ("dis 10", "dis: cannot read memory at 10"),
    ("list 10", "invalid next pointer 10"),
    ("search zzz", "invalid value or symbol: zzz"),
    ("eval 1/0", "division by zero"),
])
def test_bad_input_is_one_line(dump: Dump, cmd: str, message: str) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
    assert_one_line_error(run, message)
    assert run.err.count("\n") == 1
