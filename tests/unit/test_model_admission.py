"""The admission gate: calls go straight through while the model server has room; when it is
saturated the highest-priority calls still go, the others wait in priority then arrival order
and are released no faster than the readings show headroom; a call held too long gives its
activity slot back with a retryable error, except on its last attempt."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities.db.events import EventRepository, NewEvent
from activities.heartbeat import HeartbeatDetails
from activities.llm import LlmActivities
from activities.model_admission import NOT_HELD, Admission, AdmissionGate, AdmissionLimits
from activities.model_load import ModelLoad
from workflows.contracts.agents import ToolCallFormat
from workflows.contracts.model_turns import MODEL_SERVER_SATURATED, ModelTurnRequest
from workflows.policies import MODEL_CALL_RETRY

MODEL = "agent-default"
LIMITS = AdmissionLimits(queue_limit=8, kv_usage_limit=0.9, bypass_priority=1)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(clock: Clock) -> AdmissionGate:
    return AdmissionGate([MODEL], LIMITS, clock=clock)


def reading(gate: AdmissionGate, clock: Clock, queued: float, kv_usage: float | None = 0.1) -> None:
    """A new poll result, a little later than the last."""
    clock.now += 1
    gate.observe(
        MODEL, ModelLoad(queued=queued, running=4, kv_usage=kv_usage, sampled_at=clock.now)
    )


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_calls_go_straight_through_without_a_reading_or_for_unwatched_models(
    gate: AdmissionGate, clock: Clock
) -> None:
    assert await gate.admit(MODEL, priority=5) is NOT_HELD  # no reading yet: fail open
    reading(gate, clock, queued=50)
    assert await gate.admit("another-model", priority=5) is NOT_HELD


async def test_a_saturated_server_lets_high_priority_through_and_holds_the_rest(
    gate: AdmissionGate, clock: Clock
) -> None:
    reading(gate, clock, queued=8)  # at the queue limit
    assert await gate.admit(MODEL, priority=1) is NOT_HELD
    low = asyncio.create_task(gate.admit(MODEL, priority=3, max_wait=5))
    await settle()
    assert not low.done() and gate.waiting(MODEL) == 1
    reading(gate, clock, queued=0)
    held = await low
    assert not held.timed_out and held.reason is not None
    assert held.reason.as_data() == {
        "cause": "queue",
        "queued": 8,
        "kv_usage": 0.1,
        "queue_limit": 8,
        "kv_usage_limit": 0.9,
    }


async def test_a_full_kv_cache_saturates_too(gate: AdmissionGate, clock: Clock) -> None:
    reading(gate, clock, queued=0, kv_usage=0.95)
    held = await gate.admit(MODEL, priority=2, max_wait=0.01)
    assert held.timed_out and held.reason is not None and held.reason.cause == "kv_cache"
    assert gate.waiting(MODEL) == 0  # a call that gave up left the line


async def test_waiters_are_released_by_priority_then_arrival_within_the_headroom(
    gate: AdmissionGate, clock: Clock
) -> None:
    reading(gate, clock, queued=20)
    released: list[str] = []

    async def call(name: str, priority: int) -> None:
        await gate.admit(MODEL, priority, max_wait=10)
        released.append(name)

    calls = []
    for name, priority in [("p5", 5), ("p3-first", 3), ("p4", 4), ("p3-second", 3), ("p2", 2)]:
        calls.append(asyncio.create_task(call(name, priority)))
        await settle()
    assert released == [] and gate.waiting(MODEL) == 5

    reading(gate, clock, queued=6)  # room for two
    await settle()
    assert released == ["p2", "p3-first"]
    gate.observe(MODEL, None)  # a failed poll: the last reading stands, no new room
    await settle()
    assert released == ["p2", "p3-first"]
    reading(gate, clock, queued=7)  # room for one
    await settle()
    assert released == ["p2", "p3-first", "p3-second"]
    reading(gate, clock, queued=0)
    await asyncio.gather(*calls)
    assert released == ["p2", "p3-first", "p3-second", "p4", "p5"]


async def test_new_calls_within_the_headroom_go_through_and_beyond_it_wait(
    gate: AdmissionGate, clock: Clock
) -> None:
    reading(gate, clock, queued=5)  # not saturated: room for three more until the next reading
    for _ in range(3):
        assert await gate.admit(MODEL, priority=5) is NOT_HELD
    fourth = asyncio.create_task(gate.admit(MODEL, priority=5, max_wait=5))
    await settle()
    assert not fourth.done()
    assert await gate.admit(MODEL, priority=1) is NOT_HELD  # bypass even without room
    reading(gate, clock, queued=5)
    admission = await fourth
    assert admission.reason is not None and admission.reason.cause == "headroom"


async def test_room_a_released_waiter_took_is_not_given_again_until_the_next_reading(
    gate: AdmissionGate, clock: Clock
) -> None:
    reading(gate, clock, queued=8)
    waiter = asyncio.create_task(gate.admit(MODEL, priority=4, max_wait=5))
    await settle()
    reading(gate, clock, queued=7)  # room for one: the waiter takes it
    await waiter
    late = asyncio.create_task(gate.admit(MODEL, priority=2, max_wait=5))
    await settle()
    assert not late.done()
    reading(gate, clock, queued=0)
    await late


async def test_stale_or_missing_readings_release_everyone(
    gate: AdmissionGate, clock: Clock
) -> None:
    reading(gate, clock, queued=30)
    waiters = [asyncio.create_task(gate.admit(MODEL, 4, max_wait=10)) for _ in range(3)]
    await settle()
    assert gate.waiting(MODEL) == 3
    clock.now += LIMITS.stale_after_seconds + 1  # the metrics went away a while ago
    gate.observe(MODEL, None)
    admissions = await asyncio.gather(*waiters)
    assert all(not a.timed_out for a in admissions)
    assert await gate.admit(MODEL, priority=5) is NOT_HELD


async def test_a_cancelled_call_leaves_the_line(gate: AdmissionGate, clock: Clock) -> None:
    reading(gate, clock, queued=30)
    waiter = asyncio.create_task(gate.admit(MODEL, 3, max_wait=10))
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.waiting(MODEL) == 0


# --- the model-turn activity around the gate -----------------------------------------------


TASK_ID = "00000000-0000-0000-0000-000000000001"


def turn(priority: int) -> ModelTurnRequest:
    return ModelTurnRequest(
        task_id=TASK_ID,
        iteration=2,
        model=MODEL,
        message_ids=[1],
        tools=[],
        tool_call_format=ToolCallFormat.native,
        priority=priority,
    )


class FakeSessions:
    """Stands in for the session factory: the event write is captured by `recorded`."""

    def begin(self) -> FakeSessions:
        return self

    async def __aenter__(self) -> object:
        return object()

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, NewEvent]]:
    events: list[tuple[str, NewEvent]] = []

    async def add(repository: Any, task_id: Any, step_key: str, event: NewEvent) -> None:
        # only this test's task: a gateway an earlier test left running in this process (its
        # task reconciler) writes events of its own through the same patched method
        if str(task_id) == TASK_ID:
            events.append((step_key, event))

    monkeypatch.setattr(EventRepository, "add", add)
    return events


def llm(gate: AdmissionGate) -> LlmActivities:
    return LlmActivities(FakeSessions(), None, None, None, gate)  # type: ignore[arg-type]


def environment(attempt: int, heartbeat_details: list[Any] | None = None) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        attempt=attempt,
        retry_policy=MODEL_CALL_RETRY,
        heartbeat_details=heartbeat_details or [],
    )
    return env


def run(env: ActivityEnvironment, activities_: LlmActivities, request: ModelTurnRequest) -> Any:
    result: Awaitable[None] = env.run(activities_._wait_for_capacity, request, HeartbeatDetails())
    return result


async def test_a_call_held_too_long_raises_a_retryable_error_and_records_nothing(
    clock: Clock, recorded: list[tuple[str, NewEvent]]
) -> None:
    gate = AdmissionGate([MODEL], dataclasses.replace(LIMITS, max_hold_seconds=0.01), clock)
    reading(gate, clock, queued=30)
    with pytest.raises(ApplicationError) as raised:
        await run(environment(attempt=1), llm(gate), turn(priority=4))
    error = raised.value
    assert error.type == MODEL_SERVER_SATURATED and not error.non_retryable
    assert error.type not in MODEL_CALL_RETRY.non_retryable_error_types
    assert error.next_retry_delay is not None and error.next_retry_delay <= timedelta(seconds=5)
    assert error.category == ApplicationErrorCategory.BENIGN
    assert recorded == []


async def test_on_its_last_attempt_a_held_call_goes_ahead_and_the_hold_is_recorded_once(
    clock: Clock, recorded: list[tuple[str, NewEvent]]
) -> None:
    gate = AdmissionGate([MODEL], dataclasses.replace(LIMITS, max_hold_seconds=0.01), clock)
    reading(gate, clock, queued=30)
    earlier = [120_000, {"cause": "queue", "queued": 40}]  # what the earlier attempts heartbeat
    last = MODEL_CALL_RETRY.maximum_attempts
    await run(environment(attempt=last, heartbeat_details=earlier), llm(gate), turn(priority=4))
    [(step_key, event)] = recorded
    assert step_key == "model:2:held" and event.type == "model_call_held"
    assert event.data["held_ms"] >= 120_000
    assert event.data["admitted_after_timeout"] is True
    assert event.data["cause"] == "queue" and event.data["queued"] == 30
    assert event.data["priority"] == 4 and event.data["attempt"] == last


async def test_a_call_released_after_a_hold_records_it_and_unheld_calls_record_nothing(
    gate: AdmissionGate, clock: Clock, recorded: list[tuple[str, NewEvent]]
) -> None:
    reading(gate, clock, queued=30)
    await run(environment(attempt=1), llm(gate), turn(priority=1))  # bypass: never held
    held = asyncio.ensure_future(run(environment(attempt=1), llm(gate), turn(priority=5)))
    await settle()
    assert not held.done()
    reading(gate, clock, queued=0)
    await held
    [(_, event)] = recorded
    assert event.data["admitted_after_timeout"] is False and event.data["queue_limit"] == 8


def test_not_held_is_the_default_admission() -> None:
    assert Admission() == NOT_HELD and NOT_HELD.reason is None
