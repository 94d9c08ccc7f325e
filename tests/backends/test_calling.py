"""Function calling without a model: which function a message calls for, schemas, and
checking what an engine's model wrote."""

from __future__ import annotations

import pytest

from openlive.backends.base import (
    ChatMessage,
    FunctionCall,
    FunctionResult,
    FunctionSpec,
    MalformedCall,
)
from openlive.backends.calling import choose_functions, render_history, valid_arguments
from openlive.backends.openai_stream import PartialCall, function_call
from openlive.pipeline.tools import Functions, to_json_schema
from openlive.protocol.errors import InvalidArgument
from openlive.protocol.messages import Tool

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = FunctionSpec("get_weather", "Get the current weather in a city.", CITY)
ALARM = FunctionSpec("set_alarm", "Set an alarm clock.", {"type": "object", "properties": {}})
LIGHTS = FunctionSpec("turnOnTheLights", "", {"type": "object", "properties": {"room": {}}})


@pytest.mark.parametrize(
    ("said", "called"),
    [
        ("What's the weather like in Paris?", ["get_weather"]),
        ("Set an alarm for seven, and what's the weather?", ["get_weather", "set_alarm"]),
        ("Wake me with an alarm at 7.", ["set_alarm"]),
        ("Turn on the lights in the kitchen.", ["turnOnTheLights"]),
        ("Which room is the kitchen?", ["turnOnTheLights"]),  # a parameter's name counts
        ("Tell me a joke.", []),
        ("Hello, how are you today?", []),
    ],
)
def test_the_words_of_the_message_choose_the_functions(said: str, called: list[str]) -> None:
    chosen = choose_functions(said, [WEATHER, ALARM, LIGHTS])
    assert sorted(f.name for f in chosen) == sorted(called)


def test_the_best_match_comes_first() -> None:
    said = "Weather in a city: what is the current weather in Oslo, and any alarm?"
    assert [f.name for f in choose_functions(said, [ALARM, WEATHER])] == [
        "get_weather",
        "set_alarm",
    ]


def test_arguments_are_checked_against_the_schema() -> None:
    assert valid_arguments(WEATHER, {"city": "Oslo"})
    assert not valid_arguments(WEATHER, {})
    assert not valid_arguments(WEATHER, {"city": 3})
    assert not valid_arguments(WEATHER, ["Oslo"])


def test_an_api_schema_becomes_json_schema() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING", "description": "where"},
            "days": {"type": "INTEGER", "minimum": 1, "nullable": True},
            "tags": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["a", "b"]}},
        },
        "required": ["city"],
        "property_ordering": ["city", "days", "tags"],
    }
    assert to_json_schema(schema) == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "where"},
            "days": {"type": ["integer", "null"], "minimum": 1},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        },
        "required": ["city"],
    }


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "TUPLE"}, "Unknown type 'TUPLE' in the schema of f."),
        ({"type": "OBJECT", "colour": 1}, "Unknown field 'colour' in the schema of f."),
    ],
)
def test_a_bad_schema_is_refused(schema: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason.replace(".", r"\.")):
        to_json_schema(schema, "f")


def test_declarations_give_specs_and_behaviors() -> None:
    functions = Functions.from_tools(
        [
            Tool.model_validate(
                {
                    "functionDeclarations": [
                        {"name": "a", "parametersJsonSchema": CITY},
                        {"name": "b", "behavior": "NON_BLOCKING"},
                    ]
                }
            )
        ]
    )
    assert [s.name for s in functions.specs] == ["a", "b"]
    assert functions.specs[0].parameters == CITY
    assert functions.blocking == {"a"}
    with pytest.raises(InvalidArgument, match="Duplicate function declaration: a"):
        Functions.from_tools([Tool.model_validate({"functionDeclarations": [{"name": "a"}] * 2})])


def test_a_history_with_calls_reads_as_plain_chat() -> None:
    call = FunctionCall("get_weather", {"city": "Oslo"}, "c1")
    rendered = render_history(
        [
            ChatMessage("user", "Weather in Oslo?"),
            ChatMessage("assistant", "", calls=(call,)),
            ChatMessage("tool", "", result=FunctionResult("c1", "get_weather", {"output": 3})),
        ]
    )
    assert rendered[1] == {
        "role": "assistant",
        "content": '(calling get_weather({"city": "Oslo"}))',
    }
    assert rendered[2]["role"] == "user"
    assert "get_weather returned: 3" in rendered[2]["content"]


def test_the_text_of_a_results_parts_is_read_with_it() -> None:
    def note(response: dict[str, object], text: str) -> str:
        result = FunctionResult("c1", "get_weather", response, text)
        [rendered] = render_history([ChatMessage("tool", text, result=result)])
        return rendered["content"]

    assert note({}, "rain later").startswith("The function get_weather returned: rain later.")
    assert note({"output": 3}, "rain later").startswith(
        "The function get_weather returned: 3. It also returned: rain later"
    )


def test_an_engines_call_is_checked() -> None:
    specs = {"get_weather": WEATHER}
    assert function_call(PartialCall("get_weather", '{"city": "Oslo"}'), specs) == FunctionCall(
        "get_weather", {"city": "Oslo"}
    )
    for partial in (
        PartialCall("get_time", "{}"),
        PartialCall("get_weather", '{"city": '),
        PartialCall("get_weather", '{"town": "Oslo"}'),
    ):
        with pytest.raises(MalformedCall):  # the turn ends, not the session
            function_call(partial, specs)
