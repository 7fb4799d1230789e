"""The deploy suite's throwaway project: DEP-01 and DEP-02 run the deployment's own deploy
command (init, update, clean, ...) on a project of their own, never on the stack under test.

On live targets the suite is read-only: those checks skip, and only `alembic current` against
`alembic heads` runs (DEP-02's schema-at-head part, DEP-03).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackprobe.deploy import DeployProject
from stackprobe.errors import CommandUnusable
from stackprobe.leftovers import Scope, sweep_all
from stackprobe.settings import RunSettings
from stackprobe.targets.base import docker_client
from stackprobe.targets.host import LocalHost, unrunnable

LIVE_SKIP = ("runs the deploy command's init/update/clean on a throwaway project of its own; on live "
             "targets the deploy suite is read-only (run it with --target ephemeral in CI)")


@pytest.fixture(scope="module")
def deploy_project(stackprobe_settings: RunSettings) -> Iterator[DeployProject]:
    """One throwaway project per module, shared in file order: fresh for DEP-01's init, holding
    data for DEP-02's update, removed by DEP-01's clean; removed whatever happens afterwards."""
    s = stackprobe_settings
    if s.target == "live":
        pytest.skip(LIVE_SKIP)
    client = docker_client()
    sweep_all(Scope(docker=client))  # copies and images of killed runs (dead pids) only
    project = DeployProject(s.profile, s.project_dir, s.compose_files)
    try:
        cannot = unrunnable(LocalHost(), project.command, str(s.project_dir), "[deploy] command")
        if cannot:  # every deploy check that needs it: ERROR, this one line, before anything runs
            raise CommandUnusable(cannot)
        yield project
    finally:
        project.remove()
