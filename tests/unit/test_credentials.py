"""The backend's database account from where the stack keeps it: a URL or two variables, from
the backend's environment before the env file, always saying which it read."""

from __future__ import annotations

from stackprobe.credentials import app_account, missing_account, parse_database_url
from stackprobe.profile import DatabaseSection

URL = "mysql+pymysql://ai_user:p%40ss%3Aw0rd@mysql:3306/ai_assistant?charset=utf8mb4"


def test_a_database_url_in_the_backend_environment() -> None:
    account = app_account(DatabaseSection(url_env="DATABASE_URL"), {"DATABASE_URL": URL}, {"MYSQL_USER": "other"})
    assert (account.user, account.password, account.database) == ("ai_user", "p@ss:w0rd", "ai_assistant")
    assert account.source == "backend environment DATABASE_URL"
    assert "p@ss" not in repr(account)


def test_variables_from_the_backend_before_the_env_file() -> None:
    cfg = DatabaseSection()
    account = app_account(cfg, {"MYSQL_USER": "app"}, {"MYSQL_USER": "file", "MYSQL_PASSWORD": "pw",
                                                       "MYSQL_DATABASE": "db"})
    assert (account.user, account.password, account.database, account.source) == ("app", "pw", "db",
                                                                                   "backend environment MYSQL_USER")
    assert app_account(cfg, {}, {"MYSQL_USER": "file"}).source == "env file MYSQL_USER"


def test_a_url_variable_that_is_not_set_falls_back_to_the_variables() -> None:
    account = app_account(DatabaseSection(url_env="DATABASE_URL"), {"MYSQL_USER": "app"}, {})
    assert account.user == "app"


def test_no_account_is_one_line_with_the_fix() -> None:
    cfg = DatabaseSection()
    assert app_account(cfg, {"DATABASE_URL": URL}, {}).user == ""
    message = missing_account(cfg)
    assert message.startswith("found no database account for the backend: neither its environment nor the env "
                              "file has MYSQL_USER")
    assert 'set [database] url_env (e.g. "DATABASE_URL")' in message and "\n" not in message


def test_parse_database_url_without_parts() -> None:
    assert parse_database_url("sqlite:///") == ("", "", "")


def test_mariadb_and_mysql_names_are_one_variable() -> None:
    from stackprobe.credentials import lookup_variable, variable_names

    assert variable_names("MYSQL_PASSWORD") == ("MYSQL_PASSWORD", "MARIADB_PASSWORD")
    assert variable_names("MARIADB_ROOT_PASSWORD") == ("MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD")
    assert variable_names("MYSQL_ALLOW_EMPTY_PASSWORD") == ("MYSQL_ALLOW_EMPTY_PASSWORD",
                                                            "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD")
    assert variable_names("DB_PASSWORD") == ("DB_PASSWORD",)
    # the profile's own name first, then its twin
    assert lookup_variable("MYSQL_USER", {"MARIADB_USER": "ctfd"}) == ("ctfd", "MARIADB_USER")
    assert lookup_variable("MYSQL_USER", {"MARIADB_USER": "b", "MYSQL_USER": "a"}) == ("a", "MYSQL_USER")
    account = app_account(DatabaseSection(), {"MARIADB_USER": "ctfd"}, {"MARIADB_PASSWORD": "pw",
                                                                         "MARIADB_DATABASE": "ctfd"})
    assert (account.user, account.password, account.database, account.source) == (
        "ctfd", "pw", "ctfd", "backend environment MARIADB_USER")


def test_a_target_reads_a_variable_inline_in_compose_from_the_service(tmp_path: object) -> None:
    """No env file: the profile's variables are read from the database container's environment."""
    from pathlib import Path
    from typing import Any

    from stackprobe.profile import Profile
    from stackprobe.targets.base import Target

    class Container:
        def __init__(self, env: list[str]) -> None:
            self.env = env
            self.inspected = 0

        def inspect(self) -> dict[str, Any]:
            self.inspected += 1
            return {"Config": {"Env": self.env}}

    db = Container(["MARIADB_ROOT_PASSWORD=r00t-pw", "MARIADB_DATABASE=ctfd", "PATH=/bin"])

    class Inline(Target):
        def services(self) -> dict[str, Any]:  # type: ignore[override]
            return {"mysql": db}

    target = Inline(Profile(), "p", Path("."), [], [], {"MYSQL_USER": "from-file"})
    assert target.variable("MYSQL_USER", "mysql") == "from-file"  # the env file first
    assert target.variable("MYSQL_ROOT_PASSWORD", "mysql") == "r00t-pw"
    assert target.database_name() == "ctfd" and db.inspected == 1  # read once
    assert target.variable("MYSQL_PASSWORD", "mysql") == "" and target.variable("X") == ""


def test_a_docker_secret_is_read_where_no_variable_holds_the_value() -> None:
    """`NAME_FILE` naming a file in the backend's container (the official images' convention):
    read through the reader given, after the environment and the env file, and named as such."""
    read: list[str] = []

    def reader(path: str) -> str:
        read.append(path)
        return {"/run/secrets/db_password": "s3cret-from-file", "/run/secrets/db_url": ""}.get(path, "")

    env = {"MYSQL_USER": "app", "MARIADB_PASSWORD_FILE": "/run/secrets/db_password"}
    account = app_account(DatabaseSection(), env, {}, reader)
    assert (account.user, account.password) == ("app", "s3cret-from-file")
    assert (account.source, account.password_source) == (
        "backend environment MYSQL_USER", "backend secret file MARIADB_PASSWORD_FILE=/run/secrets/db_password")
    assert read == ["/run/secrets/db_password"]
    # a value in the environment wins, and the file is then never read
    read.clear()
    assert app_account(DatabaseSection(), {**env, "MYSQL_PASSWORD": "inline"}, {}, reader).password == "inline"
    assert read == []
    # a URL kept as a secret: its source names the file, never its content
    url = app_account(DatabaseSection(url_env="DATABASE_URL"), {"DATABASE_URL_FILE": "/run/secrets/url"}, {},
                      lambda path: "mysql+pymysql://board:pw@db/board")
    assert (url.user, url.database, url.source) == ("board", "board",
                                                    "backend secret file DATABASE_URL_FILE=/run/secrets/url")
    # without a reader, or a file that cannot be read, no account
    assert app_account(DatabaseSection(), {"MYSQL_PASSWORD_FILE": "/run/secrets/x"}, {}).password == ""
    assert app_account(DatabaseSection(), {"MYSQL_PASSWORD_FILE": "/run/secrets/db_url"}, {}, reader).password == ""
