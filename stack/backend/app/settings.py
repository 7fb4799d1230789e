"""Settings read once from the environment, as docker-compose.yml passes them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import quote_plus


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    mysql_host: str = field(default_factory=lambda: os.environ.get("MYSQL_HOST", "mysql"))
    mysql_port: int = field(default_factory=lambda: int(os.environ.get("MYSQL_PORT", "3306")))
    mysql_database: str = field(default_factory=lambda: os.environ.get("MYSQL_DATABASE", "ai_assistant"))
    mysql_user: str = field(default_factory=lambda: os.environ.get("MYSQL_USER", "ai_user"))
    mysql_password: str = field(default_factory=lambda: os.environ.get("MYSQL_PASSWORD", ""))
    redis_host: str = field(default_factory=lambda: os.environ.get("REDIS_HOST", "redis"))
    redis_port: int = field(default_factory=lambda: int(os.environ.get("REDIS_PORT", "6379")))
    redis_password: str = field(default_factory=lambda: os.environ.get("REDIS_PASSWORD", ""))
    secret_key: str = field(default_factory=lambda: os.environ.get("SECRET_KEY", ""))
    bcrypt_rounds: int = field(default_factory=lambda: int(os.environ.get("BCRYPT_ROUNDS", "12")))
    dashscope_api_key: str = field(default_factory=lambda: os.environ.get("DASHSCOPE_API_KEY", ""))
    environment: str = field(default_factory=lambda: os.environ.get("ENVIRONMENT", "production"))
    debug: bool = field(default_factory=lambda: _flag(os.environ.get("DEBUG", "False")))
    log_level: str = field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO").upper())
    log_file: str = field(default_factory=lambda: os.environ.get("LOG_FILE", "/app/logs/app.log"))
    log_max_bytes: int = field(default_factory=lambda: int(os.environ.get("LOG_MAX_BYTES", "10485760")))
    log_backup_count: int = field(default_factory=lambda: int(os.environ.get("LOG_BACKUP_COUNT", "10")))
    workers: int = field(default_factory=lambda: int(os.environ.get("WEB_CONCURRENCY", "2")))
    probe_timeout: float = field(default_factory=lambda: float(os.environ.get("HEALTH_PROBE_TIMEOUT", "2")))
    uploads_dir: str = field(default_factory=lambda: os.environ.get("UPLOADS_DIR", "/app/uploads"))
    vector_db_dir: str = field(default_factory=lambda: os.environ.get("VECTOR_DB_DIR", "/app/vector_db"))
    vector_socket: str = field(default_factory=lambda: os.environ.get("VECTOR_SOCKET", "/tmp/vector-store.sock"))
    metrics_port: int = field(default_factory=lambda: int(os.environ.get("METRICS_PORT", "9090")))

    @property
    def database_url(self) -> str:
        # Never logged: it carries the password.
        return (
            f"mysql+pymysql://{quote_plus(self.mysql_user)}:{quote_plus(self.mysql_password)}"
            f"@{self.mysql_host}:{self.mysql_port}/{self.mysql_database}?charset=utf8mb4"
        )

    @property
    def secret_values(self) -> list[str]:
        """Every secret this process knows, for the log redaction filter."""
        candidates = [
            self.mysql_password,
            self.redis_password,
            self.secret_key,
            self.dashscope_api_key,
            os.environ.get("MYSQL_ROOT_PASSWORD", ""),
        ]
        found = [c for c in candidates if len(c) >= 4]
        found += [quote_plus(c) for c in found if quote_plus(c) != c]
        return sorted(set(found), key=len, reverse=True)


settings = Settings()
