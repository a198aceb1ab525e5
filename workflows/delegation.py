"""A `delegate` call of the tool-call round: checked, then run as a child workflow of the named
agent on that agent's task queue, its answer recorded as the call's tool result.
Deterministic workflow code, used by ToolCallRound.

Cancelling the parent cancels the child (the awaited child is cancelled with it); a parent
that ends otherwise asks its running children to cancel.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.delegation import DelegationActivities
    from workflows.bookkeeping import store_step
    from workflows.contracts.delegation import (
        MAX_DELEGATION_DEPTH,
        CloseChildRequest,
        OpenChildRequest,
    )
    from workflows.contracts.tasks import (
        AGENT_TASK_WORKFLOW,
        AgentTaskInput,
        AgentTaskResult,
        TaskStatus,
        task_queue_for_pool,
        workflow_id_for_task,
    )
    from workflows.contracts.tool_calls import ToolCall, ToolCallResult


async def delegate(task: AgentTaskInput, iteration: int, call: ToolCall) -> ToolCallResult:
    agent, instructions = call.arguments.get("agent"), call.arguments.get("instructions")
    close = CloseChildRequest(
        parent_task_id=task.task_id,
        iteration=iteration,
        call_id=call.id,
        agent=str(agent),
        child_task_id=None,
    )
    offered = task.agent.sub_agents
    if agent not in offered:
        close.error = f"there is no agent {agent!r} to delegate to; agents: {', '.join(offered)}"
    elif not isinstance(instructions, str) or not instructions.strip():
        close.error = "instructions must say what the agent should do"
    elif task.depth + 1 > MAX_DELEGATION_DEPTH:
        close.error = (
            f"delegation depth limit reached: this task is {task.depth} levels below the "
            f"task that started it and sub-agents may go {MAX_DELEGATION_DEPTH} deep; do the "
            "work yourself"
        )
    if close.error is None:
        close = await _run_child(task, close, str(instructions))
    return await store_step(
        DelegationActivities.close_child,
        close,
    )


async def _run_child(
    task: AgentTaskInput, close: CloseChildRequest, instructions: str
) -> CloseChildRequest:
    child_id = str(workflow.uuid4())
    opened = await store_step(
        DelegationActivities.open_child,
        OpenChildRequest(
            parent_task_id=task.task_id,
            child_task_id=child_id,
            agent=close.agent,
            instructions=instructions,
        ),
    )
    close.child_task_id = child_id
    try:
        result: AgentTaskResult = await workflow.execute_child_workflow(
            AGENT_TASK_WORKFLOW,
            AgentTaskInput(
                task_id=child_id,
                agent=opened.agent,
                priority=opened.priority,
                parent_task_id=task.task_id,
                depth=task.depth + 1,
            ),
            result_type=AgentTaskResult,
            id=workflow_id_for_task(child_id),
            task_queue=task_queue_for_pool(opened.agent.pool),
            parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
        )
    except ChildWorkflowError as exc:
        close.status, close.error = TaskStatus.failed, f"the sub-agent failed: {exc.cause or exc}"
        return close
    close.status = result.status
    if result.status is TaskStatus.succeeded:
        close.output = result.output or ""
    else:
        close.error = f"the sub-agent {result.status.value}: {result.error or 'no reason given'}"
    return close
