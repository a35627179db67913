"""`parley`: operator commands shared by every deployment (local stack, tests, Helm hook Jobs).

    parley provision                     create or update streams, consumers and buckets (idempotent)
    parley dlq-copier                    run the dead-letter copier on its own
    parley dlq list [--consumer C]       the dead letters: sequence, time, subject, event, consumer, reason
    parley dlq replay SEQ... | --all     publish them to their original subject again, then delete them
    parley dlq delete SEQ... | --all     delete them without replaying them

Settings come from `PARLEY_NATS_*` (url, user, password, creds_file, tls_ca_file) and
`PARLEY_PROVISION_*` (replicas, voice_max_age_days, dlq_max_age_days, audio_max_age_days).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Mapping

from nats.js.errors import NotFoundError

from parley_runtime.messaging.connection import NatsSettings, connect
from parley_runtime.messaging.dlq import DeadLetterCopier
from parley_runtime.messaging.provision import Change, ProvisionSettings, provision
from parley_runtime.messaging.redrive import DeadLetter, Pick, dead_letters, discard, replay
from parley_runtime.observability.logs import configure_logging
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


async def run_dlq(nats: NatsSettings, args: argparse.Namespace) -> list[DeadLetter]:
    nc = await connect(nats, name="parley-dlq")
    try:
        js = nc.jetstream()
        if args.action == "list":
            return await dead_letters(js, consumer=args.consumer, limit=args.limit)
        pick = Pick(every=args.all, consumer=args.consumer, limit=args.limit)
        if args.action == "delete":
            return await discard(js, args.seq, pick)
        return await replay(js, args.seq, pick, keep=args.keep)
    finally:
        await nc.close()


def _print_letters(letters: list[DeadLetter], as_json: bool) -> None:
    for d in letters:
        died = d.died_at.isoformat(timespec="seconds") if d.died_at else ""
        if as_json:
            print(json.dumps({**d.__dict__, "died_at": died}))
        else:
            print(f"{d.seq:>7}  {died:25}  {d.consumer:12} {d.deliveries:>3}  {d.subject}  {d.event_id}  {d.reason}")


def _dlq_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = sub.add_parser("dlq", help="list dead letters, or replay them to their original subject")
    actions = dlq.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the dead letters, oldest first (never their payload)")
    again = actions.add_parser("replay", help="publish dead letters to their original subject, then delete them")
    again.add_argument("seq", type=int, nargs="*", help="DLQ sequences, as `parley dlq list` shows them")
    again.add_argument("--all", action="store_true", help="every dead letter (of --consumer, if given)")
    again.add_argument("--keep", action="store_true", help="leave them in the DLQ after the replay")
    drop = actions.add_parser("delete", help="delete dead letters from the DLQ without replaying them")
    drop.add_argument("seq", type=int, nargs="*", help="DLQ sequences, as `parley dlq list` shows them")
    drop.add_argument("--all", action="store_true", help="every dead letter (of --consumer, if given)")
    for p in (listing, again, drop):
        p.add_argument("--consumer", help="only those this durable gave up on (history, recordings, rooms)")
        p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
        p.add_argument("--json", action="store_true", help="one JSON object per line")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision", help="create or update streams, consumers and buckets")
    sub.add_parser("dlq-copier", help="copy dead-lettered messages to dlq.<subject>")
    _dlq_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "dlq" and args.action != "list" and not (args.seq or args.all):
        parser.error(f"dlq {args.action}: name the sequences, or --all")
    configure_logging("parley-cli", "WARNING")
    try:
        nats = load_settings(NatsSettings, "PARLEY_NATS_", environ)
        if args.command == "provision":
            settings = load_settings(ProvisionSettings, "PARLEY_PROVISION_", environ)
            changes = asyncio.run(run_provision(nats, settings))
            for change in changes:
                print(f"{change.action:9} {change.kind:12} {change.name}")
            return 0
        if args.command == "dlq":
            letters = asyncio.run(run_dlq(nats, args))
            _print_letters(letters, args.json)
            if args.action == "replay":
                kept = " (kept in the DLQ)" if args.keep else ""
                print(f"parley: replayed {len(letters)} dead letter(s){kept}", file=sys.stderr)
            elif args.action == "delete":
                print(f"parley: deleted {len(letters)} dead letter(s)", file=sys.stderr)
            else:  # on stderr, so the listing stays a table (or JSON lines) to pipe; an empty one says so
                print(f"parley: {len(letters) or 'no'} dead letter(s)", file=sys.stderr)
            return 0
        asyncio.run(run_dlq_copier(nats))
        return 0
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    except ConnectionError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 1
    except NotFoundError as exc:
        print(f"parley: not in the DLQ (already replayed, or expired): {exc.description}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
