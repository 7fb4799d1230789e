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
