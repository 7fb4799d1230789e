"""MET-01..03: the metrics the dashboards depend on are there, valid, and count."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from stackprobe.evidence import Evidence
from stackprobe.metrics import ScrapeError, counter_total, families, samples, scrape
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
    rounds = target.profile.metrics.scrapes
    client, ping = target.http(), target.backend_url + target.profile.metrics.traffic_path
    previous = samples(metrics_text)
    decreases = []
    for _ in range(rounds):
        for _ in range(3):
            client.get(ping)
        current = samples(scrape_again(target))
        for key, value in current.items():
            name = key[0]
            if (name.endswith("_total") or name.endswith("_count")) and value < previous.get(key, 0):
                decreases.append(f"{name}{dict(key[1])}: {previous[key]:g} -> {value:g}")
        previous = {**previous, **current}
    evidence.record("scrapes", rounds + 1)
    evidence.record("decreases", decreases[:20])
    assert not decreases, (f"{len(decreases)} counter samples went down between scrapes "
                           f"(separate registries per worker?): {decreases[:3]}")


@pytest.mark.control("MET-03")
@pytest.mark.nightly
def test_request_counter_moves_with_traffic(target: Target, metrics_text: str, evidence: Evidence) -> None:
    n = target.profile.metrics.traffic_requests
    name = target.profile.metrics.request_counter
    before = counter_total(metrics_text, name)
    client, ping = target.http(), target.backend_url + target.profile.metrics.traffic_path
    ok = sum(1 for _ in range(n) if client.get(ping).status_code == 200)
    after = counter_total(scrape_again(target), name)
    evidence.record(name, {"before": before, "after": after, "requests_sent": n, "answered_200": ok})
    assert after - before >= ok, f"{name} grew by {after - before:g} after {ok} requests"
