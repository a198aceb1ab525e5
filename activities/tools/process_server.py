"""The tool process server: a small single-threaded Python process that forks one child per
tool call, sets the call's limits inside the child, and answers with the child's result.

Why its own process: forking the worker itself (many threads: Temporal's core, the event loop,
connection pools) risks a child stuck on a lock another thread held, and multiprocessing's
fork server re-imports the worker's main module in every child. This server imports only the
tool modules, once, and forks from a single thread.

Protocol on stdin/stdout, frames of a 4-byte big-endian length and a body. Requests (pickled,
from the worker): ("run", call_id, module, qualname, kwargs, context, limits) and
("cancel", call_id). Answers (JSON, so the server never unpickles what a tool wrote):
[call_id, kind, text] with kind "ok", "tool-error", "crash", "timeout", "cpu" or "died".
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pickle
import resource
import selectors
import signal
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from activities.tools.context import use_tool_context
from activities.tools.errors import ToolError
from activities.tools.results import as_text

MIB = 1024 * 1024
HEADER = struct.Struct(">I")


@dataclass
class Running:
    pid: int
    pipe: int  # read end of the child's answer pipe
    deadline: float
    received: bytearray


def write_frame(out: BinaryIO, body: bytes) -> None:
    out.write(HEADER.pack(len(body)) + body)
    out.flush()


def take_frames(buffer: bytearray) -> list[bytes]:
    """The whole frames at the front of `buffer`, removed from it."""
    frames = []
    while len(buffer) >= HEADER.size:
        (size,) = HEADER.unpack_from(buffer)
        if len(buffer) < HEADER.size + size:
            break
        frames.append(bytes(buffer[HEADER.size : HEADER.size + size]))
        del buffer[: HEADER.size + size]
    return frames


def serve(requests: int, answers: BinaryIO) -> None:
    """`requests` is a file descriptor, read unbuffered: a buffered reader would hide frames
    that arrived together from the selector."""
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ, "requests")
    running: dict[str, Running] = {}
    unread = bytearray()

    def answer(call_id: str, kind: str, text: str) -> None:
        write_frame(answers, json.dumps([call_id, kind, text]).encode())

    def stop(call_id: str) -> tuple[Running, int]:
        """Forget the call, kill its child if it still runs, and reap it."""
        call = running.pop(call_id)
        selector.unregister(call.pipe)
        os.close(call.pipe)
        with contextlib.suppress(ProcessLookupError):
            os.kill(call.pid, signal.SIGKILL)
        return call, os.waitpid(call.pid, 0)[1]

    def finish(call_id: str) -> None:
        call, status = stop(call_id)
        if call.received:
            kind, text = json.loads(call.received)
            answer(call_id, kind, text)
        elif os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
            answer(call_id, "cpu", "")
        else:
            answer(call_id, "died", str(os.waitstatus_to_exitcode(status)))

    while True:
        timeout = None
        if running:
            timeout = max(0.0, min(call.deadline for call in running.values()) - time.monotonic())
        for key, _ in selector.select(timeout):
            if key.data == "requests":
                data = os.read(requests, 65536)
                if not data:  # the worker went away: so do we, and the calls it waited for
                    for call_id in list(running):
                        stop(call_id)
                    return
                unread.extend(data)
                for frame in take_frames(unread):
                    request = pickle.loads(frame)
                    if request[0] == "run":
                        _, call_id, module, qualname, kwargs, context, limits = request
                        others = [call.pipe for call in running.values()]
                        running[call_id] = _fork(module, qualname, kwargs, context, limits, others)
                        selector.register(running[call_id].pipe, selectors.EVENT_READ, call_id)
                    elif request[0] == "cancel" and request[1] in running:
                        stop(request[1])
            else:
                call = running[key.data]
                chunk = os.read(call.pipe, 65536)
                if chunk:
                    call.received.extend(chunk)
                else:
                    finish(key.data)
        now = time.monotonic()
        for call_id in [i for i, call in running.items() if call.deadline <= now]:
            stop(call_id)
            answer(call_id, "timeout", "")


def _fork(
    module: str, qualname: str, kwargs: dict[str, Any], context: Any, limits: Any,
    others: list[int],
) -> Running:  # fmt: skip
    """`others`: the answer pipes of the calls still running, which this child must not hold."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        for fd in (read_end, *others):
            os.close(fd)
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):  # a tool that prints must not write into the answer channel
            os.dup2(quiet, fd)
        code = 0
        try:
            _run_child(write_end, module, qualname, kwargs, context, limits)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_end)
    return Running(pid, read_end, time.monotonic() + limits.wall_seconds, bytearray())


def _run_child(
    write_end: int, module: str, qualname: str, kwargs: dict[str, Any], context: Any, limits: Any
) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    memory = _address_space() + limits.memory_mb * MIB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        func: Any = importlib.import_module(module)
        for part in qualname.split("."):
            func = getattr(func, part)
        with use_tool_context(context) if context else contextlib.nullcontext():
            result = ["ok", as_text(func(**kwargs))]
    except ToolError as exc:
        result = ["tool-error", str(exc)]
    except MemoryError:
        result = ["tool-error", f"the tool needed more than {limits.memory_mb} MB of memory"]
    except BaseException as exc:  # a tool's bug: reported by its type only
        result = ["crash", type(exc).__name__]
    data = json.dumps(result).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(write_end, view) :]
    os.close(write_end)


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    for module in sys.argv[1:]:
        importlib.import_module(module)  # once here, inherited by every child
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker stops us by closing stdin
    serve(sys.stdin.fileno(), sys.stdout.buffer)


if __name__ == "__main__":
    main()
