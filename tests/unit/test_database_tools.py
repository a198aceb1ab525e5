"""The data analyst's tools: read-only SQL over the sample shop, with the query shown, and
every way of changing or escaping the database refused with a reason the model can act on."""

from __future__ import annotations

import pytest

from activities.tools.database import describe_database, query_database
from activities.tools.errors import ToolError


def test_a_query_answers_with_itself_and_a_table() -> None:
    shown = query_database(
        "SELECT city, count(*) AS n FROM customers\n GROUP BY city ORDER BY n DESC LIMIT 2"
    )
    assert shown.splitlines() == [
        "Query: SELECT city, count(*) AS n FROM customers GROUP BY city ORDER BY n DESC LIMIT 2",
        "city | n",
        "Berlin | 6",
        "Vienna | 5",
        "(2 rows)",
    ]


def test_the_tables_are_listed_with_their_columns() -> None:
    assert describe_database().splitlines()[:2] == [
        "Tables:",
        "customers(id integer, name text, city text, joined_on text)",
    ]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DELETE FROM orders", "read-only: only SELECT queries"),
        ("UPDATE products SET price = 0", "read-only"),
        ("CREATE TABLE t (x)", "read-only"),
        ("ATTACH DATABASE '/tmp/agentry-x.db' AS x", "read-only"),
        ("PRAGMA writable_schema = ON", "read-only"),
        ("SELECT load_extension('/tmp/x.so')", "read-only"),
        ("SELECT 1; DELETE FROM orders", "one statement at a time"),
        ("SELECT * FROM nowhere", "no such table: nowhere"),
        (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c",
            "was stopped",
        ),
    ],
)
def test_anything_but_reading_is_refused_with_the_reason(sql: str, reason: str) -> None:
    with pytest.raises(ToolError, match=reason):
        query_database(sql)
    assert "5" in query_database("SELECT count(*) FROM orders WHERE status = 'cancelled'")


def test_long_results_are_cut_and_say_so() -> None:
    shown = query_database("SELECT a.id FROM orders a, orders b").splitlines()
    assert len(shown) == 1 + 1 + 50 + 1
    assert shown[-1] == "(50+ rows, only the first 50 shown)"
