"""Log files and logrotate configurations, judged without a Docker engine (LOG-01..04).

The suite reads the files from the container and the logrotate file from disk; everything
here works on their contents, so each rule is unit-tested on its own.
"""

from __future__ import annotations

import fnmatch
import gzip
import re
import shlex
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from stackprobe.traffic import Sent

MAX_SHOWN = 10


# --- the files of one log --------------------------------------------------------------------
@dataclass(frozen=True)
class LogFile:
    name: str
    size: int  # bytes on disk (compressed size for .gz)
    text: str  # decompressed, decoded with replacement

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def log_set(files: dict[str, bytes], base: str) -> list[LogFile]:
    """The files of the log named `base` (app.log, app.log.1, app.log-20260101.gz, ...)."""
    found = []
    for name, data in sorted(files.items()):
        if not name.startswith(base):
            continue
        raw = data
        if name.endswith(".gz"):
            try:
                raw = gzip.decompress(data)
            except (OSError, EOFError):
                raw = data
        found.append(LogFile(name, len(data), raw.decode("utf-8", "replace")))
    return found


def backup_index(name: str, base: str) -> int | None:
    """0 for the current file, N for the handler's backup `base.N`, None for anything else."""
    if name == base:
        return 0
    match = re.fullmatch(re.escape(base) + r"\.(\d+)", name)
    return int(match.group(1)) if match else None


# --- LOG-01: the line format -------------------------------------------------------------------
@dataclass
class FormatReport:
    lines: dict[str, int] = field(default_factory=dict)
    records: int = 0
    continuation_lines: int = 0
    violations: list[str] = field(default_factory=list)
    levels: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {"lines_per_file": self.lines, "records": self.records,
                "continuation_lines": self.continuation_lines, "levels": dict(self.levels),
                "violations": len(self.violations), "first_violations": self.violations[:MAX_SHOWN]}


def _time_problem(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return f"time {text!r} is not ISO-8601"
    return "" if moment.tzinfo is not None else f"time {text!r} has no UTC offset"


def check_format(files: Iterable[LogFile], line_pattern: str, continuation_pattern: str) -> FormatReport:
    """Every line is a record in the documented format, or continues the record before it."""
    record, continuation = re.compile(line_pattern), re.compile(continuation_pattern)
    report = FormatReport()
    for log in files:
        lines = log.lines
        report.lines[log.name] = len(lines)
        in_record = False
        for number, line in enumerate(lines, 1):
            match = record.match(line)
            if match:
                in_record = True
                report.records += 1
                groups = match.groupdict()
                if groups.get("level"):
                    report.levels[groups["level"]] += 1
                problem = _time_problem(groups["time"]) if groups.get("time") else ""
                if problem:
                    report.violations.append(f"{log.name}:{number}: {problem}: {line[:200]}")
            elif in_record and continuation.match(line):
                report.continuation_lines += 1
            else:
                report.violations.append(f"{log.name}:{number}: not in the documented format: {line[:200]}")
                in_record = False
    return report


# --- LOG-02: sizes and backups -----------------------------------------------------------------
@dataclass
class RotationReport:
    sizes: dict[str, int] = field(default_factory=dict)
    backups: list[int] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "backups": sorted(self.backups), "violations": self.violations}


def check_rotation(files: Iterable[LogFile], base: str, max_bytes: int, backup_count: int) -> RotationReport:
    """No handler file over `max_bytes` by more than its longest record; at most
    `backup_count` backups."""
    report = RotationReport()
    for log in files:
        index = backup_index(log.name, base)
        if index is None:
            continue  # logrotate's dated copies: LOG-04's policy, not the handler's
        report.sizes[log.name] = log.size
        if index:
            report.backups.append(index)
        longest = max((len(line.encode("utf-8")) + 1 for line in log.lines), default=0)
        if log.size > max_bytes + longest:
            report.violations.append(
                f"{log.name} is {log.size} bytes: over the limit {max_bytes} by more than one record "
                f"(longest line {longest} bytes)")
    if len(report.backups) > backup_count:
        report.violations.append(
            f"{len(report.backups)} backups ({', '.join(f'{base}.{i}' for i in sorted(report.backups))}) "
            f"where LOG_BACKUP_COUNT is {backup_count}")
    return report


