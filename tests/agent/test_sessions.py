"""Every attempt at a LiveKit job is a session of its own, and a resumed job names the attempt it continues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest

import parley_contracts as c
from parley_agent.call import open_call, resumed_session, session_id_for
from parley_agent.metadata import dispatch_resumed_from
from parley_agent.settings import Settings
from parley_contracts.history import RecentTurn
from parley_devstack.testing import provisioned, stream_events

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def _turn(session_id: str, seq: int, minutes: int) -> RecentTurn:
    return RecentTurn(session_id=session_id, seq=seq, role="user", text="hello", at=T0 + timedelta(minutes=minutes))


def test_each_attempt_at_a_job_gets_a_session_of_its_own() -> None:
    """LiveKit resumes a job whose worker was lost under the same job id: the attempts' turns, both numbered
    from 1, must not share a session, where history would drop the second's as redeliveries."""
    first, second = session_id_for("AJ_kYas98RK5hYf"), session_id_for("AJ_kYas98RK5hYf")
    assert first != second
    assert first.startswith("AJ_kYas98RK5hYf-") and second.startswith("AJ_kYas98RK5hYf-")


@pytest.mark.parametrize("job_id", ["AJ_x", "job with spaces/and.dots>*", "_leading", "-", "", "é" * 3, "x" * 300])
def test_a_job_id_of_any_shape_makes_a_session_id_the_contract_accepts(job_id: str) -> None:
    session_id = session_id_for(job_id)
    assert msgspec.convert(session_id, c.Id) == session_id  # raises on an id no subject token may hold


def test_a_resumed_job_names_the_newest_earlier_attempt_from_historys_turns() -> None:
    mine = session_id_for("AJ_a")
    prior = [
        _turn("AJ_a-11111111", 1, 0),
        _turn("AJ_a-22222222", 1, 5),
        _turn("AJ_other-33333333", 1, 9),  # another job of the same conversation
        _turn("AJ_ab-44444444", 1, 9),  # a job whose id merely starts alike
        _turn("AJ_a-11111111", 2, 2),
    ]
    assert resumed_session("AJ_a", mine, prior) == "AJ_a-22222222"


def test_a_new_job_resumes_nothing() -> None:
    mine = session_id_for("AJ_a")
    prior = [_turn("AJ_b-11111111", 1, 0), _turn("AJ_ab-22222222", 2, 1), _turn(mine, 1, 2)]
    assert resumed_session("AJ_a", mine, prior) is None
    assert resumed_session("AJ_a", mine, []) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"conversation_id": "conv", "resumed_from": "AJ_a-11111111"}', "AJ_a-11111111"),
        ('{"conversation_id": "conv"}', None),
        ('{"resumed_from": "not an id."}', None),
        ('{"resumed_from": 7}', None),
        ("[1, 2]", None),
        ("not json", None),
        ("", None),
        (None, None),
    ],
)
def test_a_job_the_rooms_service_dispatched_again_names_the_lost_session(raw: str | None, expected: str | None) -> None:
    """The rooms service's agent failover puts the lost session in the new job's dispatch metadata."""
    assert dispatch_resumed_from(raw) == expected


async def test_a_call_shut_down_while_asking_history_still_announces_its_start_before_its_end(
    nats_url: str, tmp_path: Path
) -> None:
    """The start waits for history's recent turns (up to 300 ms); a job shut down meanwhile ends the call first."""
    await provisioned(nats_url)
    room = SimpleNamespace(sid="RM_1", name="room-1", metadata='{"conversation_id": "conv-early"}')
    ctx = SimpleNamespace(job=SimpleNamespace(id="AJ_early", metadata="", room=room))
    call = open_call(ctx, Settings(providers="offline", nats_url=nats_url, state_dir=str(tmp_path)))  # type: ignore[arg-type]
    await call.finish("job_shutdown")
    call.start()  # where `run_call` goes on once history answered: nothing more
    assert call.outbox.emitted == 2  # (into an outbox already closed, where it would never be published)
    events = await stream_events(nats_url)
    assert [type(e) for e in events] == [c.SessionStarted, c.SessionEnded]
    assert all(e.session_id == call.state.session_id for e in events)
