"""An installation on embedded defaults in a folder of its own: `manage.py`
commands and a dev server as separate processes, as `make run` has them."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Install:
    """VAR_DIR (and so the database and the cache) under `var_dir`."""

    def __init__(self, var_dir: Path, **env: str) -> None:
        self.env = {
            "PATH": os.environ["PATH"],
            "VAR_DIR": str(var_dir),
            "DEBUG": "true",
            **env,
        }
        self.url = ""

    def manage(self, *args: str) -> str:
        """Run one command in a new process; return its output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code)

    @contextmanager
    def server(self, *, output=subprocess.DEVNULL):
        """A dev server on a free port, up until the block ends."""
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"]
            + ["--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT if output is not subprocess.DEVNULL else output,
        )
        self.url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    self.get("/accounts/login/")
                    break
                except OSError:
                    assert process.poll() is None, "the server stopped"
                    assert time.monotonic() < deadline, "the server did not come up"
                    time.sleep(0.3)
            yield self
        finally:
            process.terminate()
            process.wait(timeout=30)

    def request(
        self, path: str, *, data: dict | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        """(status, body) of a GET, or of a JSON POST when `data` is given."""
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(  # noqa: S310 (our own server)
            self.url + path,
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get(self, path: str, **kwargs) -> bytes:
        status, body = self.request(path, **kwargs)
        assert status == 200, (path, status, body[:300])
        return body
