"""REST under /v1: usage and cost summed over a time range (what insights priced, per session)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncConnection

from parley_contracts import utcnow
from parley_history import analyses
from parley_runtime.web.access import scoped
from parley_runtime.web.instants import instant_parameter, parse_instant
from parley_runtime.web.openapi import problems

Conn = NamedDependency[AsyncConnection]


class UsageController(Controller):
    path = "/v1"
    tags = ["usage"]

    @get(
        "/usage",
        summary="Usage and cost summed over the sessions that started in a time range",
        responses=problems(),
        description=(
            "Sessions that started at or after `from` and before `to` (default: the last 30 days), grouped by UTC"
            " day, by user, or by the component/provider/model of each cost item. Costs are those insights"
            " computed (`session_analyzed.v1`), per currency; sessions not analysed yet count with no cost."
        ),
        **scoped("history.read"),
    )
    async def usage(
        self,
        conn: Conn,
        start: Annotated[str | None, instant_parameter("sessions that started at or after", query="from")] = None,
        end: Annotated[str | None, instant_parameter("sessions that started before", query="to")] = None,
        group_by: Annotated[analyses.GroupBy, Parameter(description="how the sums are grouped")] = "day",
    ) -> analyses.UsageReport:
        until = parse_instant(end, "to") or utcnow()
        since = parse_instant(start, "from") or until - timedelta(days=30)
        return await analyses.usage(conn, since, until, group_by)  # an empty range (from >= to) sums nothing
