"""No check passes without the observation it exists for.

The reference stack's compose file, with every service's process replaced by `sleep`: the
containers run (with their names, images, limits and hardening), but nothing answers: no
health endpoint, no metrics, no database, no cache, no vector store, no log line, no backup.
Every control whose verdict needs one of those observations must end failed, error or
aborted, never passed; the controls that judge what Docker itself reports (running, restart
policy, hardening, log driver) or the files may pass, because that is observable here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.stacks import BASE_COMPOSE, REFERENCE_PROFILE, SUITES, run_pytest

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

# a healthcheck that is always true (so compose's --wait has something to wait for; CTR-02 fails it)
ASLEEP = """
    entrypoint: ["sleep", "infinity"]
    command: !reset []
    healthcheck: !override {test: ["CMD", "true"], interval: 1s, retries: 3}
"""
SLEEPING = ("services:\n  mysql:" + ASLEEP + "  redis:" + ASLEEP + "  backend:" + ASLEEP
            + "    depends_on: !override\n      mysql: {condition: service_started}\n"
              "      redis: {condition: service_started}\n")

# what a stack of sleeping containers still lets a check observe: what Docker reports, the files
# (LOG-04 runs logrotate -d on the file), and BKP-09's wrong password, judged on a throwaway
# database server of its own
OBSERVABLE = {"CTR-01", "CTR-03", "LOG-04", "LOG-06", "SEC-06", "CMP-01", "BKP-09"}
OBSERVABLE_PREFIXES = ("ENV-", "SEC-", "HRD-")


def test_no_check_passes_on_a_stack_where_nothing_answers(tmp_path: Path) -> None:
    compose = tmp_path / "sleeping.yml"
    compose.write_text(SLEEPING)
    profile = tmp_path / "profile.toml"
    # nothing to migrate; experiments abort after 2 s of an unsteady stack, and an undone fault waits
    # 5 s (not 180) for a steady state that cannot come
    profile.write_text(REFERENCE_PROFILE.read_text().replace("[stack]\n", "[stack]\nmigrate_command = []\n", 1)
                       + "\n[chaos]\nsteady_wait_s = 2.0\nheal_timeout_s = 5.0\n")
    run = run_pytest(SUITES, "--target", "ephemeral", "--profile", str(profile), "--compose-file", str(BASE_COMPOSE),
                     "--compose-file", str(compose), "--ignore", f"{SUITES}/deploy/test_deploy_script.py",
                     report_dir=tmp_path / "reports", timeout=900)
    assert run.statuses, run.tail()
    passed = {cid for cid, status in run.statuses.items() if status == "passed"}
    unobservable = {cid for cid in passed if cid not in OBSERVABLE and not cid.startswith(OBSERVABLE_PREFIXES)}
    assert not unobservable, (f"passed without the observation they exist for: {sorted(unobservable)}\n"
                              + "\n".join(f"{cid}: {run.results['controls'][cid]['checks'][0].get('evidence')}"
                                          for cid in sorted(unobservable))[:4000])
    judged = {cid for cid in run.statuses if not cid.startswith(OBSERVABLE_PREFIXES) and cid not in OBSERVABLE}
    assert {"HLT-01", "MET-01", "DB-01", "RDS-01", "VEC-01", "LOG-01", "BKP-01", "CHS-01"} <= judged, run.statuses
    # HLT-03/04 stop no dependency of a stack whose health is down already: nothing could show
    for cid in ("HLT-03", "HLT-04"):
        (check,) = run.results["controls"][cid]["checks"]
        assert check["status"] == "error" and "no dependency was stopped" in check["message"], check
