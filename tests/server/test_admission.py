"""The node's session slots, without an event loop."""

from __future__ import annotations

import pytest

from openlive.server.admission import Admission


def test_slots_are_taken_up_to_the_capacity_and_given_back() -> None:
    admission = Admission(2)
    assert admission.take() and admission.take()
    assert admission.full
    assert not admission.take()
    assert (admission.held, admission.refused) == (2, 1)
    admission.give_back()
    assert not admission.full
    assert admission.take()
    assert (admission.held, admission.refused) == (2, 1)


def test_no_capacity_means_no_limit() -> None:
    admission = Admission(None)
    assert all(admission.take() for _ in range(1000))
    assert not admission.full and admission.refused == 0


def test_a_capacity_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Admission(0)


def test_a_slot_cannot_be_given_back_twice() -> None:
    admission = Admission(1)
    with pytest.raises(AssertionError):
        admission.give_back()


def test_each_key_holds_at_most_its_share() -> None:
    admission = Admission(4, per_key=2)
    for _ in range(2):
        assert admission.take() and admission.take_for("a")
    assert admission.take() and not admission.take_for("a")  # a third on the same key
    admission.give_back()
    assert admission.refused == 1
    assert admission.take() and admission.take_for("b")  # another key still gets in
    admission.give_back_for("a")
    assert admission.take_for("a")  # and "a" again once one of its sessions ended
    assert dict(admission.by_key) == {"a": 2, "b": 1}


def test_without_a_share_any_key_may_take_every_slot() -> None:
    admission = Admission(3)
    assert all(admission.take() and admission.take_for("a") for _ in range(3))
    admission.give_back_for("a")
    assert admission.by_key["a"] == 2
