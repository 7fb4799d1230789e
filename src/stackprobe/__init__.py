"""stackprobe: operational verification and chaos suite for Docker Compose stacks."""

__version__ = "0.1.0"
