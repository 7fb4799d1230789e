"""The deploy suite's library, like backup/: a throwaway project only the deployment's own deploy
command drives (project.py), the migrations and schema it compares (migrations.py), the read
traffic that measures an update's outage (read_traffic.py) and the markers of data an update
must keep (markers.py)."""

from stackprobe.deploy.migrations import (
    MigrationState,
    fingerprint_changes,
    migration_state,
    revisions,
    schema_fingerprint,
    table_checksums,
)
from stackprobe.deploy.project import DeployProject, free_loopback_port
from stackprobe.deploy.read_traffic import ReadTraffic, TrafficReport

__all__ = [
    "DeployProject",
    "MigrationState",
    "ReadTraffic",
    "TrafficReport",
    "fingerprint_changes",
    "free_loopback_port",
    "migration_state",
    "revisions",
    "schema_fingerprint",
    "table_checksums",
]
