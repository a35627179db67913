"""Keys with names, scopes and hashes; the rate limit's arithmetic: pure functions, no server."""

from __future__ import annotations

import hashlib

import pytest

from parley_runtime.web.access import RateLimit
from parley_runtime.web.keys import KeyRing, parse_key


def test_a_key_may_be_bare_named_scoped_or_hashed() -> None:
    bare, named, scoped = parse_key("k1"), parse_key("crm:k2"), parse_key("reader:k3:history.read+recordings.read")
    assert bare.scopes == named.scopes == frozenset({"*"}) and bare.name.startswith("key-")
    assert named.name == "crm" and scoped.allows("history.read") and not scoped.allows("history.erase")
    hashed = parse_key(f"ops:sha256={hashlib.sha256(b'secret-4').hexdigest()}:ops.admin")
    ring = KeyRing(["k1", f"ops:sha256={hashlib.sha256(b'secret-4').hexdigest()}:ops.admin"])
    assert ring.find("Bearer secret-4") == hashed and ring.find("Bearer k1") == bare
    assert ring.find("Bearer sha256=" + hashlib.sha256(b"secret-4").hexdigest()) is None  # the hash opens nothing
    assert ring.find("Basic k1") is None and ring.find("Bearer ") is None and ring.find("") is None


@pytest.mark.parametrize(
    ("entry", "says"),
    [("a:b:c:d", "an entry is"), ("r:k:history.delete", "unknown scopes ['history.delete']"),
     ("r:sha256=zz", "SHA-256 in hex"), ("r:sha256=abcd", "64 characters"), ("r::history.read", "no empty part")],
)  # fmt: skip
def test_a_wrong_entry_is_refused_saying_why(entry: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_key(entry)
    assert says in str(caught.value)


def test_the_bucket_allows_the_burst_then_the_rate() -> None:
    limit = RateLimit.parse("2/s,burst=3")
    assert limit is not None and (limit.rate, limit.burst) == (2, 3)
    taken = [limit.take("k", now=100.0)[0] for _ in range(4)]
    assert taken == [True, True, True, False]
    assert limit.take("other", now=100.0)[0]  # per key
    assert limit.take("k", now=100.6)[0] and not limit.take("k", now=100.6)[0]  # one token back after 0.5 s
    assert limit.headers(1, 2) == {"RateLimit-Policy": '"burst";q=3;w=2', "RateLimit": '"burst";r=1;t=2'}
    assert RateLimit.parse("off") is None and RateLimit.parse("10/s").burst == 20  # type: ignore[union-attr]
    for wrong in ("10", "0/s", "10/m", "10/s,burst=x"):
        with pytest.raises(ValueError, match="RATE/s"):
            RateLimit.parse(wrong)
