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
