"""`GET /metrics`: the server's counters in the Prometheus text format."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from ..backends.scheduler import Priority, Scheduler
from ..pipeline.timing import STAGES, VoiceStats

if TYPE_CHECKING:
    from .app import AppState

__all__ = ["render"]


class _StateCollector(Collector):
    def __init__(self, state: AppState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        state = self._state
        yield GaugeMetricFamily(
            "openlive_sessions", "Live sessions open now", value=len(state.sessions)
        )
        yield GaugeMetricFamily(
            "openlive_event_loop_tasks",
            "Tasks alive on the server's event loop (flat when nothing leaks)",
            value=len(asyncio.all_tasks()),
        )
        yield CounterMetricFamily(
            "openlive_sessions_started", "Live sessions accepted", value=state.sessions_started
        )
        served = CounterMetricFamily(
            "openlive_engine_requests",
            "Requests answered on the audio API (/v1/audio/...), by route",
            labels=["route"],
        )
        for route in ("transcriptions", "speech"):
            served.add_metric([route], state.engine_requests[route])
        yield served
        admission = state.admission
        yield GaugeMetricFamily(
            "openlive_session_slots_held",
            "Sessions admitted and not yet ended, including those still authenticating",
            value=admission.held,
        )
        if admission.capacity is not None:
            yield GaugeMetricFamily(
                "openlive_session_capacity",
                "The most sessions this node admits at once (--max-sessions)",
                value=admission.capacity,
            )
        yield CounterMetricFamily(
            "openlive_sessions_refused",
            "Sessions refused at the door because the node was full",
            value=admission.refused,
        )
        closes = CounterMetricFamily(
            "openlive_session_closes",
            "Sessions closed by the server, by close code",
            labels=["code"],
        )
        for code, count in sorted(state.close_codes.items()):
            closes.add_metric([str(code)], count)
        yield closes
        generating = GaugeMetricFamily(
            "openlive_llm_generating", "Replies being generated", labels=["llm"]
        )
        replies = CounterMetricFamily("openlive_llm_replies", "Replies started", labels=["llm"])
        tokens = CounterMetricFamily("openlive_llm_tokens", "Tokens generated", labels=["llm"])
        for llm in state.backends:
            generating.add_metric([llm.name], llm.stats.generating)
            replies.add_metric([llm.name], llm.stats.replies)
            tokens.add_metric([llm.name], llm.stats.tokens)
        yield generating
        yield replies
        yield tokens
        if state.voice is not None:
            yield from _voice(state.voice.stats)
            yield from _scheduler(state.voice.scheduler)


def _scheduler(scheduler: Scheduler) -> Iterator[Metric]:
    busy = CounterMetricFamily(
        "openlive_model_busy_seconds",
        "Seconds the embedded models worked, by the priority of the work",
        labels=["priority"],
    )
    jobs = CounterMetricFamily(
        "openlive_model_jobs", "Jobs the embedded models ran, by priority", labels=["priority"]
    )
    for priority in Priority:
        busy.add_metric([priority.name.lower()], scheduler.busy[priority])
        jobs.add_metric([priority.name.lower()], scheduler.jobs[priority])
    yield busy
    yield jobs


def _voice(stats: VoiceStats) -> Iterator[Metric]:
    stages = SummaryMetricFamily(
        "openlive_voice_stage_seconds",
        "Spoken turns answered with audio: the time each stage of their latency took"
        " (end_of_speech, recognition, first_token, first_audio; total is voice to voice)",
        labels=["stage"],
    )
    for stage in STAGES:
        stages.add_metric([stage], count_value=stats.turns, sum_value=stats.seconds[stage])
    yield stages
    yield CounterMetricFamily(
        "openlive_speculative_recognitions",
        "Transcripts started during a pause, before the end of the turn was certain",
        value=stats.speculations,
    )
    yield CounterMetricFamily(
        "openlive_speculative_recognitions_used",
        "Speculative transcripts that became the turn's transcript",
        value=stats.speculations_used,
    )
    yield CounterMetricFamily(
        "openlive_speculative_answers",
        "Answers started during a pause, before the end of the turn was decided",
        value=stats.answers_speculated,
    )
    yield CounterMetricFamily(
        "openlive_speculative_answers_used",
        "Speculative answers that became the turn's answer",
        value=stats.answers_used,
    )
    yield CounterMetricFamily(
        "openlive_speculative_answers_ready",
        "Speculative answers used whose first clause was synthesized when the turn ended",
        value=stats.answers_ready,
    )
    yield CounterMetricFamily(
        "openlive_speculative_answers_discarded",
        "Speculative answers thrown away (the user went on, or the turn was another)",
        value=stats.answers_discarded,
    )


def render(state: AppState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(state))
    return generate_latest(registry)
