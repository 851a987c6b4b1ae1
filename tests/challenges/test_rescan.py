"""Rescanning a catalog from disk into the database: service, command and admin."""

import json
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import EventLog, EventType
from challenges.models import Challenge, Question
from challenges.services import catalog_rescan
from scoring.models import Solve

from .factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    principal_of,
    spec,
    write_spec,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

WARMUP = spec("Warmup", extra="tags: [beginner]\n")

SQLI = """\
name: SQLi 101
author: bob
category: web
description: |
  Log in as **admin**. The login form is at `/login`.
value: 150
type: standard
flags:
  - CTF{or_1_equals_1}
  - {type: static, content: "ctf{OR 1=1}", data: case_insensitive}
attempts: 5
files:
  - dist/schema.sql
hints:
  - Look at the quotes
  - {title: Payload, content: "' OR 1=1 --", cost: 25}
requirements: [Warmup]
tags: [web, sql]
"""

RSA = """\
name: Baby RSA
author: carol
category: crypto
description: Two flags hide in output.txt.
type: standard
questions:
  - key: modulus
    name: Factor the modulus
    points: 100
    flags:
      - CTF{p_and_q}
  - key: plaintext
    name: Decrypt the message
    points: 200
    flags: [{type: derived, template: "CTF{rsa_{hash}}"}]
files: [output.txt]
"""

LOGS = """\
name: Needle
category: forensics
description: Find the attacker's IP.
type: dynamic
extra:
  initial: 500
  decay: 10
  minimum: 100
flags:
  - {type: regex, content: "CTF\\\\{10\\\\.0\\\\.0\\\\.[0-9]+\\\\}"}
files: [access.log]
"""

BOSS = """\
name: Final Boss
category: pwn
description: Only for the brave.
type: standard
value: 500
flags:
  - CTF{boss}
requirements: (AND (COMPLETED "Warmup") (>= (USER-SCORE) 100))
locked_visibility: locked
"""

IDENTITIES = [
    "crypto/baby-rsa",
    "forensics/needle",
    "misc/warmup",
    "pwn/boss",
    "web/sqli",
]


@pytest.fixture
def root(tmp_path, settings):
    """A real-world-shaped catalog of five challenges, set as CATALOG_DIR."""
    root = tmp_path / "catalog"
    write_spec(root, "misc/warmup", WARMUP)
    write_spec(
        root, "web/sqli", SQLI, files={"dist/schema.sql": "CREATE TABLE users;\n"}
    )
    write_spec(
        root, "crypto/baby-rsa", RSA, files={"output.txt": "n = 3233\nc = 855\n"}
    )
    write_spec(root, "forensics/needle", LOGS, files={"access.log": "10.0.0.7 GET /\n"})
    write_spec(root, "pwn/boss", BOSS)
    settings.CATALOG_DIR = root
    return root


def rescan(root, **kwargs):
    return catalog_rescan(catalog=root, **kwargs)


def run_command(*args) -> tuple[int, str]:
    """Run `manage.py rescan`; return its exit status and output."""
    out = StringIO()
    try:
        call_command("rescan", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def writes(queries) -> list[str]:
    verbs = ("INSERT", "UPDATE", "DELETE")
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(verbs)]


def test_it_adds_every_challenge_of_a_fresh_catalog(root, db):
    report = rescan(root)

    assert report.added == IDENTITIES
    assert report.updated == report.unchanged == report.hidden == []
    assert report.rejected == []
    sqli = Challenge.objects.get(identity="web/sqli")
    assert (sqli.name, sqli.category, sqli.value) == ("SQLi 101", "web", 150)
    assert [f.name for f in sqli.files.all()] == ["schema.sql"]
    assert [h.cost for h in sqli.hints.all()] == [0, 25]
    rsa = Challenge.objects.get(identity="crypto/baby-rsa")
    assert [(q.key, q.points) for q in rsa.questions.all()] == [
        ("modulus", 100),
        ("plaintext", 200),
    ]
    needle = Challenge.objects.get(identity="forensics/needle")
    assert (needle.type, needle.decay_initial, needle.decay_minimum) == (
        "dynamic",
        500,
        100,
    )
    assert Challenge.objects.get(identity="pwn/boss").locked_visibility == "locked"


