"""Who sees and opens which challenge: requirements evaluated for one player."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Cohort
from audit.models import EventLog, EventType
from challenges.access import RequirementContext, challenge_access
from challenges.models import Challenge, Competition, Question
from challenges.services import catalog_rescan, challenge_set_state
from scoring.models import Principal

from .factories import (
    board_for,
    fast_password_hashing,  # noqa: F401  (fixture)
    form_data,
    make_challenge,
    principal_of,
    solve,
    spec,
    team_with_players,
    write_spec,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def card_of(user, challenge):
    return board_for(user).get(challenge.pk)


def is_open(user, challenge) -> bool:
    card = card_of(user, challenge)
    return card is not None and card.access.is_open


@pytest.fixture
def warmup(db):
    return make_challenge("Warmup")


def test_it_hides_a_locked_challenge_by_default(solo, warmup):
    gated = make_challenge("Gated", requirement='(COMPLETED "Warmup")')

    cards = board_for(solo).cards()

    assert [c.challenge for c in cards] == [warmup]
    assert card_of(solo, gated) is None


def test_it_shows_a_locked_card_with_its_explanation(solo, warmup):
    gated = make_challenge(
        "Gated", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )

    card = card_of(solo, gated)

    assert card.access.state == "locked"
    assert not card.access.is_open
    assert card.access.explanation == "Solve Warmup"


def test_it_shows_a_preview_card(solo, warmup):
    gated = make_challenge(
        "Gated", requirement='(COMPLETED "Warmup")', locked_visibility="preview"
    )

    card = card_of(solo, gated)

    assert card.access.state == "preview"
    assert card.points == 100


def test_it_opens_a_challenge_once_its_requirement_is_met(solo, warmup):
    gated = make_challenge("Gated", requirement='(COMPLETED "Warmup")')
    solve(principal_of(solo), warmup)

    assert is_open(solo, gated)


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Warm Up", "warm up"),
        ("Warm Up", "WARM   UP"),
        ("Straße", "STRASSE"),
        ("🔥 Ｆｉｒｅ", "🔥 fire"),
        ("Café", "CAFE\u0301"),
    ],
)
def test_it_matches_completed_names_ignoring_case_and_unicode_forms(
    solo, name, written
):
    first = make_challenge(name)
    gated = make_challenge("Gated", requirement=f'(COMPLETED "{written}")')
    solve(principal_of(solo), first)

    assert is_open(solo, gated)
    gated.refresh_from_db()
    assert gated.requirement_error == ""


def test_it_matches_completed_ids(solo, warmup):
    gated = make_challenge("Gated", requirement=f"(COMPLETED {warmup.pk})")
    assert not is_open(solo, gated)

    solve(principal_of(solo), warmup)

    assert is_open(solo, gated)


def test_it_counts_a_multi_question_challenge_only_when_every_question_is_solved(solo):
    rsa = make_challenge("RSA", questions=("modulus", "plaintext"))
    gated = make_challenge("Gated", requirement='(COMPLETED "RSA")')
    principal = principal_of(solo)

    solve(principal, rsa, "modulus")
    assert not is_open(solo, gated)

    solve(principal, rsa, "plaintext")
    assert is_open(solo, gated)


def test_it_shares_solves_within_a_team(captain, member, warmup):
    gated = make_challenge("Gated", requirement='(COMPLETED "Warmup")')

    solve(principal_of(captain), warmup)

    assert is_open(member, gated)


def test_it_ignores_solves_in_another_competition(solo, warmup):
    gated = make_challenge("Gated", requirement='(COMPLETED "Warmup")')
    other = Competition.objects.create(name="Other", slug="other")
    solve(principal_of(solo, other), warmup)

    assert not is_open(solo, gated)


def test_it_binds_user_score_to_the_principal(captain, member):
    gated = make_challenge("Gated", requirement="(>= (USER-SCORE) 300)")
    principal = principal_of(captain)
    assert not is_open(member, gated)

    Principal.objects.filter(pk=principal.pk).update(ledger_total=300)

    assert is_open(member, gated)


def test_it_binds_cohort_to_the_player(solo, outsider):
    gated = make_challenge("Gated", requirement='(COHORT "Students")')
    students = Cohort.objects.create(name="students")
    students.members.add(solo)

    assert is_open(solo, gated)
    assert not is_open(outsider, gated)


def test_it_matches_cohorts_by_id(solo, outsider):
    students = Cohort.objects.create(name="Students")
    students.members.add(solo)
    gated = make_challenge("Gated", requirement=f"(COHORT {students.pk})")

    assert is_open(solo, gated)
    assert not is_open(outsider, gated)


def test_it_binds_team_name_and_size(captain, member, solo):
    by_name = make_challenge("Invited", requirement='(= (TEAM-NAME) "Null Pointers")')
    pairs = make_challenge("Pairs", requirement="(<= 1 (TEAM-SIZE) 2)")
    trio = team_with_players("Trio", size=3)
    trio_player = trio.members.first()

    assert is_open(member, by_name)
    assert is_open(member, pairs)
    assert not is_open(solo, by_name)
    assert not is_open(solo, pairs)
    assert not is_open(trio_player, by_name)
    assert not is_open(trio_player, pairs)


def test_it_counts_solves_per_category(solo):
    web = [make_challenge(f"Web {i}", category="web") for i in range(2)]
    pwn = make_challenge("Pwn 1", category="pwn")
    gated = make_challenge("Boss", category="web", requirement='(>= (SOLVES "Web") 2)')
    any_two = make_challenge("Any", requirement="(>= (SOLVES) 2)")
    principal = principal_of(solo)

    solve(principal, web[0])
    solve(principal, pwn)
    assert not is_open(solo, gated)
    assert is_open(solo, any_two)

    solve(principal, web[1])
    assert is_open(solo, gated)


@pytest.mark.parametrize(
    ("requirement", "opens"),
    [
        ('(AFTER "2000-01-01")', True),
        ('(BEFORE "2000-01-01")', False),
        ('(AFTER "2999-12-31 23:59")', False),
        ('(BEFORE "2999-12-31 23:59")', True),
        ("(AFTER 946684800)", True),
    ],
)
def test_it_evaluates_before_and_after_against_now(solo, requirement, opens):
    gated = make_challenge("Timed", requirement=requirement)

    assert is_open(solo, gated) is opens


def test_staff_see_every_challenge_open(organizer, warmup):
    gated = make_challenge("Gated", requirement='(COMPLETED "Warmup")')
    broken = make_challenge("Broken", requirement='(COMPLETED "Nowhere")')

    cards = board_for(organizer).cards()

    assert {c.challenge for c in cards} == {warmup, gated, broken}
    assert all(c.access.is_open for c in cards)


def test_a_failing_requirement_locks_the_challenge_and_is_reported_once(solo, login):
    broken = make_challenge(
        "Broken", requirement='(COMPLETED "Nowhere")', locked_visibility="locked"
    )
    client = login(solo)

    pages = [client.get(reverse("challenges:board")) for _ in range(3)]

    assert all(p.status_code == 200 for p in pages)
    assert "Locked" in pages[-1].content.decode()
    broken.refresh_from_db()
    assert "Nowhere" in broken.requirement_error
    events = EventLog.objects.filter(event_type=EventType.REQUIREMENT_ERROR)
    assert events.count() == 1
    assert events.get().details["challenge"] == broken.pk
    assert client.get(broken.get_absolute_url()).status_code == 403


def test_a_failing_requirement_hides_a_hidden_when_locked_challenge(solo, outsider):
    broken = make_challenge("Broken", requirement='(COMPLETED "Nowhere")')

    assert card_of(solo, broken) is None
    assert card_of(outsider, broken) is None
    assert EventLog.objects.filter(event_type=EventType.REQUIREMENT_ERROR).count() == 1


def test_the_challenge_admin_flags_a_requirement_error(organizer, solo, login):
    make_challenge("Broken", requirement='(COMPLETED "Nowhere")')
    make_challenge("Fine")
    board_for(solo).cards()

    response = login(organizer).get(
        reverse("admin:challenges_challenge_changelist"), {"problem": "requirement"}
    )

    page = response.content.decode()
    assert "Broken" in page
    assert "requirement error" in page
    assert "Fine" not in page


REQUIREMENTS = [
    '(COMPLETED "Warmup")',
    "(>= (USER-SCORE) 100)",
    '(OR (COHORT "Students") (>= (SOLVES "web") 1))',
    '(AND (<= (TEAM-SIZE) 4) (COMPLETED-ANY "Warmup" "Other"))',
    '(AFTER "2000-01-01")',
]


def add_gated(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        make_challenge(
            f"Gated {i}",
            category=("web", "pwn")[i % 2],
            requirement=REQUIREMENTS[i % len(REQUIREMENTS)],
            locked_visibility=("locked", "preview", "hidden")[i % 3],
        )


def test_the_board_costs_the_same_queries_for_5_and_50_challenges(member, login):
    make_challenge("Warmup")
    make_challenge("Other")
    Cohort.objects.create(name="Students").members.add(member)
    client = login(member)
    add_gated(5)
    client.get(reverse("challenges:board"))  # creates the principal

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("challenges:board"))
    add_gated(45, start=5)
    with CaptureQueriesContext(connection) as after_change:
        client.get(reverse("challenges:board"))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("challenges:board"))

    assert Challenge.objects.count() == 52
    assert response.content.decode().count('class="chal') > 30
    assert len(many.captured_queries) == len(few.captured_queries)
    # Only the first view after the catalog changed reloads its facts.
    assert len(after_change.captured_queries) == len(few.captured_queries) + 1


def test_completed_follows_a_rename_in_the_admin(organizer, solo, login):
    warmup = make_challenge("Warmup")
    gated = make_challenge(
        "Gated", requirement='(COMPLETED "Warm-up Round")', locked_visibility="locked"
    )
    solve(principal_of(solo), warmup)
    assert not is_open(solo, gated)  # this process now holds the old names
    admin = login(organizer)
    url = reverse("admin:challenges_challenge_change", args=[warmup.pk])
    data = form_data(admin.get(url).content.decode())
    data["name"] = ["Warm-up Round"]

    response = admin.post(url, data)

    assert response.status_code == 302
    warmup.refresh_from_db()
    assert warmup.name == "Warm-up Round"
    assert is_open(solo, gated)
    gated.refresh_from_db()
    assert gated.requirement_error == ""


def test_a_requirement_error_clears_once_the_requirement_evaluates(solo):
    gated = make_challenge(
        "Gated", requirement='(COMPLETED "Later")', locked_visibility="locked"
    )
    board_for(solo).cards()
    make_challenge("Later")

    card = card_of(solo, gated)

    assert card.access.explanation == "Solve Later"
    gated.refresh_from_db()
    assert gated.requirement_error == ""


def test_team_blocks_see_no_team_when_the_competition_is_solo_only(captain, member):
    Competition.objects.filter(is_default=True).update(play_mode="solo")
    solo_only = make_challenge("Solo only", requirement="(= (TEAM-SIZE) 0)")
    no_team = make_challenge("No team", requirement='(= (TEAM-NAME) "")')

    assert board_for(captain).principal.kind == "solo"
    assert is_open(captain, solo_only)
    assert is_open(member, no_team)


def evaluate_every_requirement(user) -> tuple[list, int]:
    """What `user` gets of every challenge, and the queries that took."""
    principal = principal_of(user)
    challenges = list(Challenge.objects.all())
    with CaptureQueriesContext(connection) as queries:
        context = RequirementContext(user, principal)
        functions = context.functions()
        accesses = [challenge_access(c, context, functions) for c in challenges]
    return accesses, len(queries.captured_queries)


def test_every_requirement_costs_the_same_queries_for_50_and_500_challenges(member):
    make_challenge("Warmup")
    make_challenge("Other")
    Cohort.objects.create(name="Students").members.add(member)
    add_gated(48)
    _, after_change_50 = evaluate_every_requirement(member)
    accesses, warm_50 = evaluate_every_requirement(member)
    assert {a.state for a in accesses} == {"open", "locked", "preview", "hidden"}

    add_gated(450, start=48)
    _, after_change_500 = evaluate_every_requirement(member)
    accesses, warm_500 = evaluate_every_requirement(member)

    assert len(accesses) == 500
    # The player's facts in one query; the catalog facts once more after a change.
    assert (after_change_50, warm_50) == (after_change_500, warm_500) == (2, 1)
    assert not Challenge.objects.exclude(requirement_error="").exists()


def test_a_failing_requirement_writes_nothing_on_the_next_board_views(solo, login):
    def broken(n: int, start: int = 0) -> None:
        for i in range(start, start + n):
            make_challenge(
                f"Broken {i}",
                requirement=f'(COMPLETED "Gone {i}")',
                locked_visibility="preview",
            )

    def board_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert "Broken 0" in client.get(reverse("challenges:board")).text
        return [q["sql"].split()[0].upper() for q in queries.captured_queries]

    client = login(solo)
    broken(3)
    first = board_queries()
    few = board_queries()
    broken(7, start=3)
    board_queries()
    many = board_queries()

    assert first.count("UPDATE") == 3
    assert {"UPDATE", "INSERT", "DELETE"}.isdisjoint(few + many)
    assert len(few) == len(many)
    assert Challenge.objects.exclude(requirement_error="").count() == 10
    assert EventLog.objects.filter(event_type=EventType.REQUIREMENT_ERROR).count() == 10


def test_a_requirement_failing_differently_per_player_is_flagged_once(
    solo, member, login
):
    broken = make_challenge(
        "Broken", requirement="(COMPLETED (TEAM-NAME))", locked_visibility="preview"
    )
    clients = [login(solo), login(member)]
    for client in clients:  # solo first: "no challenge is named ''"
        client.get(reverse("challenges:board"))

    with CaptureQueriesContext(connection) as queries:
        for client in clients * 2:
            assert "Broken" in client.get(reverse("challenges:board")).text

    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert {"UPDATE", "INSERT", "DELETE"}.isdisjoint(statements)
    broken.refresh_from_db()
    assert broken.requirement_error.endswith("no challenge is named ''")
    assert EventLog.objects.filter(event_type=EventType.REQUIREMENT_ERROR).count() == 1


def test_completed_follows_a_rename_by_rescan_in_the_same_process(solo, tmp_path):
    gated_spec = spec("Gated", extra='requirements: ["Warm-up Round"]\n')
    write_spec(tmp_path, "intro/warmup", spec("Warmup"))
    write_spec(tmp_path, "intro/gated", gated_spec)
    catalog_rescan(catalog=tmp_path)
    gated = Challenge.objects.get(name="Gated")
    solve(principal_of(solo), Challenge.objects.get(name="Warmup"))
    assert not is_open(solo, gated)
    gated.refresh_from_db()
    assert "Warm-up Round" in gated.requirement_error

    write_spec(tmp_path, "intro/warmup", spec("Warm-up Round"))
    catalog_rescan(catalog=tmp_path)

    assert is_open(solo, gated)
    gated.refresh_from_db()
    assert gated.requirement_error == ""


def test_a_question_added_to_a_solved_challenge_locks_what_needs_it(solo, warmup):
    gated = make_challenge(
        "Gated", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )
    solve(principal_of(solo), warmup)
    assert is_open(solo, gated)

    Question.objects.create(challenge=warmup, key="bonus", position=1)

    assert card_of(solo, gated).access.explanation == "Solve Warmup"


@pytest.mark.parametrize("gone", [{"state": "hidden"}, {"is_missing": True}])
def test_a_hidden_challenge_does_not_shadow_a_visible_one_of_its_name(solo, gone):
    make_challenge("Warmup", **gone)  # older: it used to win the name
    live = make_challenge("Warmup")
    gated = make_challenge("Gated", requirement='(COMPLETED "warmup")')

    solve(principal_of(solo), live)

    assert is_open(solo, gated)


def test_completed_of_a_hidden_challenge_counts_who_solved_it_before(solo, outsider):
    warmup = make_challenge("Warmup")
    gated = make_challenge(
        "Gated", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )
    solve(principal_of(solo), warmup)

    challenge_set_state(
        challenges=Challenge.objects.filter(pk=warmup.pk), state="hidden"
    )

    assert is_open(solo, gated)
    # The outsider's board no longer lists Warmup: the card does not name it.
    assert card_of(outsider, gated).access.explanation == "Solve another challenge"
    gated.refresh_from_db()
    assert gated.requirement_error == ""


def test_showing_and_hiding_moves_a_name_to_the_live_challenge(solo):
    solved = make_challenge("Warmup")
    other = make_challenge("Warmup", state="hidden")
    gated = make_challenge("Gated", requirement='(COMPLETED "Warmup")')
    solve(principal_of(solo), solved)
    assert is_open(solo, gated)

    challenge_set_state(
        challenges=Challenge.objects.filter(pk=solved.pk), state="hidden"
    )
    challenge_set_state(
        challenges=Challenge.objects.filter(pk=other.pk), state="visible"
    )

    assert not is_open(solo, gated)
