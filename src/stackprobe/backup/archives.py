"""BKP-06: the uploads/ and vector_db/ archives restored somewhere harmless (a scratch directory
on the stack's host, read by a throwaway container of the backend's own image, no network),
then compared with the live stack: the same files by SHA-256, and a Chroma query over the
restored vector store answering with the ids and distances the live backend gives.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stackprobe import keyed
from stackprobe.commands import CommandRun, parse_sha256sum
from stackprobe.redact import REDACTOR
from stackprobe.targets.base import Target
from stackprobe.targets.host import Host
from stackprobe.targets.leftovers import remove_throwaway_containers, throwaway_labels
from stackprobe.vector import search

QUERY_SCRIPT = r"""
import importlib, json, sys
path, name, module, queries, k = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5])
import chromadb
from chromadb.config import Settings
embed = importlib.import_module(module).embed
client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
collection = client.get_collection(name)
count = collection.count()
out = {"count": count, "results": {}}
for q in queries:
    if count == 0:
        out["results"][q] = {"ids": [], "distances": []}
        continue
    found = collection.query(query_embeddings=[embed(q)], n_results=min(k, count))
    out["results"][q] = {"ids": found["ids"][0], "distances": found["distances"][0]}
print("RESULT " + json.dumps(out))
"""


def extract(host: Host, archive: str, into: str, timeout: float = 600.0) -> CommandRun:
    """Unpack a .tar.gz into a scratch directory on the host (tar checks the archive on the way)."""
    return host.run(["sh", "-c", 'mkdir -p -- "$2" && tar -xzf "$1" -C "$2"', "extract", archive, into],
                    timeout=timeout)


def host_digests(host: Host, directory: str) -> dict[str, str] | None:
    """relative path -> sha256 of every file under a host directory (None: no such directory)."""
    done = host.run(["sh", "-c", '[ -d "$1" ] || exit 3; cd "$1" && find . -type f -exec sha256sum {} +',
                     "digests", directory], timeout=600)
    return None if done.exit_code == 3 else parse_sha256sum(done.stdout)


def digest_differences(live: dict[str, str], restored: dict[str, str]) -> list[str]:
    found = keyed.changes(live, restored)
    missing, extra, changed = (keyed.keys(found, c) for c in ("gone", "new", "changed"))
    out = []
    if missing:
        out.append(f"{len(missing)} files missing from the restored archive: {', '.join(missing[:5])}")
    if changed:
        out.append(f"{len(changed)} files differ after the restore: {', '.join(changed[:5])}")
    if extra:
        out.append(f"{len(extra)} files in the archive that the live directory does not have: {', '.join(extra[:5])}")
    return out


@dataclass(frozen=True)
class QueryAnswer:
    ids: list[str]
    distances: list[float]


@dataclass
class Answers:
    count: int | None = None
    results: dict[str, QueryAnswer] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"count": self.count, "results": {q: {"ids": a.ids, "distances": [round(d, 6) for d in a.distances]}
                                                 for q, a in self.results.items()}}


def live_answers(target: Target, queries: list[str], k: int) -> Answers:
    """The live backend's answers (its search endpoint) to each query."""
    answers = Answers()
    for query in queries:
        answer = search(target.http(), target.backend_url, target.profile.vector_store, query, k)
        if answer.problem:
            raise RuntimeError(answer.problem)
        answers.results[query] = QueryAnswer(answer.ids, answer.distances)
    return answers


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def answer_differences(live: Answers, restored: Answers, tolerance: float = 1e-6) -> list[str]:
    """One line per query the restored store answers differently: the ids it lacks or adds, the
    first rank where the same ids come in another order, or the ids whose distance differs by
    more than `tolerance` (relative or absolute)."""
    out = []
    for query, want in live.results.items():
        got = restored.results.get(query)
        if got is None:
            out.append(f"query {query!r}: no answer from the restored store")
        elif got.ids != want.ids:
            missing = list((Counter(want.ids) - Counter(got.ids)).elements())
            extra = list((Counter(got.ids) - Counter(want.ids)).elements())
            parts = []
            if missing:
                parts.append(f"{len(missing)} ids missing after the restore: {_few(missing)}")
            if extra:
                parts.append(f"{len(extra)} ids only after the restore: {_few(extra)}")
            if not parts:
                rank = next(n for n, (a, b) in enumerate(zip(got.ids, want.ids, strict=True)) if a != b)
                parts.append(f"the same ids in another order, from rank {rank + 1}: {_few(got.ids[rank:])} "
                             f"after the restore, {_few(want.ids[rank:])} live")
            out.append(f"query {query!r}: " + "; ".join(parts))
        elif len(got.distances) != len(want.distances) or len(want.distances) != len(want.ids):
            out.append(f"query {query!r}: {len(got.distances)} distances after the restore, "
                       f"{len(want.distances)} live, for {len(want.ids)} ids")
        else:
            off = [f"{i} {a:.9g} after the restore, {b:.9g} live"
                   for i, a, b in zip(want.ids, got.distances, want.distances, strict=True)
                   if not math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)]
            if off:
                out.append(f"query {query!r}: {len(off)} distances differ by more than {tolerance:g}: {_few(off, 3)}")
    return out


def restored_answers(target: Target, restored_dir: str, queries: list[str], k: int,
                     timeout: float = 180.0) -> tuple[Answers | None, str]:
    """Run the query in a throwaway container of the backend's image over `restored_dir`
    (bind-mounted from the stack's host, no network, removed afterwards). Returns the answers,
    or None and what the container said."""
    cfg = target.profile.backup
    backend = target.service(target.profile.services.backend)
    image = str(backend.inspect()["Image"])
    name = f"stackprobe-bkp06-{secrets.token_hex(4)}"
    labels = throwaway_labels("bkp-06", os.getpid(), target.project)
    remove_throwaway_containers(target.docker, "bkp-06")  # a killed run's
    container = target.docker.containers.create(
        image, command=["python", "-c", QUERY_SCRIPT, "/restore", cfg.chroma_collection, cfg.embed_module,
                        json.dumps(queries), str(k)],
        name=name, user="0", working_dir=str(backend.inspect()["Config"].get("WorkingDir") or "/app"),
        environment={"ANONYMIZED_TELEMETRY": "False"}, network_mode="none",
        volumes={restored_dir: {"bind": "/restore", "mode": "rw"}},
        labels=labels, entrypoint=[],
    )
    try:
        container.start()
        try:
            status = container.wait(timeout=timeout)
        except Exception:  # the docker client's read timeout: the query hung
            return None, f"the throwaway container did not finish within {timeout:.0f} s"
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)
    for line in output.splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line[len("RESULT "):])
            answers = Answers(int(data["count"]))
            for query, found in data["results"].items():
                answers.results[query] = QueryAnswer([str(i) for i in found["ids"]],
                                                     [float(d) for d in found["distances"]])
            return answers, ""
    tail = " ".join(output.strip().splitlines()[-3:])[-400:]
    return None, REDACTOR.redact(f"exit {status.get('StatusCode')}: {tail or '(no output)'}")
