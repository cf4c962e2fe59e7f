"""The fast tier's guard (tests/conftest.py): a test marked fast that asks for a dump
fixture, or reaches the fixture builder, fails with a message and builds nothing."""

from __future__ import annotations

import pytest
from conftest import ROOT

pytestmark = pytest.mark.fast

FAST_TESTS = '''
import pytest
from conftest import fixture_dump

pytestmark = pytest.mark.fast


def test_asks_for_the_dump(dump):
    pass


def test_asks_for_a_session(session):
    pass


def test_builds_a_fixture():
    fixture_dump("zoo-oops")


def test_needs_nothing():
    pass
'''


def test_a_fast_test_cannot_reach_a_dump(pytester: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    fast: needs no dump\n")
    pytester.makepyfile(test_guarded=FAST_TESTS)
    monkeypatch.setenv("PYCRASH_FIXTURES", str(pytester.path / "no-fixtures"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=2)
    result.stdout.fnmatch_lines([
        "*test_asks_for_the_dump is marked fast but uses the real-dump fixture dump:*",
        "*test_asks_for_a_session is marked fast but uses the real-dump fixture dump, "
        "session:*",
        "*test_builds_a_fixture is marked fast but opens a real-dump fixture*",
    ])
    assert not (pytester.path / "no-fixtures").exists()
