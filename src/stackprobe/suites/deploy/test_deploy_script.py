"""DEP-01 and DEP-02: the deploy command's documented subcommands and the update flow, run on a
throwaway project of the suite's own (see conftest.py). Tests run in file order on one project:
fresh for init, holding data for the update, removed by clean last; each also works alone."""

from __future__ import annotations

import gzip
import re
import secrets
import tempfile
from pathlib import Path

import pytest

from stackprobe.absence import NOT_APPLICABLE
from stackprobe.commands import CommandRun
from stackprobe.deploy import (
    DeployProject,
    ReadTraffic,
    migration_state,
    table_checksums,
)
from stackprobe.deploy.markers import (
    container_ids,
    ensure_initialized,
    has_vector_search,
    marker,
    marker_problems,
    not_up,
    put_document,
    put_upload,
    stores_uploads,
    succeeded,
    top_hit,
    writes_documents,
)
from stackprobe.evidence import Evidence

pytestmark = [pytest.mark.destructive, pytest.mark.slow]


def offered(project: DeployProject, *actions: str) -> None:
    """Not applicable unless the deploy command offers every one of `actions` ([deploy] actions)."""
    missing = [a for a in actions if not project.profile.deploy.action(a)]
    if missing:
        pytest.skip(f"{NOT_APPLICABLE}: the deploy command offers no {', '.join(missing)} "
                    f"([deploy] actions.{missing[0]} = [])")


def with_migrations(project: DeployProject) -> bool:
    return "migrations" not in project.profile.absent.parts


# --- DEP-01 ----------------------------------------------------------------------------------
@pytest.mark.control("DEP-01")
def test_help_lists_every_documented_subcommand(deploy_project: DeployProject, evidence: Evidence) -> None:
    offered(deploy_project, "help")
    run = succeeded(deploy_project.deploy("help", timeout=30), evidence, "help")
    lines = [line.strip() for line in run.stdout.splitlines()]
    missing = [c for c in deploy_project.profile.deploy.subcommands
               if not any(re.match(rf"{re.escape(c)}(\s|$)", line) for line in lines)]
    evidence.record("subcommands_missing_from_help", missing)
    assert not missing, (f"`{deploy_project.shown('help')}` does not list {missing}: document every subcommand, "
                         "one line each")


@pytest.mark.control("DEP-01")
def test_init_on_a_fresh_project_migrates_and_is_safe_to_rerun(deploy_project: DeployProject,
                                                               evidence: Evidence) -> None:
    project = deploy_project
    offered(project, "init")
    if not project.is_fresh():
        project.remove_stack()
    first = succeeded(project.deploy("init"), evidence, "init on a fresh project")
    problems = not_up(project)
    assert not problems, f"after init: {', '.join(problems)}"
    if with_migrations(project):
        state = migration_state(project.target)
        evidence.record("migrations_after_first_init", state.as_evidence())
        assert state.at_head, f"after init: {state.problem()}"
    assert project.wait_healthy(30) is not None, (
        f"after init the health URL {project.target.health_url} never answered 2xx")

    seen = marker(project)
    volumes = project.volumes()
    second = project.deploy("init")
    evidence.record("commands", second.summary())
    evidence.record("init_durations_s", [round(first.duration_s, 2), round(second.duration_s, 2)])
    assert second.exit_code == 0, (f"init is not safe to run twice: the second run failed: {second.describe()}; "
                                   "make every init step idempotent (IF NOT EXISTS, alembic's version table)")
    problems = not_up(project) + marker_problems(project, seen, "after a second init")
    if project.volumes() != volumes:
        problems.append(f"volumes changed: {sorted(volumes)} -> {sorted(project.volumes())}")
    if with_migrations(project):
        state = migration_state(project.target)
        evidence.record("migrations_after_second_init", state.as_evidence())
        if not state.at_head:
            problems.append(state.problem())
    assert not problems, f"a second init is not harmless: {'; '.join(problems)}"


