"""A text with its personal data masked (`[CREDIT_CARD]`), and where each mask is: what a turn says was removed.

Values are found in the text as written and in its spoken forms (`spoken`); overlapping finds become one mask of
the most certain type. The caller's timed words are masked the same way, so the audio of those words can be
silenced and no copy of them keeps the value.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import parley_contracts as c
from parley_agent.redaction import spoken
from parley_agent.redaction.finds import Detector, Found
from parley_agent.redaction.policy import SPOKEN_NUMBER

DEFAULT_MASK = "[{type}]"
_DIGITISH = re.compile(r"\d|@")


@dataclass(frozen=True)
class Redacted:
    text: str
    redactions: list[c.Redaction]
    spans: list[Found]  # in the original text: what was masked


class Redactor:
    def __init__(self, detector: Detector, types: frozenset[str], mask: str = DEFAULT_MASK) -> None:
        self.detector = detector
        self.types = types
        self.mask = mask
        self.redact = functools.lru_cache(maxsize=2048)(self._redact)  # a summary repeats every turn's text

    def _redact(self, text: str) -> Redacted:
        if not self.types or not text:
            return Redacted(text, [], [])
        found = self.detector.find(text, self.types)
        for candidate in spoken.candidates(text):
            hits = self.detector.find(candidate.written, self.types)
            if hits:
                best = max(hits, key=lambda h: (h.score, h.end - h.start))
                found.append(Found(best.type, candidate.start, candidate.end, best.score))
            elif kind := unclaimed_number(candidate.written, self.types):
                found.append(Found(kind, candidate.start, candidate.end, 0.3))
        spans = merged(found)
        out, redactions, at = [], [], 0
        for span in spans:
            out.append(text[at : span.start])
            start = sum(len(piece) for piece in out)
            masked = self.mask.format(type=span.type)
            out.append(masked)
            redactions.append(c.Redaction(type=span.type, start=start, end=start + len(masked)))
            at = span.end
        out.append(text[at:])
        return Redacted("".join(out), redactions, spans)

    def words(self, text: str, words: list[c.WordTiming], spans: list[Found]) -> list[c.WordTiming]:
        """The timed words with those inside a masked span replaced by its mask. A word that cannot be placed in
        the text is masked when it holds a digit or an `@` (safe rather than sorry)."""
        if not spans:
            return words
        lowered, at, out = text.lower(), 0, []
        for word in words:
            where = lowered.find(word.word.strip().lower(), at) if word.word.strip() else -1
            if where < 0:
                hit = _DIGITISH.search(word.word) or word.word.strip().lower() in spoken.DIGITS
                out.append(_masked(word, self.mask, "UNPLACED") if hit else word)
                continue
            end = where + len(word.word.strip())
            at = end
            span = next((s for s in spans if s.start < end and where < s.end), None)
            out.append(_masked(word, self.mask, span.type) if span else word)
        return out


def unclaimed_number(digits: str, types: frozenset[str]) -> str | None:
    """The type of a number said in pieces that no recognizer claims: a recognizer often loses or doubles a digit
    of a number read out, which then fails its checksum. A card's length (13 to 19 digits) is masked as a card,
    any other of 9 or more digits as `SPOKEN_NUMBER`; shorter ones (amounts, times, dates) are kept."""
    if not digits.isdigit():
        return None
    if 13 <= len(digits) <= 19 and "CREDIT_CARD" in types:
        return "CREDIT_CARD"
    return SPOKEN_NUMBER if len(digits) >= 9 and SPOKEN_NUMBER in types else None


def _masked(word: c.WordTiming, mask: str, kind: str) -> c.WordTiming:
    return c.WordTiming(word=mask.format(type=kind), start=word.start, end=word.end)


def merged(found: list[Found]) -> list[Found]:
    """Overlapping finds as one span each, of the most certain (then longest) find's type; in text order."""
    spans: list[Found] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if spans and f.start < spans[-1].end:
            last = spans[-1]
            kind = max((last, f), key=lambda x: (x.score, x.end - x.start)).type
            spans[-1] = Found(kind, last.start, max(last.end, f.end), max(last.score, f.score))
        else:
            spans.append(f)
    return spans
