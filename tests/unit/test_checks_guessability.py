"""The second strength estimate (zxcvbn's patterns beside the per-character estimate)."""

from __future__ import annotations

import re
import secrets
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from stackprobe.checks import SecretPolicy, check_passwords, check_secret_key, generate_secret
from stackprobe.checks.entropy import estimate_entropy_bits
from stackprobe.checks.guessability import estimate_strength
from stackprobe.wordlists import DEPLOYMENT_WORDS, common_password_list

POLICY = SecretPolicy()
URL_SAFE = string.ascii_letters + string.digits + "-_"
ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "1qaz2wsx3edc4rfv", "poiuytrewq")
WORDS = [w for w in FREQUENCY_LISTS["english_wikipedia"][:1000] if len(w) >= 5]


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("qwertyuiopasdfghjkl123", "common password of 10 characters"),
        ("1qaz2wsx3edc4rfv5tgb", "common password of 12 characters"),
        ("administrator_password_1", "phrase of 2 words joined by separators (English word, common password)"),
        ("zxcvbnm,./asdfghjkl;'", "keyboard walk"),
        ("Summer2024!Summer2024!", "repeated chunk"),
        # phrases of deployment words, without the stack's names (the policy knows none here)
        ("ai_assistant_mysql_pw_2024", "phrase of 5 words joined by separators"),
        ("Postgres-Backend-Prod-2023", "phrase of 4 words joined by separators"),
    ],
)
def test_what_people_type_fails_sec02_naming_the_pattern_not_the_value(value: str, pattern: str) -> None:
    assert not POLICY.stack_names
    (finding,) = [f for f in check_passwords({"MYSQL_PASSWORD": value}, POLICY) if f.subject == "MYSQL_PASSWORD"]
    assert "bits of estimated entropy" in finding.message and pattern in finding.message
    # Neither the value nor any stretch of it of 4 characters or more is printed (the key and
    # "password", "word" and "separators" are the message's own: the key, the profile key,
    # "English word", "joined by separators").
    text = re.sub(r"password|word|separators", "", finding.message.replace("MYSQL_PASSWORD", ""),
                  flags=re.I).lower()
    assert not any(value[i:i + 4].lower() in text for i in range(len(value) - 3))


def test_a_phrase_secret_key_fails_sec01_naming_the_phrase() -> None:
    value = "my-company-secret-key-for-jwt-signing-2024"
    (finding,) = check_secret_key({"SECRET_KEY": value}, POLICY)
    assert "bits of estimated entropy" in finding.message
    assert "phrase of 8 words joined by separators" in finding.message and "deployment word" in finding.message
    assert not any(word in finding.message for word in ("company", "jwt", "signing", "2024"))


def test_a_separator_between_words_costs_the_choice_not_a_random_character() -> None:
    joined = estimate_strength("mysql_backend_prod_2024").bits
    glued = estimate_strength("mysqlbackendprod2024").bits
    # one choice of separator, about 2 bits, repeated for free (not ~6 bits of a random character each)
    assert joined - glued < 3


def test_short_words_count_only_where_they_stand_delimited() -> None:
    # "pw" between separators is a word of a phrase; inside random text it is two characters.
    assert any("deployment word" in p.kind for p in estimate_strength("pw_" + "Xk9QmZr2Lw7Tb").patterns)
    inside = "Xk9pwQmZr2Lw7Tb4"
    assert estimate_strength(inside).bits == estimate_entropy_bits(inside)


def test_stack_names_count_as_words() -> None:
    value = "backend_mariadb_ctfd_ctfd_2024"
    plain = estimate_strength(value)
    named = estimate_strength(value, ["ctfd", "backend", "mariadb"])
    assert named.bits < plain.bits
    assert any("name used elsewhere in the stack" in str(p) for p in named.patterns)


def test_zxcvbn_dictionaries_are_known_defaults() -> None:
    assert common_password_list("Password1") == "common password"
    assert POLICY.is_known_default("letmein") and POLICY.is_known_default("  Dragon ")
    assert not POLICY.is_known_default(generate_secret(16))
    (finding,) = check_secret_key({"SECRET_KEY": "iloveyou"}, POLICY)
    assert "known default" in finding.message


def test_random_characters_keep_the_per_character_estimate() -> None:
    # A random value matches no long pattern: the combined estimate is the project's own.
    value = "".join(secrets.choice(URL_SAFE) for _ in range(48))
    strength = estimate_strength(value)
    assert strength.bits <= estimate_entropy_bits(value)
    assert strength.bits >= 0.9 * estimate_entropy_bits(value)


def test_long_values_are_estimated_in_windows() -> None:
    # A walk past the first window is still found; 1000 random characters stay strong.
    value = "".join(secrets.choice(URL_SAFE) for _ in range(60)) + "qwertyuiopasdfghjkl"
    assert any(p.kind in {"keyboard walk", "common password"} for p in estimate_strength(value).patterns)
    assert estimate_strength(generate_secret(1000)).bits > 1000


@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(length=st.integers(16, 96))
def test_random_generator_secrets_pass_sec01_and_sec02(length: int) -> None:
    value = generate_secret(max(length, POLICY.secret_key_min_length))
    password = generate_secret(length)
    assert check_secret_key({"SECRET_KEY": value}, POLICY) == []
    others = {key: generate_secret() for key in POLICY.password_keys}
    assert check_passwords(others | {"MYSQL_PASSWORD": password}, POLICY) == []


_YEAR = st.integers(1950, 2030).map(str)
_ROW = st.sampled_from(ROWS).flatmap(
    lambda row: st.integers(5, len(row)).map(lambda n: row[:n])
)
_WORD = st.sampled_from(WORDS).flatmap(lambda w: st.sampled_from([w, w.capitalize(), w.upper()]))


_VOCABULARY = st.sampled_from(DEPLOYMENT_WORDS).flatmap(
    lambda w: st.sampled_from([w, w.capitalize(), w.upper()])
)


@settings(deadline=None)  # zxcvbn's matcher: tens of ms per secret, more on a loaded machine
@given(
    parts=st.lists(st.one_of(_ROW, _WORD, _YEAR), min_size=2, max_size=3),
    separator=st.sampled_from(["", "-", "_", ".", "!"]),
)
def test_keyboard_rows_words_and_years_fail_sec02(parts: list[str], separator: str) -> None:
    value = separator.join(parts)
    value = value if len(value) >= POLICY.password_min_length else value + separator + "2024"
    _assert_fails_sec02(value)


@settings(deadline=None)
@given(words=st.lists(st.one_of(_VOCABULARY, _WORD), min_size=3, max_size=5), year=_YEAR,
       separator=st.sampled_from(["-", "_", ".", " "]), year_last=st.booleans())
def test_phrases_of_deployment_words_fail_sec02(words: list[str], year: str, separator: str,
                                               year_last: bool) -> None:
    """word_word_word_year and hyphen-joined phrases, of the vocabulary and common words: what
    operators type (ai_assistant_mysql_pw_2024), with no stack names known to the policy. Up to
    five words: six drawn at random from a 1000-word list are a diceware passphrase of about 60
    bits plus their case, close enough to the 80-bit bar that failing them would be a guess."""
    parts = [*words, year] if year_last else words
    value = separator.join(parts)
    value = value if len(value) >= POLICY.password_min_length else value + separator + year
    _assert_fails_sec02(value)


def _assert_fails_sec02(value: str) -> None:
    found = {f.subject: f.message for f in check_passwords({"MYSQL_PASSWORD": value}, POLICY)}
    message = found["MYSQL_PASSWORD"]
    assert "known default" in message or "bits of estimated entropy" in message
    assert value not in message
