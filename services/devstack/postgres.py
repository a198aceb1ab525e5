"""PostgreSQL from the `pgserver` wheel, run in the foreground under the dev supervisor.

pgserver ships the binaries; we run `postgres` ourselves so it listens on loopback TCP only,
is our child process, and stops with the stack. Postgres refuses to run as root, so as root it
runs as the unprivileged user pgserver creates for the purpose.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import asyncpg
from pgserver._commands import POSTGRES_BIN_PATH
from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

from services.devstack.processes import ChildSpec

SYSTEM_USER = "pgserver"


def postgres_user() -> str | None:
    if os.geteuid() != 0:
        return None
    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def init_data_dir(data: Path) -> None:
    """Create the cluster once; auth is trust because only loopback can reach it."""
    user = postgres_user()
    data.mkdir(parents=True, exist_ok=True)
    if user is not None:
        import pwd
        import stat

        ensure_prefix_permissions(data)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
        data.chmod(0o700)
    if (data / "PG_VERSION").exists():
        return
    subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(data),
            "--auth=trust",
            "--encoding=utf8",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
        user=user,
    )


def postgres_child(data: Path, port: int, log_file: Path) -> ChildSpec:
    return ChildSpec(
        name="postgres",
        argv=[
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "fsync=on",
        ],
        log_file=log_file,
        user=postgres_user(),
        stop_signal=2,  # SIGINT: postgres' fast shutdown
        stop_timeout=20,
    )


async def postgres_ready(port: int) -> bool:
    """True once the server takes connections (the database itself is created by the
    migrations, activities/db/migrations.py)."""
    connection = await asyncpg.connect(
        host="127.0.0.1", port=port, user="postgres", database="postgres", timeout=2
    )
    await connection.close()
    return True
