"""The agents of a call: the room's assistant, and the agents it may hand the call to.

A room's metadata may name other agents (`agents: {"booking": {"instructions": ..., "description": ...}}`); the
assistant then has a `transfer` tool, as LiveKit Agents does handoffs: the tool returns the next agent, the
framework moves the session to it, and the tracker publishes `agent_handoff.v1` with the reason the LLM gave.
Every agent can hand back to the others.

Instructions may name what is known of the caller, filled in when the caller joins: `{{caller.identity}}`,
`{{caller.number}}` (a SIP caller's phone number), `{{caller.metadata.KEY}}` (a key of the participant's JSON
metadata, e.g. a CRM id its join token carries) and `{{caller.attributes.KEY}}`. The caller's details are also
given to the LLM after the instructions, so an assistant can use them without placeholders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib.resources import files
from typing import Annotated, Any

from livekit.agents import Agent, ChatContext, RunContext, function_tool
from pydantic import Field

from parley_agent.metadata import PeerAgent
from parley_agent.state import ParticipantState

ASSISTANT = "assistant"
_PLACEHOLDER = re.compile(r"\{\{\s*caller\.([A-Za-z0-9_.\-]+)\s*\}\}")
# The caller's phone number on a SIP call (LiveKit's SIP service sets it).
SIP_NUMBER = "sip.phoneNumber"


def prompt(name: str) -> str:
    return (files("parley_agent") / "prompts" / f"{name}.md").read_text().strip()


def _caller_value(caller: ParticipantState, path: str) -> str | None:
    head, _, rest = path.partition(".")
    if head == "identity":
        return caller.identity
    if head == "number":
        return caller.attributes.get(SIP_NUMBER)
    if head == "attributes":
        return caller.attributes.get(rest)
    if head == "metadata":
        try:
            data = json.loads(caller.metadata or "")
        except ValueError:
            return None
        value = data.get(rest) if isinstance(data, dict) else None
        return None if value is None else str(value)
    return None


def with_caller(instructions: str, caller: ParticipantState | None) -> str:
    """The instructions with what is known of the caller filled in, and the caller's details after them."""
    if caller is None:
        return _PLACEHOLDER.sub("(unknown)", instructions)
    filled = _PLACEHOLDER.sub(lambda m: _caller_value(caller, m.group(1)) or "(unknown)", instructions)
    details = [f"identity {caller.identity}"]
    if number := caller.attributes.get(SIP_NUMBER):
        details.append(f"phone number {number}")
    if caller.metadata:
        details.append(f"metadata {caller.metadata}")
    return f"{filled}\n\nAbout the caller: {'; '.join(details)}."


OnTransfer = Callable[[str], None]  # the reason of the handoff about to happen


class ParleyAgent(Agent):
    """One agent of the call; with peers, it can hand the call to them."""

    def __init__(
        self,
        name: str,
        instructions: str,
        *,
        peers: tuple[PeerAgent, ...] = (),
        on_transfer: OnTransfer | None = None,
        chat_ctx: ChatContext | None = None,
        caller: ParticipantState | None = None,
        taking_over_for: str | None = None,
    ) -> None:
        self.base_instructions = instructions
        self.peers = {p.name: p for p in peers if p.name != name}
        self.on_transfer = on_transfer
        self.caller = caller
        self.taking_over_for = taking_over_for  # the reason it was handed the call, when it was
        tools = [self._transfer_tool()] if self.peers else []
        full = self._full(with_caller(instructions, caller) if caller else instructions)
        super().__init__(id=name, instructions=full, chat_ctx=chat_ctx, tools=tools)

    async def on_enter(self) -> None:
        if self.taking_over_for is not None:  # handed the call: it speaks first, as the caller waits
            self.session.generate_reply(
                instructions=f"You are the {self.id} agent and were just handed this call because: "
                f"{self.taking_over_for}. Say so in one short sentence and carry on helping the caller."
            )

    def _full(self, instructions: str) -> str:
        if not self.peers:
            return instructions
        listing = "\n".join(f"- {p.name}: {p.description}" for p in self.peers.values())
        return f"{instructions}\n\n{prompt('transfer')}\n{listing}"

    async def meet(self, caller: ParticipantState | None) -> None:
        """Fill the caller into the instructions (the caller joined, or was there before the agent)."""
        self.caller = caller
        await self.update_instructions(self._full(with_caller(self.base_instructions, caller)))

    def _transfer_tool(self) -> Any:
        names = sorted(self.peers)

        async def transfer(context: RunContext[Any], agent: str, reason: str) -> tuple[Agent, str] | str:
            peer = self.peers.get(agent)
            if peer is None:
                return f"there is no agent {agent!r}; choose one of: {', '.join(names)}"
            why = reason[:500]
            if self.on_transfer is not None:
                self.on_transfer(why)
            everyone = (PeerAgent(self.id, self.base_instructions, "the first agent of the call"), *self.peers.values())
            successor = ParleyAgent(
                peer.name,
                peer.instructions,
                peers=everyone,
                on_transfer=self.on_transfer,
                chat_ctx=self.chat_ctx,
                caller=self.caller,
                taking_over_for=why,
            )
            return successor, f"Transferring you to {peer.name}."

        # Real objects, not the strings this module's annotations are: the framework reads them at call time.
        transfer.__annotations__ = {
            "context": RunContext[Any],
            "agent": Annotated[str, Field(description=f"one of: {', '.join(names)}")],
            "reason": Annotated[str, Field(description="why the caller needs that agent, in a few words")],
            "return": tuple[Agent, str] | str,
        }
        return function_tool(transfer, name="transfer", description="Hand the call to another agent.")
