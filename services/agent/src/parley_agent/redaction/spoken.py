"""What speech recognition writes for personal data that a written-form recognizer misses: numbers in words or in
single digits ("four one one one ...", "4 1 1 1 ...", "415 555-2671" read in pieces) and spelled e-mail addresses
("ada dot lovelace at example dot com").

Each is a `Candidate`: a span of the original text and the written form it stands for ("4111111111111111",
"ada.lovelace@example.com"). The redactor runs the detector on the written form, with its checks (a card number
must pass Luhn), and masks the whole span when it is personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
          "seven": "7", "eight": "8", "nine": "9"}  # fmt: skip
TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
         "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}  # fmt: skip
TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8",
        "ninety": "9"}  # fmt: skip
REPEAT = {"double": 2, "triple": 3}
MIN_DIGITS = 6  # shorter runs are amounts, times and dates, not the numbers this looks for

_TOKEN = re.compile(r"[A-Za-z]+|\d+")
_SEPARATOR = re.compile(r"^[\s,\-().+/]*$")  # what may stand between the pieces of one number
_AT = r"(?:\s+at\s+|\s*@\s*)"
_DOT = r"(?:\s+dot\s+|\s*\.\s*)"
_JOIN = r"(?:\s+(?:dot|underscore|dash|hyphen)\s+|[._-])"
_SPELLED_EMAIL = re.compile(rf"\b[a-z0-9]+(?:{_JOIN}[a-z0-9]+)*{_AT}[a-z0-9-]+(?:{_DOT}[a-z0-9-]+)+\b", re.IGNORECASE)
_SPOKEN_SIGNS = [(re.compile(rf"\s+{word}\s+", re.IGNORECASE), sign) for word, sign in
                 (("at", "@"), ("dot", "."), ("underscore", "_"), ("dash", "-"), ("hyphen", "-"))]  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    written: str  # what the span stands for, as a written-form recognizer expects it


def candidates(text: str) -> list[Candidate]:
    return number_runs(text) + spelled_emails(text)


def number_runs(text: str) -> list[Candidate]:
    """Each run of numbers (digits or number words) with only separators between them, as one digit string."""
    found: list[Candidate] = []
    run: list[tuple[str, int, int]] = []  # (digits, start, end)
    pending_repeat = 1
    tokens = list(_TOKEN.finditer(text))
    for i, token in enumerate(tokens):
        word = token.group().lower()
        gap_ok = not run or bool(_SEPARATOR.match(text[run[-1][2] : token.start()]))
        digits = _digits(word, tokens[i + 1].group().lower() if i + 1 < len(tokens) else "", bool(run))
        if word in REPEAT and gap_ok:
            pending_repeat = REPEAT[word]
            run.append(("", token.start(), token.end()))
            continue
        if digits is None or not gap_ok:
            found += _flush(run)
            run, pending_repeat = [], 1
            if digits is None:
                continue
        run.append((digits * pending_repeat, token.start(), token.end()))
        pending_repeat = 1
    return found + _flush(run)


def _digits(word: str, following: str, in_run: bool) -> str | None:
    if word.isdigit():
        return word
    if word == "oh" and not in_run:
        return None  # "oh" is a zero only among other digits
    if word in DIGITS:
        return DIGITS[word]
    if word in TEENS:
        return TEENS[word]
    if word in TENS:
        return TENS[word] + ("" if following in DIGITS and following not in ("zero", "oh") else "0")
    return None


def _flush(run: list[tuple[str, int, int]]) -> list[Candidate]:
    digits = "".join(d for d, _, _ in run)
    pieces = sum(1 for d, _, _ in run if d)
    if pieces < 2 or len(digits) < MIN_DIGITS:
        return []  # one piece alone is the written form, which the detector reads as it is
    return [Candidate(run[0][1], run[-1][2], digits)]


def spelled_emails(text: str) -> list[Candidate]:
    found = []
    for match in _SPELLED_EMAIL.finditer(text):
        written = match.group()
        for pattern, sign in _SPOKEN_SIGNS:
            written = pattern.sub(sign, written)
        written = re.sub(r"\s*([@._-])\s*", r"\1", written)
        if "@" in written:
            found.append(Candidate(match.start(), match.end(), written.lower()))
    return found
