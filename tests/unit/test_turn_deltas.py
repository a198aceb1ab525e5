"""Publishing a turn's text as it comes (issue 12): batched so a fast model does not cost one
notification per token, the first piece at once, every payload small enough for Postgres, and
never a failure or a wait for the model call when Postgres cannot take them."""

from __future__ import annotations

import asyncio
import json
import time

from activities.db.delta_notices import MAX_PAYLOAD_BYTES
from activities.turn_deltas import FINISH_WAIT_SECONDS, QUEUE_SIZE, RETRY_SECONDS, DeltaPublisher


class Channel:
    def __init__(self, fail: bool = False, hang: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail, self.hang = fail, hang

    async def notify(self, payloads: list[str]) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail:
            raise ConnectionRefusedError("Postgres is away")
        self.batches.append(payloads)

    @property
    def payloads(self) -> list[dict[str, object]]:
        return [json.loads(p) for batch in self.batches for p in batch]


async def test_a_fast_turn_is_published_in_few_ordered_batches_that_join_to_its_text() -> None:
    channel = Channel()
    publisher = DeltaPublisher(channel.notify)
    publisher.start()
    tokens = [f"tok{i} " for i in range(400)]
    turn = publisher.turn("t-1", iteration=3, attempt=2)
    for token in tokens:  # as fast as a model could ever write
        turn.write(token)
        await asyncio.sleep(0.0005)
    await turn.finish()
    await publisher.stop()

    payloads = channel.payloads
    assert "".join(str(p["text"]) for p in payloads) == "".join(tokens)
    assert [p["seq"] for p in payloads] == list(range(len(payloads)))
    assert {(p["task_id"], p["iteration"], p["attempt"]) for p in payloads} == {("t-1", 3, 2)}
    assert payloads[0]["text"] == "tok0 "  # the first token is not held back
    assert len(payloads) < len(tokens) / 4


async def test_every_payload_fits_a_notification_whatever_the_text() -> None:
    channel = Channel()
    publisher = DeltaPublisher(channel.notify)
    publisher.start()
    turn = publisher.turn("t-2", 0, 1)
    text = '\x01\x1f"\\' * 5000 + "😀" * 3000  # escaped six bytes a character, or four
    turn.write(text)
    await turn.finish()
    await publisher.stop()

    sizes = [len(p.encode()) for batch in channel.batches for p in batch]
    assert max(sizes) <= MAX_PAYLOAD_BYTES
    assert "".join(str(p["text"]) for p in channel.payloads) == text


async def test_postgres_away_drops_deltas_without_failing_or_holding_the_call() -> None:
    for channel in (Channel(fail=True), Channel(hang=True)):
        publisher = DeltaPublisher(channel.notify)
        publisher.start()
        started = time.monotonic()
        for attempt in range(3):
            turn = publisher.turn("t-3", 0, attempt + 1)
            for _ in range(QUEUE_SIZE + 50):  # more than the queue holds
                turn.write("x" * 1000)
            await turn.finish()
        await publisher.stop()

        assert time.monotonic() - started < 3 * FINISH_WAIT_SECONDS + 1
        assert publisher.dropped > 0 and channel.batches == []


async def test_a_publisher_not_started_takes_text_and_sends_nothing() -> None:
    channel = Channel()
    publisher = DeltaPublisher(channel.notify)
    turn = publisher.turn("t-4", 0, 1)
    turn.write("hello")
    await turn.finish()
    assert channel.batches == []


async def test_deltas_flow_again_once_postgres_answers_and_meanwhile_cost_no_wait() -> None:
    channel = Channel(fail=True)
    publisher = DeltaPublisher(channel.notify)
    publisher.start()
    first = publisher.turn("t-5", 0, 1)
    first.write("lost")
    await first.finish()  # the send fails: from now on deltas are dropped at once
    started = time.monotonic()
    during = publisher.turn("t-5", 1, 1)
    during.write("lost too")
    await during.finish()
    waited = time.monotonic() - started
    channel.fail = False
    await asyncio.sleep(RETRY_SECONDS + 0.5)  # the publisher looks again
    after = publisher.turn("t-5", 2, 1)
    after.write("back")
    await after.finish()
    await publisher.stop()

    assert waited < FINISH_WAIT_SECONDS / 2
    assert [p["text"] for p in channel.payloads] == ["back"]
