"""A challenge's page, its handed-out files and players' feedback."""

import os
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.services import token_create
from challenges.models import Challenge, ChallengeFile, Competition, Feedback
from challenges.services import catalog_rescan, feedback_set
from scoring.derivation import derive_flag

from .factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    make_challenge,
    principal_of,
    team_with_players,
    write_spec,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

LEAK = """\
name: Leaky Notes
author: dave
category: crypto
description: |
  Somebody left **notes** lying around.

  Your team's key is `{flag:main}`.
value: 200
type: standard
flags:
  - {type: derived, template: "CTF{leak_{hash}}"}
files:
  - notes.txt
  - blob.bin
  - ../common/libc.txt
hints:
  - {title: Free, content: Read the notes twice.}
  - {title: Paid, content: The key is in the second line., cost: 40}
"""

XSS = """\
name: Pretty Page
category: web
description: |
  # Welcome

  <script>alert("owned")</script>
  <img src="x.png" onerror="alert(1)">
  [click me](javascript:alert(1)) and [docs](https://example.org/docs)
  <a href="JaVaScRiPt:alert(2)">shout</a>
value: 100
type: standard
flags:
  - CTF{pretty}
"""


@pytest.fixture
def root(tmp_path, settings, db):
    root = tmp_path / "catalog"
    write_spec(
        root,
        "crypto/leak",
        LEAK,
        files={
            "notes.txt": "line one\nkey = {flag:main}\n",
            "blob.bin": b"\x00\x01\x02{flag:main}\xff",
        },
    )
    (root / "crypto/common").mkdir(parents=True)
    (root / "crypto/common/libc.txt").write_text("shared libc\n")
    write_spec(root, "web/pretty", XSS)
    settings.CATALOG_DIR = root
    report = catalog_rescan(catalog=root)
    assert report.rejected == []
    return root


@pytest.fixture
def leak(root):
    return Challenge.objects.get(identity="crypto/leak")


def handout(challenge: Challenge, name: str) -> ChallengeFile:
    return challenge.files.get(name=name)


def download_url(challenge: Challenge, name: str) -> str:
    return reverse(
        "challenges:download", args=[challenge.pk, handout(challenge, name).pk]
    )


def team_flag(user, challenge: Challenge) -> str:
    principal = principal_of(user)
    return derive_flag(
        "CTF{leak_{hash}}",
        competition_id=principal.competition_id,
        principal_id=principal.pk,
        question_id=challenge.questions.get().pk,
    )


def body(response) -> bytes:
    return (
        b"".join(response.streaming_content) if response.streaming else response.content
    )


def test_it_shows_an_open_challenge(leak, captain, login):
    response = login(captain).get(leak.get_absolute_url())

    page = response.content.decode()
    assert response.status_code == 200
    assert "Leaky Notes" in page
    assert "<strong>notes</strong>" in page
    assert "by dave" in page
    for name in ("notes.txt", "blob.bin", "libc.txt"):
        assert download_url(leak, name) in page
    assert "Read the notes twice." in page
    assert "The key is in the second line." not in page


def test_it_fills_each_teams_flag_into_the_description(leak, captain, member, login):
    rival = team_with_players("Rivals").captain

    mine = login(captain).get(leak.get_absolute_url()).content.decode()
    teammate = login(member).get(leak.get_absolute_url()).content.decode()
    theirs = login(rival).get(leak.get_absolute_url()).content.decode()

    assert team_flag(captain, leak) != team_flag(rival, leak)
    assert f"<code>{team_flag(captain, leak)}</code>" in mine
    assert f"<code>{team_flag(captain, leak)}</code>" in teammate
    assert f"<code>{team_flag(rival, leak)}</code>" in theirs
    assert team_flag(rival, leak) not in mine
    assert "{flag:main}" not in mine


def test_it_fills_each_teams_flag_into_a_text_handout(leak, captain, login):
    rival = team_with_players("Rivals").captain

    mine = login(captain).get(download_url(leak, "notes.txt"))
    theirs = login(rival).get(download_url(leak, "notes.txt"))

    assert mine.status_code == 200
    assert 'filename="notes.txt"' in mine["Content-Disposition"]
    assert body(mine).decode() == f"line one\nkey = {team_flag(captain, leak)}\n"
    assert body(theirs).decode() == f"line one\nkey = {team_flag(rival, leak)}\n"


