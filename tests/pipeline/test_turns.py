"""Turn-taking on scripted VAD probabilities: no loop, no model."""

from __future__ import annotations

import pytest

from openlive.pipeline.turn_end import (
    Reading,
    asks_words,
    finished,
    reading,
    said_finished,
    words_finished,
)
from openlive.pipeline.turns import (
    LEARNED_CHECK_MS,
    LEARNED_LIMIT_MS,
    PauseCheck,
    PauseEnded,
    PauseStarted,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnEvent,
    TurnSettings,
)


def run(probabilities: list[float], settings: TurnSettings | None = None) -> list[TurnEvent]:
    detector = TurnDetector(settings)
    events: list[TurnEvent] = []
    for p in probabilities:
        events += detector.push(p)
    return events + detector.flush()


def frames(ms: int) -> int:
    return ms // 32


SILENCE = [0.01]
SPEECH = [0.95]


def test_a_turn_starts_after_the_prefix_padding_and_ends_after_the_silence() -> None:
    script = SILENCE * 10 + SPEECH * frames(640) + SILENCE * frames(640)
    assert run(script) == [SpeechStarted(10), PauseStarted(30), SpeechEnded(10, 30)]


def test_the_silence_is_counted_to_the_millisecond() -> None:
    detector = TurnDetector(TurnSettings(silence_duration_ms=500))
    for p in SPEECH * 20 + SILENCE * 15:  # 480 ms of silence in whole frames
        detector.push(p)
    assert detector.unscored(19.9) == []
    assert detector.unscored(20) == [SpeechEnded(0, 20)]  # 500 ms, not the frame's 512
    assert detector.unscored(31) == []  # ended once


def test_audio_waiting_to_be_scored_is_not_silence() -> None:
    # Audio that came faster than the VAD scored it (a recording sent at once, a loaded
    # node): a second of it behind a short pause must not end the turn there.
    detector = TurnDetector(TurnSettings(silence_duration_ms=800))
    for p in SPEECH * 20 + SILENCE * 3:  # 96 ms of silence scored
        detector.push(p)
    assert detector.unscored(1010) == []
    assert detector.unscored(32) == []  # a whole frame: scored next, not counted
    for p in SPEECH * 5:  # the speech it held goes on
        assert SpeechEnded not in map(type, detector.push(p))
    assert detector.flush() == [SpeechEnded(0, 28)]


def test_audio_too_short_to_score_ends_no_turn_while_speaking() -> None:
    detector = TurnDetector(TurnSettings(silence_duration_ms=500))
    for p in SPEECH * 20:
        detector.push(p)
    assert detector.unscored(31) == []


def test_the_start_is_announced_only_once_the_padding_is_heard() -> None:
    detector = TurnDetector(TurnSettings(prefix_padding_ms=160))
    announced = [bool(detector.push(0.9)) for _ in range(6)]
    assert announced == [False, False, False, False, True, False]


def test_a_click_is_not_a_turn() -> None:
    assert run(SILENCE * 5 + SPEECH * 2 + SILENCE * 40) == []


def test_a_short_pause_is_not_the_end() -> None:
    script = SPEECH * 20 + SILENCE * frames(320) + SPEECH * 20 + SILENCE * frames(640)
    events = run(script)
    assert events == [
        SpeechStarted(0),
        PauseStarted(20),
        PauseEnded(30),
        PauseStarted(50),
        SpeechEnded(0, 50),
    ]


def test_a_one_word_reply_after_a_pause_is_heard() -> None:
    yes = [0.3, 0.8, 0.95, 0.97, 0.96, 0.9, 0.85, 0.6, 0.2]  # ~300 ms
    assert run(SILENCE * 60 + yes + SILENCE * 30)[0] == SpeechStarted(61)


def test_low_start_sensitivity_needs_clearer_speech() -> None:
    murmur = [0.6] * 20
    assert run(murmur) != []
    assert run(murmur, TurnSettings.from_live(start_high=False)) == []


def test_low_end_sensitivity_waits_for_real_silence() -> None:
    trailing = SPEECH * 20 + [0.25] * 40
    assert SpeechEnded(0, 20) in run(trailing)[:3]
    low = run(trailing, TurnSettings.from_live(end_high=False))
    assert low == [SpeechStarted(0), SpeechEnded(0, 60)]  # only the end of the audio ends it


def test_settings_from_the_setup() -> None:
    settings = TurnSettings.from_live(prefix_padding_ms=20, silence_duration_ms=100)
    assert run(SPEECH + SILENCE * 4) == []  # defaults: one frame is not enough
    assert run(SPEECH + SILENCE * 4, settings) == [
        SpeechStarted(0),
        PauseStarted(1),
        SpeechEnded(0, 1),
    ]


