"""The vector search request and answer as the profile describes them, against a real HTTP
server on 127.0.0.1: the reference shape, another app's GET with nested hits, and one-line
problems for a wrong route or answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx

from stackprobe.profile import VectorStoreSection
from stackprobe.vector import search, search_body

SEEN: list[tuple[str, str, Any]] = []


@contextmanager
def search_server(answer: dict[str, Any], method: str = "POST") -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            SEEN.append((self.command, self.path, body))
            ok = self.command == method
            self.send_response(200 if ok else 405)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(answer if ok else {"detail": "Method Not Allowed"}).encode())

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_reference_request_and_answer() -> None:
    section = VectorStoreSection()
    assert search_body(section, 'he said "hi"', 3) == {"query": 'he said "hi"', "k": 3}
    with search_server({"ids": [7, 3], "distances": [0.1, 0.2]}) as base, httpx.Client() as client:
        answer = search(client, base, section, "text", 2)
    assert (answer.ids, answer.distances, answer.problem) == (["7", "3"], [0.1, 0.2], "")


def test_another_apps_search_is_profile_data() -> None:
    section = VectorStoreSection(query_method="GET", query_path="/v2/search", ids_path="result.hits",
                                 distances_path="", query_body='{"q": {text}, "limit": {k}}')
    SEEN.clear()
    with search_server({"result": {"hits": ["a", "b"]}}, method="GET") as base, httpx.Client() as client:
        answer = search(client, base, section, "probe", 5)
    assert answer.ids == ["a", "b"] and answer.problem == ""
    assert SEEN == [("GET", "/v2/search", {"q": "probe", "limit": 5})]


def test_a_wrong_route_or_answer_is_one_line_naming_the_profile_key() -> None:
    with search_server({"ids": []}, method="GET") as base, httpx.Client() as client:
        wrong_method = search(client, base, VectorStoreSection(), "x", 1)
    assert wrong_method.problem == ("vector search POST /api/v1/documents/search answered 405: check "
                                    "[vector_store] query_method and query_path")
    with search_server({"matches": []}) as base, httpx.Client() as client:
        no_ids = search(client, base, VectorStoreSection(), "x", 1)
    assert no_ids.problem.endswith("answered without a list at 'ids': check [vector_store] ids_path")
