"""The checks of an agent spec's loop-made call fields (`first_calls`, `show_calls`) against
the tools' argument schemas, run when the specs are loaded."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from workflows.contracts.agents import PlannedCall


def call_problems(
    first_calls: list[PlannedCall],
    show_calls: dict[str, str],
    schemas: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """First calls missing arguments their tool needs or giving ones it does not take;
    show_calls lines naming arguments their tool does not take."""
    problems = []
    for call in first_calls:  # the fan-out's call among them (by the caller)
        schema = schemas.get(call.tool)
        if schema is None:
            continue
        where = f"first_calls/fan_out: {call.tool!r}"
        needed = set(schema.get("required", [])) - set(call.arguments)
        if needed:
            problems.append(f"{where} needs arguments {sorted(needed)}")
        unknown = set(call.arguments) - set(schema.get("properties", {}))
        if unknown:
            problems.append(f"{where} takes no argument {sorted(unknown)}")
    for name, line in show_calls.items():
        if name not in schemas:
            continue
        taken = set(schemas[name].get("properties", {}))
        named = {field for _, field, _, _ in string.Formatter().parse(line) if field}
        if named - taken:
            problems.append(
                f"show_calls: {name!r} takes no argument {sorted(named - taken)}; "
                f"it takes {sorted(taken)}"
            )
    return problems


def unlisted_tools(tools: list[str], offered: list[str], calls: dict[str, list[str]]) -> str | None:
    """What is wrong when a loop-made call field names a tool the agent does not list (the
    fan-out may name `delegate`, which sub_agents offers: `offered`)."""
    for field, names in calls.items():
        allowed = offered if field == "fan_out" else tools
        strangers = [name for name in names if name not in allowed]
        if strangers:
            return f"{field} {strangers} are not in tools {allowed}"
    return None
