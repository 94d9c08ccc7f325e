"""The state machines drawn for the docs, from their tables.

docs/architecture.md shows the output of `mermaid()` (the session's `TRANSITIONS`), and
of `turn_mermaid()`, `turn_table()` and `turn_rules()` (the turn protocol's); a test
fails when they differ, so the pictures in the docs are always the tables in the code.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import turn
from .session import TRANSITIONS, LiveSession, SessionState
from .turn import RULES, Move, TurnState

__all__ = ["mermaid", "turn_mermaid", "turn_rules", "turn_table"]

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


def turn_mermaid(
    transitions: Mapping[tuple[TurnState, Move], TurnState] = turn.TRANSITIONS,
) -> str:
    """The turn protocol's changes of state as a Mermaid `stateDiagram-v2` (the moves
    that leave the state as it is are in `turn_table()`)."""
    lines = ["stateDiagram-v2"]
    lines += [f"{_INDENT}{state.name} : {state.value}" for state in TurnState]
    lines.append(f"{_INDENT}[*] --> {TurnState.IDLE.name}")
    arrows: dict[tuple[TurnState, TurnState], list[str]] = {}
    for (source, move), target in transitions.items():
        if target is not source:
            arrows.setdefault((source, target), []).append(move.value)
    for (source, target), moves in arrows.items():
        lines.append(f"{_INDENT}{source.name} --> {target.name} : {', '.join(moves)}")
    return "\n".join(lines) + "\n"


def turn_table(
    transitions: Mapping[tuple[TurnState, Move], TurnState] = turn.TRANSITIONS,
) -> str:
    """Every (state, move) pair as a Markdown table: the state it leads to, "same" when
    it stays, and "—" where the move is refused (a pipeline bug)."""
    moves = list(Move)
    lines = [
        "| state | " + " | ".join(f"`{m.value}`" for m in moves) + " |",
        "|---" * (len(moves) + 1) + "|",
    ]
    for state in TurnState:
        cells = []
        for move in moves:
            target = transitions.get((state, move))
            cells.append("—" if target is None else "same" if target is state else target.name)
        lines.append(f"| {state.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def turn_rules() -> str:
    """`RULES` as a Markdown table: what interrupts an open answer, what asks for one."""
    lines = ["| input | interrupts an open answer | asks for an answer |", "|---|---|---|"]
    for what, rule in RULES.items():
        lines.append(f"| {what.value} | {rule.interrupts.value} | {rule.answer.value} |")
    return "\n".join(lines) + "\n"
