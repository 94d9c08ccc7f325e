"""Function calling for a small local model: which function, then its arguments.

A model of 135M parameters cannot judge when a function is needed: asked to choose, it
picks at random or never calls. So the two halves of a call are done separately:

- **Which function** is decided by the words of the user's last message: a function is
  called when the message shares a content word with the function's name, description
  or parameter names (after folding case, dropping common words and simple suffixes,
  so that "raining" meets "rain"). The function sharing the most is called; others
  that match as well are called too, in the same turn. This is predictable and easy to
  steer (name the thing the function is about), not intelligent: a larger model
  behind the OpenAI-compatible backend decides for itself.
- **Its arguments** are written by the model under a grammar compiled from the
  function's JSON Schema (llama.cpp's GBNF), so whatever the model writes is a JSON
  object that validates: right keys, right types, enum values from the enum.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import jsonschema

from .base import ChatMessage, FunctionSpec

__all__ = ["arguments_prompt", "choose_functions", "render_history", "valid_arguments"]

_STOP = frozenset(
    """a an the and or but if then else of to in on at by for from with about as into
    is are was were be been being am do does did have has had will would can could should
    may might must shall i me my you your he she it its we our they them their this that
    these those what which who whom whose when where why how please tell me give get set
    make let current now today right some any all there here just like want need know
    function call calls return returns value values given new""".split()  # noqa: SIM905 (a word list reads better as prose)
)
_SUFFIXES = ("ing", "ies", "ed", "es", "s", "ly")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _words(text: str) -> set[str]:
    # Split snake_case and camelCase names as well as prose.
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {_stem(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP}


def _vocabulary(spec: FunctionSpec) -> set[str]:
    properties = spec.parameters.get("properties") or {}
    names = " ".join(properties) if isinstance(properties, dict) else ""
    return _words(f"{spec.name} {spec.description} {names}")


def choose_functions(text: str, functions: Sequence[FunctionSpec]) -> list[FunctionSpec]:
    """The functions that the message `text` calls for, best first (see the module)."""
    said = _words(text)
    scored = [(len(said & _vocabulary(f)), i, f) for i, f in enumerate(functions)]
    return [f for score, _, f in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]


def arguments_prompt(spec: FunctionSpec, request: str) -> list[ChatMessage]:
    """The messages that ask the model for `spec`'s arguments, taken from `request`."""
    return [
        ChatMessage(
            "system",
            f"Fill in the arguments of the function {spec.name}"
            + (f" ({spec.description.rstrip('.')})" if spec.description else "")
            + " from the user's request, as a JSON object. Copy names and places exactly"
            " as the user wrote them.",
        ),
        ChatMessage("user", request),
    ]


def valid_arguments(spec: FunctionSpec, args: Any) -> bool:
    try:
        jsonschema.validate(args, spec.parameters)
    except jsonschema.ValidationError:
        return False
    return isinstance(args, dict)


def render_history(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """The history as plain chat-template messages, for a model with no tool syntax:
    calls become a line of the assistant's, results a user-side note to answer from
    (with the text of the result's parts, the message's `content`)."""
    rendered = []
    for m in messages:
        if m.calls:
            calls = "; ".join(f"{c.name}({json.dumps(c.args)})" for c in m.calls)
            rendered.append({"role": "assistant", "content": f"(calling {calls})"})
        elif m.result is not None:
            result = m.result.response
            shown = result.get("output", result) if "error" not in result else result
            said = json.dumps(shown) if shown or not m.content else m.content
            also = f" It also returned: {m.content}" if m.content and said != m.content else ""
            rendered.append(
                {
                    "role": "user",
                    "content": f"The function {m.result.name} returned: {said}.{also}"
                    " Answer my question using this result.",
                }
            )
        else:
            rendered.append({"role": m.role, "content": m.content})
    return rendered
