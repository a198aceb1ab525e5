"""The data analyst's tools: read-only SQL over the sample shop, with the query shown, and
every way of changing or escaping the database refused with a reason the model can act on."""

from __future__ import annotations

import asyncio

import pytest

from activities.tools.database import describe_database, qualifiers_repaired, query_database
from activities.tools.errors import ToolError
from activities.tools.registry import default_registry


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


@pytest.mark.parametrize(
    ("sql", "repaired"),
    [
        # `o` is no table of the query: the one table with a quantity is order_items (oi)
        (
            "SELECT p.name, SUM(o.quantity) FROM order_items oi JOIN products p"
            " ON oi.product_id = p.id GROUP BY p.id",
            "SELECT p.name, SUM(oi.quantity) FROM order_items oi JOIN products p"
            " ON oi.product_id = p.id GROUP BY p.id",
        ),
        # `o` is orders, which has no quantity
        (
            "SELECT SUM(p.price * o.quantity) FROM orders o JOIN order_items oi"
            " ON o.id = oi.order_id JOIN products p ON oi.product_id = p.id WHERE o.id = 7",
            "SELECT SUM(p.price * oi.quantity) FROM orders o JOIN order_items oi"
            " ON o.id = oi.order_id JOIN products p ON oi.product_id = p.id WHERE o.id = 7",
        ),
        # a table read without an alias is named by itself; the column keeps its spelling
        (
            "SELECT orders.Quantity FROM orders JOIN order_items"
            " ON order_items.order_id = orders.id",
            "SELECT order_items.Quantity FROM orders JOIN order_items"
            " ON order_items.order_id = orders.id",
        ),
    ],
)
def test_a_column_its_qualifier_cannot_have_goes_to_the_one_table_that_has_it(
    sql: str, repaired: str
) -> None:
    assert qualifiers_repaired(sql) == repaired
    assert qualifiers_repaired(repaired) == repaired


@pytest.mark.parametrize(
    "sql",
    [
        # two wrong names would become one: which was meant is anyone's guess
        "SELECT SUM(p.quantity * o.quantity) FROM order_items oi JOIN products p"
        " ON oi.product_id = p.id JOIN orders o ON oi.order_id = o.id",
        # two tables of the query have the column
        "SELECT x.quantity FROM order_items a JOIN order_items b ON a.order_id = b.order_id",
        # no table of the query has it
        "SELECT o.price FROM orders o",
        # names the query defines otherwise: a CTE, a subquery's alias
        "WITH t AS (SELECT id FROM orders) SELECT t.id FROM t",
        "SELECT s.name FROM (SELECT name FROM products) s",
        # quoted text is data
        "SELECT c.name FROM customers c WHERE c.city = 'o.quantity'",
    ],
)
def test_a_reference_with_no_single_fix_is_left_to_sqlites_error(sql: str) -> None:
    assert qualifiers_repaired(sql) == sql


def test_the_tool_runs_the_repaired_query_and_shows_it() -> None:
    tool = default_registry().get("query_database")
    sql = "SELECT SUM(o.quantity) FROM order_items oi WHERE oi.order_id = 7"
    call = tool.normalised({"sql": sql})  # what an approval rule and the transcript see
    assert call == {"sql": "SELECT SUM(oi.quantity) FROM order_items oi WHERE oi.order_id = 7"}
    shown = asyncio.run(tool.invoke({"sql": sql})).splitlines()
    assert shown[0] == f"Query: {call['sql']}"
    assert shown[2] == str(query_database(call["sql"]).splitlines()[2])


BERLIN = (
    "SELECT COUNT(T1.id) FROM customers AS T1 INNER JOIN orders AS T2 ON T1.id = T2.customer_id"
    "{lines} WHERE T1.city = 'Berlin'"
)


@pytest.mark.parametrize(
    ("sql", "recorded"),
    [
        # order_items joined and never read: each order was counted once per line
        (
            BERLIN.format(lines=" INNER JOIN order_items AS T3 ON T2.id = T3.order_id"),
            BERLIN.format(lines=""),
        ),
        (
            "SELECT p.name FROM products p JOIN order_items oi ON oi.product_id = p.id "
            "JOIN orders o ON o.id = oi.order_id GROUP BY p.name",
            "SELECT p.name FROM products p JOIN order_items oi ON oi.product_id = p.id "
            "GROUP BY p.name",
        ),
        # a word in quotes reads nothing
        (
            "SELECT name FROM products p JOIN order_items oi ON oi.product_id = p.id "
            "WHERE name = 'quantity'",
            "SELECT name FROM products p WHERE name = 'quantity'",
        ),
    ],
)
def test_a_joined_table_the_query_never_reads_is_dropped_when_the_call_is_recorded(
    sql: str, recorded: str
) -> None:
    tool = default_registry().get("query_database")
    call = tool.normalised({"sql": sql})
    assert call == {"sql": recorded}
    # the tool runs what was recorded: the join that was kept is not dropped in turn
    assert asyncio.run(tool.invoke(call)).splitlines()[0] == f"Query: {recorded}"


@pytest.mark.parametrize(
    "sql",
    [
        # read by an unqualified column, or by its own name
        "SELECT SUM(quantity) FROM orders o JOIN order_items ON order_id = o.id",
        "SELECT COUNT(*) FROM orders JOIN customers ON customers.id = orders.customer_id "
        "WHERE customers.city = 'Berlin'",
        # a subquery: left as written
        "SELECT COUNT(*) FROM orders o JOIN order_items oi ON oi.order_id = o.id "
        "WHERE o.id IN (SELECT id FROM orders)",
    ],
)
def test_a_joined_table_the_query_reads_is_kept(sql: str) -> None:
    assert default_registry().get("query_database").normalised({"sql": sql}) == {"sql": sql}


def test_berlins_orders_are_counted_once_each() -> None:
    tool = default_registry().get("query_database")
    lines = BERLIN.format(lines=" INNER JOIN order_items AS T3 ON T2.id = T3.order_id")
    per_line = asyncio.run(tool.invoke({"sql": lines})).splitlines()[2]
    per_order = asyncio.run(tool.invoke(tool.normalised({"sql": lines}))).splitlines()[2]
    assert int(per_order) < int(per_line)
    assert asyncio.run(tool.invoke({"sql": BERLIN.format(lines="")})).splitlines()[2] == per_order
