"""Model-written code run in a sandbox: a fresh process per call under bubblewrap and rlimits.

What the code gets: the folder it is given, read-write, as `/workspace` (its only writable
place); the system's programs and the worker's Python (with its packages) read-only; a new
process, network, IPC and host-name namespace, so no network at all (not even the host's
loopback) and no sight of the worker's processes or `/proc/<pid>/environ`; an empty
environment but for PATH, HOME and the locale. Limits on CPU seconds, address space, processes
and file size are set by `prlimit` before bubblewrap starts and are inherited by everything the
code starts; a wall-clock limit kills the whole sandbox.

A root worker runs the code as `nobody`: the kernel does not count root's processes against
its limit, so a fork bomb would be held by nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activities.tools.errors import ToolError

NOBODY = 65534
MAX_ARGV_BYTES = 100 * 1024  # below the kernel's limit on one argument (128 KiB)
INSIDE = "/workspace"
# read-only into every sandbox when present; /bin, /lib... are symlinks into /usr on Debian
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc/alternatives", "/etc/ld.so.cache")


@dataclass(frozen=True)
class SandboxLimits:
    """Per call."""

    wall_seconds: float = 30.0
    cpu_seconds: int = 20
    memory_mb: int = 1024  # address space of each process
    processes: int = 64  # beyond what the sandbox's user already runs
    file_mb: int = 8  # the largest file it may write
    open_files: int = 256
    output_bytes: int = 64 * 1024  # of stdout and of stderr each; the rest is cut
    # all the workspace folder may hold while the code runs (the file size limit alone would
    # let it fill the disk with many files): watched, and the sandbox killed past it
    folder_mb: int = 256
    folder_files: int = 10_000
    scratch_mb: int = 64  # /tmp: in memory, private, gone when the call ends


@dataclass(frozen=True)
class SandboxRun:
    exit_code: int  # negative: killed by that signal
    stdout: str
    stderr: str
    timed_out: bool
    overflowed: bool = False  # killed for writing more than folder_mb or folder_files


def sandbox_user() -> int | None:
    """The uid the code runs as when the worker's own is not fit for it (root), else None."""
    return NOBODY if os.geteuid() == 0 else None


def sandbox_command(argv: list[str], folder: Path, limits: SandboxLimits) -> list[str]:
    """prlimit, then bubblewrap, then (for a root worker) setpriv to drop to `nobody`."""
    bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
    if bwrap is None or prlimit is None:
        missing = "bubblewrap (bwrap)" if bwrap is None else "util-linux (prlimit)"
        raise ToolError(
            f"code execution is unavailable on this worker: {missing} is not installed "
            "(README: Sandboxed code)"
        )
    user = sandbox_user()
    mib = 1024 * 1024
    processes = _processes_of(NOBODY if user is not None else os.getuid()) + limits.processes
    command = [
        # the CPU limit sends SIGXCPU first, SIGKILL a second later
        prlimit, f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--as={limits.memory_mb * mib}", f"--nproc={processes}", f"--fsize={limits.file_mb * mib}",
        f"--nofile={limits.open_files}", "--core=0", "--",
        bwrap, "--die-with-parent", "--new-session",
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        # an unprivileged worker needs a user namespace to set up mounts; root must not have
        # one, or setpriv could not become a uid the kernel counts processes for
        *(["--unshare-user"] if user is None else []),
        "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev",
        # scratch space, private and discarded; first, so a worker's Python under /tmp (a
        # checkout there) is bound on top of it rather than hidden by it
        "--perms", "1777", "--size", str(limits.scratch_mb * mib), "--tmpfs", "/tmp",
    ]  # fmt: skip
    bound = [path for path in (*SYSTEM_PATHS, *_python_paths()) if os.path.lexists(path)]
    for folder_above in _folders_above(bound):  # bwrap would make them 0700
        command += ["--perms", "0755", "--dir", folder_above]
    for path in bound:
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        else:
            command += ["--ro-bind", path, path]
    command += [
        "--bind", str(folder), INSIDE, "--chdir", INSIDE,
        # the sandbox's own / and /dev (in memory) read-only, or code could fill the worker's
        # RAM through them
        "--remount-ro", "/dev", "--remount-ro", "/", "--clearenv",
    ]  # fmt: skip
    for name, value in _environment().items():
        command += ["--setenv", name, value]
    if user is not None:
        command += [
            "--", "/usr/bin/setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
        ]  # fmt: skip
    return [*command, "--", *argv]


