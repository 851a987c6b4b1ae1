"""Shared personas: organizer, team captain, team member, solo player, outsider."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

from accounts.models import Team, User
from accounts.services import team_create, team_join
from challenges.access import catalog_version_forget

# The `browser` fixture (headless Chromium) for the browser tests.
pytest_plugins = ["tests.browser"]

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True, scope="session")
def own_file_cache(tmp_path_factory):
    # Plain pytest (no REDIS_URL) runs on the embedded file cache: in a folder
    # of its own, not the var/cache of a `make run` server beside it.
    default = settings.CACHES["default"]
    if default["BACKEND"] != "ctfplatform.cache.SharedFileCache":
        yield
        return
    folder = str(tmp_path_factory.mktemp("cache"))
    with override_settings(CACHES={"default": {**default, "LOCATION": folder}}):
        yield


@pytest.fixture(autouse=True)
def fresh_cache():
    # The cache outlives a test's rolled-back rows, and on SQLite a later test
    # reuses their ids: cached tokens, catalog versions and the attempt path's
    # per-process copies (keyed by the version) must not carry over.
    cache.clear()
    catalog_version_forget()
    yield
    cache.clear()
    catalog_version_forget()


def make_user(username: str, **extra) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.org", password=PASSWORD, **extra
    )


@pytest.fixture
def organizer(db) -> User:
    return make_user("orga", is_staff=True, is_superuser=True)


@pytest.fixture
def captain(db) -> User:
    user = make_user("cap")
    team_create(user=user, name="Null Pointers")
    return user


@pytest.fixture
def team(captain) -> Team:
    return captain.team


@pytest.fixture
def member(team) -> User:
    user = make_user("mem")
    team_join(user=user, code=team.invite_code)
    return user


@pytest.fixture
def solo(db) -> User:
    return make_user("solo")


@pytest.fixture
def outsider(db) -> User:
    return make_user("outsider")


@pytest.fixture
def login():
    """Return a client logged in as the given user."""

    def _login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login
