"""What happens after each attempt: the retry schedule and the endpoint's fate, as pure functions.

Delays after each failed attempt follow the schedule of the Standard Webhooks guidance (immediately, then 5 s,
5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 28 hours), each stretched or shrunk by up to a fifth at random so
that a receiver coming back is not hit by every retry at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)  # seconds before attempts 2, 3, ...
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.2
Status = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True)
class Result:
    """One attempt as seen from here: the HTTP status, or the error that stood for one."""

    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Next:
    status: Status
    next_attempt_at: datetime | None
    disable_reason: str | None = None  # the endpoint is disabled, for this reason


def delay(attempts_made: int, schedule: tuple[float, ...] = SCHEDULE, rng: random.Random | None = None) -> timedelta:
    base = schedule[min(attempts_made, len(schedule)) - 1]
    return timedelta(seconds=base * (1 + (rng or random).uniform(-JITTER, JITTER)))


def after(
    result: Result,
    attempts_made: int,
    now: datetime,
    failing_since: datetime | None,
    disable_after: timedelta,
    rng: random.Random | None = None,
    schedule: tuple[float, ...] = SCHEDULE,
) -> Next:
    """What follows an attempt (`attempts_made` counts it). 410 Gone disables the endpoint at once; an endpoint
    with no success since `failing_since` for longer than `disable_after` is disabled too."""
    if result.ok:
        return Next("delivered", None)
    if result.status_code == 410:
        return Next("failed", None, "the endpoint answered 410 Gone")
    if failing_since is not None and now - failing_since >= disable_after:
        hours = disable_after.total_seconds() / 3600
        return Next("failed", None, f"every delivery failed for {hours:g} hours")
    if attempts_made > len(schedule):
        return Next("failed", None)
    return Next("pending", now + delay(attempts_made, schedule, rng))