def test_it_reports_updated_unchanged_and_hidden(root, db):
    rescan(root)
    write_spec(root, "misc/warmup", spec("Warmup", value=50))
    (root / "crypto/baby-rsa/output.txt").write_text("n = 3233\nc = 1000\n")
    shutil.rmtree(root / "pwn/boss")
    write_spec(root, "rev/crackme", spec("Crackme", category="rev"))

    report = rescan(root)

    assert report.added == ["rev/crackme"]
    assert report.updated == ["crypto/baby-rsa", "misc/warmup"]
    assert report.unchanged == ["forensics/needle", "web/sqli"]
    assert report.hidden == ["pwn/boss"]
    assert Challenge.objects.get(identity="misc/warmup").value == 50


def test_it_writes_nothing_when_the_catalog_is_unchanged(root, db):
    rescan(root)
    before = {c.identity: c.updated_at for c in Challenge.objects.all()}
    events = EventLog.objects.count()

    with CaptureQueriesContext(connection) as queries:
        report = rescan(root)

    assert report.unchanged == IDENTITIES
    assert report.added == report.updated == report.hidden == []
    assert writes(queries.captured_queries) == []
    assert EventLog.objects.count() == events
    assert {c.identity: c.updated_at for c in Challenge.objects.all()} == before


def test_it_writes_nothing_when_an_unchanged_catalog_keeps_a_rejected_spec(root, db):
    rescan(root)
    write_spec(root, "misc/warmup", "name: Warmup\nvalue: 100\n")
    rescan(root)

    with CaptureQueriesContext(connection) as queries:
        report = rescan(root)

    assert len(report.rejected) == 1
    assert writes(queries.captured_queries) == []


def test_it_applies_valid_specs_even_when_others_are_rejected(root, db):
    write_spec(root, "web/broken", "name: Broken\ncategory: web\nvalue: 100\n")
    write_spec(root, "web/bad-yaml", "name: [Bad\nflags: [x]\n")

    report = rescan(root)

    assert report.added == IDENTITIES
    assert sorted(p["path"] for p in report.rejected) == [
        "web/bad-yaml/challenge.yml",
        "web/broken/challenge.yml",
    ]
    assert not Challenge.objects.filter(
        identity__in=["web/broken", "web/bad-yaml"]
    ).exists()


def test_it_keeps_the_last_good_version_live_when_a_spec_breaks(root, db):
    rescan(root)
    write_spec(root, "web/sqli", SQLI.replace("value: 150", "value: lots"))

    report = rescan(root)

    assert report.rejected[0]["path"] == "web/sqli/challenge.yml"
    sqli = Challenge.objects.get(identity="web/sqli")
    assert sqli.value == 150
    assert sqli in Challenge.objects.visible()
    assert "value" in sqli.spec_error
    assert "web/sqli" not in report.hidden


def test_it_clears_the_spec_error_once_the_spec_is_fixed(root, db):
    rescan(root)
    write_spec(root, "web/sqli", SQLI.replace("value: 150", "value: lots"))
    rescan(root)
    write_spec(root, "web/sqli", SQLI.replace("value: 150", "value: 175"))

    report = rescan(root)

    assert report.updated == ["web/sqli"]
    sqli = Challenge.objects.get(identity="web/sqli")
    assert (sqli.value, sqli.spec_error) == (175, "")


def test_it_clears_the_spec_error_when_the_spec_is_put_back_as_it_was(root, db):
    rescan(root)
    write_spec(root, "web/sqli", SQLI.replace("value: 150", "value: lots"))
    rescan(root)
    write_spec(root, "web/sqli", SQLI)

    report = rescan(root)

    assert report.updated == ["web/sqli"]
    assert Challenge.objects.get(identity="web/sqli").spec_error == ""


