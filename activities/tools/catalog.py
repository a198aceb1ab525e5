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

    name: str
    description: str
    parameters_schema: dict[str, Any]
    side_effects: bool


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
