"""A tool is a typed function: its schema, validation and invocation follow from the signature."""

from __future__ import annotations

import threading
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from activities.tools.errors import ToolArgumentError, ToolError, UnknownToolError
from activities.tools.registry import ToolRegistry, default_registry
from activities.tools.tool import Tool


def search_flights(
    origin: Annotated[str, Field(description="IATA code of the departure airport.")],
    destination: Annotated[str, Field(description="IATA code of the arrival airport.")],
    passengers: Annotated[int, Field(ge=1, le=9)] = 1,
    cabin: Literal["economy", "business"] = "economy",
) -> dict[str, object]:
    """Find flights between two airports.

    This second paragraph is for humans and is not sent to the model.
    """
    return {"route": f"{origin}-{destination}", "passengers": passengers, "cabin": cabin}


def test_schema_is_derived_from_the_signature() -> None:
    tool = Tool(search_flights)

    assert tool.name == "search_flights"
    assert tool.description == "Find flights between two airports."
    assert tool.parameters_schema == {
        "type": "object",
        "properties": {
            "origin": {"type": "string", "description": "IATA code of the departure airport."},
            "destination": {"type": "string", "description": "IATA code of the arrival airport."},
            "passengers": {"type": "integer", "default": 1, "minimum": 1, "maximum": 9},
            "cabin": {"type": "string", "enum": ["economy", "business"], "default": "economy"},
        },
        "required": ["origin", "destination"],
        "additionalProperties": False,
    }


class Point(BaseModel):
    x: float
    title: str = "a property called title stays"


def test_schema_has_no_titles_and_nested_models_are_inlined() -> None:
    def plot(point: Point) -> str:
        """Plot a point."""
        return "ok"

    schema = Tool(plot).parameters_schema

    assert "$defs" not in schema
    point = schema["properties"]["point"]
    assert "title" not in point
    assert set(point["properties"]) == {"x", "title"}
    assert "title" not in point["properties"]["x"]


async def test_invoke_validates_coerces_and_returns_json_for_non_strings() -> None:
    tool = Tool(search_flights)

    result = await tool.invoke({"origin": "CDG", "destination": "NRT", "passengers": "2"})

    assert result == '{"route":"CDG-NRT","passengers":2,"cabin":"economy"}'


async def test_string_results_are_returned_as_they_are() -> None:
    def greet(name: str) -> str:
        return f"hello {name}"

    assert await Tool(greet).invoke({"name": "Ada"}) == "hello Ada"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"origin": "CDG"}, "destination: missing required argument"),
        ({"origin": "CDG", "destination": 7}, "destination: Input should be a valid string"),
        ({"origin": "CDG", "destination": "NRT", "passengers": 12}, "passengers:"),
        ({"origin": "CDG", "destination": "NRT", "cabin": "first"}, "cabin:"),
    ],
)
async def test_wrong_arguments_are_named_in_the_error(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ToolArgumentError, match="search_flights") as error:
        await Tool(search_flights).invoke(arguments)
    assert message in str(error.value)
    assert isinstance(error.value, ToolError)  # so its message goes back to the model


async def test_unknown_arguments_are_reported_and_dropped_not_fatal() -> None:
    tool = Tool(search_flights)
    arguments = {"origin": "CDG", "destination": "NRT", "required": ["origin"]}
    assert tool.unknown_arguments(arguments) == ["required"]
    assert "required" not in tool.validate(arguments)


async def test_sync_tools_run_off_the_event_loop_thread() -> None:
    def where() -> str:
        return threading.current_thread().name

    assert await Tool(where).invoke({}) != threading.current_thread().name


async def test_async_tools_are_awaited() -> None:
    async def fetch(key: str) -> list[str]:
        return [key, key]

    assert await Tool(fetch).invoke({"key": "k"}) == '["k","k"]'


async def test_parameter_names_that_clash_with_pydantic_still_work() -> None:
    def dump(json: str, schema: str = "v1") -> str:
        return f"{json}/{schema}"

    tool = Tool(dump)

    assert set(tool.parameters_schema["properties"]) == {"json", "schema"}
    assert await tool.invoke({"json": "{}"}) == "{}/v1"


def test_functions_the_model_could_not_call_are_refused() -> None:
    class Local(BaseModel):
        x: int

    def local_type(value: Local) -> str:  # a string annotation nothing can resolve
        return "x"

    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    def variadic(*args: int) -> int:
        return sum(args)

    with pytest.raises(TypeError, match="type annotation"):
        Tool(untyped)
    with pytest.raises(TypeError, match="nameable"):
        Tool(variadic)
    with pytest.raises(TypeError, match="cannot resolve"):
        Tool(local_type)


def test_registry_decorator_get_names_and_contains() -> None:
    registry = ToolRegistry()

    @registry.tool
    def first(a: int) -> int:
        """First tool."""
        return a

    @registry.tool(name="second_tool", description="Overridden.")
    def second(b: int) -> int:
        return b

    assert first(1) == 1  # the decorator hands the function back unchanged
    assert registry.names() == ["first", "second_tool"]
    assert "first" in registry and "second" not in registry
    assert registry.get("second_tool").description == "Overridden."
    with pytest.raises(ValueError, match="already registered"):
        registry.add(first)
    with pytest.raises(ValueError, match="must match"):
        registry.add(first, name="has spaces")


def test_unknown_tool_error_lists_the_available_tools() -> None:
    registry = ToolRegistry()
    registry.add(search_flights)

    with pytest.raises(UnknownToolError, match="'book_hotel'.*available tools: search_flights"):
        registry.get("book_hotel")


def test_a_tool_as_an_openai_tools_entry() -> None:
    registry = ToolRegistry()
    registry.add(search_flights)

    entry = registry.get("search_flights").openai_tool()

    assert entry["type"] == "function"
    assert entry["function"]["name"] == "search_flights"
    assert entry["function"]["description"] == "Find flights between two airports."
    assert entry["function"]["parameters"]["required"] == ["origin", "destination"]


def test_default_registry_holds_the_builtin_tools_and_is_fresh_each_time() -> None:
    registry = default_registry()

    assert {"calculator", "current_time"} <= set(registry.names())
    registry.add(search_flights)
    assert "search_flights" not in default_registry()


def test_only_tools_whose_result_depends_on_their_arguments_alone_are_idempotent() -> None:
    registry = default_registry()

    idempotent = [name for name in registry.names() if registry.get(name).idempotent]
    # the time, files and sub-agents change between calls; the sample database never does
    assert idempotent == [
        "calculator", "describe_database", "query_database", "read_document", "search_documents"
    ]  # fmt: skip
