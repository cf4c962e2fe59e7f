"""The syntax of a command line: ';' splitting, pipes and redirections (no dump)."""

from __future__ import annotations

import pytest

from pycrash.cmdline import Pipeline, parse_pipeline, split_commands

pytestmark = pytest.mark.fast


def test_split_commands_respects_quotes() -> None:
    assert split_commands("ps; bt -a ;; log") == ["ps", "bt -a", "log"]
    assert split_commands("foreach 'a;b' bt; sys") == ["foreach 'a;b' bt", "sys"]


@pytest.mark.parametrize("text,expected", [
    ("ps", Pipeline("ps")),
    ("ps | grep pcfix", Pipeline("ps", "grep pcfix")),
    ("log > out.txt", Pipeline("log", None, "out.txt")),
    ("log >> out.txt", Pipeline("log", None, "out.txt", True)),
    ("bt -a | grep -c '#' > n.txt", Pipeline("bt -a", "grep -c '#'", "n.txt")),
    ('ps | grep "a|b"', Pipeline("ps", 'grep "a|b"')),
])
def test_parse_pipeline(text: str, expected: Pipeline) -> None:
    assert parse_pipeline(text) == expected


def test_arrow_is_not_a_redirection() -> None:
    assert parse_pipeline("p ((struct task_struct *)&init_task)->pid") == \
        Pipeline("p ((struct task_struct *)&init_task)->pid")
    assert parse_pipeline("p a->b > out") == Pipeline("p a->b", None, "out")
