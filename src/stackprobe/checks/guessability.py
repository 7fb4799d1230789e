"""A second strength estimate for secrets: zxcvbn's pattern matcher beside the per-character one.

`estimate_entropy_bits` (entropy.py) sees runs, repeats and skew, but no words, keyboard walks
or years: it rates "qwertyuiopasdfghjkl123" as random. zxcvbn matches those, but prices every
character it cannot match at about 3.3 bits (a 10-symbol alphabet), so alone it would fail
every random 16-character secret. The two are combined: the stretches zxcvbn matches as words,
keyboard walks, sequences, repeats or dates cost what zxcvbn says; every other character keeps
the per-character rate of the project's own estimate; the lower of that sum and the project's
estimate wins. Besides zxcvbn's lists, a vocabulary of deployment words (wordlists.DEPLOYMENT:
software, roles, environments; plus the stack's own names when known) counts as a dictionary.

Phrases cost what they cost: a match right after the start, another match or a separator
following a match is priced without a position (an attacker enumerating "word_word_word_year"
knows where each word starts), and a separator between words (`-`, `_`, `.`, space) costs the
choice among them, not a random character, and nothing when it repeats the one before. Words
shorter than 5 characters count only where they stand delimited (between separators or the
value's ends): inside random text they turn up by chance.

What a message may say about a match: its kind and its length ("keyboard walk of 10
characters"), and zxcvbn's generic warning. Never the matched token: "qwertyuiop" is ten
characters of the secret itself, and its position would tell an attacker where to put them.
The value's length is printed already, so a stretch's length and kind add only what the
operator needs to fix it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from zxcvbn import scoring
from zxcvbn.feedback import get_feedback
from zxcvbn.matching import RANKED_DICTIONARIES, build_ranked_dict, omnimatch

from stackprobe.checks.entropy import MAX_ANALYSED, estimate_entropy_bits
from stackprobe.wordlists import DEPLOYMENT, DICTIONARY_KINDS

# Matches shorter than this are ignored (except the stack's own names): see _usable.
_MIN_MATCH = 5
_WINDOW = 48
# Between the words of a phrase: a choice among these, log2(len) bits, not a random character.
_SEPARATORS = "-_. "
_SEPARATOR_BITS = math.log2(len(_SEPARATORS))
# A match whose place is implied (start, or after a match): only which kind of match it is.
_CHAINED_BITS = 1.0
_YEAR = re.compile(r"(?:19|20)\d\d")

_KIND_HINTS = {
    "spatial": "keyboard walk",
    "sequence": "character sequence",
    "repeat": "repeated chunk",
    "date": "date",
}


@dataclass(frozen=True)
class Pattern:
    """One stretch zxcvbn matched (or a phrase of them), described without its characters."""

    kind: str
    length: int
    parts: tuple[str, ...] = ()  # a phrase's words, by kind

    def __str__(self) -> str:
        if self.parts:
            return (f"phrase of {len(self.parts)} words joined by separators ({', '.join(_counted(self.parts))}), "
                    f"{self.length} characters")
        return f"{self.kind} of {self.length} characters"


def _counted(kinds: tuple[str, ...]) -> list[str]:
    order = list(dict.fromkeys(kinds))
    return [f"{kinds.count(k)} x {k}" if kinds.count(k) > 1 else k for k in order]


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


def _cost(match: dict[str, Any], value: str, chained: bool) -> float:
    """Bits of one match: zxcvbn's guesses for it, plus where it sits in the value when that is
    not implied (an attacker does not know which positions hold a word inside random text), so
    that a word that random characters happen to spell costs about what those characters cost."""
    guesses = float(scoring.estimate_guesses(match, value))
    positions = len(value) - len(match["token"]) + 1
    return math.log2(max(guesses, 1.0)) + (_CHAINED_BITS if chained else math.log2(positions))


def _delimited(value: str, i: int, j: int) -> bool:
    return (i == 0 or value[i - 1] in _SEPARATORS) and (j == len(value) - 1 or value[j + 1] in _SEPARATORS)


def _usable(match: Mapping[str, Any], value: str, i: int, j: int) -> bool:
    # Short words, l33t spellings and "abab" repeats turn up in random strings (at 4 characters,
    # 0.7 % of random 16-character secrets fell below 80 bits on them) unless they stand
    # delimited, as the words of a phrase do; years and dates are 4 digits, and the stack's own
    # names count at any length.
    if match.get("dictionary_name") == "user_inputs" or match["pattern"] in {"regex", "date"}:
        return True
    if len(match["token"]) >= _MIN_MATCH:
        return True
    return match["pattern"] == "dictionary" and not match.get("l33t") and len(match["token"]) >= 2 and (
        _delimited(value, i, j))


def _matches(value: str, dictionaries: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """zxcvbn's matches in `value`, in windows: its matcher is quadratic in the length, and a
    pattern up to _WINDOW // 2 characters long lies whole inside one of the windows."""
    # zxcvbn's own year pattern stops at 2019: years are years.
    for year in _YEAR.finditer(value):
        yield {"pattern": "regex", "regex_name": "recent_year", "regex_match": year, "token": year.group(0),
               "i": year.start(), "j": year.end() - 1}
    seen: set[tuple[int, int, str, str]] = set()
    step = _WINDOW // 2
    for start in range(0, max(len(value) - step, 1), step):
        for match in omnimatch(value[start:start + _WINDOW], dictionaries):
            # the same stretch in several lists is several matches: the cheapest one wins
            key = (match["i"] + start, match["j"] + start, str(match["pattern"]),
                   str(match.get("dictionary_name") or match.get("regex_name") or ""))
            if key in seen or not _usable(match, value, key[0], key[1]):
                continue
            seen.add(key)
            # Positions and guesses are re-read against the whole value.
            yield {**match, "i": key[0], "j": key[1], "guesses": None}


