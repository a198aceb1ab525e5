"""Writes `schemas.json` (the tool catalog the gateway reads) from the default registry.

Run it after adding or changing a tool: `make tool-catalog`. A unit test fails while the file
and the registry disagree.
"""

from __future__ import annotations

from activities.tools.catalog import CATALOG_FILE, ToolCatalog
from activities.tools.registry import default_registry


def catalog_text() -> str:
    registry = default_registry()
    return ToolCatalog.of(registry.tools(registry.names())).dumps()


if __name__ == "__main__":
    CATALOG_FILE.write_text(catalog_text(), encoding="utf-8")
