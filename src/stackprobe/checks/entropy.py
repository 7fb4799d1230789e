"""An honest entropy estimate for a secret, and its character classes.

Length times log2(alphabet) is what a brute-force attacker faces only if every character
was drawn at random. People and templates repeat themselves ("aaaa...", "abab...",
"Password1!Password1!", "abcdef..."), so the estimate also discounts:
  - characters that continue a run with a constant step of -1, 0 or +1 ("aaa", "abc", "321"),
  - characters inside a repeat of an earlier chunk of 3 or more (an LZ77-style parse),
  - a skewed distribution: the Shannon entropy of the characters (Miller-Madow corrected),
    relative to the most a string of this length over this alphabet could have.
"""

from __future__ import annotations

import math
import string
from collections import Counter

# Alphabet sizes per class, as a brute-force attacker would guess them.
CLASS_SIZES = {"lower": 26, "upper": 26, "digit": 10, "symbol": len(string.punctuation) + 1,
               "other": 100}
# Long values are estimated on a prefix: the parse is quadratic, and 256 characters of
# anything random are far beyond every threshold.
MAX_ANALYSED = 256


def char_class(char: str) -> str:
    if char in string.ascii_lowercase:
        return "lower"
    if char in string.ascii_uppercase:
        return "upper"
    if char in string.digits:
        return "digit"
    if char in string.punctuation or char == " ":
        return "symbol"
    return "other"


def class_counts(value: str) -> dict[str, int]:
    """How many characters of each class (safe to report: it reveals no value)."""
    counts = Counter(char_class(char) for char in value)
    return {name: counts[name] for name in CLASS_SIZES if counts[name]}


def _predictable(value: str) -> int:
    """How many characters an attacker gets for free (runs and repeated chunks)."""
    n = len(value)
    free = [False] * n
    for i in range(2, n):
        step = ord(value[i]) - ord(value[i - 1])
        if abs(step) <= 1 and step == ord(value[i - 1]) - ord(value[i - 2]):
            free[i] = True
    i = 0
    while i < n:
        longest = 0
        for j in range(i):
            k = 0
            while i + k < n and value[j + k] == value[i + k]:
                k += 1
            longest = max(longest, k)
        if longest >= 3:
            # The chunk costs one symbol (where it starts), the rest is implied.
            for m in range(i + 1, i + longest):
                free[m] = True
            i += longest
        else:
            i += 1
    return sum(free)


def _uniformity(value: str, pool: int) -> float:
    """Shannon entropy relative to the maximum possible for this length and alphabet."""
    n = len(value)
    ceiling = math.log2(min(n, pool))
    if ceiling <= 0:
        return 1.0
    counts = Counter(value).values()
    shannon = 0.0 - sum(c / n * math.log2(c / n) for c in counts)
    # Miller-Madow correction: a short sample of a uniform source shows fewer distinct
    # characters than the source has, which plain Shannon would hold against it.
    shannon += (len(counts) - 1) / (2 * n * math.log(2))
    return min(1.0, shannon / ceiling)


def estimate_entropy_bits(value: str) -> float:
    """Estimated bits of entropy of `value` (0 for the empty string)."""
    value = value[:MAX_ANALYSED]
    if not value:
        return 0.0
    pool = sum(CLASS_SIZES[name] for name in class_counts(value))
    effective = len(value) - _predictable(value)
    return max(0.0, effective * math.log2(pool) * _uniformity(value, pool))
