"""Configuration: typed environment readers, system checks, refusal to start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from ctfplatform.env import (
    env_bool,
    env_database,
    env_email,
    env_int,
    env_url,
    parse_database_url,
)

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, env: dict, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with only `env` (plus PATH) as environment."""
    clean = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("", False),
    ],
)
def test_it_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)
    assert env_bool("DEBUG") is expected


def test_it_names_a_malformed_boolean(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG")


def test_it_names_a_malformed_integer(monkeypatch):
    monkeypatch.setenv("PORT", "80a")
    with pytest.raises(ImproperlyConfigured, match="PORT='80a' is not an integer"):
        env_int("PORT", 8000)
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ImproperlyConfigured, match="above the maximum 65535"):
        env_int("PORT", 8000, maximum=65535)


def test_it_parses_a_postgres_url():
    db = parse_database_url(
        "DATABASE_URL", "postgres://ctf:s%40cret@db.local:5433/ctf?sslmode=require"
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "ctf",
        "s@cret",
        "db.local",
        "5433",
        "ctf",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_it_parses_a_unix_socket_url():
    db = parse_database_url("DATABASE_URL", "postgresql:///ctf?host=/run/postgresql")
    assert db["HOST"] == "/run/postgresql" and db["NAME"] == "ctf"


def test_it_defaults_to_sqlite(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    db = env_database("DATABASE_URL", tmp_path / "db.sqlite3")
    assert db == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "db.sqlite3"),
    }


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://u@h/db", "unsupported scheme 'mysql'"),
        ("postgres://u@h:port/db", "invalid port"),
        ("postgres://u@h:5432/", "names no database"),
        ("sqlite://", "names no SQLite file"),
    ],
)
def test_it_names_a_bad_database_url(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        parse_database_url("DATABASE_URL", url)


def test_it_names_a_bad_redis_url(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL='localhost:6379' must"):
        env_url("REDIS_URL", {"redis", "rediss"})


def test_a_bad_database_url_stops_the_process_with_its_name(tmp_path):
    result = run_manage(
        "check",
        env={
            "DEBUG": "true",
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": "mysql://root@localhost/ctf",
        },
    )
    assert result.returncode != 0
    assert "DATABASE_URL='mysql://root@localhost/ctf' has an unsupported scheme" in (
        result.stderr
    )


def test_a_bad_boolean_stops_the_process_with_its_name(tmp_path):
    result = run_manage("check", env={"DEBUG": "yes please", "VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG='yes please' is not a boolean" in result.stderr


def test_it_refuses_default_secrets_outside_debug(tmp_path):
    result = run_manage("check", env={"VAR_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "ctfplatform.E001" in result.stderr
    assert "ctfplatform.E002" in result.stderr


def test_it_refuses_a_default_flag_secret_alone(tmp_path):
    result = run_manage("check", env={"VAR_DIR": str(tmp_path), "SECRET_KEY": "x" * 50})
    assert result.returncode == 1
    assert "ctfplatform.E002" in result.stderr
    assert "ctfplatform.E001" not in result.stderr


def test_the_wsgi_entry_point_refuses_default_secrets(tmp_path):
    clean = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import ctfplatform.wsgi"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ctfplatform.E001" in result.stderr


def test_it_starts_with_real_secrets_outside_debug(tmp_path):
    result = run_manage(
        "check",
        env={
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": "k" * 50,
            "FLAG_SECRET": "f" * 50,
        },
    )
    assert result.returncode == 0, result.stderr
    assert "ctfplatform.W003" in result.stderr  # SQLite outside debug: a warning


def test_debug_mode_allows_the_defaults(tmp_path):
    result = run_manage("check", env={"VAR_DIR": str(tmp_path), "DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_it_reads_smtp_from_email_url(monkeypatch):
    monkeypatch.setenv(
        "EMAIL_URL", "smtp+tls://ctf%40example.org:s%3Acret@mail.example.org"
    )
    assert env_email() == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "ctf@example.org",
        "EMAIL_HOST_PASSWORD": "s:cret",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }
    monkeypatch.setenv("EMAIL_URL", "smtps://mail.example.org")
    assert env_email()["EMAIL_PORT"] == 465 and env_email()["EMAIL_USE_SSL"]


def test_it_reads_smtp_from_the_usual_variables(monkeypatch):
    monkeypatch.setenv("EMAIL_HOST", "mail.example.org")
    monkeypatch.setenv("EMAIL_PORT", "2525")
    monkeypatch.setenv("EMAIL_USE_TLS", "true")
    email = env_email()
    assert (email["EMAIL_HOST"], email["EMAIL_PORT"], email["EMAIL_USE_TLS"]) == (
        "mail.example.org",
        2525,
        True,
    )


def test_mail_goes_to_the_console_by_default(monkeypatch):
    monkeypatch.delenv("EMAIL_URL", raising=False)
    monkeypatch.delenv("EMAIL_HOST", raising=False)
    assert env_email() == {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"
    }


@pytest.mark.parametrize(
    "env, message",
    [
        ({"EMAIL_URL": "imap://mail.example.org"}, "unsupported scheme 'imap'"),
        ({"EMAIL_URL": "smtp://mail.example.org:twenty"}, "invalid port"),
        ({"EMAIL_URL": "smtp://"}, "names no host"),
        ({"EMAIL_URL": "console://", "EMAIL_HOST": "x"}, "not both"),
        ({"EMAIL_HOST": "x", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "exclude"),
    ],
)
def test_it_names_bad_mail_settings(monkeypatch, env, message):
    for name in ("EMAIL_URL", "EMAIL_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_email()