def test_it_hides_a_vanished_folder_and_keeps_its_solves(root, solo):
    rescan(root)
    warmup = Challenge.objects.get(identity="misc/warmup")
    Solve.objects.create(principal=principal_of(solo), question=warmup.questions.get())
    shutil.rmtree(root / "misc/warmup")

    report = rescan(root)

    assert report.hidden == ["misc/warmup"]
    warmup.refresh_from_db()
    assert warmup.is_missing
    assert warmup not in Challenge.objects.visible()
    assert Solve.objects.filter(question__challenge=warmup).count() == 1


def test_it_hides_a_vanished_folder_only_once(root, db):
    rescan(root)
    shutil.rmtree(root / "misc/warmup")
    rescan(root)

    report = rescan(root)

    assert report.hidden == []
    assert "misc/warmup" not in report.unchanged


def test_it_brings_back_a_folder_that_reappears(root, db):
    rescan(root)
    shutil.rmtree(root / "misc/warmup")
    rescan(root)
    write_spec(root, "misc/warmup", WARMUP)

    report = rescan(root)

    assert report.updated == ["misc/warmup"]
    warmup = Challenge.objects.get(identity="misc/warmup")
    assert not warmup.is_missing
    assert warmup in Challenge.objects.visible()


def test_it_turns_a_ctfcli_requirement_list_into_completed(root, db):
    write_spec(
        root,
        "web/chain",
        spec("Chain", category="web", extra="requirements: [Warmup, SQLi 101, 7]\n"),
    )

    rescan(root)

    assert (
        Challenge.objects.get(identity="web/sqli").requirement == '(COMPLETED "Warmup")'
    )
    assert (
        Challenge.objects.get(identity="web/chain").requirement
        == '(COMPLETED "Warmup" "SQLi 101" 7)'
    )


def test_it_keeps_a_lispish_requirement_in_canonical_form(root, db):
    rescan(root)

    boss = Challenge.objects.get(identity="pwn/boss")
    assert boss.requirement == '(AND (COMPLETED "Warmup") (>= (USER-SCORE) 100))'


def test_it_updates_questions_by_key(root, solo):
    rescan(root)
    rsa = Challenge.objects.get(identity="crypto/baby-rsa")
    modulus = rsa.questions.get(key="modulus")
    write_spec(
        root,
        "crypto/baby-rsa",
        RSA.replace("points: 100", "points: 120"),
        files={"output.txt": "n = 3233\nc = 855\n"},
    )

    rescan(root)

    modulus.refresh_from_db()
    assert modulus.points == 120
    assert rsa.questions.count() == 2


def test_it_keeps_a_solved_question_removed_from_the_spec(root, solo):
    rescan(root)
    rsa = Challenge.objects.get(identity="crypto/baby-rsa")
    Solve.objects.create(
        principal=principal_of(solo), question=rsa.questions.get(key="plaintext")
    )
    only_modulus = RSA.split("  - key: plaintext")[0] + "files: [output.txt]\n"
    write_spec(root, "crypto/baby-rsa", only_modulus)

    report = rescan(root)

    assert report.updated == ["crypto/baby-rsa"]
    assert sorted(rsa.questions.values_list("key", flat=True)) == [
        "modulus",
        "plaintext",
    ]
    assert Solve.objects.filter(question__challenge=rsa).count() == 1


def test_it_drops_an_unsolved_question_removed_from_the_spec(root, db):
    rescan(root)
    only_modulus = RSA.split("  - key: plaintext")[0] + "files: [output.txt]\n"
    write_spec(root, "crypto/baby-rsa", only_modulus)

    rescan(root)

    rsa = Challenge.objects.get(identity="crypto/baby-rsa")
    assert list(rsa.questions.values_list("key", flat=True)) == ["modulus"]


