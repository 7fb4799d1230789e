"""zxcvbn's word lists (common passwords, words, names), as the secret checks and the redactor
ask them: which list holds a value whole, named by kind (never the word itself)."""

from __future__ import annotations

from zxcvbn.matching import RANKED_DICTIONARIES, build_ranked_dict

# What operators put in the secrets they type: software, roles, environments and the words that
# join them ("ai_assistant_mysql_pw_2024", "my-company-secret-key-for-jwt-signing-2024"). zxcvbn's
# lists hold none of "pw", "jwt", "api" or "mysql"'s neighbours at a rank that prices them as
# what they are: an attacker's first guesses for a deployment. Most likely first (the rank is
# the number of guesses a word costs).
DEPLOYMENT_WORDS = (
    "password", "pass", "pw", "pwd", "passwd", "secret", "key", "token", "admin", "root", "user", "db",
    "mysql", "mariadb", "postgres", "postgresql", "pg", "redis", "mongo", "mongodb", "sql", "database",
    "app", "api", "jwt", "web", "backend", "frontend", "server", "service", "prod", "production", "dev",
    "staging", "stage", "test", "demo", "local", "docker", "compose", "k8s", "kube", "cluster", "my",
    "our", "the", "for", "of", "and", "new", "default", "changeme", "change", "me", "company", "corp",
    "team", "signing", "sign", "auth", "login", "session", "cookie", "cache", "queue", "worker",
    "celery", "rabbitmq", "rabbit", "kafka", "nginx", "django", "flask", "fastapi", "rails", "laravel",
    "node", "express", "spring", "ai", "assistant", "llm", "gpt", "chat", "bot", "vector", "chroma",
    "mail", "smtp", "s3", "aws", "gcp", "azure", "cloud", "vault", "access", "private", "public",
    "internal", "master", "main", "encryption", "encrypt", "salt", "hash", "hmac", "crypto", "cert",
    "ssl", "tls", "super", "very", "long", "strong", "random", "secure", "safe", "site", "portal",
    "store", "shop", "data", "storage", "backup", "monitor", "metrics", "grafana", "prometheus",
    "elastic", "search", "minio", "keycloak", "ldap", "oauth", "client", "id", "env", "config",
    "settings", "host", "port", "readonly", "ro", "rw", "write", "read", "owner", "system", "sys",
    "svc", "srv", "pwd1", "pass1", "v1", "v2",
)
DEPLOYMENT = build_ranked_dict(DEPLOYMENT_WORDS)

DICTIONARY_KINDS = {
    "passwords": "common password",
    "english_wikipedia": "English word",
    "us_tv_and_film": "common word",
    "female_names": "first name",
    "male_names": "first name",
    "surnames": "surname",
    "deployment": "deployment word (software, role or environment)",
    "user_inputs": "name used elsewhere in the stack (service, user, database or project)",
}


def common_password_list(value: str) -> str | None:
    """The zxcvbn list that holds `value` as a whole (case-insensitive), e.g. "common password"."""
    folded = value.strip().casefold()
    for name, ranked in RANKED_DICTIONARIES.items():
        if name != "user_inputs" and folded in ranked:
            return DICTIONARY_KINDS.get(name, "dictionary word")
    return None
