"""A signed manifest: SHA256SUMS signed with OpenSSH (`ssh-keygen -Y sign -n stackprobe`), so a
report proves where it came from, not only that it is whole. The private key is only read by
ssh-keygen; it is never copied into the run directory (the signature names its public key).

`verify_signature()` checks SHA256SUMS.sig against an allowed-signers file (ssh-keygen's
ALLOWED SIGNERS format) and SHA256SUMS against the artifacts and manifest.json, so editing a
file and both lists is still caught. Every problem is one line.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from stackprobe.commands import parse_sha256sum
from stackprobe.report.manifest import MANIFEST, SUMS, sha256_file

NAMESPACE = "stackprobe"
SIGNATURE = SUMS + ".sig"


class SigningError(Exception):
    """The run could not be signed: one line naming the key and why."""


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise SigningError("ssh-keygen not found: install OpenSSH's client (Debian: openssh-client) to sign runs")
    return found


def _reason(done: subprocess.CompletedProcess[str]) -> str:
    return " ".join((done.stderr or done.stdout or f"exit {done.returncode}").split())[:300]


def sign_sums(run_dir: Path, key: Path) -> Path:
    """Write run_dir/SHA256SUMS.sig with the private key `key`; returns the signature's path."""
    if not key.is_file():
        raise SigningError(f"sign key {key} does not exist: fix --sign-key/STACKPROBE_SIGN_KEY/[report] sign_key")
    sums = run_dir / SUMS
    signature = run_dir / SIGNATURE
    signature.unlink(missing_ok=True)
    # ssh-keygen writes <file>.sig beside what it signs; sign a private copy so nothing else of the
    # key's directory or the run directory is touched
    with tempfile.TemporaryDirectory(prefix="stackprobe-sign-") as scratch:
        copy = Path(scratch) / SUMS
        shutil.copyfile(sums, copy)
        done = subprocess.run([_ssh_keygen(), "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(copy)],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise SigningError(f"SHA256SUMS not signed with {key}: {_reason(done)}")
        shutil.copyfile(Path(scratch) / SIGNATURE, signature)
    return signature


def _listed(run_dir: Path) -> dict[str, str]:
    return parse_sha256sum((run_dir / SUMS).read_text(encoding="utf-8"))


def _sums_agree(run_dir: Path) -> list[str]:
    """SHA256SUMS (what the signature covers) against the files and manifest.json."""
    import json

    problems = []
    listed = _listed(run_dir)
    for name, digest in sorted(listed.items()):
        path = run_dir / name
        if not path.is_file():
            problems.append(f"MISSING   {name}: listed in the signed {SUMS}")
        elif sha256_file(path) != digest:
            problems.append(f"MODIFIED  {name}: does not match the signed {SUMS}")
    try:
        files = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8")).get("files", {})
        manifest = {name: entry.get("sha256") for name, entry in files.items() if isinstance(entry, dict)}
    except (OSError, ValueError, AttributeError):
        manifest = {}
    if manifest != listed:
        problems.append(f"DIFFERS   {MANIFEST}: does not list what the signed {SUMS} lists")
    return problems


def verify_signature(run_dir: Path, allowed_signers: Path) -> tuple[str, list[str]]:
    """(who signed, problems): the signature on SHA256SUMS by a key of `allowed_signers`, and
    SHA256SUMS against the artifacts."""
    sums, signature = run_dir / SUMS, run_dir / SIGNATURE
    if not allowed_signers.is_file():
        return "", [f"allowed signers file {allowed_signers} does not exist: pass --allowed-signers FILE"]
    if not sums.is_file():
        return "", [f"UNSIGNED  {SUMS} is missing: nothing to check the signature against"]
    if not signature.is_file():
        return "", [f"UNSIGNED  {SIGNATURE} is missing: the run was not signed, or its signature was removed"]
    keygen = _ssh_keygen()
    found = subprocess.run([keygen, "-Y", "find-principals", "-s", str(signature), "-f", str(allowed_signers)],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    principal = found.stdout.strip().splitlines()[0] if found.returncode == 0 and found.stdout.strip() else ""
    if not principal:
        return "", [f"BADSIG    {SIGNATURE}: not made by a key in {allowed_signers} ({_reason(found)})"]
    with sums.open("rb") as data:
        done = subprocess.run([keygen, "-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", NAMESPACE,
                               "-s", str(signature)], stdin=data, capture_output=True, timeout=60)
    if done.returncode != 0:
        reason = " ".join((done.stderr or done.stdout).decode(errors="replace").split())[:300]
        return principal, [f"BADSIG    {SUMS}: the signature by {principal} does not match it ({reason})"]
    return principal, _sums_agree(run_dir)
