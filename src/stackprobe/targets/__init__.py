"""Targets: the only way checks reach a stack (URLs, clients, services, files, commands)."""

from stackprobe.targets.base import ExecResult, Service, Target

__all__ = ["ExecResult", "Service", "Target"]
