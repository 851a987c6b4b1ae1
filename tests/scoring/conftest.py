"""Scoring fixtures: a clean Redis (and cache) per test, fast password hashing."""

import pytest
from django.conf import settings
from django.core.cache import cache


def redis_flush() -> None:
    """Empty Redis (flags, rate limits, the index marker) and the cache."""
    cache.clear()
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        get_redis_connection("default").flushdb()


@pytest.fixture(autouse=True)
def clean_store(settings):
    # Sequences are not rolled back on PostgreSQL, but Redis outlives every
    # test: start and leave it empty so no test sees another's flags or locks.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    redis_flush()
    yield
    redis_flush()


@pytest.fixture
def needs_redis():
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (make test provides it)")


@pytest.fixture
def needs_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (make test provides it)")