# --- LOG-03: every acknowledged id exactly once -------------------------------------------------
@dataclass
class IdAccount:
    acknowledged: int = 0
    unacknowledged: int = 0
    retained: int = 0
    lowest_retained_seq: int | None = None
    duplicated: dict[str, int] = field(default_factory=dict)
    lost_with_rotation: list[int] = field(default_factory=list)
    lost_from_middle: list[int] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # ids of this run per file
    # (older file, seq written there, newer file, seq acknowledged there before it was sent)
    out_of_order: list[tuple[str, int, str, int]] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return len(self.lost_with_rotation) + len(self.lost_from_middle)

    def summary(self) -> dict[str, Any]:
        return {
            "acknowledged": self.acknowledged, "unacknowledged": self.unacknowledged,
            "retained_ids": self.retained, "lowest_retained_seq": self.lowest_retained_seq,
            "ids_per_file": self.files,
            "lost": self.lost, "lost_with_rotated_away_file": len(self.lost_with_rotation),
            "lost_from_middle": len(self.lost_from_middle),
            "first_lost_from_middle": self.lost_from_middle[:MAX_SHOWN],
            "duplicated": len(self.duplicated),
            "first_duplicated": dict(list(self.duplicated.items())[:MAX_SHOWN]),
            "written_to_an_older_file": len(self.out_of_order),
            "first_written_to_an_older_file": [
                f"seq {late} in {older} was sent after seq {early} in {newer} was acknowledged"
                for older, late, newer, early in self.out_of_order[:MAX_SHOWN]],
        }


def account_ids(files: Iterable[LogFile], id_pattern: str, sent: list[Sent], oldest_rotated_away: bool,
                lag_s: float = 0.0, base: str = "") -> IdAccount:
    """Which acknowledged ids the retained files hold, how often, and which are missing.

    A request's line is written before the request is acknowledged, so a request sent after
    another was acknowledged has its line later in the log. The retained files are the
    newest part of the log: once one retained request had been acknowledged, every request
    sent afterwards must be retained too. A missing id sent earlier may have gone with the
    oldest file, but only if a file was rotated away (`oldest_rotated_away`); any other
    missing id was lost from the middle. `lag_s`: how long after acknowledging a request
    the backend may write its line (0 for a backend that logs before it responds). Lines
    written into an older numbered file (`base.N`) after a newer one had acknowledged lines
    are listed too (`out_of_order`): uncoordinated rotation, which loses lines sooner or later."""
    pattern = re.compile(id_pattern)
    by_id = {s.request_id: s for s in sent}
    counts: Counter[str] = Counter()
    account = IdAccount()
    per_file: list[tuple[LogFile, list[Sent]]] = []
    for log in files:
        mine = [m.group("id") for m in pattern.finditer(log.text) if m.group("id") in by_id]
        counts.update(mine)
        if mine:
            account.files[log.name] = len(mine)
            per_file.append((log, [by_id[rid] for rid in mine]))
    if per_file:  # the current file's name is the base of the numbered backups
        base = base or min((log.name for log, _ in per_file), key=len)
        account.out_of_order = _written_to_older_files(per_file, base, lag_s)
    account.acknowledged = sum(1 for s in sent if s.acknowledged)
    account.unacknowledged = len(sent) - account.acknowledged
    account.retained = len(counts)
    account.duplicated = {rid: n for rid, n in sorted(counts.items()) if n > 1}
    retained = [by_id[rid] for rid in counts]
    account.lowest_retained_seq = min((s.seq for s in retained), default=None)
    # the first moment a retained line was certainly in the log
    first_retained_ack = min((s.finished for s in retained if s.acknowledged), default=float("inf")) + lag_s
    for item in sent:
        if not item.acknowledged or item.request_id in counts:
            continue
        if oldest_rotated_away and item.started <= first_retained_ack:
            account.lost_with_rotation.append(item.seq)
        else:
            account.lost_from_middle.append(item.seq)
    return account


def _written_to_older_files(per_file: list[tuple[LogFile, list[Sent]]], base: str,
                            lag_s: float) -> list[tuple[str, int, str, int]]:
    """Lines that went into an older file after a newer file already held an acknowledged line.

    One writer appends to the current file only, so every line of `base.N+1` was written before
    any line of `base.N`. If request Y is in an older file than request X, yet X was
    acknowledged (its line written) before Y was even sent, two files were written at the same
    time: several processes rotate the log without coordinating, and the next rotation deletes
    a file someone still writes. Rotated copies of another scheme (no `.N` index) are skipped."""
    indexed = sorted(((index, log, items) for log, items in per_file
                      if (index := backup_index(log.name, base)) is not None), key=lambda t: t[0])
    found: list[tuple[str, int, str, int]] = []
    earliest: tuple[float, str, int] | None = None  # first acknowledgement among newer files
    for _, log, items in indexed:  # newest (current file) first
        if earliest is not None:
            acked_at, newer, early_seq = earliest
            found += [(log.name, item.seq, newer, early_seq) for item in items
                      if item.started > acked_at + lag_s]
        for item in items:
            if item.acknowledged and (earliest is None or item.finished < earliest[0]):
                earliest = (item.finished, log.name, item.seq)
    return sorted(found, key=lambda t: t[1])


