"""The `stackprobe` command: run the suites, write a starting profile, list the controls, render reports.

    stackprobe run [--suite NAME ...] [--nightly] [--dry-run] [plugin options] [-- pytest arguments]
    stackprobe init [--project-dir DIR | --compose-file F ... | --project-name RUNNING] [--output PATH] [--force]
    stackprobe controls [--format text|json|markdown] [--profile PATH]
    stackprobe report {render,verify} RUN_DIR ...

`run` is `pytest --pyargs stackprobe.suites...` with the plugin's own options (the same names and
STACKPROBE_* variables), a progress line per suite and per control, and pytest's exit codes. A wrong
subcommand or option is one line on stderr and pytest's usage-error code (4).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

from stackprobe.activation import SUITES_DIR
from stackprobe.errors import StackprobeUsageError

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)


class _Parser(argparse.ArgumentParser):
    """argparse with pytest's usage-error code and a one-line message."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _PluginOptions:
    """Stands in for pytest's parser so `run` takes the plugin's options exactly as the plugin declares them."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        self.group: Any = None
        self.actions: list[argparse.Action] = []

    def getgroup(self, name: str, description: str = "") -> _PluginOptions:
        if self.group is None:
            self.group = self.parser.add_argument_group(description or name)
        return self

    def addoption(self, *names: str, **attrs: Any) -> None:
        self.actions.append(self.group.add_argument(*names, **attrs))

    def is_registered(self, plugin: object) -> bool:  # the plugin manager's question in pytest_addoption
        return True

    def as_pytest_args(self, args: argparse.Namespace) -> list[str]:
        """The options given, spelt for pytest (switches, repeatable and valued options)."""
        out: list[str] = []
        for action in self.actions:
            value = getattr(args, action.dest)
            flag = action.option_strings[0]
            if action.nargs == 0:
                out += [flag] if value else []
            elif isinstance(value, list):
                for item in value:
                    out += [flag, str(item)]
            elif value is not None:
                out += [flag, str(value)]
        return out


def suite_names() -> list[str]:
    """The suites shipped in the package (a directory with an __init__.py under stackprobe/suites)."""
    return sorted(p.name for p in SUITES_DIR.iterdir() if (p / "__init__.py").is_file())


def _add_run(commands: Any) -> _PluginOptions:
    from stackprobe import fleet, parallel, plugin

    run = commands.add_parser("run", help="run the suites against a target (pytest with the stackprobe plugin)",
                              description="Run stackprobe's suites against a target. Options as the pytest "
                                          "plugin's; arguments after -- go to pytest as they are (-k, -x, "
                                          "your own checks' directory).")
    run.add_argument("--suite", dest="suites", action="append", default=None, choices=suite_names(),
                     metavar="NAME", help=f"only this suite, repeatable ({', '.join(suite_names())}; default all)")
    options = _PluginOptions(run)
    plugin.pytest_addoption(options, options)  # type: ignore[arg-type]
    fleet.pytest_addoption(options)  # type: ignore[arg-type]
    parallel.pytest_addoption(options)  # type: ignore[arg-type]
    run.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                     help="more pytest arguments after --, e.g. -- -k health -x checks/")
    return options


def _add_init(commands: Any) -> None:
    init = commands.add_parser("init", help="write a commented starting profile from a compose project",
                               description="Write a starting profile (TOML) from a compose project: its "
                                           "files, or a running project by name. Values it cannot infer "
                                           "are marked # TODO with what to check.")
    source = init.add_mutually_exclusive_group()
    source.add_argument("--project-dir", type=Path, default=None, metavar="DIR",
                        help="directory holding the compose file (default: the current directory)")
    source.add_argument("--compose-file", dest="compose_files", type=Path, action="append", default=None,
                        metavar="FILE", help="compose file, repeatable like compose's -f")
    source.add_argument("--project-name", default=None, metavar="RUNNING",
                        help="a running compose project, read from its containers' labels")
    init.add_argument("--output", type=Path, default=None, metavar="PATH",
                      help="profile to write (default: stackprobe.toml in the current directory)")
    init.add_argument("--force", action="store_true", help="overwrite an existing profile")


def _add_controls(commands: Any) -> None:
    from stackprobe.listing import FORMATS

    controls = commands.add_parser("controls", help="list the control catalogue",
                                   description="The control catalogue: built-in controls and the ones of "
                                               "the profile's [catalogue] file.")
    controls.add_argument("--format", choices=FORMATS, default="text", help="text (default), json or markdown")
    controls.add_argument("--profile", type=Path, default=None, metavar="PATH",
                          help="profile whose [catalogue] extra controls to add [STACKPROBE_PROFILE, "
                               "default ./stackprobe.toml]")


def _add_report(commands: Any) -> None:
    from stackprobe.report import __main__ as report_main

    report = commands.add_parser("report", help="render a run's report again, or verify its manifest",
                                 description="Render controls.html from a run's results.json, or verify the "
                                             "run's artifacts against its manifest.")
    report_main.add_commands(report)


def parser() -> tuple[argparse.ArgumentParser, _PluginOptions]:
    top = _Parser(prog="stackprobe", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True, metavar="{run,init,controls,report}")
    options = _add_run(commands)
    _add_init(commands)
    _add_controls(commands)
    _add_report(commands)
    return top, options


def pytest_arguments(args: argparse.Namespace, options: _PluginOptions) -> list[str]:
    modules = [f"stackprobe.suites.{name}" for name in args.suites] if args.suites else ["stackprobe.suites"]
    # quiet and classic: the progress lines (stackprobe.progress) stand for pytest's dots and percentages
    return ["-p", "no:cacheprovider", "-p", "stackprobe.progress", "-q", "-o", "console_output_style=classic",
            *options.as_pytest_args(args), *args.pytest_args, "--pyargs", *modules]


def _run(args: argparse.Namespace, options: _PluginOptions) -> NoReturn:
    # pytest takes this process over: signals (Ctrl-C, SIGTERM: the stack's teardown) and the exit
    # code are pytest's own, and nothing of stackprobe is imported before pytest loads it
    command = [sys.executable, "-m", "pytest", *pytest_arguments(args, options)]
    sys.stdout.flush()
    os.execv(sys.executable, command)


def _controls(args: argparse.Namespace) -> int:
    from stackprobe import catalogue, user_catalogue
    from stackprobe.listing import render

    user_catalogue.install_for(args.profile)
    print(render(catalogue.CONTROLS, args.format))
    return 0


def _init(args: argparse.Namespace) -> int:
    from stackprobe.initprofile import init_profile

    written = init_profile(project_dir=args.project_dir, compose_files=args.compose_files,
                           project_name=args.project_name, output=args.output, force=args.force)
    print(f"stackprobe: wrote {written}; check every # TODO, then: stackprobe run --profile {written}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    top, options = parser()
    args = top.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args, options)
        if args.command == "controls":
            return _controls(args)
        if args.command == "init":
            return _init(args)
        from stackprobe.report import __main__ as report_main

        return report_main.dispatch(args)
    except StackprobeUsageError as error:
        print(f"stackprobe: {error}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
