"""How often random secrets fail the combined strength estimate (zxcvbn's patterns beside the
per-character estimate, stackprobe.checks.guessability).

Draws --count URL-safe secrets (the generator's alphabet, `secrets.choice`) at each length and
counts (a) the generator's rejections: draws below its own bar of 5 bits per character, which
`generate_secret` would redraw (goal: none at 48 characters), beside the same count for the
per-character estimate alone, and (b) the draws that would fail SEC-02 (16 characters, 80 bits)
or SEC-01 (32 characters, 128 bits) under the default policy on their entropy (draws that fail
only as "looks like a placeholder", e.g. three x in a row, are counted apart).
Usage: .venv/bin/python bench/secret_strength.py [--count 2000]
"""

from __future__ import annotations

import argparse
import secrets
import time

from record import machine, write_record

from stackprobe.checks import SecretPolicy, check_passwords, check_secret_key
from stackprobe.checks.entropy import estimate_entropy_bits
from stackprobe.checks.guessability import estimate_strength

ENTROPY = "bits of estimated entropy"
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    started = machine()
    policy = SecretPolicy()
    figures: dict[str, object] = {"count": args.count}
    for length in (16, 32, 48):
        clock = time.monotonic()
        generator = own_only = sec01 = sec02 = placeholder = 0
        for _ in range(args.count):
            value = "".join(secrets.choice(ALPHABET) for _ in range(length))
            generator += estimate_strength(value).bits < 5.0 * length
            own_only += estimate_entropy_bits(value) < 5.0 * length
            placeholder += policy.looks_like_placeholder(value)
            if length >= policy.secret_key_min_length:
                sec01 += any(ENTROPY in f.message for f in check_secret_key({policy.secret_key: value}, policy))
            others = {key: "x" for key in policy.password_keys}  # only the first key is read below
            sec02 += any(f.subject == policy.password_keys[0] and ENTROPY in f.message
                         for f in check_passwords(others | {policy.password_keys[0]: value}, policy))
        figures[f"length_{length}"] = {
            "generator_rejections": generator, "generator_rejections_own_estimate_only": own_only,
            "sec01_failures": sec01 if length >= policy.secret_key_min_length else None,
            "sec02_failures": sec02, "placeholder_lookalikes": placeholder,
            "seconds": round(time.monotonic() - clock, 1),
        }
        print(f"{length} characters: {figures[f'length_{length}']}")
    write_record("secret_strength", figures, started)


if __name__ == "__main__":
    main()
