"""The challenge admin: the catalog is the one source of what specs say, the
operational fields stay the organizers', and challenges made in the admin are
edited in full with forms (no JSON boxes)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import EventLog, EventType
from challenges.models import Challenge, ChallengeFile
from challenges.services import catalog_rescan, challenge_admin_save
from scoring.pipeline import submission_attempt

from .factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    form_data,
    make_challenge,
    principal_of,
    spec,
    write_spec,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def write_sqli(root, *, value: int = 100, more: str = "", needs: str = "Warmup"):
    extra = f"requirements: [{needs}]\n{more}"
    write_spec(
        root, "web/sqli", spec("SQLi 101", category="web", value=value, extra=extra)
    )


@pytest.fixture
def root(tmp_path, settings, db):
    root = tmp_path / "catalog"
    write_spec(root, "misc/warmup", spec("Warmup"))
    write_sqli(root)
    settings.CATALOG_DIR = root
    catalog_rescan(catalog=root)
    return root


@pytest.fixture(autouse=True)
def uploads(tmp_path, settings):
    """Uploaded handouts land in the test's folder, not in var/."""
    settings.MEDIA_ROOT = tmp_path / "uploads"


@pytest.fixture
def admin(organizer, login):
    return login(organizer)


def change_url(challenge) -> str:
    return reverse("admin:challenges_challenge_change", args=[challenge.pk])


def post_form(client, url, **changes):
    """Submit the admin form at `url` as a browser would, with `changes`."""
    data = form_data(client.get(url).content.decode())
    data.update({k: v if isinstance(v, list) else [v] for k, v in changes.items()})
    return client.post(url, data)


def test_a_catalog_challenge_shows_its_spec_fields_read_only(root, admin):
    sqli = Challenge.objects.get(identity="web/sqli")

    page = admin.get(change_url(sqli)).content.decode()

    assert 'name="name"' not in page
    assert 'name="description"' not in page
    assert 'name="requirement"' not in page
    assert 'name="questions-0-points"' not in page
    assert "web/sqli/challenge.yml" in page
    assert str(root) in page
    assert "Edit the spec there and rescan" in page
    assert 'name="state"' in page
    assert 'name="position"' in page


def test_an_edit_of_a_spec_field_never_reaches_a_catalog_challenge(root, admin):
    sqli = Challenge.objects.get(identity="web/sqli")

    response = post_form(admin, change_url(sqli), name="Renamed", value="1")

    assert response.status_code == 302
    sqli.refresh_from_db()
    assert (sqli.name, sqli.value) == ("SQLi 101", 100)


def test_hiding_a_catalog_challenge_is_audited_and_survives_rescans(root, admin):
    sqli = Challenge.objects.get(identity="web/sqli")

    post_form(admin, change_url(sqli), state="hidden")
    write_sqli(root, value=150)
    report = catalog_rescan(catalog=root)

    sqli.refresh_from_db()
    assert report.updated == ["web/sqli"]
    assert (sqli.value, sqli.state) == (150, "hidden")
    event = EventLog.objects.get(event_type=EventType.CHALLENGE_CHANGED)
    assert event.actor.username == "orga"
    assert event.subject == "SQLi 101"
    assert event.message == "state visible → hidden"
    assert event.details["changes"] == {"state": {"from": "visible", "to": "hidden"}}


def test_an_operational_edit_keeps_what_a_rescan_wrote_meanwhile(root, organizer):
    stale = Challenge.objects.get(identity="web/sqli")  # the admin's form reads it
    write_sqli(root, value=150)
    catalog_rescan(catalog=root)  # a rescan commits before the form is saved

    stale.state = "hidden"
    challenge_admin_save(
        challenge=stale, changes={"state": ("visible", "hidden")}, actor=organizer
    )

    fresh = Challenge.objects.get(identity="web/sqli")
    assert (fresh.value, fresh.state) == (150, "hidden")
    assert fresh.content_hash != ""
    assert catalog_rescan(catalog=root).unchanged == ["misc/warmup", "web/sqli"]


def test_the_service_refuses_to_edit_what_a_spec_says(root, organizer):
    sqli = Challenge.objects.get(identity="web/sqli")
    sqli.name = "Renamed"

    with pytest.raises(
        ValueError, match="name: these come from web/sqli/challenge.yml"
    ):
        challenge_admin_save(
            challenge=sqli, changes={"name": ("SQLi 101", "Renamed")}, actor=organizer
        )


def test_a_state_changed_in_the_spec_still_applies(root, admin):
    sqli = Challenge.objects.get(identity="web/sqli")
    post_form(admin, change_url(sqli), state="hidden")
    write_sqli(root, more="state: hidden\n")
    catalog_rescan(catalog=root)
    write_sqli(root, more="state: visible\n")

    catalog_rescan(catalog=root)

    sqli.refresh_from_db()
    assert sqli.state == "visible"


def test_the_visibility_actions_are_audited(root, admin):
    url = reverse("admin:challenges_challenge_changelist")
    warmup = Challenge.objects.get(identity="misc/warmup")

    admin.post(url, {"action": "make_hidden", "_selected_action": [warmup.pk]})

    warmup.refresh_from_db()
    assert warmup.state == "hidden"
    event = EventLog.objects.get(event_type=EventType.CHALLENGE_CHANGED)
    assert (event.subject, event.details["changes"]["state"]["to"]) == (
        "Warmup",
        "hidden",
    )


