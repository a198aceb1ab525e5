"""The tool catalog: the tools' schemas as the gateway reads them, without their code."""

from __future__ import annotations

from pathlib import Path

from activities.tools.catalog import CATALOG_FILE, ToolCatalog
from activities.tools.registry import ToolRegistry, default_registry
from activities.tools.write_catalog import catalog_text


def test_the_catalog_file_matches_the_registry() -> None:
    assert CATALOG_FILE.read_text(encoding="utf-8") == catalog_text(), (
        "activities/tools/schemas.json is stale: run `make tool-catalog` and commit it"
    )
    registry, catalog = default_registry(), ToolCatalog.load()
    assert catalog.names() == registry.names()
    for name in registry.names():
        schema = catalog.get(name)
        assert schema is not None and schema.parameters == registry.get(name).parameters_schema
        assert schema.description == registry.get(name).description


def test_the_catalog_says_what_is_wrong_with_arguments() -> None:
    registry = ToolRegistry()

    @registry.tool
    def book(city: str, nights: int = 1, guests: list[str] | None = None) -> str:
        """Book a room."""
        return "ok"

    schema = ToolCatalog.of([registry.get("book")]).get("book")
    assert schema is not None
    assert schema.problems({"city": "Oslo", "nights": 2, "guests": ["a"]}) == []
    assert schema.problems({}) == ["city: missing required argument"]
    assert schema.problems({"city": 5, "nights": "two"}) == [
        "city: 5 is not of type 'string'",
        "nights: 'two' is not of type 'integer'",
    ]
    assert schema.unknown_arguments({"city": "Oslo", "pets": 1, "breakfast": True}) == [
        "breakfast",
        "pets",
    ]


def test_a_catalog_round_trips_through_its_file(tmp_path: Path) -> None:
    registry = default_registry()
    catalog = ToolCatalog.of(registry.tools(registry.names()))
    path = tmp_path / "schemas.json"
    path.write_text(catalog.dumps(), encoding="utf-8")
    loaded = ToolCatalog.load(path)
    assert loaded.parameter_schemas() == catalog.parameter_schemas()
    assert "calculator" in loaded and "launch_rocket" not in loaded
