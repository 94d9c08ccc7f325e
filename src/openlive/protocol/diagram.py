"""The session state machine drawn as a Mermaid state diagram, from `TRANSITIONS`.

docs/architecture.md shows the output of `mermaid()`; a test fails when the two differ,
so the picture in the docs is always the table in the code.
"""

from __future__ import annotations

from collections.abc import Mapping

from .session import TRANSITIONS, LiveSession, SessionState

__all__ = ["mermaid"]

_INDENT = "    "


def mermaid(
    transitions: Mapping[tuple[SessionState, str], SessionState] = TRANSITIONS,
) -> str:
    """`transitions` as a Mermaid `stateDiagram-v2`, ending with a newline.

    Each state is named after its enum member and described by its value. The start
    arrow points at the state a new `LiveSession` is in. Transitions between the same
    two states share one arrow, labelled with their messages or actions in table
    order. `LiveSession.close()` is legal in every state and is not in the table, so
    every other state gets an arrow to CLOSED labelled `close`.
    """
    lines = ["stateDiagram-v2"]
    lines += [f"{_INDENT}{state.name} : {state.value}" for state in SessionState]
    lines.append(f"{_INDENT}[*] --> {LiveSession().state.name}")
    arrows: dict[tuple[SessionState, SessionState], list[str]] = {}
    for (source, action), target in transitions.items():
        arrows.setdefault((source, target), []).append(action)
    for state in SessionState:
        if state is not SessionState.CLOSED and (state, "close") not in transitions:
            arrows.setdefault((state, SessionState.CLOSED), []).append("close")
    for (source, target), actions in arrows.items():
        lines.append(f"{_INDENT}{source.name} --> {target.name} : {', '.join(actions)}")
    lines.append(f"{_INDENT}{SessionState.CLOSED.name} --> [*]")
    return "\n".join(lines) + "\n"