def _previous_separator(value: str, i: int) -> str:
    return next((c for c in reversed(value[:i]) if c in _SEPARATORS), "")


def _phrases(chosen: list[dict[str, Any]], value: str) -> tuple[Pattern, ...]:
    """The chosen matches as patterns: runs of two or more joined by separators are one phrase
    (what the operator typed), the others stand alone."""
    runs: list[list[dict[str, Any]]] = []
    for match in chosen:
        gap = value[runs[-1][-1]["j"] + 1:match["i"]] if runs else ""
        if gap and all(c in _SEPARATORS for c in gap):
            runs[-1].append(match)
        else:
            runs.append([match])
    found = []
    for run in runs:
        if len(run) == 1:
            found.append(Pattern(_kind(run[0]), len(run[0]["token"])))
        else:
            found.append(Pattern("phrase", run[-1]["j"] + 1 - run[0]["i"], tuple(_kind(m) for m in run)))
    return tuple(found)


def estimate_strength(value: str, user_inputs: Iterable[str] = ()) -> Strength:
    """The combined estimate of `value`; `user_inputs` (names the stack uses: services,
    users, databases, the project) count as dictionary words."""
    analysed = value[:MAX_ANALYSED]
    own = estimate_entropy_bits(analysed)
    if not analysed:
        return Strength(0.0, (), "")
    rate = own / len(analysed)
    dictionaries = dict(RANKED_DICTIONARIES)
    dictionaries["deployment"] = DEPLOYMENT
    dictionaries["user_inputs"] = build_ranked_dict(sorted({w.lower() for w in user_inputs if w}))
    starting: dict[int, list[dict[str, Any]]] = {}
    for match in _matches(analysed, dictionaries):
        starting.setdefault(match["i"], []).append(match)
    # Cheapest cover of the value: each character at the per-character rate, a separator after a
    # match at _SEPARATOR_BITS, or a match. Two states per position: "chained" (at the start, or
    # right after a match or its separator: where the next match starts is implied) or not.
    n = len(analysed)
    best = [[math.inf, math.inf] for _ in range(n + 1)]  # [free, chained]
    via: list[list[tuple[int, int, dict[str, Any] | None] | None]] = [[None, None] for _ in range(n + 1)]
    best[0][1] = 0.0
    for i in range(n):
        for state in (0, 1):
            here = best[i][state]
            if here == math.inf:
                continue
            steps: list[tuple[float, int, int, dict[str, Any] | None]] = [(rate, i + 1, 0, None)]
            if state and i and analysed[i] in _SEPARATORS and via[i][state] is not None:
                # the same separator again is implied by the first (one choice per phrase)
                again = analysed[i] == _previous_separator(analysed, i)
                steps.append((0.0 if again else _SEPARATOR_BITS, i + 1, 1, None))
            steps += [(_cost(m, analysed, bool(state)), m["j"] + 1, 1, m) for m in starting.get(i, [])]
            for cost, end, to, taken in steps:
                if here + cost < best[end][to]:
                    best[end][to] = here + cost
                    via[end][to] = (i, state, taken)
    total = min(best[n])
    chosen: list[dict[str, Any]] = []
    end, state = n, 0 if best[n][0] <= best[n][1] else 1
    while end > 0:
        step = via[end][state]
        assert step is not None
        end, state, taken = step
        if taken is not None:
            chosen.insert(0, taken)
    if total >= own:
        return Strength(own, (), "")
    warning = str(get_feedback(0, chosen)["warning"] or "") if chosen else ""
    return Strength(total, _phrases(chosen, analysed), warning)