def test_it_records_a_rescan_event_when_something_changed(root, organizer):
    rescan(root, actor=organizer)

    event = EventLog.objects.get(event_type=EventType.CATALOG_RESCANNED)
    assert event.actor == organizer
    assert event.details["added"] == IDENTITIES
    assert "5 added" in event.message


def test_it_records_no_rescan_event_when_nothing_changed(root, db):
    rescan(root)

    rescan(root)

    assert EventLog.objects.filter(event_type=EventType.CATALOG_RESCANNED).count() == 1


def test_it_writes_nothing_on_a_dry_run(root, db):
    report = rescan(root, dry_run=True)

    assert report.added == IDENTITIES
    assert not Challenge.objects.exists()
    assert not EventLog.objects.exists()


def test_it_writes_nothing_on_a_dry_run_of_a_changed_catalog(root, db):
    rescan(root)
    write_spec(root, "misc/warmup", spec("Warmup", value=50))
    write_spec(root, "web/sqli", SQLI.replace("value: 150", "value: lots"))
    shutil.rmtree(root / "pwn/boss")
    events = EventLog.objects.count()

    exit_status, output = run_command("--dry-run")

    assert exit_status == 1
    assert "dry run" in output
    assert Challenge.objects.get(identity="misc/warmup").value == 100
    assert Challenge.objects.get(identity="web/sqli").spec_error == ""
    assert not Challenge.objects.get(identity="pwn/boss").is_missing
    assert EventLog.objects.count() == events


def test_the_command_exits_0_and_reports_when_everything_loads(root, db):
    exit_status, output = run_command()

    assert exit_status == 0
    assert "added  web/sqli" in output
    assert Challenge.objects.count() == 5


def test_the_command_prints_json_with_paths_relative_to_the_catalog(root, db):
    write_spec(root, "web/broken", "name: Broken\ncategory: web\nvalue: 100\n")
    write_spec(root, "misc/odd", spec("Odd", extra="colour: blue\n"))

    exit_status, output = run_command("--json", "--catalog", str(root))

    data = json.loads(output)
    assert exit_status == 1
    assert list(data) == [
        "added",
        "updated",
        "unchanged",
        "hidden",
        "rejected",
        "warnings",
    ]
    assert data["added"] == sorted([*IDENTITIES, "misc/odd"])
    assert data["rejected"] == [
        {
            "path": "web/broken/challenge.yml",
            "line": 1,
            "field": "flags",
            "error": "no flag: every question needs at least one",
        }
    ]
    assert [set(w) for w in data["warnings"]] == [{"path", "line", "message"}]
    assert data["warnings"][0]["path"] == "misc/odd/challenge.yml"
    assert "colour" in data["warnings"][0]["message"]


def test_the_command_json_exits_0_without_a_rejection(root, db):
    run_command()
    write_spec(root, "misc/warmup", spec("Warmup", value=50))
    shutil.rmtree(root / "pwn/boss")

    exit_status, output = run_command("--json")

    assert exit_status == 0
    assert json.loads(output) == {
        "added": [],
        "updated": ["misc/warmup"],
        "unchanged": ["crypto/baby-rsa", "forensics/needle", "web/sqli"],
        "hidden": ["pwn/boss"],
        "rejected": [],
        "warnings": [],
    }


BAD_INDENT = """\
name: Bad indent
category: misc
value: 100
flags:
  - CTF{x}
 description: oops
"""


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (BAD_INDENT, 6, None, "not valid YAML"),
        ("name: No flag\ncategory: misc\nvalue: 100\n", 1, "flags", "no flag"),
        ("name: Negative\nvalue: -5\nflags: [x]\n", 2, "value", ""),
        (
            'name: Bad\nvalue: 1\nflags: [x]\nrequirements: (AND (COMPLETED "A")\n',
            None,
            "requirements",
            "LispIsh",
        ),
        (
            "name: Bad\nvalue: 1\nflags: [x]\nrequirements: (FROB 1)\n",
            None,
            "requirements",
            "unknown block FROB",
        ),
    ],
    ids=["yaml", "no-flag", "negative-value", "unbalanced-lispish", "unknown-block"],
)
def test_it_says_where_a_spec_is_rejected(root, db, text, line, field, words):
    write_spec(root, "misc/bad", text)

    report = rescan(root)

    assert report.rejected == [
        {
            "path": "misc/bad/challenge.yml",
            "line": line,
            "field": field,
            "error": report.rejected[0]["error"],
        }
    ]
    assert words in report.rejected[0]["error"]
    assert report.added == IDENTITIES


