"""Smoke test of `make run`: no environment, SQLite, the shared file cache,
eager Celery."""

import json

from .embedded import Install


def test_the_platform_runs_with_no_environment(tmp_path):
    install = Install(tmp_path)
    install.manage("migrate", "--noinput")
    assert (tmp_path / "db.sqlite3").exists()
    first = install.manage("ensure_admin")
    assert "Created superuser 'admin' with password:" in first
    assert "password:" not in install.manage("ensure_admin")  # shown once, data kept

    probe = install.shell(
        "import json; from django.conf import settings; "
        "from ctfplatform import celery_app as a; print(json.dumps(["
        "settings.DATABASES['default']['ENGINE'], "
        "settings.CACHES['default']['BACKEND'], "
        "settings.CACHES['default']['LOCATION'], "
        "settings.EMAIL_BACKEND, "
        "a.conf.task_always_eager, a.conf.task_serializer]))",
    )
    assert json.loads(probe.strip().splitlines()[-1]) == [
        "django.db.backends.sqlite3",
        "ctfplatform.cache.SharedFileCache",
        str(tmp_path / "cache"),
        "django.core.mail.backends.console.EmailBackend",
        True,
        "json",
    ]

    with install.server():
        assert b"Log in" in install.get("/accounts/login/")
