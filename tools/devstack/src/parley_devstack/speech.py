"""How well speech was heard: the word error rate between what a caller said and what the recognizer wrote."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation ("Friday," and "friday" are the same word)."""
    return _WORD.findall(text.lower())


def word_error_rate(said: str, heard: str) -> float:
    """(substitutions + deletions + insertions) / words said, by edit distance over words."""
    ref, hyp = words(said), words(heard)
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


def corpus_error_rate(pairs: list[tuple[str, str]]) -> float:
    """The word error rate over many utterances: total edits over total words said."""
    said = sum(len(words(s)) for s, _ in pairs)
    edits = sum(word_error_rate(s, h) * len(words(s)) for s, h in pairs)
    return edits / said if said else 0.0
