"""The console's pages' data from the platform's answers, and its sessions: no server, milliseconds."""

from __future__ import annotations

import pytest
from parley_console import calls
from parley_console.sessions import LocalSignouts, SessionSigner

from .fakes import FakePlatform

AT = "2026-12-07T10:00:00Z"


def _turn(seq: int, text: str) -> dict[str, object]:
    return {"conversation_id": "c1", "session_id": "s1", "seq": seq, "role": "user", "occurred_at": AT, "text": text}


async def test_the_call_log_passes_its_filters_and_pages_to_history() -> None:
    platform = FakePlatform(calls_page={"items": [{"conversation_id": "c1", "status": "live"}], "next_cursor": "n"})
    page = await calls.call_log(platform, calls.CallFilter(user_id="ada", status="live", cursor="abc"))
    assert page == {"items": [{"conversation_id": "c1", "status": "live"}], "next_cursor": "n"}
    assert platform.asked == [("calls", {"user_id": "ada", "cursor": "abc", "limit": "50", "status": "live"})]


async def test_erased_calls_are_listed_from_the_erasures_with_nothing_of_what_was_said() -> None:
    erasure = {"conversation_id": "c9", "requested_at": "2026-12-07T10:00:00Z", "status": "done", "turns_deleted": 7}
    platform = FakePlatform(erasures_page={"items": [erasure], "next_cursor": None})
    page = await calls.call_log(platform, calls.CallFilter(status="erased", user_id="ada"))
    assert page["items"] == [{"conversation_id": "c9", "status": "erased", "started_at": erasure["requested_at"],
                              "erased_at": erasure["requested_at"], "erasure": "done"}]  # fmt: skip
    assert platform.asked == [("erasures", {"limit": "50"})]


async def test_a_call_gathers_its_sessions_turns_handoffs_and_recordings() -> None:
    platform = FakePlatform(
        conversations={"c1": {"conversation": {"id": "c1"}, "sessions": [{"id": "s1"}, {"id": "s2"}]}},
        sessions={"s1": {"turns": [_turn(1, "hi")], "handoffs": [{"to_agent": "booking"}]}},
        stored={"c1": [{"id": "r1", "session_id": "s1", "kind": "audio"}]},
    )
    detail = await calls.call_detail(platform, "c1")
    assert detail is not None
    assert [s["id"] for s in detail["sessions"]] == ["s1", "s2"]
    assert detail["sessions"][0]["turns"][0]["text"] == "hi" and detail["sessions"][0]["handoffs"]
    assert detail["sessions"][1]["turns"] == []  # a session history has no details of (yet)
    assert detail["recordings"] == [{"id": "r1", "session_id": "s1", "kind": "audio"}]


async def test_an_erased_call_says_when_and_nothing_else_and_an_unknown_one_is_none() -> None:
    platform = FakePlatform(erased={"c9": {"requested_at": "2026-12-07T10:00:00Z", "status": "done"}})
    erased = await calls.call_detail(platform, "c9")
    assert erased == {"conversation": {"id": "c9"}, "erased": platform.erased["c9"], "sessions": [], "recordings": []}
    assert await calls.call_detail(platform, "nope") is None


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("dentist appointment", {"dentist", "appointment"}),
        ('"next Friday" or Monday -cancel', {"next", "friday", "monday"}),
        ("DENTIST", {"dentist"}),
    ],
)
def test_the_words_a_query_matches_on(query: str, words: set[str]) -> None:
    assert calls.query_words(query) == words


def test_matched_words_are_marked_and_everything_else_is_kept_as_text() -> None:
    fragments = calls.highlight("Move my Dentist appointment, please.", {"dentist", "appointment"})
    assert fragments == [
        {"text": "Move my ", "match": False},
        {"text": "Dentist", "match": True},
        {"text": " ", "match": False},
        {"text": "appointment", "match": True},
        {"text": ", please.", "match": False},
    ]
    assert "".join(str(f["text"]) for f in calls.highlight("<b>x</b> dentist", {"dentist"})) == "<b>x</b> dentist"


async def test_search_hits_carry_where_they_are_and_their_marked_fragments() -> None:
    platform = FakePlatform(hits=[{"turn": _turn(3, "my dentist"), "rank": 0.5}])
    page = await calls.search(platform, "dentist", offset=20)
    fragments = [{"text": "my ", "match": False}, {"text": "dentist", "match": True}]
    assert page["items"] == [
        {
            "conversation_id": "c1",
            "session_id": "s1",
            "seq": 3,
            "role": "user",
            "occurred_at": AT,
            "fragments": fragments,
        }
    ]
    assert platform.asked == [("search", {"q": "dentist", "limit": "20", "offset": "20"})]


async def test_a_session_cookie_is_refused_once_forged_expired_or_signed_out() -> None:
    signer = SessionSigner(b"s" * 32, ttl_seconds=60)
    signouts = LocalSignouts()
    session, cookie = signer.issue("ops-team", now=1000.0)
    assert signer.read(cookie, signouts, now=1030.0) == session
    assert signer.read(cookie, signouts, now=1061.0) is None  # expired
    payload, _, signature = cookie.partition(".")
    assert signer.read(payload + "." + signature[::-1], signouts, now=1030.0) is None  # forged
    assert SessionSigner(b"t" * 32, 60).read(cookie, signouts, now=1030.0) is None  # another secret's
    await signouts.add(session.id)
    assert signer.read(cookie, signouts, now=1030.0) is None  # signed out
