"""CHS-04 (acknowledged writes survive a crash, Jepsen-style accounting) and CHS-07 (a backend
crash under load: errors only inside the outage window)."""

from __future__ import annotations

import time

import pytest

from stackprobe import canary
from stackprobe.chaos.history import BoundedWriter, MysqlRows, RedisKeys, account, split_lost, windows
from stackprobe.chaos.load import ApiDocuments, BoundedLoad
from stackprobe.chaos.probes import Backend, api_writes_allowed
from stackprobe.chaos.recovery import RecoveryWatch, describe, recovery_evidence, slo_of, watch_timeout
from stackprobe.evidence import Evidence
from stackprobe.suites.chaos.conftest import FAULTS, ChaosRun
from stackprobe.targets import Target

# experiments may leave the stack changed: in a parallel run, a copy of their own (one per group)
pytestmark = pytest.mark.isolated(FAULTS)


@pytest.mark.control("CHS-04")
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.writes("{database}: canary table (writer); {cache}: canary keys (writer)")
def test_acknowledged_writes_survive_crash(durable_service: str, experiment: ChaosRun, evidence: Evidence) -> None:
    chaos, target, cfg = experiment, experiment.target, experiment.cfg
    service = durable_service
    store: MysqlRows | RedisKeys
    if service == target.profile.services.database:
        store = MysqlRows(target, canary.canary_name())
        store.create()
    else:
        store = RedisKeys(target, chaos.canary.prefix + "writer:")
    window = 0.0  # InnoDB commits are durable at once
    fsync = "commit"
    if service != target.profile.services.database:
        fsync = _appendfsync(target)
        window = cfg.redis_everysec_window_s if fsync in ("everysec", "(CONFIG unavailable)") else 0.0
    writer = BoundedWriter(store, cfg.writer_max_writes, cfg.writer_max_s, cfg.writer_interval_s).start()
    try:
        before = writer.wait_for(lambda: writer.acknowledged() >= cfg.writer_crash_after_writes and
                                 time.monotonic() - writer.started >= max(cfg.writer_crash_after_s, window + 1),
                                 cfg.writer_max_s / 2)
        assert before, (f"the writer made only {writer.acknowledged()} acknowledged writes to {service} before the "
                        f"crash ({cfg.writer_crash_after_writes} wanted): {[o.error for o in writer.ops[-3:]]}")
        if service != target.profile.services.database and (since_save := _rdb_only_since_save(target)) is not None:
            # no append-only file: where the profile accepts snapshots alone, Redis promises what
            # its last snapshot holds and nothing after it; where it requires one, the loss counts
            if target.profile.redis.persistence in ("rdb", "any"):
                fsync, window = "none (snapshots only, as [redis] persistence accepts)", since_save
            else:
                fsync = "none (no append-only file, which [redis] persistence requires)"
        with chaos.injector.crashed(service) as fault:
            acked_before = writer.acknowledged()
            # durability, not the restart policy (CHS-01's): back by Docker, or started by hand
            fault.restore()
            writer.wait_for(lambda: writer.acknowledged(since=fault.injected_at) >= cfg.writer_after_recovery_writes,
                            cfg.writer_max_s)
        ops = writer.stop()
        observed = store.read_all()
    finally:
        writer.stop()
        try:
            store.drop()
        except Exception as error:  # reported, never hidden: canaries of a dead run are swept later
            evidence.record("canary_drop_error", f"{type(error).__name__}: {error}")
    result = account(ops, observed)
    recent, older = split_lost(ops, result.lost, fault.injected_at, window)
    first_ok_after = min((op.ended for op in ops if op.outcome == "ok" and op.started >= fault.injected_at),
                         default=None)
    evidence.record("writes", {"store": type(store).__name__, "service": service, "persistence_required":
                               target.profile.redis.persistence if service != target.profile.services.database
                               else "durable commits", "fsync": fsync, "loss_window_s": window,
                               "acknowledged_before_crash": acked_before, **result.as_evidence(),
                               "lost_within_window": len(recent), "lost_beyond_window": len(older)})
    evidence.record("windows", windows(ops, fault.issued_at, first_ok_after, cfg.error_grace_s))
    evidence.record("undo", fault.undo_note)
    assert result.acknowledged > acked_before, (
        f"no acknowledged write to {service} after the crash ({cfg.writer_max_s:g} s bound): it did not come back")
    assert not (older or result.duplicated or result.unexpected), (
        f"{service} crashed mid-write: {len(result.lost)} of {result.acknowledged} acknowledged writes lost "
        f"({acked_before} acknowledged before the crash; {len(older)} of the lost more than {window:g} s before it, "
        f"fsync {fsync}), {len(result.duplicated)} duplicated, {len(result.unexpected)} unexpected; lost ids e.g. "
        f"{older[:5]}")


