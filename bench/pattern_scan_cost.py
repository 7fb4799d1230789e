"""The pattern scan's extra cost on SEC-07's layer scan (goal: at most 20 % more).

For each image of the reference stack (the backend image and the MySQL and Redis images the
set-up chose, .stackprobe/images.env), reads `docker image save` through `scan_saved_image`
twice per round, in alternating order: as SEC-07 did before (every file of every layer searched
for the run's secret values) and with the pattern scan on (also detect-secrets' detectors over
the small text files under the image's WORKDIR). Prints per-image and total medians, the text
files read, the time spent in the pattern scan itself (the part of the difference that is not
the engine's noise) and the hits (none expected on the reference). Needs only the local images (no stack).
Usage: .venv/bin/python bench/pattern_scan_cost.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import docker
from dotenv import dotenv_values
from record import REPO, machine, write_record

from stackprobe.checks import generate_secret
from stackprobe.checks.image_layers import LayerScan, TextScan, scan_saved_image

BACKEND = "stackprobe/ai-assistant-backend:local"


def scan(client: docker.DockerClient, image: str, secrets: dict[str, str], text: TextScan | None) -> LayerScan:
    stream = client.api.get_image(image, chunk_size=1 << 20)
    try:
        return scan_saved_image(stream, image, secrets, max_file_bytes=1048576,
                                deadline=time.monotonic() + 600, text=text)
    finally:
        stream.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = machine()
    client = docker.from_env(timeout=600)
    chosen = dotenv_values(REPO / ".stackprobe" / "images.env")
    images = [BACKEND, chosen.get("MYSQL_IMAGE") or "mysql:8.0", chosen.get("REDIS_IMAGE") or "redis:7.0"]
    keys = ("SECRET_KEY", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD", "REDIS_PASSWORD")
    secrets = {generate_secret(): key for key in keys}
    figures: dict[str, object] = {"rounds": args.rounds, "images": {}}
    before_total: list[float] = []
    after_total: list[float] = []
    for round_number in range(args.rounds):
        before = after = 0.0
        for image in images:
            workdir = str(client.images.get(image).attrs["Config"].get("WorkingDir") or "").rstrip("/")
            text = TextScan((workdir,) if workdir else (), 65536)
            order = [None, text] if round_number % 2 == 0 else [text, None]
            for variant in order:
                result = scan(client, image, secrets, variant)
                entry = figures["images"].setdefault(image, {"workdir": workdir or "/ (not scanned)",  # type: ignore[union-attr]
                                                             "before_s": [], "after_s": []})
                entry["before_s" if variant is None else "after_s"].append(round(result.seconds, 2))
                if variant is None:
                    before += result.seconds
                else:
                    after += result.seconds
                    entry["text_files"] = result.text_files
                    entry.setdefault("pattern_scan_s", []).append(round(result.pattern_seconds, 3))
                    entry["pattern_hits"] = [str(hit) for hit in result.pattern_hits]
        before_total.append(before)
        after_total.append(after)
        print(f"round {round_number + 1}: before {before:.2f} s, with the pattern scan {after:.2f} s")
    b, a = statistics.median(before_total), statistics.median(after_total)
    figures.update({"before_median_s": round(b, 2), "after_median_s": round(a, 2),
                    "extra_percent": round(100 * (a - b) / b, 1)})
    for image, entry in figures["images"].items():  # type: ignore[union-attr]
        print(f"{image}: {entry}")
    print(f"median: before {b:.2f} s, with the pattern scan {a:.2f} s: {100 * (a - b) / b:+.1f} %")
    write_record("pattern_scan_cost", figures, started)


if __name__ == "__main__":
    main()
