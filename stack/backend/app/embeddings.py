"""Deterministic local embeddings (feature hashing): no model download, same text → same vector."""

from __future__ import annotations

import hashlib
import math
import re

DIMENSIONS = 64
_TOKEN = re.compile(r"\w+", re.UNICODE)


def embed(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for token in _TOKEN.findall(text.lower()) or [""]:
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        index = int.from_bytes(digest[:4], "big") % DIMENSIONS
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
