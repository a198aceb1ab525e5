"""The checks of an agent spec's loop-made call fields (`first_calls`, `show_calls`) against
the tools' argument schemas, run when the specs are loaded."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any


def call_problems(
    first_calls: list[str], show_calls: dict[str, str], schemas: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """First calls that would need arguments; show_calls lines naming arguments their tool
    does not take."""
    problems = [
        f"first_calls: {name!r} needs arguments {needed}; a first call has none"
        for name in first_calls
        if (needed := schemas.get(name, {}).get("required"))
    ]
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
