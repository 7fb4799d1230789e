"""MET-01..03: the metrics the dashboards depend on are there, valid, and count."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter

import pytest

from stackprobe.evidence import Evidence
from stackprobe.metrics import ScrapeError, counter_total, families, scrape, watch_counters
from stackprobe.targets import Target


def scrape_again(target: Target) -> str:
    """A later scrape: the first one (the `metrics_text` fixture) proved the endpoint answers, so a
    failure now is the check's own finding."""
    try:
        return scrape(target.http(), target.metrics_url)
    except ScrapeError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.mark.control("MET-01")
@pytest.mark.nightly
def test_metrics_valid_with_required_families(target: Target, metrics_text: str, evidence: Evidence) -> None:
    text = metrics_text
    evidence.record("url", target.metrics_url)
    found = families(text)
    evidence.record("families", sorted(found))
    wrong = {name: found.get(name, "(missing)") for name, kind in
             target.profile.metrics.required_families.items() if found.get(name) != kind}
    assert not wrong, (f"required families missing or of the wrong type (expected "
                       f"{target.profile.metrics.required_families}): saw {wrong}")
    promtool = shutil.which("promtool")
    if target.profile.metrics.use_promtool and promtool:
        result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                                text=True, timeout=30)
        evidence.record("promtool", {"exit": result.returncode, "output": result.stderr + result.stdout})
        assert result.returncode == 0, f"promtool check metrics failed: {result.stderr.strip()[:500]}"
    else:
        evidence.record("promtool", "not installed: checked with prometheus_client's parser only")


@pytest.mark.control("MET-02")
@pytest.mark.nightly
def test_counters_never_go_down(target: Target, metrics_text: str, evidence: Evidence) -> None:
    client, ping = target.http(), target.backend_url + target.profile.metrics.traffic_path
    watch = watch_counters(metrics_text, lambda: scrape_again(target), lambda: client.get(ping),
                           target.profile.metrics.scrapes)
    evidence.record("scrapes", watch.scrapes)
    evidence.record("decreases", watch.decreases[:20])
    assert not watch.decreases, (f"{len(watch.decreases)} counter samples went down between scrapes "
                                 f"(separate registries per worker?): {watch.decreases[:3]}")


@pytest.mark.control("MET-03")
@pytest.mark.nightly
def test_request_counter_moves_with_traffic(target: Target, metrics_text: str, evidence: Evidence) -> None:
    n = target.profile.metrics.traffic_requests
    name = target.profile.metrics.request_counter
    before = counter_total(metrics_text, name)
    client, ping = target.http(), target.backend_url + target.profile.metrics.traffic_path
    statuses = Counter(client.get(ping).status_code for _ in range(n))
    ok = statuses[200]
    after = counter_total(scrape_again(target), name)
    evidence.record(name, {"before": before, "after": after, "requests_sent": n, "answered_200": ok,
                           "answers": dict(statuses)})
    if not ok:  # no traffic the counter had to count: nothing was compared
        pytest.fail(f"GET {target.profile.metrics.traffic_path} answered {dict(statuses)} to all {n} requests, "
                    "never 200: no traffic to count; set [metrics] traffic_path to a route your request "
                    "counter counts", pytrace=False)
    assert after - before >= ok, f"{name} grew by {after - before:g} after {ok} requests"
