"""`delegate`: what the model sees of a sub-agent. The call never runs here: the agent loop
turns it into a child workflow of the named agent (workflows/delegation.py); this function
only gives the tool its name, description and argument schema."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from activities.tools.errors import ToolError


def delegate(
    agent: Annotated[str, Field(description="Name of the agent to hand the work to.")],
    instructions: Annotated[
        str,
        Field(description="Everything that agent needs to do the work: it sees nothing else."),
    ],
) -> str:
    """Hand a self-contained piece of work to another agent and get its final answer back.

    Several delegations in one turn run at the same time.
    """
    raise ToolError("delegate runs as a sub-agent task, never as a plain tool")
