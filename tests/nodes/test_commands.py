"""`manage.py build` and `manage.py pull`: --wait, --json, exit codes, errors."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from challenges.models import Challenge, Competition
from nodes.models import BackgroundTask


def run(command: str, *args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command(command, *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_build_wait_json_prints_the_finished_record(alpha, catalog):
    catalog.challenge("pwn/echo", name="Echo")
    catalog.rescan()

    status, output = run("build", "pwn/echo", "--wait", "--json")

    record = json.loads(output)
    assert status == 0
    assert (record["kind"], record["status"], record["progress"]) == (
        "build",
        "succeeded",
        {"done": 1, "total": 1},
    )
    [outcome] = record["nodes"]["alpha"]["outcomes"]
    assert (outcome["challenge"], outcome["message"]) == ("Echo", "built 1 image(s)")


def test_build_by_name_and_id_reports_per_node(alpha, catalog):
    catalog.challenge("pwn/echo", name="Echo")
    catalog.challenge("pwn/other", name="Other")
    catalog.rescan()
    other = Challenge.objects.get(identity="pwn/other")

    status, output = run("build", "echo", str(other.pk), "--wait")

    lines = output.splitlines()
    assert status == 0
    assert lines[0].startswith("Task #") and lines[0].endswith("(Build) submitted.")
    assert "succeeded  alpha  Echo: built 1 image(s)" in output
    assert "succeeded  alpha  Other: built 1 image(s)" in output
    assert lines[-1].endswith(": succeeded, 2/2.")


def test_a_failed_build_exits_1_with_wait(alpha, catalog):
    catalog.challenge("pwn/broken", steps='RUN ["/bin/false"]')
    catalog.rescan()

    status, output = run("build", "--all", "--wait")

    assert status == 1
    assert "failed  alpha  Broken: The command" in output


def test_pull_of_a_competition_without_images_succeeds(alpha, catalog):
    catalog.challenge("pwn/echo")
    catalog.rescan()
    competition = Competition.objects.default()

    status, output = run(
        "pull", "--competition", str(competition.pk), "--wait", "--json"
    )

    record = json.loads(output)
    assert (status, record["status"], record["progress"]["total"]) == (
        0,
        "succeeded",
        0,
    )
    assert record["parameters"] == {"competition": competition.pk}


def test_the_commands_refuse_bad_arguments(db):
    with pytest.raises(CommandError, match="No challenge is 'nope'"):
        run("build", "nope")
    with pytest.raises(CommandError, match="Name challenges to build, or give"):
        run("build")
    with pytest.raises(CommandError, match="Name challenges to pull, or give"):
        run("pull", "x", "--all")
    with pytest.raises(CommandError, match="no competition with id 999"):
        run("pull", "--competition", "999")
    assert not BackgroundTask.objects.exists()