def test_it_keeps_the_old_requirement_when_a_new_one_is_bad(root, db):
    rescan(root)
    write_spec(
        root, "pwn/boss", BOSS.replace("(>= (USER-SCORE) 100)", "(>= (USER-SCORE)")
    )

    report = rescan(root)

    assert [p["field"] for p in report.rejected] == ["requirements"]
    boss = Challenge.objects.get(identity="pwn/boss")
    assert boss.requirement == '(AND (COMPLETED "Warmup") (>= (USER-SCORE) 100))'
    assert "requirements" in boss.spec_error


def test_the_admin_rescan_screen_shows_a_dry_run(root, organizer, login):
    rescan(root)
    write_spec(root, "misc/warmup", spec("Warmup", value=50))
    write_spec(root, "rev/crackme", spec("Crackme", category="rev"))
    write_spec(root, "web/broken", "name: Broken\ncategory: web\nvalue: 100\n")

    response = login(organizer).get(reverse("admin:challenges_challenge_rescan"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "rev/crackme" in page
    assert "misc/warmup" in page
    assert "web/broken/challenge.yml" in page
    assert "no flag" in page
    assert not Challenge.objects.filter(identity="rev/crackme").exists()
    assert Challenge.objects.get(identity="misc/warmup").value == 100


def test_the_admin_rescan_screen_applies_on_confirmation(root, organizer, login):
    client = login(organizer)

    response = client.post(
        reverse("admin:challenges_challenge_rescan"), {"confirm": "yes"}
    )

    assert response.status_code == 302
    assert Challenge.objects.count() == 5
    event = EventLog.objects.get(event_type=EventType.CATALOG_RESCANNED)
    assert event.actor == organizer
    page = client.get(response.url).content.decode()
    assert "5 added" in page


def test_the_admin_rescan_screen_is_for_staff_only(root, solo, login):
    response = login(solo).post(
        reverse("admin:challenges_challenge_rescan"), {"confirm": "yes"}
    )

    assert response.status_code == 302
    assert "login" in response.url
    assert not Challenge.objects.exists()


def test_the_challenge_admin_flags_a_rejected_spec(root, organizer, login):
    rescan(root)
    write_spec(root, "web/sqli", SQLI.replace("value: 150", "value: lots"))
    rescan(root)

    response = login(organizer).get(
        reverse("admin:challenges_challenge_changelist"), {"problem": "spec"}
    )

    page = response.content.decode()
    assert "SQLi 101" in page
    assert "spec rejected" in page
    assert "Warmup" not in page
    assert Question.objects.filter(challenge__identity="web/sqli").count() == 1


def test_a_second_spec_file_in_a_folder_keeps_the_live_version(root, db):
    rescan(root)
    (root / "misc/warmup/challenge.yaml").write_text(spec("Warmup", value=1))

    report = rescan(root)

    assert sorted(p["path"] for p in report.rejected) == [
        "misc/warmup/challenge.yaml",
        "misc/warmup/challenge.yml",
    ]
    assert report.hidden == []
    warmup = Challenge.objects.get(identity="misc/warmup")
    assert warmup.value == 100
    assert warmup in Challenge.objects.visible()
    assert "keep one" in warmup.spec_error


def test_the_command_refuses_a_missing_catalog(tmp_path, db):
    with pytest.raises(CommandError, match="Catalog not found"):
        call_command(
            "rescan", "--catalog", str(tmp_path / "nowhere"), stdout=StringIO()
        )