# --- LOG-04: logrotate -----------------------------------------------------------------------
@dataclass
class Directive:
    line: int
    words: list[str]


@dataclass
class Block:
    line: int
    patterns: list[str]
    directives: list[Directive] = field(default_factory=list)


_SCRIPTS = {"postrotate", "prerotate", "firstaction", "lastaction", "preremove"}
_EXCLUSIVE = [
    {"hourly", "daily", "weekly", "monthly", "yearly"},
    {"create", "nocreate", "copytruncate", "copy"},
    {"ifempty", "notifempty"},
]


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split()


def parse_logrotate(text: str) -> tuple[list[Directive], list[Block]]:
    """Global directives and blocks (`pattern ... {` directives `}`), scripts skipped."""
    globals_: list[Directive] = []
    blocks: list[Block] = []
    current: Block | None = None
    pending: list[str] = []
    in_script = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if in_script:
            in_script = line != "endscript"
            continue
        if current is None:
            if line.endswith("{"):
                current = Block(number, pending + _words(line[:-1]))
                pending = []
            elif "/" in line.split()[0] or line.startswith('"'):
                pending += _words(line)  # patterns on their own line(s), `{` follows
            elif line == "{" and pending:
                current, pending = Block(number, pending), []
            else:
                globals_.append(Directive(number, _words(line)))
            continue
        if line == "}":
            blocks.append(current)
            current = None
            continue
        words = _words(line)
        if words and words[0] in _SCRIPTS:
            in_script = True
        elif words:
            current.directives.append(Directive(number, words))
    return globals_, blocks


def _group(keyword: str) -> set[str]:
    for group in _EXCLUSIVE:
        if keyword in group:
            return group
    return {keyword, "no" + keyword} | ({keyword[2:]} if keyword.startswith("no") else set())


def covers(pattern: str, path: str) -> bool:
    """A logrotate pattern (a shell glob: `*` stops at `/`) matches the absolute `path`."""
    # an absolute pattern must match the whole path, segment by segment
    return pattern.startswith("/") and PurePosixPath(path).match(pattern)


def check_logrotate_policy(text: str, policy: list[str], log_file: str = "") -> list[str]:
    """Every block sets each policy directive (the last of its exclusive group wins) and, when
    `log_file` (a host path) is given, some block's pattern covers it."""
    globals_, blocks = parse_logrotate(text)
    if not blocks:
        return ["no log block (`<path pattern> { ... }`) in the file"]
    problems = []
    for block in blocks:
        effective = globals_ + block.directives
        where = f"block `{' '.join(block.patterns)}` (line {block.line})"
        for wanted in policy:
            want = wanted.split()
            group = _group(want[0])
            last = next((d for d in reversed(effective) if d.words and d.words[0] in group), None)
            if last is None:
                problems.append(f"{where}: `{wanted}` is not set")
            elif last.words[:len(want)] != want:
                problems.append(f"{where}: `{wanted}` expected, line {last.line} sets `{' '.join(last.words)}`")
    if log_file and not any(covers(p, log_file) for b in blocks for p in b.patterns):
        patterns = ", ".join(p for b in blocks for p in b.patterns)
        problems.append(f"no pattern ({patterns}) covers the log file {log_file}")
    return problems


@dataclass
class LogrotateDebug:
    command: list[str]
    returncode: int
    output: str
    errors: list[str]


def logrotate_debug(config: Path, workdir: Path, log_name: str, command: str = "logrotate") -> LogrotateDebug:
    """`logrotate -d` on a copy of `config` whose path patterns point into `workdir`, next
    to a non-empty file that each pattern matches (named `log_name` where it fits), so the
    real program walks the whole configuration: syntax, directives and the rotation plan."""
    program = shutil.which(command)
    if program is None:
        raise FileNotFoundError(command)
    text = config.read_text(encoding="utf-8")
    _, blocks = parse_logrotate(text)
    logs = workdir / "logs"
    logs.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = text.splitlines()
    for block in blocks:
        for pattern in block.patterns:
            base = pattern.rsplit("/", 1)[-1]
            name = log_name if fnmatch.fnmatch(log_name, base) else re.sub(r"[*?]|\[[^]]*\]", "x", base)
            (logs / name).write_text("stackprobe logrotate -d probe line\n", encoding="utf-8")
            for index in range(len(lines)):
                if pattern in lines[index] and not lines[index].lstrip().startswith("#"):
                    lines[index] = lines[index].replace(pattern, str(logs / base))
                    break
    copy = workdir / config.name
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    copy.chmod(0o644)
    cmd = [program, "-d", "-f", "-s", str(workdir / "state"), str(copy)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    output = (done.stdout + done.stderr).replace(str(copy), str(config))
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    return LogrotateDebug([*cmd[:-1], str(config)], done.returncode, output, errors)
