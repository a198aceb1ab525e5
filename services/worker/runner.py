"""The workflow runner workers use: Temporal's sandbox, without two calls into it per payload.

temporalio 1.35 asks the workflow instance for a serialization context and an external-store
context for every payload list it encodes or decodes on the way to and from the server, three
passes each way. A sandboxed instance answers each question by executing code inside the
sandbox (swapping `sys.modules` and the builtins), a large part of each workflow task's time
(docs/BENCHMARKS.md). The answers only matter to a payload codec or to external storage; with
neither configured, as with this project's pydantic converter, they are never used, so the
instance answers without entering the sandbox. Workflow code itself still runs sandboxed.
"""

from __future__ import annotations

from collections.abc import Sequence

import temporalio.workflow
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import DataConverter, SerializationContext, StorageDriverStoreContext
from temporalio.worker import (
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

_NO_STORE_TARGET = StorageDriverStoreContext()


def workflow_runner(data_converter: DataConverter) -> WorkflowRunner:
    """The sandboxed runner for workers using `data_converter`, answering context questions
    outside the sandbox when nothing would use the answers."""
    if data_converter.payload_codec is not None or data_converter.external_storage is not None:
        return SandboxedWorkflowRunner()
    return CodecFreeSandboxedRunner()


class CodecFreeSandboxedRunner(WorkflowRunner):
    """Temporal's sandboxed runner for a data converter with no payload codec and no external
    storage (see the module docstring)."""

    def __init__(self) -> None:
        self._sandboxed = SandboxedWorkflowRunner()

    def prepare_workflow(self, defn: temporalio.workflow._Definition) -> None:
        self._sandboxed.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self._sandboxed.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._sandboxed.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    """A sandboxed instance that answers the codec's context questions without entering it."""

    def __init__(self, sandboxed: WorkflowInstance) -> None:
        self._sandboxed = sandboxed

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._sandboxed.activate(act)

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        return None  # no codec: the context-free converter does the same

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return _NO_STORE_TARGET  # no external storage: nothing is stored

    def get_info(self) -> temporalio.workflow.Info:
        return self._sandboxed.get_info()

    def get_thread_id(self) -> int | None:
        return self._sandboxed.get_thread_id()