async def run_sandboxed(argv: list[str], folder: Path, limits: SandboxLimits) -> SandboxRun:
    """Run argv in the sandbox with `folder` as its workspace; stdin is empty."""
    if sum(len(part.encode(errors="replace")) for part in argv) > MAX_ARGV_BYTES:
        raise ToolError(f"the code is over {MAX_ARGV_BYTES // 1024} KiB; write it to a file")
    if any("\x00" in part for part in argv):
        raise ToolError("the code contains a NUL character")
    command = sandbox_command(argv, folder, limits)
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    reads = asyncio.gather(
        _read_capped(process.stdout, limits.output_bytes),
        _read_capped(process.stderr, limits.output_bytes),
        process.wait(),
    )
    watch = asyncio.create_task(_watch_folder(folder, limits))
    timed_out = False
    try:
        racing: set[asyncio.Future[Any]] = {reads, watch}
        done, _ = await asyncio.wait(racing, timeout=limits.wall_seconds,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        timed_out = not done
    finally:
        watch.cancel()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()  # bubblewrap; the sandbox's pid 1 dies with it, and all else
            await process.wait()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reads
    overflowed = watch.done() and not watch.cancelled() and watch.result()
    if not timed_out and not overflowed:  # what it wrote in its last moments counts too
        overflowed = await _over_limits(folder, limits)
    if timed_out or overflowed:
        return SandboxRun(-9, "", "", timed_out=timed_out, overflowed=overflowed)
    stdout, stderr, exit_code = reads.result()
    if exit_code == 1 and stderr.startswith(b"bwrap: "):  # the sandbox itself failed to start
        reason = stderr.decode(errors="replace").strip()
        raise ToolError(f"code execution is unavailable on this worker: {reason}")
    if exit_code > 128:  # bubblewrap's way of saying its child was killed by a signal
        exit_code = 128 - exit_code
    return SandboxRun(exit_code, _text(stdout), _text(stderr), timed_out=False)


async def _watch_folder(folder: Path, limits: SandboxLimits) -> bool:
    """True once the folder holds more than its limits (returns only then)."""
    while True:
        await asyncio.sleep(0.2)
        if await _over_limits(folder, limits):
            return True


async def _over_limits(folder: Path, limits: SandboxLimits) -> bool:
    size, files = await asyncio.to_thread(_folder_usage, folder, limits.folder_files)
    return size > limits.folder_mb * 1024 * 1024 or files > limits.folder_files


def _folder_usage(folder: Path, max_files: int) -> tuple[int, int]:
    """Bytes on disk and files under folder, links not followed; counting stops past
    max_files."""
    size, files, folders = 0, 0, [str(folder)]
    while folders and files <= max_files:
        with contextlib.suppress(OSError), os.scandir(folders.pop()) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                size += info.st_blocks * 512
                files += 1
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
    return size, files


def _python_paths() -> list[str]:
    """The worker's interpreter and its environment (packages and their commands)."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(path for path in paths if not path.startswith(("/usr/", "/bin/")))


def _folders_above(paths: list[str]) -> list[str]:
    """Every folder above the paths and not inside one of them, outermost first, each once."""
    above: list[str] = []
    for path in paths:
        parts = Path(path).parts[1:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/" + "/".join(parts[:depth])
            inside = any(folder == bound or folder.startswith(bound + "/") for bound in paths)
            if folder not in above and not inside and folder != "/tmp":  # /tmp: a tmpfs
                above.append(folder)
    return above


def _environment() -> dict[str, str]:
    venv_bin = os.path.join(sys.prefix, "bin")
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": INSIDE,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _processes_of(uid: int) -> int:
    """How many threads uid runs now: the kernel's process limit counts every one."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
    return count


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> bytes:
    """Up to limit bytes, then drain the rest so the writer never blocks on a full pipe."""
    kept = bytearray()
    dropped = 0
    while chunk := await stream.read(65536):
        room = limit - len(kept)
        kept += chunk[:room]
        dropped += max(0, len(chunk) - room)
    if dropped:
        kept += f"\n[{dropped} more bytes cut]".encode()
    return bytes(kept)


def _text(data: bytes) -> str:
    return data.decode(errors="replace")