@pytest.mark.control("DEP-01")
def test_stop_start_restart_keep_data(deploy_project: DeployProject, evidence: Evidence) -> None:
    project = deploy_project
    offered(project, "init", "stop", "start", "restart")
    ensure_initialized(project, evidence)
    seen = marker(project)
    volumes, before = project.volumes(), project.containers_by_service()

    succeeded(project.deploy("stop"), evidence, "stop")
    stopped = project.containers_by_service()
    evidence.record("after_stop", stopped)
    assert {n: s["id"] for n, s in stopped.items()} == {n: s["id"] for n, s in before.items()}, (
        f"stop removed or replaced containers: {sorted(before)} -> {sorted(stopped)}; stop must keep them")
    running = [n for n, s in stopped.items() if s["status"] == "running"]
    assert not running, f"stop left {running} running"

    bound = project.profile.deploy.update_slo_s
    for command in ("start", "restart"):
        succeeded(project.deploy(command), evidence, command)
        # a command that returns before the backend is ready (plain `docker compose restart`) is
        # judged on the data once health answers, within the update SLO, not on the first request
        ready = project.wait_healthy(bound)
        evidence.record(f"ready_after_{command}_s", None if ready is None else round(ready, 2))
        assert ready is not None, f"{command}: health did not answer 2xx within {bound} s ([deploy] update_slo_s)"
        problems = not_up(project) + marker_problems(project, seen, f"after {command}")
        if project.volumes() != volumes:
            problems.append(f"volumes changed after {command}: {volumes} -> {project.volumes()}")
        assert not problems, f"{command}: {'; '.join(problems)}"


@pytest.mark.control("DEP-01")
def test_logs_show_every_service(deploy_project: DeployProject, evidence: Evidence) -> None:
    project = deploy_project
    offered(project, "init", "logs")
    ensure_initialized(project, evidence)
    run = succeeded(project.deploy("logs", timeout=60), evidence, "logs")
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    services = project.containers_by_service()
    silent = [name for name, s in services.items()
              if not any(line.startswith((s["name"], name)) for line in lines)]
    # a service that has written nothing at all (a proxy nobody called yet) has nothing to show
    quiet = [name for name in silent if not project.target.service(name).logs(tail=5).strip()]
    silent = [name for name in silent if name not in quiet]
    evidence.record("logs", {"lines": len(lines), "services_without_lines": silent,
                             "services_that_wrote_nothing": quiet})
    assert lines, "logs printed nothing"
    assert not silent, f"logs shows no lines of {silent}"


@pytest.mark.control("DEP-01")
def test_backup_writes_a_dump(deploy_project: DeployProject, evidence: Evidence) -> None:
    project = deploy_project
    offered(project, "init", "backup")
    ensure_initialized(project, evidence)
    seen = marker(project)
    cfg = project.profile.deploy
    with tempfile.TemporaryDirectory(prefix="stackprobe-deploy-backup-") as directory:
        target_dir = Path(directory) / "backups"
        succeeded(project.deploy("backup", extra_env={cfg.backup_dir_var: str(target_dir)}), evidence, "backup")
        dumps = sorted(target_dir.glob(cfg.backup_glob)) if target_dir.is_dir() else []
        evidence.record("backup_files", sorted(p.name for p in target_dir.iterdir()) if target_dir.is_dir() else [])
        assert len(dumps) == 1, f"backup wrote {len(dumps)} files matching {cfg.backup_glob} in {target_dir}"
        text = gzip.decompress(dumps[0].read_bytes()).decode("utf-8", "replace")
    tables = set(table_checksums(project.target))
    missing = sorted(t for t in tables if f"CREATE TABLE `{t}`" not in text)
    evidence.record("dump", {"bytes": len(text), "tables": sorted(tables), "tables_missing": missing})
    assert not missing, f"the dump has no CREATE TABLE for {missing}"
    assert seen["text"] in text, "the dump does not hold the row written just before it"


