"""zxcvbn's word lists (common passwords, words, names), as the secret checks and the redactor
ask them: which list holds a value whole, named by kind (never the word itself)."""

from __future__ import annotations

from zxcvbn.matching import RANKED_DICTIONARIES

DICTIONARY_KINDS = {
    "passwords": "common password",
    "english_wikipedia": "English word",
    "us_tv_and_film": "common word",
    "female_names": "first name",
    "male_names": "first name",
    "surnames": "surname",
    "user_inputs": "name used elsewhere in the stack (service, user, database or project)",
}


def common_password_list(value: str) -> str | None:
    """The zxcvbn list that holds `value` as a whole (case-insensitive), e.g. "common password"."""
    folded = value.strip().casefold()
    for name, ranked in RANKED_DICTIONARIES.items():
        if name != "user_inputs" and folded in ranked:
            return DICTIONARY_KINDS.get(name, "dictionary word")
    return None