def test_audio_stream_end_flushes_a_turn_in_progress() -> None:
    assert run(SPEECH * 10) == [SpeechStarted(0), SpeechEnded(0, 10)]


def test_the_speech_starts_where_the_frames_rose_above_the_end_threshold() -> None:
    """A soft onset (scored between the two thresholds) is part of the speech it leads
    to, as the frames above the end threshold after it are: the start is placed with
    the same hysteresis as the end. A rise that falls back below it first is not."""
    soft = [0.4, 0.45]
    assert run(SILENCE * 5 + soft + SPEECH * 10 + SILENCE * 20)[0] == SpeechStarted(5)
    broken = [0.4, 0.2, 0.45]
    assert run(SILENCE * 5 + broken + SPEECH * 10 + SILENCE * 20)[0] == SpeechStarted(7)
    # a rise that never reaches the start threshold is forgotten by the next turn
    script = SILENCE * 3 + [0.4] * 4 + SILENCE * 3 + SPEECH * 10 + SILENCE * 20
    assert run(script)[0] == SpeechStarted(10)


def test_the_pause_starts_where_the_frames_fell_below_the_start_threshold() -> None:
    """Speech that fades (frames between the two thresholds, then silence) ends with its
    last frame the VAD was sure of: the silence is counted from there, so a turn of
    500 ms of silence ends 500 ms after it (16 frames), not a frame later."""
    fading = [0.45]
    script = SPEECH * 10 + fading + SILENCE * 20
    assert run(script, TurnSettings(silence_duration_ms=500)) == [
        SpeechStarted(0),
        PauseStarted(10),  # announced on the silent frame, 11; the pause starts at 10
        SpeechEnded(0, 10),
    ]
    detector = TurnDetector(TurnSettings(silence_duration_ms=500))
    for p in SPEECH * 10 + fading + SILENCE * 14:  # 15 frames: 480 ms from the fall
        detector.push(p)
    assert detector.unscored(20) == [SpeechEnded(0, 10)]
    # a dip that rises back above the start threshold is speech, not the fall
    script = SPEECH * 10 + [0.45, 0.9, 0.45] + SILENCE * 20
    assert run(script)[1] == PauseStarted(12)
    # a pause that ends on a fading frame falls from there next time
    script = SPEECH * 10 + SILENCE * 3 + [0.4] + SILENCE * 20
    assert run(script)[1:4] == [PauseStarted(10), PauseEnded(13), PauseStarted(13)]
    # silence no longer than the fade itself ends the turn on the first silent frame
    script = SPEECH * 10 + fading * 2 + SILENCE * 5
    assert run(script, TurnSettings(silence_duration_ms=64)) == [
        SpeechStarted(0),
        SpeechEnded(0, 10),
    ]


# --- a learned end of turn ---------------------------------------------------------------

LEARNED = TurnSettings.from_live()


def test_without_silence_duration_the_end_of_turn_is_learned() -> None:
    assert LEARNED.learned
    assert LEARNED.silence_duration_ms == LEARNED_LIMIT_MS
    assert LEARNED.check_ms == LEARNED_CHECK_MS
    given = TurnSettings.from_live(silence_duration_ms=500)
    assert not given.learned and given == TurnSettings()  # honoured exactly, as before
    assert given.without_model() is given
    assert LEARNED.without_model() == TurnSettings()  # no model: 500 ms of silence


def learned_run(probabilities: list[float], answer: bool) -> list[TurnEvent]:
    """Each `PauseCheck` is answered at once with `answer`."""
    detector = TurnDetector(LEARNED)
    events: list[TurnEvent] = []
    for p in probabilities:
        for event in detector.push(p):
            events.append(event)
            if isinstance(event, PauseCheck):
                events += detector.verdict(answer)
    return events


