"""How one answer is made: the response a session's plan calls for, and what it knows
of the turn it answers.

An answer is a `TextResponse` or, when the session speaks, a `SpeechResponse`, made
from the history (`ChatContext`), the plan's sampling and functions, and a `Cue` (the
spoken turn's timing, how the user sounded, a translation's ready text). The responder
makes one for each answer it starts, and for each speculative answer (held, with a
`Hold`); `may_speculate` says whether a session's answers may be made ahead at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..backends.base import FunctionSpec
from ..protocol.session import LiveSession
from .affect import Mood, delivery, instruction
from .context import ChatContext
from .parts import SessionParts, Voice
from .response import Send, TextResponse
from .speech import Hold, SpeechResponse
from .timing import TurnTiming

__all__ = ["Answers", "Cue", "may_speculate"]


@dataclass(frozen=True, slots=True)
class Cue:
    """What the next answer knows of the spoken turn it answers."""

    timing: TurnTiming | None = None
    mood: Mood | None = None
    """How the user sounded (affective dialog)."""
    verbatim: str | None = None
    """The answer, already written (a translation session's): None, the model writes it."""


@dataclass(frozen=True, slots=True)
class Answers:
    """Makes a session's answers. `more` says, when an answer ends, whether another
    follows."""

    session: LiveSession
    parts: SessionParts
    send: Send
    voice: Voice | None
    more: Callable[[], bool]

    def make(
        self,
        context: ChatContext,
        cue: Cue,
        functions: Sequence[FunctionSpec],
        *,
        hold: Hold | None = None,
    ) -> TextResponse | SpeechResponse:
        """The answer to `context`; `hold`: a speculative one, held."""
        parts, plan = self.parts, self.parts.plan
        conversation, sampling = parts.conversation, plan.sampling
        if plan.translation is not None:  # the last user turn's translation, no calls
            conversation, context, sampling = plan.translation.turn(
                conversation, context, sampling, cue.verbatim
            )
            functions = ()
        elif note := instruction(cue.mood):  # affective dialog: this answer only
            system = f"{context.system_instruction}\n\n{note}".strip()
            context = ChatContext(system, context.turns)
        thoughts = plan.features.include_thoughts
        if not plan.speak:
            return TextResponse(
                self.session,
                conversation,
                context,
                sampling,
                self.send,
                functions,
                thoughts=thoughts,
                more=self.more,
            )
        assert self.voice is not None and parts.voice is not None
        mood = delivery(cue.mood)
        return SpeechResponse(
            self.session,
            conversation,
            context,
            sampling,
            self.send,
            parts.voice.tts,
            self.voice.scheduler,
            transcribe=plan.transcribe_output,
            timing=cue.timing,
            functions=functions,
            thoughts=thoughts,
            voice=plan.voice,
            language=plan.speech_language,
            delivery=plan.delivery.then(mood) if plan.delivery else mood,
            more=self.more,
            hold=hold,
        )


def may_speculate(parts: SessionParts) -> bool:
    """Whether a session's spoken turns may be answered speculatively: its answers are
    spoken, and made from the transcript alone (a translation, proactive audio and
    affective dialog each decide the answer from more than the words)."""
    plan = parts.plan
    return (
        plan.speak
        and plan.translation is None
        and not plan.features.proactive_audio
        and not plan.features.affective_dialog
        and parts.listener is not None
    )
