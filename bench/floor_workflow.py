"""The trivial workflow behind `bench/signal_floor.py`: it waits for a signal (with a timeout, so
a timer is cancelled on the way, as in the approval wait), then runs one activity that does
nothing, and waits again. What is left is Temporal's own cost of a signal → next activity step.

Its inputs are here rather than in workflows/contracts/: they belong to the benchmark only.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

WAIT_TIMEOUT = timedelta(days=1)
ACTIVITY_TIMEOUT = timedelta(seconds=30)


class FloorPlan(BaseModel):
    signals: int


class Poke(BaseModel):
    n: int


class FloorDone(BaseModel):
    signals: int


@activity.defn(name="floor_echo")
async def floor_echo(poke: Poke) -> Poke:
    return poke


@workflow.defn(name="SignalFloorWorkflow")
class SignalFloorWorkflow:
    def __init__(self) -> None:
        self._received = 0
        self._handled = 0

    @workflow.signal(name="poke")
    def poke(self, poke: Poke) -> None:
        self._received += 1

    def _has_new_poke(self) -> bool:
        return self._received > self._handled

    @workflow.run
    async def run(self, plan: FloorPlan) -> FloorDone:
        while self._handled < plan.signals:
            await workflow.wait_condition(self._has_new_poke, timeout=WAIT_TIMEOUT)
            await workflow.execute_activity(
                floor_echo, Poke(n=self._handled), start_to_close_timeout=ACTIVITY_TIMEOUT
            )
            self._handled += 1
        return FloorDone(signals=plan.signals)
