"""The baseline of `bench/overhead.py`: a bare Temporal workflow running the same job's shape
with nothing of Agentry in it, nine activities in a row where a task has five model calls and
four tool calls between them. The "model" activities sleep `model_seconds` (0 for the no-op
job, 0.5 in the +500 ms model phase), the "tool" ones return at once.

Its inputs are here rather than in workflows/contracts/: they belong to the benchmark only.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

ACTIVITY_TIMEOUT = timedelta(seconds=60)
MODEL_CALLS = 5  # tool calls come between them: 4


class BaselinePlan(BaseModel):
    model_seconds: float = 0.0


class Step(BaseModel):
    n: int
    sleep_seconds: float = 0.0


class StepDone(BaseModel):
    n: int


class BaselineDone(BaseModel):
    steps: int


@activity.defn(name="baseline_model_call")
async def baseline_model_call(step: Step) -> StepDone:
    if step.sleep_seconds > 0:
        await asyncio.sleep(step.sleep_seconds)
    return StepDone(n=step.n)


@activity.defn(name="baseline_tool_call")
async def baseline_tool_call(step: Step) -> StepDone:
    return StepDone(n=step.n)


@workflow.defn(name="OverheadBaselineWorkflow")
class OverheadBaselineWorkflow:
    @workflow.run
    async def run(self, plan: BaselinePlan) -> BaselineDone:
        steps = 0
        for call in range(MODEL_CALLS):
            if call:
                await workflow.execute_activity(
                    baseline_tool_call, Step(n=steps), start_to_close_timeout=ACTIVITY_TIMEOUT
                )
                steps += 1
            await workflow.execute_activity(
                baseline_model_call,
                Step(n=steps, sleep_seconds=plan.model_seconds),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
            steps += 1
        return BaselineDone(steps=steps)
