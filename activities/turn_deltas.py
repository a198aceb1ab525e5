"""A model turn's text, published as it comes for the task's live streams (GET .../stream);
only turns that stream their call have any (activities/llm.py, `_streamed`).

Deltas are ephemeral: Postgres notifications (activities/db/delta_notices.py), never rows.
A turn's text is batched: the first piece goes at once (the first token is what a watcher
waits for), then at most one notification per `FLUSH_SECONDS`, or sooner when
`MAX_CHARS` have piled up, so a fast model does not cost one NOTIFY per token.

Publishing never fails or slows the model call: `write` only appends to a buffer and offers
the batch to a bounded queue, which one sender task per worker process empties. With Postgres
away or the queue full, deltas are dropped (logged once until they flow again) and the call
goes on; the reply is recorded as ever, so a stream still gets it whole. `finish` waits (at
most `FINISH_WAIT_SECONDS`) until the turn's last delta is announced, so a stream sees the
deltas before the recorded reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from activities.db.delta_notices import DeltaChannel

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.03
MAX_CHARS = 1000  # each payload stays under 8000 bytes even if every character is escaped
QUEUE_SIZE = 1000
BATCH = 100  # payloads per round trip at most
FINISH_WAIT_SECONDS = 0.5
RETRY_SECONDS = 1.0  # after a failed send, before the next connection attempt

Notify = Callable[[list[str]], Awaitable[None]]


class DeltaPublisher:
    """One per worker process: `start()` in the process's loop, `turn()` per model turn."""

    def __init__(self, notify: Notify, close: Callable[[], Awaitable[None]] | None = None):
        self._notify = notify
        self._close = close
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[None]]] = asyncio.Queue(QUEUE_SIZE)
        self._sender: asyncio.Task[None] | None = None
        self._dropping = False
        self.sent = self.dropped = 0

    @classmethod
    def for_database(cls, database_url: str) -> DeltaPublisher:
        channel = DeltaChannel(database_url)
        return cls(channel.notify, channel.close)

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_forever(), name="turn-deltas")

    async def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._close is not None:
            await self._close()

    def turn(self, task_id: str, iteration: int, attempt: int) -> TurnDeltas:
        return TurnDeltas(self, task_id, iteration, attempt)

    def offer(self, payload: str) -> asyncio.Future[None]:
        """Queue a payload; the future is done once it is announced or dropped."""
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._sender is None or self._sender.done():
            sent.set_result(None)
            return sent
        if self._dropping:  # until Postgres answers again: no wait for a send that will fail
            self.dropped += 1
            sent.set_result(None)
            return sent
        try:
            self._queue.put_nowait((payload, sent))
        except asyncio.QueueFull:
            self._drop("the queue is full")
            sent.set_result(None)
        return sent

    def _drop(self, why: str, count: int = 1) -> None:
        self.dropped += count
        if not self._dropping:
            self._dropping = True
            logger.warning("model token deltas dropped: %s (the replies are recorded)", why)

    async def _send_forever(self) -> None:
        while True:
            if self._dropping and not await self._reconnected():
                await asyncio.sleep(RETRY_SECONDS)
                continue
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            failed = False
            try:
                await self._notify([payload for payload, _ in batch])
                self.sent += len(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._drop(f"Postgres did not take them ({type(exc).__name__})", len(batch))
                failed = True
            for _, sent in batch:
                if not sent.done():
                    sent.set_result(None)
            if failed:
                await asyncio.sleep(RETRY_SECONDS)

    async def _reconnected(self) -> bool:
        """After drops: whether Postgres takes notifications again (an empty batch)."""
        while not self._queue.empty():  # what piled up before the drops began is stale
            _, sent = self._queue.get_nowait()
            self.dropped += 1
            if not sent.done():
                sent.set_result(None)
        try:
            await self._notify([])
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        self._dropping = False
        logger.info("model token deltas flow again")
        return True


class TurnDeltas:
    """One attempt at one model turn: `write` each piece of text, then `finish`. A retried
    attempt starts again at seq 0 with a higher `attempt`."""

    def __init__(self, publisher: DeltaPublisher, task_id: str, iteration: int, attempt: int):
        self._publisher = publisher
        self._head = {"task_id": task_id, "iteration": iteration, "attempt": attempt}
        self._loop = asyncio.get_running_loop()
        self._buffer: list[str] = []
        self._chars = 0
        self._seq = 0
        self._last_flush = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._last_sent: asyncio.Future[None] | None = None
        self._finished = False

    def write(self, text: str) -> None:
        if not text or self._finished:
            return
        self._buffer.append(text)
        self._chars += len(text)
        waited = self._loop.time() - self._last_flush
        if self._chars >= MAX_CHARS or waited >= FLUSH_SECONDS:
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(FLUSH_SECONDS - waited, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        text = "".join(self._buffer)
        self._buffer, self._chars = [], 0
        self._last_flush = self._loop.time()
        for start in range(0, len(text), MAX_CHARS):
            payload = {**self._head, "seq": self._seq, "text": text[start : start + MAX_CHARS]}
            self._seq += 1
            self._last_sent = self._publisher.offer(json.dumps(payload, ensure_ascii=False))

    async def finish(self) -> None:
        """Send what is left; wait a moment for the last delta to be announced."""
        if self._finished:
            return
        self._flush()
        self._finished = True
        if self._last_sent is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._last_sent), FINISH_WAIT_SECONDS)
