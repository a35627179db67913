"""Reading what insights made of each session: its analysis with its cost, and usage and cost summed over time.

`GET /v1/usage` sums sessions that started in `[from, to)`, grouped by UTC day, by user, or by the model each
cost item names. Costs sum per currency (a price table has one, but a deployment may change it), so every
group says which it is in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from parley_history.models import session_analyses

GroupBy = Literal["day", "user", "model"]


class Analysis(msgspec.Struct, kw_only=True, omit_defaults=True):
    event_id: str
    revision: int
    status: str
    analyzer: str
    analyzed_at: datetime
    summary: str | None = None
    data_schema: str | None = None
    data: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    failure: str | None = None
    cost: dict[str, Any] | None = None


class UsageGroup(msgspec.Struct, kw_only=True, omit_defaults=True):
    key: str | None  # the day (YYYY-MM-DD), the user id, or component/provider/model
    currency: str | None
    cost: float
    sessions: int = 0  # day and user
    minutes: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tts_characters: int = 0
    stt_audio_seconds: float = 0.0
    unit: str | None = None  # model: what `quantity` counts
    quantity: float = 0.0


class UsageReport(msgspec.Struct, kw_only=True):
    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")
    group_by: GroupBy
    groups: list[UsageGroup]
    totals: list[UsageGroup]  # per currency, over every group


_BY_SESSION = """
SELECT {key} AS key, a.currency, count(*) AS sessions,
       coalesce(sum(s.duration_seconds), 0) / 60 AS minutes,
       coalesce(sum(a.cost_total), 0) AS cost,
       coalesce(sum((s.usage ->> 'prompt_tokens')::bigint), 0) AS prompt_tokens,
       coalesce(sum((s.usage ->> 'completion_tokens')::bigint), 0) AS completion_tokens,
       coalesce(sum((s.usage ->> 'tts_characters')::bigint), 0) AS tts_characters,
       coalesce(sum((s.usage ->> 'stt_audio_seconds')::float8), 0) AS stt_audio_seconds
FROM history.sessions s LEFT JOIN history.session_analyses a ON a.session_id = s.id
WHERE s.started_at >= :start AND s.started_at < :end
GROUP BY 1, 2 ORDER BY 1, 2
"""
BY_DAY = text(_BY_SESSION.format(key="to_char(s.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"))
BY_USER = text(_BY_SESSION.format(key="s.user_id"))
BY_MODEL = text("""
SELECT concat_ws('/', i ->> 'component', i ->> 'provider', i ->> 'model') AS key, a.currency, i ->> 'unit' AS unit,
       sum((i ->> 'quantity')::float8) AS quantity, sum((i ->> 'amount')::float8) AS cost
FROM history.sessions s
JOIN history.session_analyses a ON a.session_id = s.id
CROSS JOIN LATERAL jsonb_array_elements(a.cost -> 'items') AS i
WHERE s.started_at >= :start AND s.started_at < :end
GROUP BY 1, 2, 3 ORDER BY 1, 3, 2
""")
_QUERIES = {"day": BY_DAY, "user": BY_USER, "model": BY_MODEL}


async def get_analysis(conn: AsyncConnection, session_id: str) -> Analysis | None:
    a = session_analyses.c
    q = select(*(a[f] for f in Analysis.__struct_fields__)).where(a.session_id == session_id)
    row = (await conn.execute(q)).mappings().first()
    if row is None:
        return None
    found = {k: v for k, v in row.items() if v is not None}
    return Analysis(**{**found, "event_id": str(found["event_id"])})


async def usage(conn: AsyncConnection, start: datetime, end: datetime, group_by: GroupBy) -> UsageReport:
    rows = (await conn.execute(_QUERIES[group_by], {"start": start, "end": end})).mappings().all()
    groups = [
        UsageGroup(**{k: _plain(v) for k, v in row.items() if v is not None or k in ("key", "currency")})
        for row in rows
    ]
    return UsageReport(start=start, end=end, group_by=group_by, groups=groups, totals=_totals(groups, group_by))


def _plain(value: Any) -> Any:
    return float(value) if type(value).__name__ == "Decimal" else value


def _totals(groups: list[UsageGroup], group_by: GroupBy) -> list[UsageGroup]:
    by_currency: dict[str | None, UsageGroup] = {}
    for g in groups:
        t = by_currency.setdefault(g.currency, UsageGroup(key=None, currency=g.currency, cost=0.0))
        t.cost = round(t.cost + g.cost, 6)
        if group_by != "model":
            t.sessions += g.sessions
            t.minutes += g.minutes
            t.prompt_tokens += g.prompt_tokens
            t.completion_tokens += g.completion_tokens
            t.tts_characters += g.tts_characters
            t.stt_audio_seconds += g.stt_audio_seconds
    return list(by_currency.values())
