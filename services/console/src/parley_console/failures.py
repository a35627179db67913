"""What a failure behind the console becomes for the person: a service's own refusal passed on as it was
(its status, detail and Retry-After), or 503 naming what is down. Every route answers through `answered()`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from litestar.exceptions import ClientException, ServiceUnavailableException

from parley_console import ops, talk
from parley_console.upstream import UpstreamDown, UpstreamRefused

FAILURES = (UpstreamDown, UpstreamRefused, talk.NoAgent, *ops.OPS_ERRORS)


def refused(exc: UpstreamRefused) -> ClientException:
    headers = {"Retry-After": exc.retry_after} if exc.retry_after else None
    return ClientException(status_code=exc.status, detail=exc.detail, headers=headers)


def problem(exc: Exception) -> Exception:
    """The problem one of `FAILURES` becomes."""
    if isinstance(exc, UpstreamRefused):
        return refused(exc)
    if isinstance(exc, talk.NoAgent):
        return ServiceUnavailableException(detail=f"no simulated call: {exc}", headers={"Retry-After": "5"})
    why = str(exc) if isinstance(exc, UpstreamDown) else f"NATS: {type(exc).__name__}"
    return ServiceUnavailableException(detail=why, headers={"Retry-After": "5"})


@contextmanager
def answered() -> Iterator[None]:
    """Turns what failed upstream into the problem the person sees."""
    try:
        yield
    except FAILURES as exc:
        raise problem(exc) from exc
