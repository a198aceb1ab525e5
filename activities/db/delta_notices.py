"""Model token deltas on their way to the gateways: Postgres notifications on a channel of their
own, never rows. A delta lives as long as its notification: a gateway listening
(services/gateway/task_feed.py) passes it to the task's live streams, nobody stores it.

Each payload is a JSON object `{"task_id", "iteration", "attempt", "seq", "text"}` of at most
`MAX_PAYLOAD_BYTES` (Postgres refuses 8000 bytes and more)."""

from __future__ import annotations

import asyncpg

from activities.db.decisions import asyncpg_dsn

CHANNEL = "agentry_task_deltas"
MAX_PAYLOAD_BYTES = 7900
CONNECT_SECONDS = 2.0
SEND_SECONDS = 2.0

# one round trip for a batch, announced in the batch's order
_NOTIFY = (
    "SELECT pg_notify($1, payload) "
    "FROM unnest($2::text[]) WITH ORDINALITY AS batch(payload, n) ORDER BY n"
)


class DeltaChannel:
    """One bare asyncpg connection (outside the SQLAlchemy pool, so deltas never take a
    connection a step needs), opened on first use and again after it is lost."""

    def __init__(self, database_url: str) -> None:
        self._dsn, self._ssl = asyncpg_dsn(database_url)
        self._connection: asyncpg.Connection | None = None

    async def notify(self, payloads: list[str]) -> None:
        """Announce the payloads, in order; raises when Postgres cannot take them (the
        connection is dropped, the next call opens another)."""
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(
                    self._dsn, ssl=self._ssl, timeout=CONNECT_SECONDS
                )
            await self._connection.execute(_NOTIFY, CHANNEL, payloads, timeout=SEND_SECONDS)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            connection.terminate()
