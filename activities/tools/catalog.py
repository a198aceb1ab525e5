"""The tools' schemas as data, for processes that describe and check tool calls but never run
them (the gateway, agent-spec validation).

`schemas.json` beside this module is written from the registry (`make tool-catalog`), and a
unit test fails when it no longer matches, so the gateway knows every tool's parameters without
importing a single tool implementation. Arguments are checked against the JSON schema, the same
schema the model is offered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from jsonschema import Draft202012Validator

CATALOG_FILE = Path(__file__).with_name("schemas.json")


class DescribedTool(Protocol):
    """What the catalog reads of a tool: a registry's `Tool` fits."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def parameters_schema(self) -> dict[str, Any]: ...
    @property
    def side_effects(self) -> bool: ...


class ToolSchema:
    """One tool as the model sees it: its name, description and parameters' JSON schema;
    and whether its calls have side effects (a shadow run dry-runs them)."""

    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        side_effects: bool = False,
    ) -> None:
        self.name = name
        self.description = description
        self.parameters = parameters
        self.side_effects = side_effects
        self._validator = Draft202012Validator(parameters)

    def argument_names(self) -> list[str]:
        """The arguments the tool takes, in its schema's order."""
        return list(self.parameters.get("properties", {}))

    def unknown_arguments(self, arguments: Mapping[str, Any]) -> list[str]:
        """Names the tool does not take, sorted."""
        known = set(self.argument_names())
        return sorted(name for name in arguments if name not in known)

    def problems(self, arguments: Mapping[str, Any]) -> list[str]:
        """What is wrong with the arguments, one line per argument; empty when they fit."""
        required = self.parameters.get("required", [])
        found = [f"{name}: missing required argument" for name in required if name not in arguments]
        for error in self._validator.iter_errors(dict(arguments)):
            if error.validator != "required":  # said above, by name
                where = ".".join(str(part) for part in error.absolute_path) or "arguments"
                found.append(f"{where}: {error.message}")
        return sorted(found)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "side_effects": self.side_effects,
            "parameters": self.parameters,
        }


class ToolCatalog:
    """Tool schemas by name."""

    def __init__(self, schemas: Iterable[ToolSchema]) -> None:
        self._schemas = {schema.name: schema for schema in schemas}

    @classmethod
    def load(cls, path: Path = CATALOG_FILE) -> ToolCatalog:
        entries = json.loads(path.read_text(encoding="utf-8"))["tools"]
        return cls(
            ToolSchema(e["name"], e["description"], e["parameters"], e.get("side_effects", False))
            for e in entries
        )

    @classmethod
    def of(cls, tools: Iterable[DescribedTool]) -> ToolCatalog:
        return cls(
            ToolSchema(t.name, t.description, t.parameters_schema, t.side_effects) for t in tools
        )

    def including(self, tools: Iterable[DescribedTool]) -> ToolCatalog:
        """This catalog and more tools (an MCP server's, listed at start)."""
        return ToolCatalog([*self._schemas.values(), *ToolCatalog.of(tools)._schemas.values()])

    def dumps(self) -> str:
        """The catalog as the text of `schemas.json`, tools by name, schemas in the registry's order
        (the approval page lays out its edit form in that order)."""
        tools = [self._schemas[name].as_json() for name in self.names()]
        return json.dumps({"tools": tools}, indent=2, ensure_ascii=False) + "\n"

    def get(self, name: str) -> ToolSchema | None:
        return self._schemas.get(name)

    def names(self) -> list[str]:
        return sorted(self._schemas)

    def parameter_schemas(self) -> dict[str, dict[str, Any]]:
        """Each tool's parameters schema, by tool name."""
        return {name: schema.parameters for name, schema in self._schemas.items()}

    def side_effect_names(self) -> list[str]:
        """The tools whose calls have side effects."""
        return sorted(name for name, schema in self._schemas.items() if schema.side_effects)

    def __contains__(self, name: object) -> bool:
        return name in self._schemas


_LITERAL_KEYS = frozenset({"default", "enum", "const", "examples"})


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `$defs` and drop pydantic's `title`s: small models read less, grammars compile."""
    defs = schema.pop("$defs", {})

    def clean(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [clean(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            key = ref.removeprefix("#/$defs/")
            if key in seen:
                raise TypeError(f"recursive argument types are not supported ({key})")
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return clean({**defs[key], **extra}, (*seen, key))
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title":
                continue
            if key in _LITERAL_KEYS:
                out[key] = value
            elif key == "properties" and isinstance(value, dict):
                out[key] = {name: clean(sub, seen) for name, sub in value.items()}
            else:
                out[key] = clean(value, seen)
        return out

    cleaned: dict[str, Any] = clean(schema)
    head = {"type": "object", "properties": {}, "required": []}
    return {**head, **cleaned}