def _rdb_only_since_save(target: Target) -> float | None:
    """Seconds since Redis's last snapshot (one more for its whole-second clock) when it keeps no
    append-only file; None when it does, or when that cannot be read (then appendfsync decides)."""
    client = target.redis(timeout=2, single_attempt=True)
    try:
        info = client.info("persistence")
    except Exception:
        return None
    finally:
        client.close()
    if int(info.get("aof_enabled", 1)) or "rdb_last_save_time" not in info:
        return None
    return max(0.0, time.time() - float(info["rdb_last_save_time"])) + 1.0


def _appendfsync(target: Target) -> str:
    client = target.redis(timeout=2, single_attempt=True)
    try:
        return str(client.config_get("appendfsync").get("appendfsync", "(CONFIG unavailable)"))
    except Exception:  # CONFIG may be renamed away in production
        return "(CONFIG unavailable)"
    finally:
        client.close()


@pytest.mark.control("CHS-07")
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.faults("crash:{backend}")
@pytest.mark.writes("{database}: canary table; {cache}: canary keys; {backend}: documents (API writer)", on="ephemeral")
@pytest.mark.writes("{database}: canary table; {cache}: canary keys", on="live")
def test_backend_crash_under_load_errors_only_in_outage(experiment: ChaosRun, evidence: Evidence) -> None:
    chaos, target, cfg = experiment, experiment.target, experiment.cfg
    service = target.profile.services.backend
    load = BoundedLoad(Backend(target), cfg.load_paths, cfg.api_probe_ok, cfg.load_concurrency,
                       cfg.load_max_requests, cfg.load_max_s).start()
    documents = ApiDocuments(Backend(target)) if api_writes_allowed(target) else None
    writer = (BoundedWriter(documents, cfg.writer_max_writes, cfg.load_max_s, cfg.writer_interval_s * 5).start()
              if documents is not None else None)
    try:
        warm = time.monotonic() + 15

        def warmed() -> bool:
            return load.successes() >= 20 and (writer is None or writer.acknowledged() >= 10)

        while not warmed() and time.monotonic() < warm:
            time.sleep(0.05)
        assert warmed(), (f"before the crash the backend answered only {load.successes()} reads (20 wanted) and "
                          f"{writer.acknowledged() if writer else '-'} API writes (10 wanted)")
        slo = slo_of(target, service)
        with chaos.injector.crashed(service) as fault:
            trial = RecoveryWatch(target, service, since=fault.injected_at, since_wall=fault.injected_wall,
                                  crashed_wall=fault.issued_wall, old_pid=fault.old_pid, interval_s=cfg.poll_interval_s,
                                  timeout_s=watch_timeout(target, slo), write=None, backend=chaos.backend).run()
            http_200 = trial.phases["http_200"]
            recovered_at = None if http_200 is None else fault.injected_at + http_200
            until = (recovered_at or time.monotonic()) + cfg.load_after_recovery_s
            # and on until a request sent after the recovery has succeeded: the load's workers may
            # all be held by requests of the outage that wait out their timeout (through a relay)
            while ((time.monotonic() < until or (recovered_at is not None and not load.successes(recovered_at)))
                   and time.monotonic() - load.started < cfg.load_max_s):
                time.sleep(0.05)
    finally:
        ops = load.stop()
        write_ops = writer.stop() if writer is not None else []
    window = windows(ops, fault.issued_at, recovered_at, cfg.error_grace_s)
    written = None
    if documents is not None:
        written = account(write_ops, documents.read_all())
        evidence.record("api_writes", {**written.as_evidence(), "windows": windows(
            write_ops, fault.issued_at, recovered_at, cfg.error_grace_s)})
    else:
        evidence.record("api_writes", "not on this target ([chaos] api_write_on_live = false): reads only")
    evidence.record("recovery", recovery_evidence("crash", service, slo, [trial]))
    evidence.record("load", {"paths": cfg.load_paths, "requests": len(ops), "concurrency": cfg.load_concurrency,
                             "after_recovery_s": cfg.load_after_recovery_s, "phases": describe(trial)})
    evidence.record("windows", window)
    assert recovered_at is not None, f"{service} did not answer health 200 again after the crash ({describe(trial)})"
    ok_after = sum(1 for op in ops if op.outcome == "ok" and op.started > recovered_at)
    assert ok_after, "no request of the load succeeded after the recovery"
    if written is not None:
        write_window = windows(write_ops, fault.issued_at, recovered_at, cfg.error_grace_s)
        assert not written.lost, (f"{len(written.lost)} of {written.acknowledged} documents acknowledged by the "
                                  f"backend are gone after its crash: e.g. write ids {written.lost[:5]}")
        assert write_window["errors_outside"] == 0, (
            f"{write_window['errors_outside']} API writes failed outside the outage window "
            f"{write_window['outage_window_s']}: e.g. {write_window['errors_outside_sample'][:3]}")
    assert window["errors_outside"] == 0, (
        f"{window['errors_outside']} of {window['errors']} errors of the load fell outside the outage window "
        f"(crash to health 200 + {cfg.error_grace_s:g} s = {window['outage_window_s']}; errors at "
        f"{window['error_window_s']} s): e.g. {window['errors_outside_sample'][:3]}")
