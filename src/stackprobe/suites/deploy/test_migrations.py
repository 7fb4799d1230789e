"""DEP-02 (schema-at-head part) and DEP-03 on the stack under test.

Read-only on live targets: `alembic current` against `alembic heads`, run in the backend. On an
ephemeral target DEP-03 runs the migrations twice more and compares the schema (table
definitions, triggers, routines), the migration table and every table's row count."""

from __future__ import annotations

import pytest

from stackprobe.absence import not_applicable
from stackprobe.deploy import fingerprint_changes, migration_state, schema_fingerprint
from stackprobe.evidence import Evidence
from stackprobe.profile import with_roles
from stackprobe.targets import Target


@pytest.mark.control("DEP-02")
@pytest.mark.nightly
def test_schema_at_migration_head(target: Target, evidence: Evidence) -> None:
    absent = not_applicable(target.profile.absent, "migrations")
    if absent:
        pytest.skip(absent)
    state = migration_state(target)
    evidence.record("migrations", state.as_evidence())
    assert state.at_head, state.problem()


@pytest.mark.control("DEP-03")
@pytest.mark.nightly
def test_migrations_run_twice_change_nothing(target: Target, evidence: Evidence) -> None:
    state = migration_state(target)
    evidence.record("migrations", state.as_evidence())
    assert state.at_head, f"{state.problem()} (a re-run would change the schema)"
    if target.kind == "live":
        # Read-only: at the head, alembic's version table makes a re-run a no-op.
        evidence.record("mode", "live: read-only, `current` against `heads`; migrations not run")
        return
    command = with_roles(target.profile.stack.migrate_command, target.profile)
    assert command, ("[stack] migrate_command is empty: nothing to run twice; name the migration command, or "
                     "declare that the schema has none ([absent] parts = [\"migrations\"])")
    before = schema_fingerprint(target)
    runs, changes = [], []
    for attempt in (1, 2):
        run = target.compose(*command, check=False)
        runs.append({"run": attempt, "exit": run.returncode, "output_tail": (run.stdout + run.stderr)[-800:]})
        assert run.returncode == 0, (
            f"migration run {attempt} of 2 on an already migrated database failed ({run.returncode}): "
            f"{(run.stderr or run.stdout).strip()[-400:]}")
        after = schema_fingerprint(target)
        changes += [f"run {attempt}: {c}" for c in fingerprint_changes(before, after)]
        before = after
    evidence.record("migrate_runs", runs)
    evidence.record("fingerprint", {"tables": sorted(before["tables"]), "rows": before["rows"],
                                    "versions": before["versions"]})
    evidence.record("changes", changes)
    assert not changes, (f"re-running the migrations on a migrated database changed it: {'; '.join(changes)}; "
                         "keep data steps inside versioned migrations (alembic's version table), never in a "
                         "step that runs on every deploy")
    state = migration_state(target)
    assert state.at_head, state.problem()
