"""Nodes' organizer routes: the rescan, builds and pulls as tasks (202 with the
record), the task list and record, build and pull state per challenge and per
node, and the nodes with their health check; on real engines where it builds."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import token_create
from audit.models import EventLog, EventType
from challenges.models import Challenge, Competition
from nodes.models import BackgroundTask, Node, TaskKind, TaskStatus
from tests.challenges.factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    spec,
    write_spec,
)

# Tasks run in process once their row is committed: no test transaction.
pytestmark = pytest.mark.usefixtures("fast_password_hashing", "transactional_db")
A = "/api/v1/admin/"


@pytest.fixture
def staff(organizer) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_create(user=organizer)[1]}")


def post(api, url, body=None, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.post(
        f"{url}?{query}" if query else url, body or {}, content_type="application/json"
    )


def test_a_rescan_is_a_task_that_reloads_the_catalog_and_is_audited(
    staff, organizer, tmp_path, settings
):
    root = tmp_path / "catalog"
    write_spec(root, "web/login", spec("Login", category="web"))
    write_spec(root, "web/broken", "name: Broken\nvalue: lots\n")
    settings.CATALOG_DIR = root

    answer = post(staff, A + "challenges/rescan")

    assert answer.status_code == 202
    task = answer.json()
    assert (task["kind"], task["created_by"]) == ("rescan", "orga")
    # Tests run tasks in process: it is finished by the time it answers.
    assert task["status"] == "succeeded"
    report = task["result"]["catalog"]
    assert report["added"] == ["web/login"]
    assert {r["path"] for r in report["rejected"]} == {"web/broken/challenge.yml"}
    assert Challenge.objects.filter(name="Login").exists()
    assert (
        EventLog.objects.get(event_type=EventType.CATALOG_RESCANNED).actor == organizer
    )
    assert staff.get(A + f"tasks/{task['id']}").json() == task


def test_a_dry_run_answers_the_report_and_changes_nothing(staff, tmp_path, settings):
    root = tmp_path / "catalog"
    write_spec(root, "web/login", spec("Login", category="web"))
    settings.CATALOG_DIR = root

    answer = post(staff, A + "challenges/rescan", {"dry_run": True})

    assert answer.status_code == 200
    assert answer.json()["added"] == ["web/login"] and answer.json()["dry_run"]
    assert not Challenge.objects.exists() and not BackgroundTask.objects.exists()
    refused = post(staff, A + "challenges/rescan", {"dry_run": "often"})
    assert refused.status_code == 400 and "dry_run" in refused.json()["fields"]


def test_builds_and_pulls_are_tasks_with_their_parameters(staff, tmp_path, settings):
    write_spec(tmp_path / "c", "web/login", spec("Login", category="web"))
    settings.CATALOG_DIR = tmp_path / "c"
    post(staff, A + "challenges/rescan")
    login = Challenge.objects.get(name="Login")
    finals = Competition.objects.create(name="Finals", slug="finals")

    build = post(staff, A + f"challenges/{login.pk}/build")
    pull = post(staff, A + f"challenges/{login.pk}/pull")
    build_all = post(staff, A + "challenges/build-all", competition_id=finals.pk)
    pull_all = post(staff, A + "challenges/pull-all")

    assert {build.status_code, pull.status_code, build_all.status_code} == {202}
    assert (build.json()["kind"], build.json()["parameters"]) == (
        "build",
        {"challenges": [login.pk]},
    )
    assert pull.json()["parameters"] == {"challenges": [login.pk]}
    assert build_all.json()["parameters"] == {"competition": finals.pk}
    assert (pull_all.status_code, pull_all.json()["parameters"]) == (202, {})
    # No node: the task says so, the request does not fail.
    assert build.json()["status"] == "failed"
    assert "No node is enabled" in build.json()["error"]
    unknown = post(staff, A + "challenges/build-all", competition_id=999999)
    assert unknown.status_code == 400 and "competition_id" in unknown.json()["fields"]
    assert post(staff, A + "challenges/999999/pull").status_code == 404
    assert BackgroundTask.objects.count() == 5


def test_the_task_list_filters_by_kind_and_status(staff):
    BackgroundTask.objects.create(kind=TaskKind.BUILD, status=TaskStatus.FAILED)
    BackgroundTask.objects.create(kind=TaskKind.PULL, status=TaskStatus.SUCCEEDED)
    BackgroundTask.objects.create(kind=TaskKind.BUILD, status=TaskStatus.SUCCEEDED)

    def kinds(**params):
        page = staff.get(A + "tasks", params).json()
        return [(t["kind"], t["status"]) for t in page["items"]]

    assert kinds() == [
        ("build", "succeeded"),
        ("pull", "succeeded"),
        ("build", "failed"),
    ]
    assert kinds(kind="build") == [("build", "succeeded"), ("build", "failed")]
    assert kinds(status="failed") == [("build", "failed")]
    assert staff.get(A + "tasks", {"status": "done"}).json()["fields"]["status"]
    assert staff.get(A + "tasks/999999").status_code == 404


def test_the_task_list_costs_the_same_queries_for_one_task_or_many(staff):
    node = Node.objects.create(name="n1", url="unix:///run/n1.sock")
    challenge = Challenge.objects.create(identity="web/one", name="One")

    def task_with_outcomes():
        task = BackgroundTask.objects.create(kind=TaskKind.BUILD, total=1)
        task.outcomes.create(node=node, challenge=challenge)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page = staff.get(A + "tasks").json()
        assert all(t["nodes"]["n1"]["outcomes"] for t in page["items"])
        return len(captured)

    task_with_outcomes()
    queries()  # the token is cached from here on
    one = queries()
    for _ in range(4):
        task_with_outcomes()
    assert queries() == one


# On real engines.


def test_a_build_through_the_api_shows_in_the_build_state(
    daemons, alpha, beta, catalog, staff
):
    catalog.challenge("pwn/echo")
    catalog.write("misc/quiz/challenge.yml", spec("Quiz", category="misc"))
    catalog.rescan()
    echo = Challenge.objects.get(identity="pwn/echo")
    before = staff.get(A + "challenges/build-state").json()

    task = post(staff, A + f"challenges/{echo.pk}/build").json()
    after = staff.get(A + "challenges/build-state").json()

    assert {r["challenge"]: r["status"] for r in before["items"]} == {
        "Echo": "pending",
        "Quiz": "none",
    }
    assert task["status"] == "succeeded" and set(task["nodes"]) == {"alpha", "beta"}
    assert task["nodes"]["alpha"]["outcomes"][0]["message"] == "built 1 image(s)"
    (row,) = [r for r in after["items"] if r["challenge"] == "Echo"]
    assert (row["kind"], row["status"]) == ("build", "built")
    assert [(n["node"], n["status"]) for n in row["nodes"]] == [
        ("alpha", "built"),
        ("beta", "built"),
    ]
    assert row["nodes"][0]["images"]["challenge"]["id"].startswith("sha256:")
    built = staff.get(A + "challenges/build-state", {"status": "built"}).json()
    assert [r["challenge"] for r in built["items"]] == ["Echo"]
    assert staff.get(A + "challenges/pull-state").json()["items"][0]["status"] == (
        "none"
    )


def test_a_pull_through_the_api_shows_in_the_pull_state(
    alpha, catalog, registry_image, staff
):
    catalog.pulled("misc/box", registry_image)
    catalog.rescan()

    task = post(staff, A + "challenges/pull-all").json()
    state = staff.get(A + "challenges/pull-state").json()["items"]

    assert (task["kind"], task["status"]) == ("pull_all", "succeeded")
    assert [(r["challenge"], r["status"]) for r in state] == [("Box", "pulled")]
    assert state[0]["nodes"][0]["node"] == "alpha"


def test_nodes_are_listed_and_checked(alpha, staff):
    dead = Node.objects.create(name="zulu", url="unix:///nonexistent/zulu.sock")

    listed = staff.get(A + "nodes").json()
    checked = post(staff, A + f"nodes/{dead.pk}/check")
    alive = post(staff, A + f"nodes/{alpha.pk}/check").json()

    assert [(n["name"], n["status"]) for n in listed["items"]] == [
        ("alpha", "online"),
        ("zulu", "unknown"),
    ]
    assert checked.status_code == 200 and checked.json()["status"] == "offline"
    assert checked.json()["detail"]
    assert alive["status"] == "online" and alive["engine_version"]
    assert "tls_key" not in alive
    assert staff.get(A + "nodes", {"status": "offline"}).json()["total"] == 1
    assert staff.get(A + "nodes", {"enabled": "false"}).json()["total"] == 0
    assert post(staff, A + "nodes/999999/check").status_code == 404
