"""The erasure event: a conversation was erased on request, and every copy of it must go.

History accepts the request (`DELETE /v1/conversations/{id}`), deletes its own rows, retires the id and
publishes this event. Every subscriber that keeps conversation data (recordings, and any team's own
consumer) must delete what it holds for the conversation and ignore its later events: a call still
running when the request came keeps emitting, and redeliveries can arrive after the erasure.
"""

from __future__ import annotations

from parley_contracts._base import Event, Id


class ConversationErased(Event, frozen=True, kw_only=True, omit_defaults=True, tag="conversation_erased.v1"):
    """The conversation was erased: delete everything held for it, and drop its later events.

    A conversation-level event: `session_id` is absent (the envelope keeps the field, as for room events).
    The event carries no personal data, only the id that is being forgotten.
    """

    session_id: Id | None = None
