"""Workers keep Temporal's sandbox on; context questions skip it only when no codec or
external storage could use the answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from services.worker.runner import CodecFreeSandboxedRunner, workflow_runner


class Reversing(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=p.metadata, data=p.data[::-1]) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.encode(payloads)


def test_the_pydantic_converter_gets_the_sandbox_without_context_round_trips() -> None:
    assert isinstance(workflow_runner(pydantic_data_converter), CodecFreeSandboxedRunner)


def test_a_converter_with_a_codec_gets_temporals_own_sandboxed_runner() -> None:
    with_codec = dataclasses.replace(pydantic_data_converter, payload_codec=Reversing())
    runner = workflow_runner(with_codec)
    assert type(runner) is SandboxedWorkflowRunner
