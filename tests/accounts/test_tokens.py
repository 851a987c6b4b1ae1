from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import APIToken
from accounts.services import token_create, token_revoke


def api_get(path: str, token: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return Client().get(path, **headers)


def test_the_command_prints_a_token_once_and_stores_only_its_hash(solo):
    out, err = StringIO(), StringIO()
    call_command("token", "create", "solo", "--expires", "7", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = APIToken.objects.get(user=solo)
    assert raw.startswith("ctf_") and len(raw) > 40
    assert raw not in (token.key_hash, token.prefix)
    assert token.prefix in raw
    assert (
        timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(7)
    )
    assert "shown once" in err.getvalue()
    assert api_get("/api/v1/me", raw).json()["username"] == "solo"


def test_the_command_names_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("token", "create", "ghost")


def test_a_token_authenticates_and_notes_its_last_use(member, team):
    token, raw = token_create(user=member)
    response = api_get("/api/v1/me", raw)
    assert response.status_code == 200
    assert response.json()["team"] == {
        "id": team.pk,
        "name": team.name,
        "captain": "cap",
    }
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_it_refuses_requests_without_a_token(db):
    response = api_get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_it_refuses_a_bad_token(solo):
    token_create(user=solo)
    response = api_get("/api/v1/me", "ctf_not-a-real-token")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid, expired or revoked token."


def test_it_refuses_an_expired_token(solo):
    token, raw = token_create(user=solo, expires_days=1)
    APIToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert api_get("/api/v1/me", raw).status_code == 401


def test_it_refuses_a_revoked_token(solo):
    token, raw = token_create(user=solo)
    assert api_get("/api/v1/me", raw).status_code == 200
    token_revoke(token=token)
    assert api_get("/api/v1/me", raw).status_code == 401


def test_the_command_revokes_by_prefix(solo):
    token, raw = token_create(user=solo)
    call_command("token", "revoke", token.prefix, stdout=StringIO())
    assert api_get("/api/v1/me", raw).status_code == 401


def test_a_deactivated_user_loses_api_access(solo):
    _, raw = token_create(user=solo)
    solo.is_active = False
    solo.save()
    assert api_get("/api/v1/me", raw).status_code == 401


def test_the_browser_session_works_on_the_api(login, solo):
    assert login(solo).get("/api/v1/me").json()["username"] == "solo"


def test_unknown_api_routes_answer_json_404(solo):
    _, raw = token_create(user=solo)
    response = api_get("/api/v1/nothing-here", raw)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_it_accepts_a_bearer_token(solo):
    _, raw = token_create(user=solo)

    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert response.json()["username"] == "solo"


def test_a_wrong_scheme_says_which_schemes_work(solo):
    _, raw = token_create(user=solo)

    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"JWT {raw}")

    assert response.status_code == 401
    assert response.json()["detail"] == (
        "Unsupported authorization scheme 'JWT'. Send 'Authorization: Token "
        "<token>' or 'Authorization: Bearer <token>'."
    )


def test_a_trailing_slash_answers_like_the_route_without_it(solo):
    _, raw = token_create(user=solo)

    response = api_get("/api/v1/me/", raw)

    assert response.status_code == 200
    assert response.json() == api_get("/api/v1/me", raw).json()
    assert api_get("/api/v1/nothing-here/", raw).status_code == 404
