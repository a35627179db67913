"""What a call used of its providers, from the framework's running totals: per turn and per session.

livekit-agents reports usage as running totals per provider and model (`AgentSessionUsage.model_usage`). A
session's usage is the last totals; a turn's is what they grew by since the turn before. Both carry the totals
and `items`, one per component, provider and model, in the units a price table prices.
"""

from __future__ import annotations

from livekit.agents.metrics.usage import AgentSessionUsage, LLMModelUsage, STTModelUsage, TTSModelUsage

import parley_contracts as c

Key = tuple[str, str, str]  # (component, provider, model)


def _item(u: object) -> c.UsageItem | None:
    if isinstance(u, LLMModelUsage):
        return c.UsageItem(
            component="llm", provider=u.provider or "unknown", model=u.model or "unknown",
            input_tokens=u.input_tokens, cached_input_tokens=u.input_cached_tokens, output_tokens=u.output_tokens,
        )  # fmt: skip
    if isinstance(u, TTSModelUsage):
        return c.UsageItem(
            component="tts", provider=u.provider or "unknown", model=u.model or "unknown",
            characters=u.characters_count, audio_seconds=u.audio_duration,
        )  # fmt: skip
    if isinstance(u, STTModelUsage):
        return c.UsageItem(
            component="stt",
            provider=u.provider or "unknown",
            model=u.model or "unknown",
            audio_seconds=u.audio_duration,
        )
    return None  # turn detection and interruption models run here: nothing is billed


def _with_totals(items: list[c.UsageItem]) -> c.Usage:
    return c.Usage(
        prompt_tokens=sum(i.input_tokens for i in items),
        completion_tokens=sum(i.output_tokens for i in items),
        tts_characters=sum(i.characters for i in items if i.component == "tts"),
        stt_audio_seconds=sum(i.audio_seconds for i in items if i.component == "stt"),
        items=items[: c.agent.MAX_USAGE_ITEMS],
    )


def totals(usage: AgentSessionUsage | None) -> c.Usage:
    """The session's usage so far."""
    items = [item for u in (usage.model_usage if usage else []) if (item := _item(u)) is not None]
    return _with_totals(items)


def _key(i: c.UsageItem) -> Key:
    return (i.component, i.provider, i.model)


def since(now: c.Usage, before: c.Usage) -> c.Usage:
    """What was used between two of the session's totals (a turn's share)."""
    earlier = {_key(i): i for i in before.items}
    grown = []
    for item in now.items:
        was = earlier.get(_key(item), c.UsageItem(component=item.component, provider=item.provider, model=item.model))
        delta = c.UsageItem(
            component=item.component, provider=item.provider, model=item.model,
            input_tokens=max(0, item.input_tokens - was.input_tokens),
            cached_input_tokens=max(0, item.cached_input_tokens - was.cached_input_tokens),
            output_tokens=max(0, item.output_tokens - was.output_tokens),
            characters=max(0, item.characters - was.characters),
            audio_seconds=max(0.0, round(item.audio_seconds - was.audio_seconds, 6)),
        )  # fmt: skip
        if delta != c.UsageItem(component=item.component, provider=item.provider, model=item.model):
            grown.append(delta)
    return _with_totals(grown)