# --- DEP-02 ----------------------------------------------------------------------------------
@pytest.mark.control("DEP-02")
def test_update_flow_keeps_data_and_comes_back_within_slo(deploy_project: DeployProject,
                                                          evidence: Evidence) -> None:
    project = deploy_project
    cfg = project.profile.deploy
    offered(project, "init")
    ensure_initialized(project, evidence)
    documents = cfg.seed_documents if writes_documents(project) else 0
    texts = [f"stackprobe update keeps me {i} {secrets.token_hex(8)}" for i in range(documents)]
    doc_ids = [put_document(project, text) for text in texts]
    uploads = stores_uploads(project) and bool(cfg.uploads_dir)
    for i in range(cfg.seed_uploads if uploads else 0):
        put_upload(project, f"update-{i}-{secrets.token_hex(4)}.bin", secrets.token_bytes(4096 * (i + 1)))
    rows_before = table_checksums(project.target)
    files_before = project.backend().file_digests(cfg.uploads_dir) if uploads else {}
    vectors = has_vector_search(project)
    hits_before = {d: top_hit(project, t) for d, t in zip(doc_ids, texts, strict=True)} if vectors else {}
    volumes_before = project.volumes()

    base = project.target.backend_url
    urls = [base + path.format(document_id=doc_ids[0] if doc_ids else 1) for path in cfg.read_paths]
    steps: list[CommandRun] = []
    with ReadTraffic(urls, cfg.traffic_interval_s, cfg.traffic_max_requests,
                     max_duration_s=cfg.command_timeout_s * len(cfg.update_flow) + cfg.update_slo_s,
                     headers=dict(project.target.http().headers)) as traffic:
        for step in cfg.update_flow:
            steps.append(project.run(step))
            if steps[-1].exit_code != 0:
                break
        flow_ended_s = traffic.elapsed()
        healthy_after_s = project.wait_healthy(cfg.update_slo_s)
        # the recovery is the traffic's own observation: read on until an answer after the flow succeeds
        traffic.settle(since_s=flow_ended_s, max_s=cfg.update_slo_s)
    seen = traffic.report()
    evidence.record("project", project.project)
    evidence.record("update_flow", [s.summary() for s in steps])
    evidence.record("read_traffic", {"urls": urls, **seen.as_evidence()})
    evidence.record("downtime_s", None if seen.downtime_s is None else round(seen.downtime_s, 3))
    evidence.record("update_duration_s", round(flow_ended_s, 2))
    failed = [s for s in steps if s.exit_code != 0]
    assert not failed, f"the update flow failed: {failed[0].describe()}"
    assert healthy_after_s is not None, f"health did not answer 2xx within {cfg.update_slo_s} s after the update flow"

    rows_after = table_checksums(project.target)
    files_after = project.backend().file_digests(cfg.uploads_dir) if uploads else {}
    hits_after = {d: top_hit(project, t) for d, t in zip(doc_ids, texts, strict=True)} if vectors else {}
    lost_rows = {t: {"before": v, "after": rows_after.get(t)} for t, v in rows_before.items() if rows_after.get(t) != v}
    lost_files = sorted(p for p, d in files_before.items() if files_after.get(p) != d)
    lost_vectors = sorted(d for d, hit in hits_before.items() if hits_after.get(d) != hit)
    missing_volumes = sorted(set(volumes_before) - set(project.volumes()))
    state = migration_state(project.target) if with_migrations(project) else None
    evidence.record("data", {"tables": rows_before, "files": len(files_before), "documents": len(doc_ids),
                             "changed_tables": lost_rows, "lost_files": lost_files, "lost_vectors": lost_vectors,
                             "missing_volumes": missing_volumes})
    evidence.record("migrations", state.as_evidence() if state else "declared absent ([absent] parts)")
    problems = []
    if lost_rows:
        shown = ", ".join(f"{t}: {v['before']} -> {v['after']}" for t, v in lost_rows.items())
        problems.append(f"rows changed or lost in {sorted(lost_rows)} ({shown})")
    if lost_files:
        problems.append(f"{len(lost_files)} of {len(files_before)} uploaded files lost or changed")
    if lost_vectors:
        problems.append(f"{len(lost_vectors)} of {len(doc_ids)} documents no longer found by vector search")
    if missing_volumes:
        problems.append(f"volumes gone: {missing_volumes}")
    if state and not state.at_head:
        problems.append(state.problem())
    assert not problems, (f"the update flow did not keep its promises: {'; '.join(problems)}; "
                          "never remove volumes in an update")
    assert seen.downtime_s is not None, (
        f"read traffic never saw the backend answer again after its last failure ({seen.as_evidence()})")
    assert seen.downtime_s <= cfg.update_slo_s, (
        f"the update flow's outage lasted {seen.downtime_s:.1f} s, over the SLO of {cfg.update_slo_s} s "
        "(build before stopping the backend, so the outage is only migrate + start)")


# --- DEP-01, last: clean --------------------------------------------------------------------------
@pytest.mark.control("DEP-01")
def test_clean_refuses_without_confirmation_and_removes_volumes_with_it(deploy_project: DeployProject,
                                                                       evidence: Evidence) -> None:
    project = deploy_project
    offered(project, "init", "clean")
    ensure_initialized(project, evidence)
    volumes, before = project.volumes(), container_ids(project)
    refused = project.deploy("clean", timeout=120)
    evidence.record("commands", refused.summary())
    after = container_ids(project)
    evidence.record("after_unconfirmed_clean", {"volumes": project.volumes(), "containers": after})
    kept = project.volumes() == volumes and after == before
    assert refused.exit_code != 0 and kept, (
        f"`{project.shown('clean')}` without confirmation (no terminal, no CONFIRM) must refuse and remove "
        "nothing: it "
        f"{'exited 0' if refused.exit_code == 0 else f'exited {refused.exit_code}'} and "
        f"{'kept everything' if kept else f'left volumes {project.volumes()} of {volumes}'}")

    cfg = project.profile.deploy
    succeeded(project.deploy("clean", *cfg.clean_confirm_args, timeout=180), evidence, "confirmed clean")
    left = {"volumes": project.volumes(), "containers": sorted(project.containers_by_service())}
    evidence.record("after_confirmed_clean", left)
    assert not left["volumes"] and not left["containers"], f"confirmed clean left {left}"
