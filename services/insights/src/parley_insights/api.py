"""REST under /v1 (bearer API key): ask for a session's analysis again."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import httpx
import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.params import Parameter

from parley_contracts import ID_PATTERN
from parley_insights.service import Insights, UnknownSession
from parley_runtime.web.openapi import problems

logger = logging.getLogger(__name__)


class AnalysisAsked(msgspec.Struct):
    session_id: str
    revision: int  # the analysis to come: `session_analyzed.v1` with this revision replaces the stored one


class HistorySessions:
    """Sessions as history's API serves them, read with insights' own key."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def session(self, session_id: str) -> dict[str, Any] | None:
        r = await self.client.get(f"/v1/sessions/{session_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        found: dict[str, Any] = r.json()
        return found


def _finished(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("an analysis asked again was not published", exc_info=exc)


class AnalysisController(Controller):
    path = "/v1"
    tags = ["insights"]
    # Every route of this controller requires this scope of the key (parley_runtime.web.access).
    opt = {"scope": "ops.admin"}
    security = [{"BearerToken": ["ops.admin"]}]

    @post("/sessions/{session_id:str}/analysis", status_code=202, summary="Analyse a session again",
          responses=problems(404, 503))  # fmt: skip
    async def analyse_again(
        self,
        insights: NamedDependency[Insights],
        history: NamedDependency[HistorySessions | None],
        running: NamedDependency[set[asyncio.Task[Any]]],
        session_id: Annotated[str, Parameter(pattern=ID_PATTERN)],
    ) -> AnalysisAsked:
        if history is None:
            raise ServiceUnavailableException(
                detail="INSIGHTS_HISTORY_URL and INSIGHTS_HISTORY_KEY are not both set: insights cannot read sessions"
            )
        try:
            session, revision = await insights.again(session_id, history)
        except UnknownSession:
            raise NotFoundException(detail=f"history has no session {session_id}") from None
        except httpx.HTTPError as exc:
            raise ServiceUnavailableException(detail=f"history is unavailable: {type(exc).__name__}",
                                              headers={"Retry-After": "5"}) from None  # fmt: skip
        task = asyncio.create_task(insights.analyse(session, revision), name=f"analysis-{session_id}")
        running.add(task)
        task.add_done_callback(running.discard)
        task.add_done_callback(_finished)
        logger.info("analysis asked again", extra={"session_id": session_id, "revision": revision})
        return AnalysisAsked(session_id=session_id, revision=revision)
