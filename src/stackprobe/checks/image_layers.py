"""SEC-07 in images: no `.env` baked into a layer, no secret value in the history, the image
configuration or any file of any layer.

A file copied into a layer stays in the image even when a later layer deletes it, and
anyone who can pull the image reads it. Two views: the history (`docker history`: cheap,
names `COPY .env` under BuildKit, only the destination under the classic builder) and the
layers themselves (`docker image save`: every file of every layer, searched by name and for
the stack's secret values), bounded by a deadline and a per-file size. Small text files under
the application's directories (the image's WORKDIR) are also read line by line for secrets the
run does not know (detect-secrets' detectors, checks/pattern_scan.py).
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackprobe.checks.findings import Finding
from stackprobe.checks.pattern_scan import PatternHit, ScanCut, looks_like_text, scan_lines

# Templates are meant to be shipped; everything else named like an env file is not.
TEMPLATE_SUFFIXES = frozenset({"example", "sample", "template", "dist", "tmpl", "tpl"})


def is_dotenv_name(path: str) -> bool:
    """`.env`, `.env.production`, `prod.env` (not `.env.example` and other templates)."""
    base = posixpath.basename(path.rstrip("/"))
    if base == ".env":
        return True
    if base.startswith(".env."):
        return base.rsplit(".", 1)[-1].lower() not in TEMPLATE_SUFFIXES
    return base.endswith(".env") and len(base) > 4 and not base.startswith(".wh.")


_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_COPY = re.compile(r"^(?P<op>COPY|ADD)\s+(?P<rest>.*?)(?:\s+#\s*buildkit)?\s*$", re.S)


def copied_dotenv(created_by: str) -> str | None:
    """The `.env` path a history entry's COPY/ADD brings into the image, if any.

    BuildKit keeps the instruction (`COPY .env /app/.env # buildkit`); the classic builder
    replaces sources with hashes (`COPY file:3f2a… in /app/.env`), leaving the destination.
    """
    match = _COPY.match(_NOP.sub("", created_by.strip()))
    if match is None:
        return None
    words = [w for w in match.group("rest").replace('"', " ").replace("[", " ").replace("]", " ")
             .replace(",", " ").split() if not w.startswith("--") and w != "in"]
    return next((w for w in words if is_dotenv_name(w)), None)


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str = field(repr=False)
    layer: str = ""  # the entry's image id, or "<missing>"
    size: int = 0


def history_entries(history: Iterable[Mapping[str, Any]]) -> tuple[HistoryEntry, ...]:
    """docker-py's `Image.history()` (the API's /images/{id}/history), newest first."""
    return tuple(
        HistoryEntry(str(entry.get("CreatedBy") or ""), str(entry.get("Id") or ""), int(entry.get("Size") or 0))
        for entry in history
    )


@dataclass
class LayerScan:
    """What a scan of one saved image found; counts for the evidence, paths for findings."""

    image: str
    layers: int = 0
    layers_skipped: int = 0  # already read for another image of the stack
    files: int = 0
    bytes_searched: int = 0
    large_files: int = 0  # not searched for secret values (over the size bound)
    seconds: float = 0.0
    complete: bool = True
    dotenv_files: list[tuple[str, str]] = field(default_factory=list)  # (layer, path)
    secret_files: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)  # + keys
    text_files: int = 0  # read by the pattern scan
    pattern_seconds: float = 0.0  # of `seconds`, spent in the pattern scan
    pattern_hits: list[PatternHit] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "image": self.image, "layers": self.layers, "layers_shared": self.layers_skipped,
            "files": self.files, "bytes_searched": self.bytes_searched,
            "files_over_size_bound": self.large_files, "seconds": round(self.seconds, 2),
            "complete": self.complete,
            "dotenv_files": [f"{layer}:{path}" for layer, path in self.dotenv_files],
            "files_with_secrets": [f"{layer}:{path} ({', '.join(keys)})" for layer, path, keys in self.secret_files],
            "text_files_pattern_scanned": self.text_files, "pattern_scan_seconds": round(self.pattern_seconds, 3),
            "pattern_hits": [str(hit) for hit in self.pattern_hits],
        }


class ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks (the Docker API's streamed `image save`)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _layer_name(member: str) -> str:
    """A short name for a layer member of a saved image (legacy `<id>/layer.tar` or OCI blob)."""
    if member.endswith("/layer.tar"):
        return member.split("/", 1)[0][:12]
    return posixpath.basename(member)[:12]


class _Deadline(Exception):
    pass


@dataclass(frozen=True)
class TextScan:
    """Where and how much the pattern scan reads: files under `roots`, up to `max_file_bytes`."""

    roots: tuple[str, ...] = ()
    max_file_bytes: int = 65536

    def wants(self, path: str, size: int) -> bool:
        return size <= self.max_file_bytes and any(
            path == root or path.startswith(root.rstrip("/") + "/") for root in self.roots)


def _scan_layer(
    layer: tarfile.TarFile, name: str, needles: Sequence[tuple[bytes, str]], scan: LayerScan,
    max_file_bytes: int, deadline: float, text: TextScan,
) -> None:
    for member in layer:
        scan.files += 1
        if scan.files % 256 == 0 and time.monotonic() > deadline:
            raise _Deadline
        relative = member.name[2:] if member.name.startswith("./") else member.name
        path = "/" + relative.lstrip("/")
        if is_dotenv_name(path) and (member.isfile() or member.issym() or member.islnk()):
            scan.dotenv_files.append((name, path))
        patterns = member.isfile() and text.wants(path, member.size)
        if not member.isfile() or not (needles or patterns):
            continue
        if member.size > max_file_bytes:
            scan.large_files += 1
            continue
        handle = layer.extractfile(member)
        data = handle.read() if handle is not None else b""
        scan.bytes_searched += len(data)
        keys = tuple(sorted({key for needle, key in needles if needle in data}))
        if keys:
            scan.secret_files.append((name, path, keys))
        if patterns and looks_like_text(data):
            scan.text_files += 1
            started = time.monotonic()
            lines = data.decode("utf-8", "replace").splitlines()
            try:
                scan.pattern_hits += scan_lines(lines, f"layer {name} file {path}", deadline=deadline)
            except ScanCut:
                raise _Deadline from None
            finally:
                scan.pattern_seconds += time.monotonic() - started


def scan_saved_image(
    chunks: Iterable[bytes],
    image: str,
    secrets: Mapping[str, str],
    *,
    max_file_bytes: int,
    deadline: float,
    seen_layers: set[str] | None = None,
    text: TextScan | None = None,
) -> LayerScan:
    """Read a `docker image save` stream once: every layer's file names, and the content of
    every file up to `max_file_bytes`, searched for `secrets` (value -> key).

    Layers in `seen_layers` (shared with an image already scanned) are skipped and added.
    Stops at `deadline` (time.monotonic()) with `complete=False`.
    """
    started = time.monotonic()
    scan = LayerScan(image)
    seen = seen_layers if seen_layers is not None else set()
    needles = [(value.encode("utf-8"), key) for value, key in secrets.items() if value]
    try:
        with tarfile.open(fileobj=io.BufferedReader(ChunkReader(chunks), 1 << 20), mode="r|") as saved:
            for member in saved:
                if time.monotonic() > deadline:
                    raise _Deadline
                if not member.isfile() or not (member.name.endswith("/layer.tar") or member.name.startswith("blobs/")):
                    continue
                if member.name in seen:
                    scan.layers_skipped += 1
                    continue
                handle = saved.extractfile(member)
                if handle is None:
                    continue
                try:
                    layer = tarfile.open(fileobj=handle, mode="r|*")  # noqa: SIM115 (closed below)
                except tarfile.ReadError:
                    continue  # an OCI config or manifest blob, not a layer
                seen.add(member.name)
                scan.layers += 1
                with layer:
                    _scan_layer(layer, _layer_name(member.name), needles, scan, max_file_bytes, deadline,
                                text or TextScan())
    except _Deadline:
        scan.complete = False
    scan.seconds = time.monotonic() - started
    return scan


def _services(services: Sequence[str]) -> str:
    return ", ".join(sorted(services))


_BAKED = ("anyone who can pull the image reads it, and deleting it in a later layer does not "
          "remove it: keep env files out of the build context (.dockerignore) and pass "
          "configuration at run time")


def check_image(
    image: str,
    services: Sequence[str],
    history: Sequence[HistoryEntry],
    config_env: Mapping[str, str],
    secrets: Mapping[str, str],
    is_secret: Callable[[str, str], bool],
    scan: LayerScan | None,
    min_secret_length: int,
) -> list[Finding]:
    """SEC-07 for one image used by `services`: history, baked ENV, layer files."""
    who = f"image {image} (used by {_services(services)})"
    subject = _services(services)
    found = []
    for entry in history:
        if path := copied_dotenv(entry.created_by):
            found.append(Finding("SEC-07", subject, (
                f"{who}: a layer copies the env file {path} into the image (history: COPY/ADD); {_BAKED}"
            )))
        if keys := sorted({key for value, key in secrets.items() if value in entry.created_by}):
            found.append(Finding("SEC-07", subject, (
                f"{who}: the build history contains the value of {', '.join(keys)} (`docker history` "
                "shows it): use build secrets (`RUN --mount=type=secret`), not ARG/ENV"
            )))
    for key, value in sorted(config_env.items()):
        if len(value.strip()) >= min_secret_length and is_secret(key, value):
            found.append(Finding("SEC-07", subject, (
                f"{who}: the image configuration sets {key} (Dockerfile ENV): every container and "
                "every `docker image inspect` gets it; set it at run time instead"
            )))
    if scan is None:
        return found
    for layer, path in scan.dotenv_files:
        found.append(Finding("SEC-07", subject, f"{who}: layer {layer} holds the env file {path}; {_BAKED}"))
    for layer, path, holders in scan.secret_files:
        found.append(Finding("SEC-07", subject, (
            f"{who}: layer {layer} file {path} contains the value of {', '.join(holders)}; {_BAKED}"
        )))
    # A file already reported (an env file, the run's own values) needs no detector's word too.
    reported = {f"layer {layer} file {path}" for layer, path in scan.dotenv_files}
    reported |= {f"layer {layer} file {path}" for layer, path, _ in scan.secret_files}
    for hit in scan.pattern_hits:
        if hit.where in reported:
            continue
        found.append(Finding("SEC-07", subject, (
            f"{who}: {hit} (detect-secrets); a secret shipped in the image is readable by anyone who can "
            "pull it: remove it from the source tree and the build context, and rotate it"
        )))
    if not scan.complete:
        found.append(Finding("SEC-07", subject, (
            f"{who}: the layer scan stopped at its time bound after {scan.layers} layers and "
            f"{scan.files} files, so a baked-in secret is not ruled out: raise [config] "
            "image_scan_timeout_s in the profile"
        )))
    return found
