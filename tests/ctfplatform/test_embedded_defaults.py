"""Smoke test of `make run`: no environment, SQLite, local cache, eager Celery."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_platform_runs_with_no_environment(tmp_path):
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "DEBUG": "true"}

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--noinput")
    assert (tmp_path / "db.sqlite3").exists()
    first = manage("ensure_admin")
    assert "Created superuser 'admin' with password:" in first
    assert "password:" not in manage("ensure_admin")  # shown once, data kept

    probe = manage(
        "shell",
        "-c",
        "import json; from django.conf import settings; "
        "from ctfplatform import celery_app as a; print(json.dumps(["
        "settings.DATABASES['default']['ENGINE'], "
        "settings.CACHES['default']['BACKEND'], "
        "a.conf.task_always_eager, a.conf.task_serializer]))",
    )
    assert json.loads(probe.strip().splitlines()[-1]) == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        True,
        "json",
    ]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/accounts/login/", timeout=5
                ) as page:
                    assert page.status == 200
                    assert b"Log in" in page.read()
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