def test_it_serves_a_binary_handout_untouched(leak, captain, login):
    response = login(captain).get(download_url(leak, "blob.bin"))

    assert response.status_code == 200
    assert body(response) == b"\x00\x01\x02{flag:main}\xff"


def test_it_serves_a_shared_file_from_elsewhere_in_the_catalog(leak, captain, login):
    response = login(captain).get(download_url(leak, "libc.txt"))

    assert response.status_code == 200
    assert body(response) == b"shared libc\n"


@pytest.mark.parametrize(
    "relative_path",
    ["../../../../etc/passwd", "/etc/passwd", "../../../catalog-secrets.txt"],
)
def test_it_refuses_a_path_that_leaves_the_catalog(
    leak, captain, login, root, relative_path
):
    (root.parent / "catalog-secrets.txt").write_text("secret")
    ChallengeFile.objects.filter(pk=handout(leak, "notes.txt").pk).update(
        relative_path=relative_path
    )

    response = login(captain).get(download_url(leak, "notes.txt"))

    assert response.status_code == 404


def test_it_refuses_a_handout_replaced_by_a_symlink_out_of_the_catalog(
    leak, captain, login, root
):
    secret = root.parent / "secret.txt"
    secret.write_text("server secret")
    notes = root / "crypto/leak/notes.txt"
    notes.unlink()
    os.symlink(secret, notes)

    response = login(captain).get(download_url(leak, "notes.txt"))

    assert response.status_code == 404


def test_it_refuses_a_file_of_another_challenge(leak, captain, login):
    other = Challenge.objects.get(identity="web/pretty")
    url = reverse("challenges:download", args=[other.pk, handout(leak, "notes.txt").pk])

    assert login(captain).get(url).status_code == 404


def test_it_sanitizes_the_spec_description(root, solo, login):
    pretty = Challenge.objects.get(identity="web/pretty")

    page = login(solo).get(pretty.get_absolute_url()).content.decode()

    prose = page.split('<div class="prose">', 1)[1].split("</div>", 1)[0]
    assert "<h1>Welcome</h1>" in prose
    assert "<script" not in prose.lower()
    assert "onerror" not in prose.lower()
    assert "javascript:" not in prose.lower()
    assert 'href="https://example.org/docs"' in prose
    assert "click me" in prose


def test_a_locked_challenge_answers_403_with_the_explanation(solo, login):
    make_challenge("Warmup")
    gated = make_challenge(
        "Gated",
        requirement='(COMPLETED "Warmup")',
        locked_visibility="locked",
        description="The secret is SWORDFISH.",
    )

    response = login(solo).get(gated.get_absolute_url())

    page = response.content.decode()
    assert response.status_code == 403
    assert "This challenge is locked. Solve Warmup" in page
    assert "SWORDFISH" not in page


def test_a_preview_shows_name_category_and_points_but_no_access(
    root, leak, solo, login
):
    make_challenge("Warmup")
    Challenge.objects.filter(pk=leak.pk).update(
        requirement='(COMPLETED "Warmup")', locked_visibility="preview"
    )
    client = login(solo)

    response = client.get(leak.get_absolute_url())
    download = client.get(download_url(leak, "notes.txt"))
    feedback = client.post(reverse("challenges:feedback", args=[leak.pk]), {"vote": 1})

    page = response.content.decode()
    assert response.status_code == 403
    assert "Leaky Notes" in page
    assert "crypto" in page
    assert "200 points" in page
    assert "lying around" not in page
    assert "notes.txt" not in page
    # Preview promises no author and no solve count either.
    assert "by " not in page.split('<div class="card">', 1)[1]
    assert "solve" not in page.split('<div class="card">', 1)[1]
    assert download.status_code == 403
    assert feedback.status_code == 403
    assert "notes.txt" not in download.content.decode()
    assert not Feedback.objects.exists()


def test_a_locked_challenge_refuses_its_files(root, leak, solo, login):
    make_challenge("Warmup")
    Challenge.objects.filter(pk=leak.pk).update(
        requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )

    response = login(solo).get(download_url(leak, "notes.txt"))

    page = response.content.decode()
    assert response.status_code == 403
    assert "This challenge is locked. Solve Warmup" in page
    assert "Leaky Notes" not in page
    assert "notes.txt" not in page


