from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD


def test_it_registers_and_logs_in_a_player(db):
    client = Client()
    response = client.post(
        reverse("accounts:register"),
        {
            "username": "newbie",
            "email": "n@example.org",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="newbie").check_password(PASSWORD)
    assert client.get(reverse("accounts:team")).status_code == 200


def test_it_refuses_registration_when_closed(db, settings):
    settings.REGISTRATION_OPEN = False
    client = Client()
    page = client.get(reverse("accounts:register"))
    assert page.status_code == 403
    assert b"Registration is closed" in page.content
    response = client.post(
        reverse("accounts:register"),
        {
            "username": "late",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="late").exists()


def test_it_refuses_a_username_taken_in_another_case(solo):
    response = Client().post(
        reverse("accounts:register"),
        {
            "username": "SOLO",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert b"That username is taken" in response.content
    assert User.objects.filter(username__iexact="solo").count() == 1


def test_it_logs_in_with_any_case_of_the_username(solo):
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": "SoLo", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("accounts:team")).context["user"] == solo


def test_the_team_page_needs_a_login(db):
    response = Client().get(reverse("accounts:team"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_it_creates_a_team_from_the_page_through_htmx(login, solo):
    client = login(solo)
    response = client.post(
        reverse("accounts:team-create"),
        {"name": "Byte Bandits"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"Team Byte Bandits created" in response.content
    assert b"<html" not in response.content  # the panel alone, swapped in place
    solo.refresh_from_db()
    assert solo.team.name == "Byte Bandits"


def test_it_shows_a_wrong_code_in_place(login, solo, team):
    response = login(solo).post(
        reverse("accounts:team-join"), {"code": "nope"}, HTTP_HX_REQUEST="true"
    )
    assert b"No team has that invite code" in response.content


def test_members_see_the_invite_code_and_outsiders_do_not(
    login, team, member, outsider
):
    assert (
        team.invite_code in login(member).get(reverse("accounts:team")).content.decode()
    )
    page = login(outsider).get(reverse("accounts:team")).content.decode()
    assert team.invite_code not in page


def test_the_captain_transfers_from_the_page(login, team, captain, member):
    response = login(captain).post(reverse("accounts:team-transfer", args=[member.pk]))
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.captain == member


def test_forms_are_csrf_protected(solo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(solo)
    response = client.post(reverse("accounts:team-create"), {"name": "No Token"})
    assert response.status_code == 403
    solo.refresh_from_db()
    assert solo.team is None


def test_the_navigation_shows_admin_only_to_staff(login, organizer, solo):
    admin_link = f'href="{reverse("admin:index")}"'
    assert admin_link in login(organizer).get(reverse("accounts:team")).content.decode()
    assert admin_link not in login(solo).get(reverse("accounts:team")).content.decode()


def test_the_page_loads_htmx_and_css_from_this_server(client, db):
    html = client.get(reverse("accounts:login")).content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert "/static/css/app.css" in html
    assert "https://" not in html  # no CDN
