"""What a session is made of once its setup is accepted, and the shared voice it uses.

`equip` turns a `SessionPlan` into `SessionParts`: the model's conversation, the images
it may see, the sliding window, and (on a server with a voice) the session's own voice
stack and listener. The runner builds them once per setup; the responder answers with
them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..backends.base import Conversation, LLMStats
from ..backends.registry import Backends, VoiceModels
from ..backends.scheduler import Scheduler
from ..backends.vad_batch import VADBatcher
from ..backends.voice import ASROptions
from .affect import AffectTracker
from .compression import SlidingWindow
from .listener import Listener, ListenerEvent
from .plan import SessionPlan
from .speculation import has_room
from .timing import VoiceStats
from .turns import TurnDetector
from .vision import Frames

__all__ = ["SessionParts", "Voice", "equip"]


@dataclass(frozen=True, slots=True)
class Voice:
    """The voice models and the scheduler they run on; None where there is no voice."""

    models: VoiceModels
    scheduler: Scheduler
    speculate: bool = True
    """Transcribe during pauses, before the end of the turn is certain."""
    speculate_answers: bool = True
    """Answer during pauses too (`speculation.py`), when the models have room; needs
    `speculate`."""
    stats: VoiceStats = field(default_factory=VoiceStats)
    vad: VADBatcher = field(init=False)
    """Every session's voice activity, scored in batches."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "vad", VADBatcher(self.models.vad, self.scheduler))


@dataclass(slots=True)
class SessionParts:
    plan: SessionPlan
    """What the session does; a context update replaces it."""
    conversation: Conversation
    frames: Frames
    window: SlidingWindow | None
    """`contextWindowCompression`: the history's oldest turns make room for new ones."""
    voice: VoiceModels | None
    """The voice stack of the session's model (its own recognizer or engines)."""
    listener: Listener | None
    affect: AffectTracker | None
    """The user's vocal baseline, with affective dialog."""
    llm_stats: LLMStats = field(default_factory=LLMStats)
    """The counters of the session's LLM: how busy it is, for speculative answers."""


def equip(
    plan: SessionPlan,
    backends: Backends,
    voice: Voice | None,
    heard: Callable[[ListenerEvent], Awaitable[None]],
    tenant: str = "",
) -> SessionParts:
    """The parts that carry `plan` out; `heard` takes what the listener hears; `tenant`:
    whose share of the shared models the session uses (`Conversation.tenant`)."""
    entry = plan.entry
    llm = backends.llm(entry.llm)
    models = voice.models.for_model(entry.recognizer, entry.speech) if voice else None
    conversation = llm.conversation()
    conversation.tenant = tenant
    return SessionParts(
        plan=plan,
        conversation=conversation,
        frames=Frames(
            llm.capabilities.vision,
            entry.name,
            plan.config.generation.media_resolution,
            activity_only=not plan.listening.all_video,
        ),
        window=SlidingWindow(*plan.window, llm.count_tokens) if plan.window else None,
        voice=models,
        listener=_listener(plan, voice, models, heard, llm.stats) if voice and models else None,
        affect=AffectTracker() if plan.features.affective_dialog else None,
        llm_stats=llm.stats,
    )


def _listener(
    plan: SessionPlan,
    voice: Voice,
    models: VoiceModels,
    heard: Callable[[ListenerEvent], Awaitable[None]],
    llm_stats: LLMStats,
) -> Listener:
    listening = plan.listening
    into = plan.translation.recognizer_target if plan.translation else None
    if into not in models.asr.capabilities.translates_into:
        into = None  # the LLM translates
    return Listener(
        models,
        voice.scheduler,
        TurnDetector(listening.turns if models.turn else listening.turns.without_model()),
        automatic=listening.automatic,
        language=listening.languages.fixed,
        emit=heard,
        options=ASROptions(
            languages=listening.languages.among,
            vocabulary=listening.vocabulary,
            word_times=listening.word_times,
        ),
        speculate=voice.speculate,
        interim=listening.transcribe,
        all_input=listening.all_input,
        stats=voice.stats,
        affect=plan.features.affective_dialog,
        vad=voice.vad,
        translate_into=into,
        detect_each_turn=plan.translation is not None,
        room=lambda: has_room(llm_stats, voice.scheduler),
    )
