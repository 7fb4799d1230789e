"""python -m stackprobe.report: (re)render a run's report, or verify its manifest.

    python -m stackprobe.report render reports/<run> [--waivers W] [--attestations A] [--history H]
                                      [--fail-on SEVERITY] [--pdf] [--sign-key KEY]
    python -m stackprobe.report verify reports/<run> [--allowed-signers FILE]

`render` runs no test: it reads results.json (and the waiver file the run archived, and
the history next to the run directory, unless told otherwise), writes controls.html (and
controls.pdf with --pdf) and refreshes the manifest. `verify` exits 1 and names every file
that was modified, removed or added since the manifest was written, and a manifest written
again after the run (its hash differs from the one the run recorded in the history): a
re-rendered run shows as such, by design. With --allowed-signers it also checks the OpenSSH
signature of SHA256SUMS (unsigned, a signature by another key, or SHA256SUMS edited: each one line).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from stackprobe.redact import REDACTOR
from stackprobe.report import ATTESTATIONS_COPY, PDF, WAIVERS_COPY, render_run
from stackprobe.report.manifest import MANIFEST, verify_against_history, verify_manifest, write_manifest
from stackprobe.report.model import ResultsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stackprobe.report", description=__doc__.split("\n\n")[0])
    add_commands(parser)
    return parser


def add_commands(parser: argparse.ArgumentParser) -> None:
    """render and verify, as subcommands of `parser` (also `stackprobe report`)."""
    commands = parser.add_subparsers(dest="report_command", required=True, metavar="{render,verify}")
    render = commands.add_parser("render", help="write controls.html from results.json, running no test")
    render.add_argument("run_dir", type=Path, help="a run directory, e.g. reports/latest")
    render.add_argument("--waivers", type=Path, default=None,
                        help=f"waiver file (default: the run's archived {WAIVERS_COPY}, if any)")
    render.add_argument("--history", type=Path, default=None,
                        help="history file (default: history.jsonl beside the run directory, if any)")
    render.add_argument("--as-of", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                        help="judge waiver expiry on this day (default: the day the run finished)")
    render.add_argument("--pdf", action="store_true", help=f"also write {PDF} with headless Chromium")
    render.add_argument("--env-file", type=Path, action="append", default=[],
                        help="env file whose secret values must never appear (redacted again), repeatable")
    render.add_argument("--no-manifest", action="store_true", help=f"leave {MANIFEST} as it is")
    render.add_argument("--attestations", type=Path, default=None,
                        help=f"attestation file (default: the run's archived {ATTESTATIONS_COPY}, if any)")
    render.add_argument("--fail-on", choices=["critical", "high", "medium", "low"], default=None,
                        help="lowest severity whose failure fails the run (default: what the run recorded)")
    render.add_argument("--sign-key", type=Path, default=None, help="sign the refreshed SHA256SUMS with this "
                                                                    "OpenSSH private key")
    verify = commands.add_parser("verify", help=f"check every artifact against {MANIFEST}, and {MANIFEST} "
                                                "against the hash the run recorded in the history")
    verify.add_argument("run_dir", type=Path)
    verify.add_argument("--history", type=Path, default=None,
                        help="history file (default: history.jsonl beside the run directory, if any)")
    verify.add_argument("--allowed-signers", type=Path, default=None, metavar="FILE",
                        help="also check SHA256SUMS.sig against these keys (ssh-keygen ALLOWED SIGNERS format)")


def _archived(given: Path | None, run_dir: Path, name: str) -> Path | None:
    return given or (run_dir / name if (run_dir / name).is_file() else None)


def _render(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir.resolve()
    for env_file in args.env_file:
        try:
            REDACTOR.add_environment(env_file.read_text(encoding="utf-8").splitlines(), str(env_file))
        except OSError as error:
            print(f"stackprobe: env file {env_file}: {error.strerror}", file=sys.stderr)
            return 2
    waivers = _archived(args.waivers, run_dir, WAIVERS_COPY)
    attestations = _archived(args.attestations, run_dir, ATTESTATIONS_COPY)
    history = args.history or (run_dir.parent / "history.jsonl"
                               if (run_dir.parent / "history.jsonl").is_file() else None)
    try:
        rendered = render_run(run_dir, waivers=waivers, history=history, today=args.as_of,
                              attestations=attestations, fail_on=args.fail_on)
    except ResultsError as error:
        print(f"stackprobe: {error}", file=sys.stderr)
        return 2
    for line in [*(p.line for p in rendered.report.problems), *rendered.warnings]:
        print(f"stackprobe: {line}", file=sys.stderr)
    if args.pdf:
        from stackprobe.report.pdf import ChromiumError, to_pdf

        try:
            print(to_pdf(rendered.html, run_dir / PDF))
        except ChromiumError as error:
            print(f"stackprobe: {error}", file=sys.stderr)
            return 1
    if not args.no_manifest:
        write_manifest(run_dir)
        if args.sign_key is not None:
            from stackprobe.report.signing import SigningError, sign_sums

            try:
                sign_sums(run_dir, args.sign_key)
            except SigningError as error:
                print(f"stackprobe: {error}", file=sys.stderr)
                return 1
    print(rendered.html)
    if rendered.report.attestations.malformed or rendered.report.waivers.malformed:
        return 4
    return 1 if rendered.report.problems else 0


def _verify(args: argparse.Namespace) -> int:
    checked, problems = verify_manifest(args.run_dir)
    history = args.history or (args.run_dir.resolve().parent / "history.jsonl")
    if history.is_file():
        problems += verify_against_history(args.run_dir.resolve(), history)
    signer = ""
    if args.allowed_signers is not None:
        from stackprobe.report.signing import verify_signature

        signer, signed_problems = verify_signature(args.run_dir, args.allowed_signers)
        named = {line.split(":")[0] for line in problems}  # a file the manifest named already: one line
        problems += [line for line in signed_problems if line.split(":")[0] not in named]
    for line in problems:
        print(line)
    if problems:
        print(f"stackprobe: {args.run_dir}: {len(problems)} problem(s); the run's artifacts are not as written",
              file=sys.stderr)
        return 1
    signed = f", signed by {signer}" if signer else ""
    print(f"OK: {checked} file(s) in {args.run_dir} match {MANIFEST}{signed}")
    return 0


def dispatch(args: argparse.Namespace) -> int:
    return _render(args) if args.report_command == "render" else _verify(args)


def main(argv: list[str] | None = None) -> int:
    return dispatch(_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
