"""Retries, signatures and targets as pure functions: the schedule, 410, disabling, Standard Webhooks."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from parley_webhooks import policy, signing
from parley_webhooks.crypto import SecretBox
from parley_webhooks.targets import forbidden, url_problem
from standardwebhooks import Webhook

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
DAY = timedelta(hours=72)


def test_failures_are_retried_on_a_growing_schedule_over_about_a_day_then_given_up() -> None:
    rng = random.Random(3)
    waits = []
    for made in range(1, policy.MAX_ATTEMPTS):
        following = policy.after(policy.Result(500, "HTTP 500"), made, NOW, NOW, DAY, rng)
        assert following.status == "pending" and following.next_attempt_at is not None
        waits.append((following.next_attempt_at - NOW).total_seconds())
    assert all(later > earlier for earlier, later in itertools.pairwise(waits[:5]))  # growing
    for wait, base in zip(waits, policy.SCHEDULE, strict=True):
        assert base * 0.8 <= wait <= base * 1.2  # jittered by at most a fifth
    assert 20 * 3600 < sum(policy.SCHEDULE) < 36 * 3600  # about a day
    assert policy.after(policy.Result(None, "timeout"), policy.MAX_ATTEMPTS, NOW, NOW, DAY).status == "failed"
    short = policy.after(policy.Result(500), 1, NOW, NOW, DAY, schedule=(0.5,))
    assert short.next_attempt_at is not None and short.next_attempt_at - NOW <= timedelta(seconds=0.6)
    assert policy.after(policy.Result(500), 2, NOW, NOW, DAY, schedule=(0.5,)).status == "failed"


def test_success_410_and_days_of_failure_decide_at_once() -> None:
    assert policy.after(policy.Result(204), 3, NOW, NOW - DAY * 2, DAY) == policy.Next("delivered", None)
    gone = policy.after(policy.Result(410), 1, NOW, None, DAY)
    assert gone.status == "failed" and gone.disable_reason == "the endpoint answered 410 Gone"
    stale = policy.after(policy.Result(503), 2, NOW, NOW - DAY, DAY)
    assert stale.status == "failed" and stale.disable_reason == "every delivery failed for 72 hours"
    assert policy.after(policy.Result(503), 2, NOW, NOW - DAY / 2, DAY).disable_reason is None


def test_signatures_verify_with_the_standard_webhooks_library_during_a_rotation_too() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = json.dumps({"type": "call.report", "data": {}}).encode()
    msg_id = signing.message_id("ep_1", "report/s1")
    headers = signing.headers([new, old], msg_id, int(datetime.now(UTC).timestamp()), body)
    for secret in (new, old):  # a receiver holding either secret accepts it
        assert Webhook(secret).verify(body, headers) == {"type": "call.report", "data": {}}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(signing.new_secret()).verify(body, headers)
    assert msg_id == signing.message_id("ep_1", "report/s1") != signing.message_id("ep_2", "report/s1")


def test_secrets_are_sealed_and_open_only_under_their_key() -> None:
    sealed = SecretBox("k" * 32).seal("whsec_abc")
    assert b"whsec_abc" not in sealed and SecretBox("k" * 32).open(sealed) == "whsec_abc"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        SecretBox("x" * 32).open(sealed)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
     "fd00::1", "fe80::1", "::ffff:127.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_private_addresses_are_forbidden(address: str) -> None:
    assert forbidden(address)


def test_public_addresses_and_names_pass_registration_but_literals_and_credentials_do_not() -> None:
    assert not forbidden("93.184.215.14") and not forbidden("2606:4700::1111")
    assert url_problem("https://hooks.example.com/parley", allow_private=False) is None
    assert url_problem("http://localhost:9/x", allow_private=False) is None  # a name: checked when it connects
    assert "not a public address" in (url_problem("http://169.254.169.254/latest", allow_private=False) or "")
    assert url_problem("http://127.0.0.1:9/x", allow_private=True) is None
    assert "credentials" in (url_problem("https://user:pw@hooks.example.com/", allow_private=False) or "")
    assert "http:// or https://" in (url_problem("ftp://hooks.example.com/", allow_private=False) or "")