def test_a_finished_turn_ends_once_the_check_says_so() -> None:
    check = -(-LEARNED_CHECK_MS // 32)  # frames of silence before the check
    events = learned_run(SPEECH * 20 + SILENCE * 60, answer=True)
    assert events == [
        SpeechStarted(0),
        PauseStarted(20),
        PauseCheck(0, 20 + check),
        SpeechEnded(0, 20),
    ]


def test_an_unfinished_turn_waits_for_the_limit() -> None:
    events = learned_run(SPEECH * 20 + SILENCE * 60, answer=False)
    assert events[-1] == SpeechEnded(0, 20)
    assert len(learned_run(SPEECH * 20 + SILENCE * (LEARNED_LIMIT_MS // 32 - 1), False)) == 3


def test_an_unfinished_turn_goes_on_after_a_long_pause() -> None:
    pause = SILENCE * (1000 // 32)  # a second: more than the 500 ms default would allow
    events = learned_run(SPEECH * 20 + pause + SPEECH * 20 + SILENCE * 60, answer=False)
    assert [type(e) for e in events] == [
        SpeechStarted,
        PauseStarted,
        PauseCheck,
        PauseEnded,
        PauseStarted,
        PauseCheck,
        SpeechEnded,
    ]
    assert events[-1] == SpeechEnded(0, 20 + len(pause) + 20)  # one turn, the whole


def test_a_late_verdict_after_the_user_went_on_is_ignored() -> None:
    detector = TurnDetector(LEARNED)
    check = -(-LEARNED_CHECK_MS // 32)
    for p in SPEECH * 20 + SILENCE * (check - 1):
        detector.push(p)
    assert detector.push(0.01) == [PauseCheck(0, 20 + check)]
    assert detector.push(0.95) == [PauseEnded(20 + check)]
    assert detector.verdict(True) == []  # about the pause that ended
    assert detector.speaking


def test_each_pause_is_checked_once() -> None:
    events = learned_run(SPEECH * 20 + SILENCE * 40, answer=False)
    assert sum(isinstance(e, PauseCheck) for e in events) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What time is it?", Reading.FINISHED),
        ("Two people at eight tonight.", Reading.FINISHED),
        ("I'd like to book a table for...", Reading.UNFINISHED),
        ("The meeting has been moved to-", Reading.UNFINISHED),
        ("My favourite thing to do on Sundays is", Reading.UNFINISHED),
        ("Can you tell me the weather and.", Reading.UNFINISHED),
        ("Tell me about it, um.", Reading.UNFINISHED),
        ("Who are you talking to?", Reading.UNFINISHED),
        ("Ever tried", Reading.OPEN),  # no full stop: the audio decides
        ("We should leave early so that we", Reading.UNFINISHED),
        ("I know who you are.", Reading.OPEN_WORD),  # the language model, then the audio
        ("Turn the lights on.", Reading.OPEN_WORD),
        ("The reason I am calling is that.", Reading.OPEN_WORD),
        ("If it rains tomorrow.", Reading.UNFINISHED),  # a clause without its main clause
        ("Sure. When you can.", Reading.OPEN),  # short: the audio decides
        ("If it rains tomorrow, we stay home.", Reading.FINISHED),
        ("When is the meeting?", Reading.FINISHED),
        ("Because it is late.", Reading.FINISHED),
        ("How do I get from the station to the station?", Reading.UNFINISHED),  # echo
        ("Thank you. Thank you.", Reading.FINISHED),
        ("please add some x and. Please add some XN.", Reading.UNFINISHED),  # restarted
        ("I want pizza. I want pasta.", Reading.FINISHED),  # two words alike: not a restart
        ("Ever tried. Ever failed.", Reading.FINISHED),
        ("", Reading.UNFINISHED),
        ("¿Qué hora es?", Reading.FINISHED),
    ],
)
def test_what_a_transcript_says_of_the_end_of_a_turn(text: str, expected: Reading) -> None:
    assert reading(text) is expected


def test_the_transcript_and_the_model_decide_together() -> None:
    assert finished(0.01, "Two people at eight tonight.")  # the words end it
    assert not finished(0.99, "I'd like to book a table for")  # the words hold it open
    assert finished(0.7, "Turn the lights on.") and not finished(0.69, "Turn the lights on.")
    assert finished(0.5, None) and not finished(0.49, None)  # no transcript: the model


def test_the_words_alone_decide_where_they_can() -> None:
    assert said_finished("Two people at eight tonight.") is True
    assert said_finished("I'd like to book a table for") is False
    assert said_finished("Turn the lights on.") is None  # the model decides
    assert said_finished("Ever tried") is None
    assert said_finished(None) is None


def test_the_language_model_holds_a_sentence_that_ends_on_an_open_word() -> None:
    """Asked only where a sentence ends on a word that may go on; a message unlikely to
    end there holds the turn, a likely one leaves it to the audio; it never ends one."""
    assert asks_words("The reason I am calling is that.")
    assert words_finished("The reason I am calling is that.", 0.002) is False
    assert words_finished("Turn the lights on.", 0.08) is None  # the audio decides
    assert words_finished("Turn the lights on.", None) is None  # not asked
    assert not asks_words("Ever tried")  # no full stop: the audio alone
    assert words_finished("Ever tried", 0.0) is None
    assert not asks_words("Two people at eight tonight.")
    assert words_finished("Two people at eight tonight.", 0.0) is True  # the words end it
    assert not asks_words(None) and words_finished(None, None) is None
