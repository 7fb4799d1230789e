"""Where a key of the compose model is written: file and line, for findings that code-scanning
views place (CMP-01's image). Compose merges the files in order, so the last file that sets the
key is where it takes effect. Read with PyYAML's node tree, which keeps every node's position."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from stackprobe.checks.findings import Location


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for name, value in node.value:
        if isinstance(name, yaml.ScalarNode) and name.value == key and isinstance(value, yaml.Node):
            return value
    return None


def key_location(files: Sequence[Path], path: Sequence[str]) -> Location | None:
    """The line of the last `path` (e.g. services, backend, image) set in `files`; None when no file
    writes it (set through an extends, an include or a default) or a file cannot be read."""
    found = None
    for file in files:
        try:
            node: yaml.Node | None = yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # the compose render reports an unreadable file; a position is only a nicety
        for key in path:
            node = _child(node, key)
        if node is not None:
            found = Location(str(file), node.start_mark.line + 1)
    return found
