"""`GET /metrics`: the server's counters in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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
        yield CounterMetricFamily(
            "openlive_sessions_started", "Live sessions accepted", value=state.sessions_started
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


def render(state: AppState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(state))
    return generate_latest(registry)