@pytest.mark.parametrize(
    "change",
    [
        {"state": "hidden"},
        {"is_missing": True},
        {"requirement": '(COMPLETED "Nowhere At All")', "locked_visibility": "hidden"},
    ],
    ids=["state-hidden", "folder-missing", "hidden-when-locked"],
)
def test_a_hidden_challenge_is_not_found(leak, solo, login, change):
    Challenge.objects.filter(pk=leak.pk).update(**change)
    client = login(solo)

    assert client.get(leak.get_absolute_url()).status_code == 404
    assert client.get(download_url(leak, "notes.txt")).status_code == 404
    assert (
        client.post(
            reverse("challenges:feedback", args=[leak.pk]), {"vote": 1}
        ).status_code
        == 404
    )


def test_an_unknown_challenge_is_not_found(solo, login, db):
    assert (
        login(solo).get(reverse("challenges:detail", args=[999999])).status_code == 404
    )


def test_no_challenge_opens_before_the_competition_starts(leak, solo, organizer, login):
    Competition.objects.filter(is_default=True).update(
        starts_at=timezone.now() + timedelta(days=1)
    )

    assert login(solo).get(leak.get_absolute_url()).status_code == 404
    assert login(solo).get(download_url(leak, "notes.txt")).status_code == 404
    assert login(organizer).get(leak.get_absolute_url()).status_code == 200


def test_it_records_one_feedback_per_player_and_lets_them_change_it(
    leak, captain, login
):
    client = login(captain)
    url = reverse("challenges:feedback", args=[leak.pk])

    first = client.post(url, {"vote": "1"})
    second = client.post(url, {"vote": "-1", "comment": "  too guessy  "})

    assert first.status_code == second.status_code == 200
    assert "your feedback is saved" in second.content.decode()
    feedback = Feedback.objects.get()
    assert (feedback.user, feedback.vote, feedback.comment) == (
        captain,
        -1,
        "too guessy",
    )
    page = client.get(leak.get_absolute_url()).content.decode()
    assert 'value="-1" checked' in page


def test_each_player_has_their_own_feedback(leak, captain, member, login):
    url = reverse("challenges:feedback", args=[leak.pk])

    login(captain).post(url, {"vote": "1"})
    login(member).post(url, {"vote": "-1"})

    assert sorted(Feedback.objects.values_list("user__username", "vote")) == [
        ("cap", 1),
        ("mem", -1),
    ]


@pytest.mark.parametrize("vote", ["", "0", "2", "up"])
def test_it_refuses_a_vote_that_is_not_up_or_down(leak, solo, login, vote):
    response = login(solo).post(
        reverse("challenges:feedback", args=[leak.pk]), {"vote": vote}
    )

    assert response.status_code == 400
    assert not Feedback.objects.exists()


def test_the_feedback_admin_shows_the_team_and_filters_by_competition(
    leak, captain, solo, organizer, login
):
    main = Competition.objects.default()
    finals = Competition.objects.create(name="Finals", slug="finals")
    feedback_set(
        user=captain,
        challenge=leak,
        competition=main,
        vote=1,
        comment="loved the notes",
    )
    feedback_set(
        user=solo, challenge=leak, competition=finals, vote=-1, comment="finals comment"
    )
    admin = login(organizer)
    url = reverse("admin:challenges_feedback_changelist")

    everything = admin.get(url).content.decode()
    only_main = admin.get(url, {"competition__id__exact": main.pk}).content.decode()

    assert "Null Pointers" in everything
    assert "finals comment" in everything
    assert "loved the notes" in only_main
    assert "finals comment" not in only_main


def test_a_challenge_outside_the_competition_is_not_found(leak, solo, login):
    Competition.objects.filter(is_default=True).update(
        include_all=False, include_categories=["web"]
    )

    assert login(solo).get(leak.get_absolute_url()).status_code == 404
    pretty = Challenge.objects.get(identity="web/pretty")
    assert login(solo).get(pretty.get_absolute_url()).status_code == 200


def api_client(user) -> Client:
    _, raw = token_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def test_a_script_downloads_a_handout_with_its_token(leak, captain):
    api = api_client(captain)

    files = api.get(f"/api/v1/challenges/{leak.pk}").json()["files"]
    notes = next(f for f in files if f["name"] == "notes.txt")
    response = api.get(notes["url"])

    assert response.status_code == 200
    assert body(response).decode() == f"line one\nkey = {team_flag(captain, leak)}\n"
    assert response["Content-Disposition"] == 'attachment; filename="notes.txt"'


