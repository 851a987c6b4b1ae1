"""ctfsdk installs on its own: a wheel built from sdk/ goes into a fresh
virtualenv that has no Django (nor anything else), and imports there."""

import shutil
import subprocess
import sys
import venv
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "sdk"


def run(*command) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_sdk_installs_and_imports_without_the_platform(tmp_path):
    source = shutil.copytree(SDK, tmp_path / "sdk")  # builds leave files behind
    # The build backend of this interpreter: no download.
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path / "dist"),
        str(source),
    )
    (wheel,) = (tmp_path / "dist").glob("ctfsdk-*.whl")
    venv.create(tmp_path / "env", with_pip=True)
    python = str(tmp_path / "env" / "bin" / "python")

    run(python, "-m", "pip", "install", "-q", "--no-index", str(wheel))
    out = run(
        python,
        "-c",
        (
            "import sys, ctfsdk; "
            "client = ctfsdk.Client('http://127.0.0.1:9', 'ctf_x'); "
            "print(ctfsdk.__file__, 'django' in sys.modules)"
        ),
    )

    where, django = out.split()
    assert where.startswith(str(tmp_path / "env")) and django == "False"
