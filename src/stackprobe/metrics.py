"""Scraping the stack's Prometheus endpoint (MET-01..03): one scrape, or one line saying what
answered instead, and the samples it holds (prometheus_client's own parser)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class ScrapeError(Exception):
    """The metrics URL gave no metrics; the message names the URL, what was seen and the fix."""


def scrape(client: httpx.Client, url: str, timeout_s: float = 10.0) -> str:
    try:
        response = client.get(url, timeout=timeout_s)
    except httpx.ConnectError:
        raise ScrapeError(f"nothing answers at {url} (connection refused): check [metrics] container_port "
                          "and path, or declare the stack's metrics absent") from None
    except httpx.TimeoutException:
        raise ScrapeError(f"nothing answers at {url} within {timeout_s:g} s (timed out): check [metrics] "
                          "container_port and path") from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):  # reset before or after the request
        raise ScrapeError(f"nothing answers HTTP at {url} (the connection was reset or closed without an "
                          "answer): is it the metrics endpoint? check [metrics] container_port and path") from None
    except httpx.HTTPError as error:
        raise ScrapeError(f"could not scrape {url} ({type(error).__name__}): check [metrics]") from None
    if response.status_code != 200:
        raise ScrapeError(f"{url} answered {response.status_code}, not metrics: check [metrics] path (and "
                          "[credentials] when it is protected)")
    return response.text


def samples(text: str) -> Samples:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def counter_total(text: str, name: str) -> float:
    return sum(v for (sample, _), v in samples(text).items() if sample == name)


def families(text: str) -> dict[str, str]:
    """name -> type; a counter is listed with and without its _total suffix (the parser drops it)."""
    found = {}
    for family in text_string_to_metric_families(text):
        found[family.name] = family.type
        if family.type == "counter":
            found[family.name + "_total"] = family.type
    return found


@dataclass
class CounterWatch:
    """What MET-02 saw: how many scrapes it compared, and every counter sample that went down."""

    scrapes: int = 1
    decreases: list[str] = field(default_factory=list)


def watch_counters(first: str, scrape_next: Callable[[], str], traffic: Callable[[], object],
                   rounds: int) -> CounterWatch:
    """Up to `rounds` more scrapes, one request of traffic before each, against `first`.

    A counter (`_total`, `_count`) that is lower than any scrape before saw it is a decrease. Which
    worker answers a scrape is up to the kernel, so only many scrapes can show two workers'
    separate counts; the first scrape with a decrease is the finding and ends the watch."""
    previous = samples(first)
    watch = CounterWatch()
    while watch.scrapes <= rounds and not watch.decreases:
        traffic()
        current = samples(scrape_next())
        watch.scrapes += 1
        for key, value in current.items():
            name = key[0]
            if (name.endswith("_total") or name.endswith("_count")) and value < previous.get(key, 0):
                watch.decreases.append(f"{name}{dict(key[1])}: {previous[key]:g} -> {value:g}")
        previous = {**previous, **current}
    return watch
