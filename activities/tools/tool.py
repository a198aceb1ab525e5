"""A tool: a typed Python function, with the JSON schema the model sees derived from its
signature.

A tool author writes an ordinary function; its parameters (with `Annotated[..., Field(...)]`
descriptions and defaults) become a pydantic model, which both validates the model's arguments
and produces the schema offered to the model, so the two can never drift apart.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from activities.tools.catalog import clean_schema
from activities.tools.context import active_tool_context
from activities.tools.errors import ToolArgumentError
from activities.tools.processes import ToolProcesses
from activities.tools.results import as_text

ToolFunction = Callable[..., Any]
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what the OpenAI tools API accepts


# the validation context of a call being recorded: a repair that must not run twice (it would
# repair its own output further) acts only then, and the tool runs what was recorded
RECORDING = {"recording": True}


class Tool:
    """One callable tool: its name, description, argument model and schema."""

    mcp_server: str | None = None  # the MCP server it calls (activities/tools/mcp/), if any

    def __init__(
        self,
        func: ToolFunction,
        name: str | None = None,
        description: str | None = None,
        cost_usd: float = 0.0,
        quick: bool = False,
        side_effects: bool = False,
        idempotent: bool = False,
    ):
        """`cost_usd`: what one call costs (a paid API behind the tool), added to its task's.
        `quick`: every call finishes well within a second (no network, no waiting), so the
        workflow runs it as a local activity, saving Temporal a task and a round trip. A quick
        call may run again after a crash before its result is recorded: only for tools whose
        calls are safe to repeat. `side_effects`: a call changes something outside the task's
        transcript (writes or deletes files, calls out, starts other work); a shadow run
        (README, Shadow runs) answers such calls with a dry-run text instead of making them.
        `idempotent`: the result depends on the arguments alone (not on time, files or the
        world), so the same call again in one task reuses the first result instead of
        running (activities/db/tool_results.py)."""
        if cost_usd < 0:
            raise ValueError(f"tool {name or func.__name__!r}: cost_usd must not be negative")
        self.func = func
        self.cost_usd = cost_usd
        self.quick = quick
        self.side_effects = side_effects
        self.idempotent = idempotent
        self.name = name or func.__name__
        if not _TOOL_NAME.fullmatch(self.name):
            raise ValueError(f"tool name {self.name!r} must match {_TOOL_NAME.pattern}")
        self.description = description or _first_paragraph(inspect.getdoc(func))
        self.arguments_model, self._field_names = _arguments_model(func, self.name)
        self.parameters_schema = clean_schema(self.arguments_model.model_json_schema())

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    def openai_tool(self) -> dict[str, Any]:
        """The entry for this tool in an OpenAI `tools` request parameter."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters_schema,
            },
        }

    def unknown_arguments(self, arguments: dict[str, Any]) -> list[str]:
        """Names the tool does not take. Small models copy schema words such as `required`
        into their calls; those are dropped (and reported by the caller), not fatal."""
        known = set(self._field_names.values())
        return sorted(name for name in arguments if name not in known)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check and coerce arguments; the error names each wrong argument for the model."""
        unknown = set(self.unknown_arguments(arguments))
        arguments = {name: value for name, value in arguments.items() if name not in unknown}
        try:
            validated = self.arguments_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolArgumentError(_describe_validation_error(self.name, exc)) from None
        return {param: getattr(validated, field) for field, param in self._field_names.items()}

    def normalised(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments as the tool will receive them (coerced, paths normalised), so an
        approval rule judges what will run; as given when they do not validate (the call then
        fails with the tool's own error) or name unknown parameters (reported, dropped later)."""
        known = {
            k: v for k, v in arguments.items() if k not in set(self.unknown_arguments(arguments))
        }
        try:
            validated = self.arguments_model.model_validate(known, context=RECORDING)
        except ValidationError:
            return arguments
        given = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return {name: given.get(name, value) for name, value in arguments.items()}

    @property
    def runs_in_a_process(self) -> bool:
        """A plain function a child process can import by name (not a closure or a lambda)."""
        qualname = getattr(self.func, "__qualname__", "")
        return (
            not inspect.iscoroutinefunction(self.func)
            and "<" not in qualname
            and getattr(self.func, "__module__", "__main__") != "__main__"
        )

    async def invoke(
        self, arguments: dict[str, Any], processes: ToolProcesses | None = None
    ) -> str:
        """Validate, call and stringify: in a child process under limits when `processes` is
        given and the function allows it, else sync functions in a thread."""
        kwargs = self.validate(arguments)
        if inspect.iscoroutinefunction(self.func):
            return as_text(await self.func(**kwargs))
        if processes is not None and self.runs_in_a_process:
            return await processes.run(self.func, kwargs, active_tool_context())
        return as_text(await asyncio.to_thread(self.func, **kwargs))


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def _arguments_model(func: ToolFunction, tool_name: str) -> tuple[type[BaseModel], dict[str, str]]:
    """A pydantic model of func's parameters, and its field → parameter name map.

    Fields get a private name and the parameter name as alias, so parameters called e.g.
    `json` or `schema` don't collide with BaseModel attributes.
    """
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except NameError as exc:  # string annotations naming a type local to a function
        raise TypeError(f"tool {tool_name!r}: cannot resolve its annotations ({exc})") from None
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    for index, param in enumerate(inspect.signature(func).parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"tool {tool_name!r}: parameter {param.name!r} must be nameable")
        if param.name not in hints:
            raise TypeError(f"tool {tool_name!r}: parameter {param.name!r} needs a type annotation")
        default = ... if param.default is param.empty else param.default
        field_name = f"p{index}"
        fields[field_name] = (hints[param.name], Field(default, alias=param.name))
        names[field_name] = param.name
    model = create_model(
        f"{tool_name}_arguments",
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )
    return typing.cast(type[BaseModel], model), names


def _describe_validation_error(tool_name: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        if error["type"] == "extra_forbidden":
            problems.append(f"{where}: unexpected argument")
        elif error["type"] == "missing":
            problems.append(f"{where}: missing required argument")
        else:
            problems.append(f"{where}: {error['msg']}")
    return f"invalid arguments for tool {tool_name!r}: " + "; ".join(problems)
