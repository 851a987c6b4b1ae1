"""Building challenges on real engines: fan-out to every node, tags by content
hash (an unchanged challenge is not rebuilt, a changed context is), a
competition's challenge set, and failures that stay with their challenge."""

import shutil

from challenges.models import Challenge, Competition
from nodes.models import (
    BackgroundTask,
    ImageKind,
    ImageStatus,
    NodeChallengeState,
    OutcomeStatus,
    TaskKind,
    TaskStatus,
)
from nodes.plans import LABEL_HASH
from nodes.selectors import task_record
from nodes.services.tasks import task_submit


def challenge(identity: str) -> Challenge:
    return Challenge.objects.get(identity=identity)


def build(*identities: str) -> BackgroundTask:
    task = task_submit(
        kind=TaskKind.BUILD, challenge_ids=[challenge(i).pk for i in identities]
    )
    task.refresh_from_db()
    return task


def state(node, identity: str) -> NodeChallengeState:
    return NodeChallengeState.objects.get(
        node=node, challenge__identity=identity, kind=ImageKind.BUILD
    )


def outcome_messages(task: BackgroundTask) -> dict[tuple[str, str], str]:
    return {
        (o.node.name, o.challenge.identity): (o.status, o.message)
        for o in task.outcomes.select_related("node", "challenge")
    }


def test_it_builds_a_challenge_on_every_node(daemons, alpha, beta, catalog):
    catalog.challenge("pwn/echo")
    catalog.rescan()

    task = build("pwn/echo")

    assert (task.status, task.done, task.total) == (TaskStatus.SUCCEEDED, 2, 2)
    for node in (alpha, beta):
        row = state(node, "pwn/echo")
        assert row.status == ImageStatus.BUILT
        tag, image = row.images["challenge"]["ref"], row.images["challenge"]["id"]
        assert tag == f"ctfplatform/pwn/echo/challenge:{row.content_hash[:16]}"
        # The engine itself has it, labelled with the full hash.
        assert daemons[node.name].image_ids()[tag] == image
        labels = daemons[node.name].docker(
            "inspect", "--format", "{{json .Config.Labels}}", tag
        )
        assert f'"{LABEL_HASH}":"{row.content_hash}"' in labels
    record = task_record(task)
    assert record["status"] == "succeeded"
    assert record["progress"] == {"done": 2, "total": 2}
    assert set(record["nodes"]) == {"alpha", "beta"}
    assert record["nodes"]["beta"]["outcomes"][0]["message"] == "built 1 image(s)"


def test_an_unchanged_challenge_is_not_rebuilt_and_a_changed_one_is(
    daemons, alpha, catalog
):
    catalog.challenge("pwn/echo", files={".dockerignore": "notes.txt\n"})
    catalog.write("pwn/echo/notes.txt", "draft")
    catalog.rescan()
    build("pwn/echo")
    first = state(alpha, "pwn/echo").images["challenge"]

    again = build("pwn/echo")
    catalog.write("pwn/echo/notes.txt", "ignored by .dockerignore")
    ignored = build("pwn/echo")

    assert outcome_messages(again)[("alpha", "pwn/echo")] == (
        OutcomeStatus.SUCCEEDED,
        "up to date: nothing rebuilt",
    )
    assert outcome_messages(ignored)[("alpha", "pwn/echo")][1] == (
        "up to date: nothing rebuilt"
    )
    assert state(alpha, "pwn/echo").images["challenge"] == first

    catalog.write("pwn/echo/nonce", "changed source")
    changed = build("pwn/echo")

    assert outcome_messages(changed)[("alpha", "pwn/echo")][1] == "built 1 image(s)"
    now = state(alpha, "pwn/echo").images["challenge"]
    assert now["ref"] != first["ref"] and now["id"] != first["id"]
    content = daemons["alpha"].docker("run", "--rm", now["ref"], "cat", "/nonce")
    assert content == "changed source"


def test_build_all_of_a_competition_builds_its_challenge_set(alpha, catalog):
    catalog.challenge("web/a", category="web")
    catalog.challenge("web/b", category="web")
    catalog.challenge("pwn/c", category="pwn")
    catalog.write(
        "misc/static/challenge.yml",
        "name: Static\ncategory: web\nvalue: 1\ntype: standard\nflags: [x]\n",
    )
    catalog.rescan()
    web = Competition.objects.create(
        name="Web day", slug="web-day", include_all=False, include_categories=["web"]
    )

    task = task_submit(kind=TaskKind.BUILD_ALL, competition_id=web.pk)
    task.refresh_from_db()

    assert task.status == TaskStatus.SUCCEEDED
    assert task.params == {"competition": web.pk}
    # The static challenge has nothing to build; pwn/c is not in the set.
    assert sorted(outcome_messages(task)) == [("alpha", "web/a"), ("alpha", "web/b")]
    assert state(alpha, "pwn/c").status == ImageStatus.PENDING  # from the rescan


def test_build_all_without_a_competition_builds_the_whole_catalog(alpha, catalog):
    catalog.challenge("web/a", category="web")
    catalog.challenge("pwn/c", category="pwn")
    catalog.rescan()

    task = task_submit(kind=TaskKind.BUILD_ALL)
    task.refresh_from_db()

    assert task.status == TaskStatus.SUCCEEDED
    assert sorted(outcome_messages(task)) == [("alpha", "pwn/c"), ("alpha", "web/a")]


def test_a_bad_challenge_fails_alone_with_the_docker_error(
    alpha, beta, catalog, registry
):
    catalog.challenge("pwn/good")
    catalog.challenge("pwn/broken", steps='RUN ["/bin/sh", "-c", "echo oops; exit 3"]')
    catalog.challenge("pwn/no-base")
    catalog.write("pwn/no-base/Dockerfile", f"FROM {registry}/no/such-image:1\n")
    catalog.challenge(
        "web/gone",
        compose="services:\n  web:\n    build: ./web\n",
        files={"web/Dockerfile": "FROM scratch\nCOPY . /\n"},
    )
    catalog.rescan()
    shutil.rmtree(catalog.root / "web/gone/web")  # the folder vanished since

    task = build("pwn/good", "pwn/broken", "pwn/no-base", "web/gone")

    assert task.status == TaskStatus.PARTIAL
    assert task.error.startswith("6 of 8 failed; first: ")
    results = outcome_messages(task)
    for node in ("alpha", "beta"):
        assert results[(node, "pwn/good")][0] == OutcomeStatus.SUCCEEDED
        assert "returned a non-zero code: 3" in results[(node, "pwn/broken")][1]
        assert "no/such-image" in results[(node, "pwn/no-base")][1]
        assert "build context 'web' does not exist" in results[(node, "web/gone")][1]
    broken = state(alpha, "pwn/broken")
    assert broken.status == ImageStatus.FAILED
    assert "oops" in broken.log_tail
    assert "ERROR: The command" in broken.log_tail
    assert state(beta, "web/gone").status == ImageStatus.FAILED
