"""Benchmark: the warm wrong-flag path on embedded defaults, per cache backend.

`make run` (no REDIS_URL) used a per-process memory cache; it now uses files
under VAR_DIR (`ctfplatform.cache.SharedFileCache`), so that a command's
revocation reaches the server. This measures what that costs where it matters
most: in process (Django test client), on a throw-away SQLite database, a
wrong flag by API token and by the page's form (session), every principal
already seen once (token, principal and catalog version cached), plus the
board page and the scoreboard page. Each backend is measured in turn, twice,
alternating, on the same rows (submissions are deleted between rounds so the
lockout replay reads the same amount).

Run:  .venv/bin/python bench/embedded_cache.py [--players 300] [--rounds 2]
"""

import argparse
import statistics
import sys
import time

from _common import canary, load, summary, throwaway_database

LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


def build(players: int):
    from accounts.models import User
    from accounts.services import team_create, token_create
    from challenges.catalog import normalize_name
    from challenges.models import Challenge, Competition, Question

    Competition.objects.default()
    challenge = Challenge.objects.create(
        identity="misc/bench", name="Bench", normalized_name=normalize_name("Bench")
    )
    Question.objects.create(
        challenge=challenge,
        key="main",
        points=100,
        flags=[{"kind": "static", "content": "CTF{right}", "template": ""}],
    )
    rows = []
    for n in range(players):
        user = User.objects.create_user(f"p{n}", password="x")  # noqa: S106
        team_create(user=user, name=f"Team {n}")
        _, raw = token_create(user=user)
        rows.append((user, raw))
    return challenge, rows


def measure(challenge, rows, backend: dict) -> dict[str, list[float]]:
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import override_settings

    from accounts.models import APIToken
    from accounts.services import _token_key
    from challenges.access import catalog_version_forget
    from scoring.models import Submission

    api_url = f"/api/v1/challenges/{challenge.pk}/attempt"
    page_url = f"/challenges/{challenge.pk}/attempt/"
    times: dict[str, list[float]] = {}
    with override_settings(CACHES={"default": backend}):
        cache.clear()
        catalog_version_forget()
        Submission.objects.all().delete()
        clients = []
        for user, _ in rows:
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(user)
            clients.append(client)

        def api(i, flag):
            return clients[i].post(
                api_url,
                {"flag": flag},
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Token {rows[i][1]}",
            )

        def page(i, flag):
            return clients[i].post(page_url, {"flag": flag}, HTTP_HX_REQUEST="true")

        def get(i, url):
            return clients[i].get(url)

        cases = [
            ("wrong flag, API token", lambda i: api(i, f"CTF{{a{i}}}"), 200),
            ("wrong flag, page form", lambda i: page(i, f"CTF{{b{i}}}"), 200),
            ("board page", lambda i: get(i, "/challenges/"), 200),
            ("scoreboard page", lambda i: get(i, "/scoreboard/"), 200),
        ]
        for i in range(len(rows)):  # warm: every principal, token, page once
            for _, call, expected in cases:
                assert call(i).status_code == expected
        Submission.objects.all().delete()  # two wrong in the window, no lockout
        for name, call, expected in cases:
            samples = times.setdefault(name, [])
            for i in range(len(rows)):
                start = time.perf_counter()
                response = call(i)
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == expected, response.content[:200]
                if name.startswith("wrong flag, API"):
                    assert response.json()["result"] == "wrong", response.json()
        calls = cache_calls(cases)
        token_key = _token_key(APIToken.objects.values_list("key_hash", flat=True)[0])
        times["cache get (a cached token)"] = micro(lambda: cache.get(token_key))
        cache.clear()
    return times, calls


def micro(fn, n: int = 2000) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def cache_calls(cases) -> dict[str, str]:
    """Cache operations of one warm request per case, by method."""
    from django.core.cache import caches

    backend = type(caches["default"])
    counts: dict[str, int] = {}
    originals = {}
    for name in ("get", "set", "add", "delete", "incr", "get_many", "set_many"):
        original = getattr(backend, name)
        originals[name] = original

        def counted(self, *a, _name=name, _original=original, **kw):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(self, *a, **kw)

        setattr(backend, name, counted)
    result = {}
    try:
        for case, call, _ in cases:
            counts.clear()
            call(0)
            result[case] = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    finally:
        for name, original in originals.items():
            setattr(backend, name, original)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--players", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with throwaway_database("unused") as label:
        if "PostgreSQL" in label:
            sys.exit("this benchmark is about embedded defaults: unset DATABASE_URL")
        from django.conf import settings

        backends = {
            "locmem (before)": LOCMEM,
            "file (after)": settings.CACHES["default"],
        }
        print(label, "|", load(), f"| CPU canary {canary():.1f} ms")
        challenge, rows = build(args.players)
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, backend in backends.items():
                times, calls = measure(challenge, rows, backend)
                for case, samples in times.items():
                    results.setdefault((case, name), []).extend(samples)
        for case, ops in calls.items():
            print(f"cache calls of one warm request, {case}: {ops or 'none'}")
        print(f"{'case':28} {'backend':16} {'median':>8} {'p95':>8}   (ms)")
        for (case, backend), samples in results.items():
            print(f"{case:28} {backend:16} {summary(samples)}")
        for case in dict.fromkeys(c for c, _ in results):
            before = statistics.median(results[(case, "locmem (before)")])
            after = statistics.median(results[(case, "file (after)")])
            print(f"{case:28} file - locmem = {after - before:+.3f} ms (median)")
        print(load(), f"| CPU canary {canary():.1f} ms")


if __name__ == "__main__":
    main()
