"""Session resumption as data, without an event loop: the snapshot's JSON layout, what a
resuming setup may change, and the goAway and sessionResumptionUpdate messages."""

from __future__ import annotations

import json

import pytest

from openlive.protocol import codec
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import Setup
from openlive.protocol.resumption import (
    SNAPSHOT_VERSION,
    CallRecord,
    HistoryEntry,
    PendingCallRecord,
    ResultRecord,
    Snapshot,
    SnapshotError,
    duration,
    go_away,
    not_resumable,
    resumable,
    resumed_setup,
    storable_setup,
)

SETUP = Setup.model_validate(
    {
        "model": "models/gemini-live-2.5-flash-preview",
        "generationConfig": {"responseModalities": ["TEXT"], "temperature": 0.3},
        "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "user"},
        "tools": [{"functionDeclarations": [{"name": "get_weather", "behavior": "NON_BLOCKING"}]}],
        "sessionResumption": {},
    }
)

CALL = CallRecord("fc-1", "get_weather", {"city": "Paris"})
SNAPSHOT = Snapshot(
    setup=SETUP,
    history=(
        HistoryEntry("user", "Weather in Paris? Ünïcode too."),
        HistoryEntry("assistant", "", calls=(CALL,)),
        HistoryEntry("tool", "warm", result=ResultRecord("fc-1", "get_weather", {"output": "sun"})),
        HistoryEntry("assistant", "Sunny."),
    ),
    pending=(PendingCallRecord(CallRecord("fc-2", "get_weather", {"city": "Rome"}), False),),
    last_consumed_client_message_index=7,
    elapsed=312.5,
    video=True,
    owner="0123456789abcdef",
    session_id="5f0c9a1e-6f1d-4c39-9f43-2a7b9b1f8e10",
)


def test_a_snapshot_survives_its_json() -> None:
    text = SNAPSHOT.encode()
    assert Snapshot.decode(text) == SNAPSHOT
    raw = json.loads(text)
    assert raw["version"] == SNAPSHOT_VERSION
    assert raw["setup"]["generationConfig"]["temperature"] == 0.3
    assert raw["lastConsumedClientMessageIndex"] == 7
    assert (raw["elapsedSeconds"], raw["video"]) == (312.5, True)
    assert raw["owner"] == "0123456789abcdef"
    assert raw["sessionId"] == "5f0c9a1e-6f1d-4c39-9f43-2a7b9b1f8e10"
    assert raw["history"][2]["text"] == "warm", "a result keeps the text of its parts"


def test_a_snapshot_of_older_code_has_no_clock_no_owner_and_no_id() -> None:
    raw = json.loads(SNAPSHOT.encode())
    del raw["elapsedSeconds"], raw["video"], raw["owner"], raw["sessionId"]
    decoded = Snapshot.decode(json.dumps(raw))
    assert (decoded.elapsed, decoded.video, decoded.owner) == (0.0, False, "")
    assert decoded.session_id == "", "the resumed session gets a new id"


def test_an_empty_history_survives_too() -> None:
    empty = Snapshot(setup=Setup(model="models/x"))
    assert Snapshot.decode(empty.encode()) == empty


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw.update(version=SNAPSHOT_VERSION + 1),
        lambda raw: raw.pop("version"),
        lambda raw: raw.pop("setup"),
        lambda raw: raw.update(setup={"model": "m", "unknownField": 1}),
        lambda raw: raw.update(history=[{"role": "wizard", "text": "x"}]),
        lambda raw: raw.update(history=[{"role": "user"}]),
        lambda raw: raw.update(history={"role": "user"}),
        lambda raw: raw.update(pending=[{"id": "a", "name": "f", "args": []}]),
        lambda raw: raw.update(pending=[{"id": "a", "name": "f", "args": {}, "blocking": 1}]),
        lambda raw: raw.update(lastConsumedClientMessageIndex=-1),
        lambda raw: raw.update(lastConsumedClientMessageIndex="3"),
        lambda raw: raw.update(elapsedSeconds=-1),
        lambda raw: raw.update(elapsedSeconds="5"),
        lambda raw: raw.update(video="yes"),
    ],
)
def test_an_unreadable_snapshot_is_refused(mutate: object) -> None:
    raw = json.loads(SNAPSHOT.encode())
    mutate(raw)  # type: ignore[operator]
    with pytest.raises(SnapshotError):
        Snapshot.decode(json.dumps(raw))


@pytest.mark.parametrize("text", ["", "[]", "null", "{", '"x"'])
def test_text_that_is_no_snapshot_is_refused(text: str) -> None:
    with pytest.raises(SnapshotError):
        Snapshot.decode(text)


def test_a_resuming_setup_changes_the_fields_it_sets() -> None:
    new = Setup.model_validate(
        {
            "model": "gemini-live-2.5-flash-preview",  # the same model, without the prefix
            "generationConfig": {"responseModalities": ["TEXT"], "temperature": 0.9},
            "sessionResumption": {"handle": "h"},
        }
    )
    merged = resumed_setup(SETUP, new)
    assert merged.generation_config is not None
    assert merged.generation_config.temperature == 0.9
    assert merged.session_resumption is not None and merged.session_resumption.handle == "h"
    # What the new setup left out is the resumed session's.
    assert merged.system_instruction == SETUP.system_instruction
    assert merged.tools == SETUP.tools
    assert merged.model == SETUP.model


def test_a_resuming_setup_keeps_the_model() -> None:
    new = Setup.model_validate({"model": "models/other", "sessionResumption": {"handle": "h"}})
    with pytest.raises(InvalidArgument, match="keeps its model"):
        resumed_setup(SETUP, new)


def test_a_stored_setup_has_no_handle() -> None:
    resumed = SETUP.model_copy(
        update={
            "session_resumption": Setup.model_validate(
                {"model": "m", "sessionResumption": {"handle": "h", "transparent": True}}
            ).session_resumption
        }
    )
    stored = storable_setup(resumed)
    assert stored.session_resumption is not None
    assert stored.session_resumption.handle is None
    assert stored.session_resumption.transparent is True
    assert storable_setup(SETUP) is SETUP


def test_updates_on_the_wire() -> None:
    assert json.loads(codec.encode(resumable("abc"))) == {
        "sessionResumptionUpdate": {"newHandle": "abc", "resumable": True}
    }
    assert json.loads(codec.encode(resumable("abc", 12))) == {
        "sessionResumptionUpdate": {
            "newHandle": "abc",
            "resumable": True,
            "lastConsumedClientMessageIndex": "12",
        }
    }
    assert json.loads(codec.encode(not_resumable())) == {
        "sessionResumptionUpdate": {"resumable": False}
    }


def test_go_away_on_the_wire() -> None:
    assert json.loads(codec.encode(go_away(50))) == {"goAway": {"timeLeft": "50s"}}


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (10, "10s"), (2.5, "2.5s"), (0.125, "0.125s"), (9.9999, "10s")]
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize("seconds", [-1.0, float("inf"), float("nan")])
def test_no_duration_for_nonsense(seconds: float) -> None:
    with pytest.raises(ValueError):
        duration(seconds)
