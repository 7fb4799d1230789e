"""A second strength estimate for secrets: zxcvbn's pattern matcher beside the per-character one.

`estimate_entropy_bits` (entropy.py) sees runs, repeats and skew, but no words, keyboard walks
or years: it rates "qwertyuiopasdfghjkl123" as random. zxcvbn matches those, but prices every
character it cannot match at about 3.3 bits (a 10-symbol alphabet), so alone it would fail
every random 16-character secret. The two are combined: the stretches zxcvbn matches as words,
keyboard walks, sequences, repeats or dates cost what zxcvbn says; every other character keeps
the per-character rate of the project's own estimate; the lower of that sum and the project's
estimate wins.

What a message may say about a match: its kind and its length ("keyboard walk of 10
characters"), and zxcvbn's generic warning. Never the matched token: "qwertyuiop" is ten
characters of the secret itself, and its position would tell an attacker where to put them.
The value's length is printed already, so a stretch's length and kind add only what the
operator needs to fix it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from zxcvbn import scoring
from zxcvbn.feedback import get_feedback
from zxcvbn.matching import RANKED_DICTIONARIES, build_ranked_dict, omnimatch

from stackprobe.checks.entropy import MAX_ANALYSED, estimate_entropy_bits
from stackprobe.wordlists import DICTIONARY_KINDS

# Matches shorter than this are ignored (except the stack's own names): see _usable.
_MIN_MATCH = 5
_WINDOW = 48

_KIND_HINTS = {
    "spatial": "keyboard walk",
    "sequence": "character sequence",
    "repeat": "repeated chunk",
    "date": "date",
}


@dataclass(frozen=True)
class Pattern:
    """One stretch zxcvbn matched, described without its characters."""

    kind: str
    length: int

    def __str__(self) -> str:
        return f"{self.kind} of {self.length} characters"


@dataclass(frozen=True)
class Strength:
    bits: float
    patterns: tuple[Pattern, ...]
    # zxcvbn's warning for the value ("Straight rows of keys are easy to guess."): generic text.
    hint: str

    def describe(self) -> str:
        """The patterns and hint, safe to print ("" when none were found)."""
        if not self.patterns:
            return ""
        text = "contains " + ", ".join(str(p) for p in self.patterns)
        return f"{text} ({self.hint.rstrip('.')})" if self.hint else text


def _kind(match: Mapping[str, Any]) -> str:
    pattern = str(match["pattern"])
    if pattern == "dictionary":
        kind = DICTIONARY_KINDS.get(str(match.get("dictionary_name")), "dictionary word")
        if match.get("reversed"):
            kind = f"reversed {kind}"
        if match.get("l33t"):
            kind = f"{kind} with look-alike substitutions"
        return kind
    if pattern == "regex":
        return "year" if match.get("regex_name") == "recent_year" else "predictable pattern"
    return _KIND_HINTS.get(pattern, pattern)


def _cost(match: dict[str, Any], value: str) -> float:
    """Bits of one match: zxcvbn's guesses for it, plus where it sits in the value (an
    attacker does not know which positions hold the word), so that a short word that random
    characters happen to spell costs about what those characters cost."""
    guesses = float(scoring.estimate_guesses(match, value))
    positions = len(value) - len(match["token"]) + 1
    return math.log2(max(guesses, 1.0)) + math.log2(positions)


def _usable(match: Mapping[str, Any]) -> bool:
    # Short words, l33t spellings and "abab" repeats turn up in random strings (at 4 characters,
    # 0.7 % of random 16-character secrets fell below 80 bits on them); years and dates are
    # 4 digits, and the stack's own names count at any length.
    if match.get("dictionary_name") == "user_inputs" or match["pattern"] in {"regex", "date"}:
        return True
    return len(match["token"]) >= _MIN_MATCH


def _matches(value: str, dictionaries: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """zxcvbn's matches in `value`, in windows: its matcher is quadratic in the length, and a
    pattern up to _WINDOW // 2 characters long lies whole inside one of the windows."""
    seen: set[tuple[int, int, str]] = set()
    step = _WINDOW // 2
    for start in range(0, max(len(value) - step, 1), step):
        for match in omnimatch(value[start:start + _WINDOW], dictionaries):
            key = (match["i"] + start, match["j"] + start, str(match["pattern"]))
            if key in seen or not _usable(match):
                continue
            seen.add(key)
            # Positions and guesses are re-read against the whole value.
            yield {**match, "i": key[0], "j": key[1], "guesses": None}


def estimate_strength(value: str, user_inputs: Iterable[str] = ()) -> Strength:
    """The combined estimate of `value`; `user_inputs` (names the stack uses: services,
    users, databases, the project) count as dictionary words."""
    analysed = value[:MAX_ANALYSED]
    own = estimate_entropy_bits(analysed)
    if not analysed:
        return Strength(0.0, (), "")
    rate = own / len(analysed)
    dictionaries = dict(RANKED_DICTIONARIES)
    dictionaries["user_inputs"] = build_ranked_dict(sorted({w.lower() for w in user_inputs if w}))
    ending: dict[int, list[dict[str, Any]]] = {}
    for match in _matches(analysed, dictionaries):
        ending.setdefault(match["j"], []).append(match)
    # Cheapest cover of the value: each character at the per-character rate, or a match.
    best = [0.0] + [math.inf] * len(analysed)
    via: list[dict[str, Any] | None] = [None] * (len(analysed) + 1)
    for j in range(len(analysed)):
        best[j + 1] = best[j] + rate
        for match in ending.get(j, []):
            cost = best[match["i"]] + _cost(match, analysed)
            if cost < best[j + 1]:
                best[j + 1], via[j + 1] = cost, match
    chosen: list[dict[str, Any]] = []
    end = len(analysed)
    while end > 0:
        step = via[end]
        if step is None:
            end -= 1
        else:
            chosen.insert(0, step)
            end = step["i"]
    if best[-1] >= own:
        return Strength(own, (), "")
    warning = str(get_feedback(0, chosen)["warning"] or "") if chosen else ""
    return Strength(best[-1], tuple(Pattern(_kind(m), len(m["token"])) for m in chosen), warning)