def test_a_challenge_made_in_the_admin_is_edited_with_forms(root, admin, solo):
    add = reverse("admin:challenges_challenge_add")
    page = admin.get(add).content.decode()
    # Flags are rows of a kind and a text, tags a line: no JSON to type.
    assert 'name="questions-__prefix__-flags"' not in page
    assert 'name="questions-__prefix__-flags_kind_0"' in page
    assert re.search(r'<input type="text" name="tags"', page)

    response = post_form(
        admin,
        add,
        name="Sandbox",
        category="misc",
        value="120",
        description="Read **notes.txt**.",
        tags="beginner, misc",
        **{
            "questions-TOTAL_FORMS": "1",
            "questions-0-key": "main",
            "questions-0-points": "120",
            "questions-0-attempts": "0",
            "questions-0-position": "0",
            "questions-0-flags_kind_0": "static",
            "questions-0-flags_text_0": "CTF{sand}",
            "questions-0-flags_kind_1": "regex",
            "questions-0-flags_text_1": r"CTF\{sand[0-9]+\}",
            "hints-TOTAL_FORMS": "1",
            "hints-0-content": "Look at the *notes*.",
            "hints-0-cost": "0",
            "hints-0-position": "0",
            "files-TOTAL_FORMS": "1",
            "files-0-position": "0",
        },
        **{"files-0-upload": SimpleUploadedFile("notes.txt", b"key {flag:main}\n")},
    )

    assert response.status_code == 302, re.findall(
        r"errorlist.*", response.content.decode()
    )
    made = Challenge.objects.get(name="Sandbox")
    assert made.identity == ".admin/sandbox"
    assert made.spec_path == ""
    assert made.tags == ["beginner", "misc"]
    assert made.questions.get().flags == [
        {"kind": "static", "content": "CTF{sand}", "template": ""},
        {"kind": "regex", "content": r"CTF\{sand[0-9]+\}", "template": ""},
    ]
    handout = ChallengeFile.objects.get(challenge=made)
    assert (handout.name, handout.size, handout.placeholders) == (
        "notes.txt",
        16,
        ["main"],
    )
    attempt = submission_attempt(
        user=solo, challenge=made, flag="CTF{sand42}", principal=principal_of(solo)
    )
    assert attempt.result == "correct"
    # A rescan leaves what the catalog does not hold alone.
    assert catalog_rescan(catalog=root).hidden == []
    made.refresh_from_db()
    assert not made.is_missing
    event = EventLog.objects.get(event_type=EventType.CHALLENGE_CHANGED)
    assert (event.subject, event.message) == ("Sandbox", "created")


def test_a_made_challenges_file_is_served_to_players(root, admin, solo, login):
    made = make_challenge("Sandbox", identity=".admin/sandbox")
    handout = made.files.create(
        name="notes.txt",
        upload=SimpleUploadedFile("notes.txt", b"hello\n"),
        sha256="",
    )

    response = login(solo).get(
        reverse("challenges:download", args=[made.pk, handout.pk])
    )

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello\n"


def test_a_flag_row_is_checked_where_it_is_typed(root, admin):
    made = make_challenge("Sandbox", identity=".admin/sandbox")

    response = post_form(
        admin,
        change_url(made),
        **{
            "questions-0-flags_kind_0": "derived",
            "questions-0-flags_text_0": "CTF{no_hash}",
        },
    )

    assert response.status_code == 200
    assert "Flag 1: a derived flag" in response.content.decode()
    made.refresh_from_db()
    assert made.questions.get().flags[0]["kind"] == "static"


def test_the_list_says_none_for_no_requirement(root, admin):
    page = admin.get(reverse("admin:challenges_challenge_changelist")).content
    page = page.decode()

    warmup_row = re.search(r"<tr>.*?>Warmup</a>.*?</tr>", page, re.S)[0]
    assert 'class="field-requirement_shown">none<' in warmup_row
    assert "icon-no" not in warmup_row
    assert 'class="field-requirement_shown">Solve Warmup<' in page


def test_the_list_flags_a_requirement_naming_no_challenge(root, admin):
    write_sqli(root, needs="Warmpu")
    catalog_rescan(catalog=root)
    url = reverse("admin:challenges_challenge_changelist")

    flagged = admin.get(url, {"problem": "names"}).content.decode()

    assert ">SQLi 101</a>" in flagged
    assert ">Warmup</a>" not in flagged
    assert "⚠ no challenge named Warmpu; did you mean Warmup?" in flagged


def test_saving_a_requirement_that_names_no_challenge_warns(root, admin):
    made = make_challenge("Sandbox", identity=".admin/sandbox")

    response = post_form(admin, change_url(made), requirement='(COMPLETED "Warmpu")')

    page = admin.get(response.url).content.decode()
    assert "Sandbox is locked for everyone until this is fixed: no challenge " in page
    assert "did you mean Warmup?" in page


def test_the_rescan_page_names_the_catalogs_real_path(root, admin):
    page = admin.get(reverse("admin:challenges_challenge_rescan")).content.decode()

    assert f"<code>{root}</code>" in page
    assert "CATALOG_DIR" not in page
