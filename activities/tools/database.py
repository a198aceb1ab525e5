"""The data analyst's tools: read-only SQL over the sample shop database (agents/data/shop.sql).

Each call loads the SQL into a fresh in-memory SQLite database (a few milliseconds), so no call
can change what the next one sees, and nothing but SELECT is authorised on it: a write, an
ATTACH of a file or a PRAGMA is refused by SQLite itself and told to the model as an error. A
query that runs too long is stopped by a step budget; the tool's process limits hold beyond
that.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo

from activities.tools.errors import ToolError
from activities.tools.tool import RECORDING

SAMPLE_SQL = Path(__file__).resolve().parents[2] / "agents" / "data" / "shop.sql"
MAX_ROWS = 50
MAX_STEPS = 50_000_000  # SQLite VM instructions: seconds of CPU, far beyond any fair query
_PROGRESS_EVERY = 10_000
_DATE_PARTS = {"YEAR", "MONTH", "DAY", "DATE_PART", "EXTRACT", "DATEPART", "TO_CHAR"}
_MISSING = re.compile(r"no such (?P<kind>column|table): (?P<name>\S+)")
# outside quotes: a table a query reads from (FROM, JOIN or a comma) with its alias, if any
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_TABLE_ALIAS = re.compile(
    r"(?:\bFROM|\bJOIN|,)\s+(\w+)\b(?!\s*[.(])(?:\s+(?:AS\s+)?(?!(?:ON|USING|WHERE|JOIN|INNER|"
    r"LEFT|RIGHT|FULL|CROSS|NATURAL|OUTER|GROUP|ORDER|HAVING|LIMIT|OFFSET|UNION|EXCEPT|INTERSECT|"
    r"WINDOW|FROM|SELECT|AND|OR|NOT|AS)\b)(\w+))?",
    re.IGNORECASE,
)
_QUALIFIED = re.compile(r"\b(\w+)\.(\w+)\b")
_MAX_JOINS_CHECKED_SQL = 4000  # each join is checked against the whole query: keep it short
# one `JOIN table [AS alias] ON condition`, up to the next clause
_JOIN_ON = re.compile(
    r"\s+(?:(?:INNER|LEFT(?:\s+OUTER)?|CROSS)\s+)?JOIN\s+(\w+)(?:\s+(?:AS\s+)?(?!ON\b)(\w+))?"
    r"\s+ON\s+.+?(?=\s+(?:(?:INNER|LEFT|RIGHT|FULL|CROSS|NATURAL)\s+)?JOIN\b|\s+(?:WHERE|GROUP|"
    r"ORDER|HAVING|LIMIT|UNION|EXCEPT|INTERSECT|WINDOW)\b|\s*[;)]|\s*$)",
    re.IGNORECASE | re.DOTALL,
)
_READ_ONLY = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}


def qualifiers_repaired(sql: str) -> str:
    """The query with each column its qualifier cannot have (`o.quantity` where `o` is no
    table of the query, or is `orders`) qualified instead by the one table of the query that
    has it. The 0.5B model writes such a query, then repeats it word for word after the error
    that names the fix. A column two of the query's tables have, or none, or two wrong names
    that would become one (`p.quantity * o.quantity`: which was meant is anyone's guess), is
    left to SQLite's error; so is a name the query defines otherwise (a CTE, a subquery's
    alias). Quoted text is never changed."""
    schema = _columns_by_table()
    parts = _QUOTED.split(sql)
    code = " ".join(parts)  # what is outside quotes
    read: dict[str, str] = {}  # qualifier (alias or table name) → table
    for table, alias in _TABLE_ALIAS.findall(code):
        if table.lower() in schema:
            read[(alias or table).lower()] = table.lower()
    defined = {w.lower() for w in re.findall(r"\b\w+\b(?!\s*\.)", _QUALIFIED.sub(" ", code))}
    targets: dict[tuple[str, str], str] = {}  # wrong reference → the one qualifier it can have
    for qualifier, column in {(q.lower(), c.lower()) for q, c in _QUALIFIED.findall(code)}:
        table = read.get(qualifier)
        if (table is not None and column in schema[table]) or (
            table is None and qualifier in defined
        ):
            continue
        having = [q for q, t in read.items() if column in schema[t]]
        if len(having) == 1:
            targets[qualifier, column] = having[0]
    becomes = [(right, column) for (_, column), right in targets.items()]
    targets = {
        (qualifier, column): right
        for (qualifier, column), right in targets.items()
        if becomes.count((right, column)) == 1
    }

    def repaired(match: re.Match[str]) -> str:
        right = targets.get((match[1].lower(), match[2].lower()))
        return match[0] if right is None else f"{right}.{match[2]}"

    quoted = _QUOTED.findall(sql)
    fixed = [_QUALIFIED.sub(repaired, part) for part in parts]
    return "".join(p + (quoted[i] if i < len(quoted) else "") for i, p in enumerate(fixed))


def unused_joins_dropped(sql: str, info: ValidationInfo) -> str:
    """The query without each table it joins but never reads: outside its own ON condition,
    nothing is qualified by its name or alias and no unqualified word is one of its columns.
    The 0.5B model joins `order_items` to count orders, and every order is then counted once
    per line. A query with a subquery is left as it is. Only when the call is recorded
    (tool.RECORDING): run again on its own output, it would drop the join the dropped one
    used (`orders`, and count customers)."""
    if (
        info.context != RECORDING
        or len(sql) > _MAX_JOINS_CHECKED_SQL
        or re.search(r"\(\s*SELECT\b", sql, re.IGNORECASE)
    ):
        return sql
    schema = _columns_by_table()
    # quoted text blanked, same length: positions stay, its words count for nothing
    code = _QUOTED.sub(lambda m: "'" + " " * (len(m[0]) - 2) + "'", sql)
    unused = []
    for join in _JOIN_ON.finditer(code):  # each judged on the query as written: no cascade
        table, alias = join[1].lower(), (join[2] or join[1]).lower()
        if table not in schema:
            continue
        outside = code[: join.start()] + " " + code[join.end() :]
        qualifiers = {q.lower() for q, _ in _QUALIFIED.findall(outside)}
        words = {w.lower() for w in re.findall(r"\b\w+\b", _QUALIFIED.sub(" ", outside))}
        if not (qualifiers | words) & {alias, table} and not words & schema[table]:
            unused.append(join.span())
    for start, end in reversed(unused):
        sql = sql[:start] + sql[end:]
    return sql


def query_database(
    sql: Annotated[
        str,
        AfterValidator(qualifiers_repaired),
        AfterValidator(unused_joins_dropped),
        Field(description="One SQLite SELECT statement."),
    ],
) -> str:
    """Run one read-only SQL query (SQLite) on the shop database and return the query and
    its rows as a table."""
    with _database() as connection:
        try:
            cursor = connection.execute(sql)
        except sqlite3.Warning as exc:  # e.g. two statements in one call
            raise ToolError(f"{exc}; send one SELECT statement per call") from None
        except sqlite3.DatabaseError as exc:
            raise ToolError(_explained(exc, sql)) from None
        names = [column[0] for column in cursor.description or ()]
        try:
            rows = cursor.fetchmany(MAX_ROWS + 1)
        except sqlite3.DatabaseError as exc:
            raise ToolError(_explained(exc, sql)) from None
    return "\n".join([f"Query: {' '.join(sql.split())}", *_table(names, rows)])


def describe_database() -> str:
    """List the shop database's tables with their columns."""
    lines = [
        f"{table}({', '.join(f'{name} {kind}' for name, kind in columns)})"
        for table, columns in _schema().items()
    ]
    return "Tables:\n" + "\n".join(lines)


