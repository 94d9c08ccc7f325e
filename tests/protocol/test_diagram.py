"""The state diagram in docs/architecture.md is the one `TRANSITIONS` draws."""

from __future__ import annotations

from pathlib import Path

from openlive.protocol.diagram import mermaid
from openlive.protocol.session import TRANSITIONS, SessionState

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
START = "<!-- state-diagram:start -->"
END = "<!-- state-diagram:end -->"


def _docs_block() -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, f"one pair of markers in {ARCHITECTURE}"
    return text.split(START, 1)[1].split(END, 1)[0]


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
