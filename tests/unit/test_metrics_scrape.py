"""Scraping metrics over real sockets on 127.0.0.1: where nothing (or something else) answers,
one line naming the URL, what was seen and the fix; never an httpx traceback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from stackprobe.metrics import ScrapeError, counter_total, families, scrape, watch_counters

TEXT = "# TYPE http_requests_total counter\nhttp_requests_total{path=\"/a\"} 3\nhttp_requests_total{path=\"/b\"} 4\n"


@contextmanager
def http_server(status: int, body: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()


@contextmanager
def resetting_server() -> Iterator[str]:
    """Another protocol's port: it sends its banner and closes (an endpoint that is not HTTP)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(10)

    def serve() -> None:
        for _ in range(4):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/metrics"
    finally:
        listener.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_scrape_reads_families_and_counters() -> None:
    with http_server(200, TEXT) as url, httpx.Client() as client:
        text = scrape(client, url)
    assert families(text)["http_requests_total"] == "counter"
    assert counter_total(text, "http_requests_total") == 7


@pytest.mark.parametrize("case", ["refused", "reset", "404"])
def test_no_metrics_is_one_line_naming_url_what_and_fix(case: str) -> None:
    with httpx.Client() as client:
        if case == "refused":
            url = f"http://127.0.0.1:{_closed_port()}/metrics"
            with pytest.raises(ScrapeError) as caught:
                scrape(client, url)
            expected = f"nothing answers at {url} (connection refused)"
        elif case == "reset":
            with resetting_server() as url, pytest.raises(ScrapeError) as caught:
                scrape(client, url)
            expected = f"nothing answers HTTP at {url} (the connection was reset or closed without an answer)"
        else:
            with http_server(404, "no") as url, pytest.raises(ScrapeError) as caught:
                scrape(client, url)
            expected = f"{url} answered 404, not metrics: check [metrics] path"
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "[metrics]" in message and "\n" not in message


@contextmanager
def two_workers(shared: bool, minority_every: int) -> Iterator[tuple[str, str]]:
    """A backend of two workers behind one port, as uvicorn runs them: worker B answers every
    `minority_every`-th scrape, worker A everything else (the kernel's skew, made repeatable).
    Each worker counts the requests it answered, in its own registry unless `shared`."""
    counts = {"A": 0, "B": 0}
    scrapes = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            worker = "A"
            if self.path == "/metrics":
                scrapes[0] += 1
                worker = "B" if scrapes[0] % minority_every == 0 else "A"
            counts[worker] += 1
            value = sum(counts.values()) if shared else counts[worker]
            self.send_response(200)
            self.end_headers()
            self.wfile.write(f"# TYPE http_requests_total counter\nhttp_requests_total {value}\n".encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        yield f"{base}/metrics", f"{base}/ping"
    finally:
        server.shutdown()


@pytest.mark.parametrize(("shared", "rounds", "found"), [
    (False, 40, True),    # worker B's first answer, the 15th scrape, shows its own lower count
    (False, 12, False),   # too few scrapes: B never answered, nothing to compare
    (True, 40, False),    # one registry across workers: counters only go up
])
def test_counter_watch_needs_the_other_worker_to_answer(shared: bool, rounds: int, found: bool) -> None:
    with two_workers(shared, minority_every=15) as (url, ping), httpx.Client() as client:
        watch = watch_counters(scrape(client, url), lambda: scrape(client, url), lambda: client.get(ping), rounds)
    assert bool(watch.decreases) is found, watch
    if found:
        assert watch.scrapes == 15, "the watch ends at the first scrape that shows a decrease"
        assert watch.decreases[0].startswith("http_requests_total{}: "), watch.decreases
    else:
        assert watch.scrapes == rounds + 1