@cache
def _columns_by_table() -> dict[str, frozenset[str]]:
    """Each table's column names, lowercased (SQL names are case-blind)."""
    return {t.lower(): frozenset(c.lower() for c, _ in cols) for t, cols in _schema().items()}


@cache
def _schema() -> dict[str, list[tuple[str, str]]]:
    """Table → (column, type) of the sample, in the order they were made."""
    connection = _loaded()
    try:
        tables = connection.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rowid"
        ).fetchall()
        return {
            name: [
                (column[1], column[2].lower())
                for column in connection.execute(f"PRAGMA table_info({name})")
            ]
            for (name,) in tables
        }
    finally:
        connection.close()


def _loaded() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.executescript(_sample_sql())
    return connection


class _database:
    """A fresh in-memory copy of the sample, read-only from the first statement on."""

    def __enter__(self) -> sqlite3.Connection:
        self.connection = _loaded()
        steps = iter(range(MAX_STEPS // _PROGRESS_EVERY))
        self.connection.set_progress_handler(lambda: next(steps, None) is None, _PROGRESS_EVERY)
        self.connection.set_authorizer(_read_only)
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()


@cache
def _sample_sql() -> str:
    return SAMPLE_SQL.read_text(encoding="utf-8")


def _read_only(action: int, first: str | None, *_: Any) -> int:
    """SQLite's authorizer: reading only (and the one PRAGMA that lists a table's columns)."""
    if action in _READ_ONLY or (action == sqlite3.SQLITE_PRAGMA and first == "table_info"):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _explained(exc: sqlite3.DatabaseError, sql: str) -> str:
    text = str(exc)
    missing = _MISSING.match(text)
    if missing is not None:
        return f"SQL error: {text}. {_closest(missing['kind'], missing['name'], sql)}"
    if text.startswith("no such function: ") and text[18:].upper() in _DATE_PARTS:
        return (
            f"SQL error: {text}. SQLite has no {text[18:]}(): dates are text 'YYYY-MM-DD'; "
            "use strftime('%Y', column), strftime('%m', column) or column LIKE '2025-07%'"
        )
    if text == "not authorized":
        return "the database is read-only: only SELECT queries are allowed"
    if text == "interrupted":
        return f"the query ran longer than {MAX_STEPS:,} steps and was stopped; simplify it"
    return f"SQL error: {text}"


def _closest(kind: str, name: str, sql: str) -> str:
    """The schema's names of that kind, the nearest first: a small model guesses
    `order_date` for `ordered_on`, and reads the right name when it is put before it.
    Columns are looked for in the tables the query names (all, when it names none)."""
    schema = _schema()
    tables = list(schema)
    named = [table for table in tables if table in re.findall(r"\w+", sql)] or tables
    columns = [f"{table}.{column}" for table in named for column, _ in schema[table]]
    bare = name.rpartition(".")[2]
    if kind == "table":
        near = difflib.get_close_matches(bare, tables, n=1, cutoff=0.4)
    else:  # named with its table: `o.quantity` is order_items.quantity, not the orders' one
        by_name = {column.partition(".")[2]: column for column in reversed(columns)}
        near = [by_name[match] for match in difflib.get_close_matches(bare, list(by_name), 1, 0.4)]
    hint = f"Did you mean {near[0]}? " if near else ""
    listed = ", ".join(tables if kind == "table" else columns)
    return f"{hint}The {kind}s are: {listed}"


def _table(names: list[str], rows: list[tuple[Any, ...]]) -> list[str]:
    if not names:
        return ["(the statement returned no columns)"]
    shown = rows[:MAX_ROWS]
    lines = [" | ".join(names), *(" | ".join(_cell(value) for value in row) for row in shown)]
    more = f", only the first {MAX_ROWS} shown" if len(rows) > MAX_ROWS else ""
    count = f"{len(shown)}{'+' if more else ''} row{'' if len(shown) == 1 else 's'}"
    return [*lines, f"({count}{more})"]


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0")
    return str(value)


DATABASE_TOOLS: tuple[Callable[..., Any], ...] = (query_database, describe_database)
