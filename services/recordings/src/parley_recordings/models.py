"""The recordings service's table (schema `recordings`): one row per stored object.

Unique on (`session_id`, `kind`, `format`): a redelivered `session_ended` can never store an object
twice. The blob is written before its row, so a crash in between is repaired by the redelivery
(same key, same bytes) and the row then appears.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, MetaData, Table, Text, UniqueConstraint, false
from sqlalchemy.dialects.postgresql import UUID

SCHEMA = "recordings"
metadata = MetaData(schema=SCHEMA)

recordings = Table(
    "recordings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("session_id", Text, nullable=False),
    Column("conversation_id", Text, nullable=False),
    Column("kind", Text, nullable=False),  # audio | transcript
    Column("format", Text, nullable=False),  # ogg | json | vtt
    Column("uri", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # From history's end for a lost agent (reason agent_lost): the agent's own end replaces it (0003).
    Column("provisional", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("session_id", "kind", "format", name="uq_recordings_session_kind_format"),
    Index("ix_recordings_conversation", "conversation_id", "created_at"),
    Index("ix_recordings_created", "created_at"),
)

# Conversations erased on request (`conversation_erased.v1`): their later sessions are not stored.
erasures = Table(
    "erasures",
    metadata,
    Column("conversation_id", Text, primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)
