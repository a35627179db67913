"""Personal data out of everything a call emits, before it leaves the agent process.

`detect` finds values with Microsoft Presidio's pattern recognizers (checksums included: Luhn for cards, the
IBAN check digits), offline and without an NLP model; `spoken` finds what speech recognition writes out in
words (digits read one by one, "ada at example dot com"); `redactor` masks them and says where; `policy` is which
types a call redacts; `publisher` applies all of it to the call's events on a thread of its own, in order.
"""
