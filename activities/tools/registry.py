"""The tools a worker can run, by name; the built-in and workspace tools are registered by
`default_registry`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar, overload

from activities.tools.builtin import BUILTIN_TOOLS, IDEMPOTENT_TOOLS, QUICK_TOOLS
from activities.tools.code import CODE_TOOLS
from activities.tools.database import DATABASE_TOOLS
from activities.tools.delegate import delegate
from activities.tools.documents import DOCUMENT_TOOLS
from activities.tools.errors import UnknownToolError
from activities.tools.review import REVIEW_TOOLS
from activities.tools.tool import Tool, ToolFunction
from activities.tools.workspace import SIDE_EFFECT_TOOLS, WORKSPACE_TOOLS

F = TypeVar("F", bound=ToolFunction)


class ToolRegistry:
    """The tools a worker can run, by name."""

    def __init__(self, tools: Iterable[Tool] = ()):
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.include(tool)

    def add(
        self,
        func: ToolFunction,
        name: str | None = None,
        description: str | None = None,
        cost_usd: float = 0.0,
        quick: bool = False,
        side_effects: bool = False,
        idempotent: bool = False,
    ) -> Tool:
        """Register a function as a tool and return the `Tool`; `cost_usd` is what one call
        costs, counted in its task's cost; `quick`, `side_effects` and `idempotent`: see
        `Tool`."""
        tool = Tool(
            func,
            name=name,
            description=description,
            cost_usd=cost_usd,
            quick=quick,
            side_effects=side_effects,
            idempotent=idempotent,
        )
        return self.include(tool)

    @overload
    def tool(self, func: F, /) -> F: ...

    @overload
    def tool(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        quick: bool = False,
        side_effects: bool = False,
        idempotent: bool = False,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        func: F | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        quick: bool = False,
        side_effects: bool = False,
        idempotent: bool = False,
    ) -> F | Callable[[F], F]:
        """Decorator form of `add`, bare (`@registry.tool`) or with options; returns func as is."""

        def register(f: F) -> F:
            self.add(f, name=name, description=description, quick=quick,
                     side_effects=side_effects, idempotent=idempotent)  # fmt: skip
            return f

        return register(func) if func is not None else register

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            available = ", ".join(self.names()) or "none"
            raise UnknownToolError(f"unknown tool {name!r}; available tools: {available}") from None

    def names(self) -> list[str]:
        return sorted(self._tools)

    def tools(self, names: Iterable[str]) -> list[Tool]:
        """The named tools, in the order given; unknown names raise `UnknownToolError`."""
        return [self.get(name) for name in names]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def include(self, tool: Tool) -> Tool:
        """Register a built tool (an MCP server's, activities/tools/mcp/)."""
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool


def default_registry() -> ToolRegistry:
    """A fresh registry of the built-in tools (fresh, so adding tools never leaks between users)."""
    registry = ToolRegistry()
    # delegate starts a real sub-agent task: a side effect a shadow run must not have; the code
    # tools may change the task's files (the review tools keep no change)
    side_effects = {*SIDE_EFFECT_TOOLS, *CODE_TOOLS, delegate}
    for func in (*BUILTIN_TOOLS, *WORKSPACE_TOOLS, *CODE_TOOLS, *REVIEW_TOOLS, *DATABASE_TOOLS,
                 *DOCUMENT_TOOLS, delegate):  # fmt: skip
        registry.add(
            func,
            quick=func in QUICK_TOOLS,
            side_effects=func in side_effects,
            # the sample database and documents never change while a worker runs
            idempotent=func in (*IDEMPOTENT_TOOLS, *DATABASE_TOOLS, *DOCUMENT_TOOLS),
        )
    return registry
