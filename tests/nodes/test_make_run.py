"""`make run` keeps the embedded default honest: a task submitted from the admin
returns at once and the worker beside the dev server (a broker of files, no
server) runs it. No environment, SQLite, whatever Docker the machine has."""

import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """Just enough of a browser for the admin: cookies and CSRF tokens."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as page:
            return page.read().decode()

    def post(self, path: str, data: dict, token_from: str) -> str:
        page = self.get(token_from)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token})
        with self.opener.open(self.base + path, body.encode(), timeout=30) as page:
            return page.read().decode()


def test_make_run_runs_tasks_in_a_worker_beside_the_server(tmp_path):
    port = free_port()
    log = tmp_path / "make.log"
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "HOME": str(tmp_path)}
    make = subprocess.Popen(
        ["make", "-s", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one group: make, the worker, the server
    )
    base = f"http://127.0.0.1:{port}"
    try:
        browser = Browser(base)
        deadline = time.monotonic() + 180
        while True:
            assert make.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                browser.get("/admin/login/")
                break
            except OSError:
                time.sleep(0.5)
        password = re.search(r"with password: (\S+)", log.read_text())[1]
        browser.post(
            "/admin/login/?next=/admin/",
            {"username": "admin", "password": password, "next": "/admin/"},
            token_from="/admin/login/",
        )

        started = time.monotonic()
        page = browser.post(
            "/admin/nodes/backgroundtask/submit/build_all/",
            {},
            token_from="/admin/nodes/backgroundtask/",
        )
        answered = time.monotonic() - started

        assert "(Build all) queued." in page
        assert answered < 5
        database = sqlite3.connect(tmp_path / "db.sqlite3", timeout=10)
        deadline = time.monotonic() + 120
        while True:
            status, started_at = database.execute(
                "SELECT status, started_at FROM nodes_backgroundtask "
                "WHERE kind = 'build_all'"
            ).fetchone()
            if status in ("succeeded", "partial", "failed"):
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        assert started_at is not None  # a worker picked it up and ran it
        assert 'data-status="' + status + '"' in browser.get(
            "/admin/nodes/backgroundtask/"
        )
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
