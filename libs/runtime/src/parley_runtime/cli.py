"""`parley`: operator commands shared by every deployment (local stack, tests, Helm hook Jobs).

    parley provision      create or update streams, consumers and buckets (idempotent)
    parley dlq-copier     run the dead-letter copier on its own

Settings come from `PARLEY_NATS_*` (url, user, password, creds_file, tls_ca_file) and
`PARLEY_PROVISION_*` (replicas, voice_max_age_days, dlq_max_age_days, audio_max_age_days).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Mapping

from parley_runtime.connection import NatsSettings, connect
from parley_runtime.dlq import DeadLetterCopier
from parley_runtime.logs import configure_logging
from parley_runtime.provision import Change, ProvisionSettings, provision
from parley_runtime.settings import SettingsError, load_settings


async def run_provision(nats: NatsSettings, settings: ProvisionSettings) -> list[Change]:
    nc = await connect(nats, name="parley-provision")
    try:
        return await provision(nc.jetstream(), settings)
    finally:
        await nc.close()


async def run_dlq_copier(nats: NatsSettings) -> None:
    nc = await connect(nats, name="parley-dlq-copier")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await DeadLetterCopier(nc.jetstream()).run(stop)
    finally:
        await nc.drain()


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision", help="create or update streams, consumers and buckets")
    sub.add_parser("dlq-copier", help="copy dead-lettered messages to dlq.<subject>")
    args = parser.parse_args(argv)
    configure_logging("parley-cli", "WARNING")
    try:
        nats = load_settings(NatsSettings, "PARLEY_NATS_", environ)
        if args.command == "provision":
            settings = load_settings(ProvisionSettings, "PARLEY_PROVISION_", environ)
            changes = asyncio.run(run_provision(nats, settings))
            for change in changes:
                print(f"{change.action:9} {change.kind:12} {change.name}")
            return 0
        asyncio.run(run_dlq_copier(nats))
        return 0
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    except ConnectionError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
