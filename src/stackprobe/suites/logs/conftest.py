"""The logs suite's fixtures: the log policy in effect (stackprobe.logs_policy) and the one
rotation experiment (stackprobe.logs_rotation) that LOG-02 and LOG-03 both judge."""

from __future__ import annotations

import pytest

from stackprobe.logs_policy import LogPolicy, resolve_log_policy
from stackprobe.logs_rotation import LogNeverRotates, RotationExperiment, RotationInfeasible, run_rotation_experiment
from stackprobe.safety import skip_unless_destructive_allowed
from stackprobe.settings import RunSettings
from stackprobe.targets import Target


@pytest.fixture(scope="session")
def log_policy(target: Target) -> LogPolicy:
    return resolve_log_policy(target)


@pytest.fixture(scope="session")
def rotation_experiment(target: Target, stackprobe_settings: RunSettings, log_policy: LogPolicy) -> RotationExperiment:
    """Sequenced traffic until the log rotated more than backup_count times, then every file."""
    skip_unless_destructive_allowed(stackprobe_settings,
                                    "writes enough log lines to rotate the log more than LOG_BACKUP_COUNT times")
    try:
        return run_rotation_experiment(target, log_policy)
    except LogNeverRotates as error:
        pytest.fail(str(error))
    except RotationInfeasible as error:
        pytest.skip(str(error))
