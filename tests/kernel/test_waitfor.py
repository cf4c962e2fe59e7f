"""The wait-for graph over task and lock numbers: chains, their ends, and cycles."""

from __future__ import annotations

import pytest

from pycrash.kernel.waitfor import ChainEnd, chains

pytestmark = pytest.mark.fast


def test_waiters_of_one_holder_each_get_a_chain_to_it() -> None:
    found = chains({1: 10, 2: 10, 3: 10}, {10: 4})
    assert [(c.tasks, c.locks, c.end) for c in found] == [
        ((1, 4), (10,), ChainEnd.FREE), ((2, 4), (10,), ChainEnd.FREE),
        ((3, 4), (10,), ChainEnd.FREE)]


def test_a_chain_is_followed_through_owners_that_wait() -> None:
    (c,) = chains({1: 10, 2: 20}, {10: 2, 20: 3})
    assert (c.tasks, c.locks, c.end) == ((1, 2, 3), (10, 20), ChainEnd.FREE)


def test_abba_is_one_cycle_reported_once() -> None:
    (c,) = chains({1: 10, 2: 20}, {10: 2, 20: 1})
    assert c.end == ChainEnd.CYCLE and set(c.cycle()) == {1, 2} and c.locks == (10, 20)


def test_a_chain_into_a_cycle_names_the_cycle_only() -> None:
    found = chains({5: 10, 1: 20, 2: 30}, {10: 1, 20: 2, 30: 1})
    assert len(found) == 1
    assert found[0].tasks == (5, 1, 2) and found[0].cycle() == (1, 2)


def test_a_lock_without_owner_ends_the_chain() -> None:
    (c,) = chains({1: 10}, {10: None})
    assert c.end == ChainEnd.NO_OWNER and c.tasks == (1,) and c.cycle() == ()


def test_two_separate_cycles() -> None:
    found = chains({1: 10, 2: 20, 3: 30, 4: 40}, {10: 2, 20: 1, 30: 4, 40: 3})
    assert sorted(frozenset(c.cycle()) for c in found) == [frozenset({1, 2}), frozenset({3, 4})]


def test_a_task_waiting_on_a_lock_it_owns_is_a_cycle() -> None:
    (c,) = chains({1: 10}, {10: 1})
    assert c.end == ChainEnd.CYCLE and c.cycle() == (1,)