def test_a_handout_url_stays_the_same_across_rescans(root, leak, captain):
    api = api_client(captain)
    before = api.get(f"/api/v1/challenges/{leak.pk}").json()["files"]
    write_spec(
        root,
        "crypto/leak",
        LEAK.replace("value: 200", "value: 250")
        .replace("  - blob.bin\n", "")
        .replace("  - notes.txt\n", "  - notes.txt\n  - blob.bin\n"),
    )
    (root / "crypto/common/libc.txt").write_text("a newer libc\n")
    assert catalog_rescan(catalog=root).updated == ["crypto/leak"]

    after = api.get(f"/api/v1/challenges/{leak.pk}").json()["files"]

    urls = {f["name"]: f["url"] for f in before}
    assert {f["name"]: f["url"] for f in after} == urls
    assert api.get(urls["blob.bin"]).status_code == 200


def test_a_handout_of_a_locked_challenge_answers_403_without_a_name(root, leak, solo):
    make_challenge("Warmup")
    Challenge.objects.filter(pk=leak.pk).update(
        requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )
    url = reverse("api-challenge-file", args=[leak.pk, handout(leak, "notes.txt").pk])

    response = api_client(solo).get(url)

    assert response.status_code == 403
    assert response.json()["explanation"] == "Solve Warmup"
    assert "Leaky" not in response.content.decode()
    assert "line one" not in response.content.decode()


def test_hints_render_markdown_like_descriptions(db, solo, login):
    warmup = make_challenge("Warmup")
    warmup.hints.create(content="Try `curl -v` on the [login](https://example.org).")
    warmup.hints.create(content="<script>x()</script>**paid**", cost=5, position=1)

    page = login(solo).get(warmup.get_absolute_url()).content.decode()
    api = api_client(solo).get(f"/api/v1/challenges/{warmup.pk}").json()

    link = '<a href="https://example.org" rel="noopener noreferrer nofollow">login</a>'
    assert "<code>curl -v</code>" in page
    assert link in page
    assert api["hints"][0]["content_html"] == (
        f"<p>Try <code>curl -v</code> on the {link}.</p>"
    )
    assert api["hints"][1]["content_html"] is None


def test_an_unlocked_paid_hint_renders_markdown_without_scripts(db, solo, login):
    warmup = make_challenge("Warmup")
    hint = warmup.hints.create(content="<script>x()</script>**Look** up", cost=5)
    client = login(solo)

    response = client.post(reverse("scoring:unlock-hint", args=[warmup.pk, hint.pk]))

    html = response.content.decode()
    assert "<strong>Look</strong> up" in html
    assert "<script" not in html


def test_the_spec_next_links_to_the_next_challenge(root, solo, login):
    write_spec(root, "misc/one", "name: One\nvalue: 1\nflags: [x]\nnext: Two\n")
    write_spec(root, "misc/two", "name: Two\nvalue: 1\nflags: [y]\n")
    catalog_rescan(catalog=root)
    one, two = (Challenge.objects.get(name=n) for n in ("One", "Two"))

    page = login(solo).get(one.get_absolute_url()).content.decode()

    assert f'Next: <a href="{two.get_absolute_url()}">Two →</a>' in page


@pytest.mark.parametrize(
    ("visibility", "shown"),
    [("locked", "a locked challenge"), ("preview", "Two"), ("hidden", None)],
)
def test_the_next_link_shows_a_locked_challenge_as_its_card_does(
    root, solo, login, visibility, shown
):
    write_spec(root, "misc/one", "name: One\nvalue: 1\nflags: [x]\nnext: Two\n")
    write_spec(
        root,
        "misc/two",
        "name: Two\nvalue: 1\nflags: [y]\nrequirements: [One]\n"
        f"locked_visibility: {visibility}\n",
    )
    catalog_rescan(catalog=root)
    one, two = (Challenge.objects.get(name=n) for n in ("One", "Two"))

    page = login(solo).get(one.get_absolute_url()).content.decode()

    if shown is None:
        assert "Next:" not in page
    else:
        link = re.search(r'Next: <a href="([^"]+)">(.*?) →</a>', page, re.S)
        text = re.sub(r"<svg.*?</svg>\s*", "", link[2], flags=re.S)  # the lock icon
        assert (link[1], text) == (two.get_absolute_url(), shown)
