"""History's memory of written rows stays within its bound, and the service takes the bound from its settings."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_history.app import Runtime
from parley_history.handlers import ConversationRow, SessionRow
from parley_history.known import KnownRows
from tests.support import eventually

from .conftest import T0, turn
from .helpers import consuming_app, count_turns, publish_all, wait_drained


def _rows(conv: str) -> tuple[ConversationRow, SessionRow]:
    return ConversationRow(conv, "user-1", T0, T0), SessionRow(f"sess-{conv}", conv, started_at=T0)


def _remember(known: KnownRows, conv: str) -> None:
    c, s = _rows(conv)
    known.remember([c], [s])


def _known(known: KnownRows, conv: str) -> bool:
    c, s = _rows(conv)
    return not known.conversation_needs_write(c) and not known.session_needs_write(s)


def test_known_rows_forget_the_least_recently_used_beyond_their_bound() -> None:
    known = KnownRows(max_entries=2)
    _remember(known, "a")
    _remember(known, "b")
    _remember(known, "a")  # used again: "b" is now the least recently used
    _remember(known, "c")
    assert known.counts() == (2, 2)
    assert _known(known, "a") and _known(known, "c")
    assert not _known(known, "b")


def test_a_conversation_whose_activity_moved_on_is_written_again() -> None:
    known = KnownRows()
    _remember(known, "a")
    later = ConversationRow("a", "user-1", T0, T0 + timedelta(minutes=5))
    assert known.conversation_needs_write(later)


async def test_history_bounds_its_memory_of_written_rows_by_its_setting(
    history_db: str, engine: AsyncEngine, nats_url: str
) -> None:
    app = await consuming_app(history_db, nats_url, known_rows_max=3)
    events = [turn(f"conv-known-{i}", f"sess-known-{i}", 1) for i in range(10)]
    async with AsyncTestClient(app=app):
        await publish_all(nats_url, [(e, str(e.event_id)) for e in events])
        await wait_drained(nats_url, "history", timeout=30)
        rt: Runtime = app.state.runtime
        assert rt.store is not None
        store = rt.store  # the counts move after the commit, before the ack
        await eventually(lambda: store.known.counts() != (0, 0), what="the known rows counted")
        assert store.known.counts() == (3, 3)
    assert await count_turns(engine) == 10
