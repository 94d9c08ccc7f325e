"""The diagrams and tables in docs/architecture.md are the ones the code's tables draw."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlive.protocol import turn
from openlive.protocol.diagram import mermaid, turn_mermaid, turn_rules, turn_table
from openlive.protocol.session import TRANSITIONS, SessionState

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
START = "<!-- state-diagram:start -->"
END = "<!-- state-diagram:end -->"


def _docs_block(start: str = START, end: str = END) -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert text.count(start) == 1 and text.count(end) == 1, f"one pair of markers in {ARCHITECTURE}"
    return text.split(start, 1)[1].split(end, 1)[0]


def test_docs_show_the_current_diagram() -> None:
    expected = f"\n```mermaid\n{mermaid()}```\n"
    assert _docs_block() == expected, (
        f"{ARCHITECTURE} is out of date: put the output of "
        "`python -c 'from openlive.protocol.diagram import mermaid; print(mermaid(), end=\"\")'` "
        f"in a mermaid code block between {START} and {END}"
    )


def test_every_transition_is_drawn() -> None:
    drawn = mermaid()
    assert drawn.startswith("stateDiagram-v2\n")
    for (source, action), target in TRANSITIONS.items():
        arrow = next(
            line for line in drawn.splitlines() if f"{source.name} --> {target.name} :" in line
        )
        assert action in arrow.split(" : ", 1)[1].split(", ")
    for state in SessionState:
        assert f"    {state.name} : {state.value}\n" in drawn


def test_a_changed_table_changes_the_diagram() -> None:
    extra = {**TRANSITIONS, (SessionState.SETTING_UP, "tool_response"): SessionState.SETTING_UP}
    assert "SETTING_UP --> SETTING_UP : tool_response" in mermaid(extra)
    assert mermaid(extra) != mermaid()


@pytest.mark.parametrize(
    ("name", "drawn"),
    [
        ("turn-diagram", f"\n```mermaid\n{turn_mermaid()}```\n"),
        ("turn-table", f"\n{turn_table()}"),
        ("turn-rules", f"\n{turn_rules()}"),
    ],
)
def test_docs_show_the_current_turn_protocol(name: str, drawn: str) -> None:
    block = _docs_block(f"<!-- {name}:start -->", f"<!-- {name}:end -->")
    assert block == drawn, (
        f"{ARCHITECTURE} is out of date: put the output of openlive.protocol.diagram's "
        f"turn functions between its {name} markers"
    )


def test_every_turn_transition_is_drawn() -> None:
    drawn, table = turn_mermaid(), turn_table()
    for (source, move), target in turn.TRANSITIONS.items():
        rows = [[cell.strip() for cell in line.split("|")] for line in table.splitlines()]
        row = next(r for r in rows if r[1] == source.name)
        cell = row[rows[0].index(f"`{move.value}`")]
        assert cell == ("same" if target is source else target.name)
        if target is not source:
            assert f"{source.name} --> {target.name} :" in drawn


def test_a_changed_turn_table_changes_the_drawings() -> None:
    extra = {**turn.TRANSITIONS, (turn.TurnState.IDLE, turn.Move.ANSWER_ENDED): turn.TurnState.IDLE}
    assert turn_table(extra) != turn_table()
    changed = {**turn.TRANSITIONS, (turn.TurnState.IDLE, turn.Move.INPUT): turn.TurnState.ANSWERING}
    assert "IDLE --> ANSWERING : input" in turn_mermaid(changed)
