"""Who has the floor: the turn protocol of a session as a sans-I/O state machine.

`TurnProtocol.receive` takes one `Input` (what the client or the listener did, or how
the answer in progress went) with the history messages it brings, and returns the
`Action`s the pipeline must carry out. It never awaits and holds no model: every rule
of turn-taking is a plain function call in the tests.

An input is first turned into moves by `RULES`, the one place that says what
interrupts an answer and what asks for one; each move then follows `TRANSITIONS`::

    IDLE --speech_started--> USER_SPEAKING --speech_ended--> IDLE
    IDLE, USER_SPEAKING --answer_wanted--> ANSWER_PENDING --answer_started--> ANSWERING
    ANSWERING --calls_blocking--> WAITING_FOR_TOOL --calls_answered--> ANSWERING
    ANSWERING, WAITING_FOR_TOOL --interrupt--> INTERRUPTED
    ANSWERING, WAITING_FOR_TOOL, INTERRUPTED --answer_ended--> IDLE

Input that arrives while an answer is open (answering, waiting for a tool, or being
stopped) is held and added to the history after the answer, so that the history reads
in the order the client saw it; if any of it asked for an answer, the next one starts
then. `USER_SPEAKING` is the state while the user speaks and no answer is open: the
user's speech during an answer is that answer's business (it interrupts it, or it is
held for the next one).

Moves that make no sense in the current state are caught here: an interruption with no
open answer, or a proactive turn's bare `turnComplete` while an answer is open, do
nothing; a pipeline move out of order (an answer started twice, a call answered when
none is waited for) raises `RuntimeError`, as a bug.

How a turn ends is told with its `turnComplete` (`turn_end`): the reason of each
`Ending` (`REASONS`), and whether another answer follows (`answer_follows`): if one
does, the session is still at work (`interactionStatus` IN_PROGRESS); if not, it is
`IDLE` and waits for the user (`waitingForInput`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from .messages import InteractionStatus, ServerContent, TurnCompleteReason

__all__ = [
    "REASONS",
    "RULES",
    "TRANSITIONS",
    "Action",
    "Answer",
    "Append",
    "CompleteTurn",
    "Ending",
    "Input",
    "Interrupt",
    "Interrupts",
    "Move",
    "Rule",
    "StartAnswer",
    "TurnProtocol",
    "TurnState",
    "turn_end",
]

M = TypeVar("M")
"""A history message (the pipeline's own type: the protocol only keeps them in order)."""


class TurnState(enum.Enum):
    IDLE = "idle"
    USER_SPEAKING = "user speaking"
    ANSWER_PENDING = "answer pending"
    ANSWERING = "answering"
    WAITING_FOR_TOOL = "waiting for a tool response"
    INTERRUPTED = "interrupted"


class Input(enum.Enum):
    """What happened. The first group comes from the client or the listener; the last
    four from the answer in progress."""

    SPEECH_STARTED = "speech started"
    """The user began to speak (voice activity, or `activityStart`)."""
    SPEECH_ENDED = "speech ended"
    """The user's speech ended (voice activity, or `activityEnd`)."""
    SPOKEN_TURN = "spoken turn"
    """A spoken turn's transcript."""
    IGNORED_TURN = "ignored turn"
    """A spoken turn that proactive audio decided was not meant for the model."""
    TEXT = "text"
    """`realtimeInput.text`."""
    CONTENT = "client content"
    """`clientContent` with `turnComplete: false`: history, no answer."""
    CONTENT_TURN = "client turn"
    """`clientContent` that completes the user's turn."""
    SILENT_RESULT = "silent result"
    """A NON_BLOCKING function's result scheduled SILENT."""
    IDLE_RESULT = "when-idle result"
    """A NON_BLOCKING function's result scheduled WHEN_IDLE (the default)."""
    INTERRUPTING_RESULT = "interrupting result"
    """A NON_BLOCKING function's result scheduled INTERRUPT."""
    GOING_AWAY = "going away"
    """The connection is about to end (server stopping, time limit): save the session."""
    ANSWER_STARTED = "answer started"
    CALLS_BLOCKING = "calls blocking"
    """The answer sent BLOCKING function calls and waits for their results."""
    CALLS_ANSWERED = "calls answered"
    ANSWER_ENDED = "answer ended"
    """The answer's task finished: completed, failed, or stopped by an interruption."""


class Interrupts(enum.Enum):
    NEVER = "never"
    BY_ACTIVITY = "unless activityHandling is NO_INTERRUPTION"
    ALWAYS = "always"


class Answer(enum.Enum):
    NO = "no"
    WITH_INPUT = "when it brings input"
    YES = "yes"


@dataclass(frozen=True, slots=True)
class Rule:
    interrupts: Interrupts
    answer: Answer


class Move(enum.Enum):
    """The steps of the table; `RULES` turns each input into some of them."""

    SPEECH_STARTED = "speech_started"
    SPEECH_ENDED = "speech_ended"
    INTERRUPT = "interrupt"
    INPUT = "input"
    ANSWER_WANTED = "answer_wanted"
    IGNORED_TURN = "ignored_turn"
    ANSWER_STARTED = "answer_started"
    CALLS_BLOCKING = "calls_blocking"
    CALLS_ANSWERED = "calls_answered"
    ANSWER_ENDED = "answer_ended"


_NEVER, _BY_ACTIVITY, _ALWAYS = Interrupts.NEVER, Interrupts.BY_ACTIVITY, Interrupts.ALWAYS

RULES: Final[dict[Input, Rule]] = {
    Input.SPEECH_STARTED: Rule(_BY_ACTIVITY, Answer.NO),
    Input.SPEECH_ENDED: Rule(_NEVER, Answer.NO),
    Input.SPOKEN_TURN: Rule(_NEVER, Answer.YES),  # its start interrupted already
    Input.IGNORED_TURN: Rule(_NEVER, Answer.NO),
    Input.TEXT: Rule(_BY_ACTIVITY, Answer.WITH_INPUT),
    Input.CONTENT: Rule(_ALWAYS, Answer.NO),
    Input.CONTENT_TURN: Rule(_ALWAYS, Answer.YES),
    Input.SILENT_RESULT: Rule(_NEVER, Answer.NO),
    Input.IDLE_RESULT: Rule(_NEVER, Answer.YES),
    Input.INTERRUPTING_RESULT: Rule(_ALWAYS, Answer.YES),
    Input.GOING_AWAY: Rule(_ALWAYS, Answer.NO),
}
"""For each input from the client or the listener: whether it interrupts an open answer
(the interruption rule, all of it) and whether it asks for an answer."""

_S = TurnState
_OPEN: Final = (_S.ANSWERING, _S.WAITING_FOR_TOOL, _S.INTERRUPTED)
"""The states in which an answer's task exists."""


def _same(states: Iterable[TurnState], *moves: Move) -> dict[tuple[TurnState, Move], TurnState]:
    return {(state, move): state for state in states for move in moves}


TRANSITIONS: Final[dict[tuple[TurnState, Move], TurnState]] = {
    (_S.IDLE, Move.SPEECH_STARTED): _S.USER_SPEAKING,
    (_S.IDLE, Move.ANSWER_WANTED): _S.ANSWER_PENDING,
    (_S.USER_SPEAKING, Move.SPEECH_ENDED): _S.IDLE,
    (_S.USER_SPEAKING, Move.ANSWER_WANTED): _S.ANSWER_PENDING,
    (_S.ANSWER_PENDING, Move.ANSWER_STARTED): _S.ANSWERING,
    (_S.ANSWERING, Move.CALLS_BLOCKING): _S.WAITING_FOR_TOOL,
    (_S.WAITING_FOR_TOOL, Move.CALLS_ANSWERED): _S.ANSWERING,
    (_S.ANSWERING, Move.INTERRUPT): _S.INTERRUPTED,
    (_S.WAITING_FOR_TOOL, Move.INTERRUPT): _S.INTERRUPTED,
    **{(state, Move.ANSWER_ENDED): _S.IDLE for state in _OPEN},
    # Moves that leave the state as it is.
    **_same([_S.IDLE], Move.SPEECH_ENDED, Move.INTERRUPT, Move.INPUT, Move.IGNORED_TURN),
    **_same([_S.USER_SPEAKING], Move.SPEECH_STARTED, Move.INTERRUPT, Move.INPUT),
    **_same([_S.USER_SPEAKING], Move.IGNORED_TURN),
    **_same([_S.ANSWER_PENDING], Move.SPEECH_STARTED, Move.SPEECH_ENDED, Move.INPUT),
    **_same([_S.ANSWER_PENDING], Move.ANSWER_WANTED, Move.IGNORED_TURN),
    # An answer about to start is not stopped: it answers the input that interrupts it.
    **_same([_S.ANSWER_PENDING], Move.INTERRUPT),
    **_same(_OPEN, Move.SPEECH_STARTED, Move.SPEECH_ENDED, Move.INPUT, Move.ANSWER_WANTED),
    **_same(_OPEN, Move.IGNORED_TURN),
    **_same([_S.INTERRUPTED], Move.INTERRUPT),
}
"""Every legal (state, move) pair and the state it leads to. A pair that is missing is
a pipeline bug (`RuntimeError`)."""


_PROGRESS: Final = {
    Input.ANSWER_STARTED: Move.ANSWER_STARTED,
    Input.CALLS_BLOCKING: Move.CALLS_BLOCKING,
    Input.CALLS_ANSWERED: Move.CALLS_ANSWERED,
    Input.ANSWER_ENDED: Move.ANSWER_ENDED,
}
"""The inputs from the answer in progress: each is a move of its own."""

_OWN_MOVE: Final = {
    Input.SPEECH_STARTED: Move.SPEECH_STARTED,
    Input.SPEECH_ENDED: Move.SPEECH_ENDED,
    Input.IGNORED_TURN: Move.IGNORED_TURN,
}
"""The inputs that are a move of their own besides what their rule makes of them."""


class Ending(enum.Enum):
    """How a model turn ended, each told by its `turnComplete`."""

    ANSWERED = "answered"
    """The answer ran to its end (its last token, a stop sequence, or maxOutputTokens)."""
    INTERRUPTED = "interrupted"
    """Stopped by the user, a client message or a result (`interrupted` came first)."""
    CALLS_RUNNING = "NON_BLOCKING calls sent"
    """The turn ended with its `toolCall`: the calls run while the conversation goes on."""
    NOT_ADDRESSED = "not addressed to the model"
    """Proactive audio left a spoken turn unanswered."""
    MALFORMED_CALL = "malformed function call"
    """The model called a function that is not declared, or with arguments that do not
    fit its schema (an OpenAI-compatible engine's model: the embedded one cannot)."""


REASONS: Final[dict[Ending, TurnCompleteReason | None]] = {
    Ending.ANSWERED: None,
    Ending.INTERRUPTED: None,
    Ending.CALLS_RUNNING: None,
    Ending.NOT_ADDRESSED: TurnCompleteReason.NEED_MORE_INPUT,
    Ending.MALFORMED_CALL: TurnCompleteReason.MALFORMED_FUNCTION_CALL,
}
"""The `turnCompleteReason` of each ending. None leaves it out, as proto3 JSON leaves
out an enum's default (UNSPECIFIED): the SDKs' enum has no value for an ordinary end, an
interruption, maxOutputTokens or calls left running, and none is made up here."""


def turn_end(ending: Ending, *, more: bool) -> ServerContent:
    """The `turnComplete` of a turn that ended so. `more`: another answer follows (input
    that came during this one asked for it), so the session is still at work; else it is
    idle and waits for the user."""
    return ServerContent(
        turn_complete=True,
        turn_complete_reason=REASONS[ending],
        waiting_for_input=None if more else True,
        interaction_status=InteractionStatus.IN_PROGRESS if more else InteractionStatus.IDLE,
    )


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Stop the answer: `toolCallCancellation` for the calls it waits for (when
    `calls`), then `interrupted` and `turnComplete`; wait for its task to end."""

    calls: bool


@dataclass(frozen=True, slots=True)
class Append(Generic[M]):
    """Add these messages to the history, in order."""

    messages: tuple[M, ...]


@dataclass(frozen=True, slots=True)
class StartAnswer:
    """Start the next answer (its input is already in the history)."""


@dataclass(frozen=True, slots=True)
class CompleteTurn:
    """Send a bare `turnComplete`: the user's turn is over and gets no answer."""


Action = Interrupt | Append[M] | StartAnswer | CompleteTurn


class TurnProtocol(Generic[M]):
    """The floor of one session. `interrupts`: the setup's activity handling lets the
    user's activity interrupt (the default, START_OF_ACTIVITY_INTERRUPTS)."""

    def __init__(self, interrupts: bool = True) -> None:
        self.interrupts = interrupts
        self.state = TurnState.IDLE
        self._held: list[M] = []
        """Input kept for after the open answer."""
        self._follow_up = False
        """Whether held input asked for an answer."""

    @property
    def idle(self) -> bool:
        """No answer runs or waits to run."""
        return self.state in (TurnState.IDLE, TurnState.USER_SPEAKING)

    @property
    def answer_follows(self) -> bool:
        """Another answer is due: input held during the open answer asked for one, or
        one is about to start."""
        return self._follow_up or self.state is TurnState.ANSWER_PENDING

    def receive(self, what: Input, messages: Sequence[M] = ()) -> list[Action[M]]:
        """Take one input and the messages it brings; return what to do, in order."""
        rule = RULES.get(what)
        if rule is None:
            return self.step(_PROGRESS[what])
        actions: list[Action[M]] = []
        if rule.interrupts is Interrupts.ALWAYS or (
            rule.interrupts is Interrupts.BY_ACTIVITY and self.interrupts
        ):
            actions += self.step(Move.INTERRUPT)
        if what in _OWN_MOVE:
            actions += self.step(_OWN_MOVE[what])
        if messages:
            actions += self.step(Move.INPUT, tuple(messages))
        if rule.answer is Answer.YES or (rule.answer is Answer.WITH_INPUT and messages):
            actions += self.step(Move.ANSWER_WANTED)
        return actions

    def step(self, move: Move, messages: tuple[M, ...] = ()) -> list[Action[M]]:
        """One move of the table (`receive` makes them from inputs)."""
        source = self.state
        target = TRANSITIONS.get((source, move))
        if target is None:
            raise RuntimeError(f"{move.value} is not a move while {source.value}")
        self.state = target
        open_answer = source in _OPEN
        match move:
            case Move.INTERRUPT if target is not source:
                return [Interrupt(calls=source is TurnState.WAITING_FOR_TOOL)]
            case Move.INPUT if open_answer:
                self._held += messages
            case Move.INPUT:
                return [Append(messages)]
            case Move.ANSWER_WANTED if open_answer:
                self._follow_up = True
            case Move.ANSWER_WANTED if target is not source:
                return [StartAnswer()]
            case Move.IGNORED_TURN if source in (TurnState.IDLE, TurnState.USER_SPEAKING):
                return [CompleteTurn()]
            case Move.ANSWER_ENDED:
                return self._release()
        return []

    def _release(self) -> list[Action[M]]:
        """The answer is over: the held input goes into the history, and the next
        answer starts if any of it asked for one."""
        held, self._held = tuple(self._held), []
        follow_up, self._follow_up = self._follow_up, False
        actions: list[Action[M]] = [Append(held)] if held else []
        if follow_up:
            actions += self.step(Move.ANSWER_WANTED)
        return actions
