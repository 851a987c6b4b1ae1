"""Benchmark: the admin's event dashboard and the statistics behind it, with
10,000 principals.

The API issue's figure: the dashboard "stays cheap with 10,000 principals".
On a throw-away database (PostgreSQL when DATABASE_URL is set, as under
tests/services.sh; SQLite otherwise) and the cache of REDIS_URL:

1. `generate_fixture` (--principals, --challenges, --solves over two days),
   then --submissions more in the last three hours (a fifth correct, as solves
   of the fixture's questions would not be: these are wrong and correct
   attempts for the activity chart), and --cheats open cheat records.
2. In process (Django's test client, logged in as staff, DEBUG off): the
   dashboard (the admin index), its htmx panels, the statistics screen, a
   challenge's drawer, `GET /api/v1/admin/challenges/stats` and `.../timeseries`,
   each --runs times: median and p95 wall time, SQL queries per request.
   "warm": what a refresh costs (the activity's settled minutes and the first
   bloods are brought up to date from the cache); "cold": the cache emptied
   before every request (the first view after a flush: everything counted).

Prints a CPU canary (a 1e6-iteration Python loop) and the load average before
and after. Run:  tests/services.sh .venv/bin/python bench/dashboard.py
"""

import argparse
import random
import statistics
import time

from _common import add_db_options, canary, load, p, throwaway_database


def parse_args():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    ap.add_argument("--principals", type=int, default=10_000)
    ap.add_argument("--challenges", type=int, default=100)
    ap.add_argument("--solves", type=int, default=200_000)
    ap.add_argument("--submissions", type=int, default=100_000)
    ap.add_argument("--cheats", type=int, default=200)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    add_db_options(ap)
    return ap.parse_args()


def build(args):
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from challenges.models import Question
    from scoring.models import CheatKind, CheatRecord, Principal, Submission

    start = time.perf_counter()
    call_command(
        "generate_fixture",
        principals=args.principals,
        challenges=args.challenges,
        solves=args.solves,
        seed=args.seed,
        verbosity=0,
    )
    print(f"generate_fixture: {time.perf_counter() - start:.1f} s")
    rng = random.Random(args.seed)
    principals = list(Principal.objects.values_list("pk", flat=True))
    questions = list(Question.objects.values_list("pk", flat=True))
    now = timezone.now()
    submissions = Submission.objects.bulk_create(
        (
            Submission(
                principal_id=rng.choice(principals),
                question_id=rng.choice(questions),
                flag_hash=f"{n:064x}",
                result="correct" if n % 5 == 0 else "wrong",
                created_at=now - timedelta(seconds=rng.uniform(0, 3 * 3600)),
            )
            for n in range(args.submissions)
        ),
        batch_size=5000,
    )
    CheatRecord.objects.bulk_create(
        CheatRecord(
            kind=CheatKind.SHARE,
            submitter_id=rng.choice(principals),
            owner_id=rng.choice(principals),
            submission=submissions[n],
        )
        for n in range(args.cheats)
    )
    staff = User.objects.create_user("bench-staff", is_staff=True, is_superuser=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"{len(principals)} principals, {len(questions)} challenges, "
        f"{args.solves} solves, {args.submissions} submissions in the last 3 h, "
        f"{args.cheats} cheat records"
    )
    return staff


def measure(client, url: str, runs: int, before=None, **headers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    client.get(url, **headers)  # the first request loads the session and code
    for _ in range(runs):
        if before:
            before()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url, **headers)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured)
    return times, queries


def main() -> None:
    args = parse_args()
    with throwaway_database(args.pg_db) as label:
        from django.conf import settings
        from django.core.cache import cache
        from django.test import Client

        from challenges.models import Challenge

        settings.ALLOWED_HOSTS = ["testserver"]
        print(label, "|", load(), f"| CPU canary {canary():.1f} ms")
        staff = build(args)
        client = Client()
        client.force_login(staff)
        busiest = Challenge.objects.order_by("pk").first().pk

        def cold():
            cache.clear()
            client.force_login(staff)  # the session lived in the cache

        cases = [
            ("dashboard page, warm", "/admin/", None, {}),
            (
                "dashboard panels (htmx), warm",
                "/admin/dashboard/panels/",
                None,
                {"HTTP_HX_REQUEST": "true"},
            ),
            (
                "dashboard panels (htmx), cold",
                "/admin/dashboard/panels/",
                cold,
                {"HTTP_HX_REQUEST": "true"},
            ),
            ("statistics screen", "/admin/statistics/", None, {}),
            (
                "statistics drawer (24 h)",
                f"/admin/statistics/{busiest}/",
                None,
                {"HTTP_HX_REQUEST": "true"},
            ),
            (
                "API stats, limit=100",
                "/api/v1/admin/challenges/stats?limit=100",
                None,
                {},
            ),
            (
                "API timeseries 24 h / 1 h",
                f"/api/v1/admin/challenges/{busiest}/timeseries",
                None,
                {},
            ),
        ]
        print(f"{'request':34} {'median':>8} {'p95':>8} {'queries':>8}   (ms)")
        for name, url, before, headers in cases:
            times, queries = measure(client, url, args.runs, before, **headers)
            print(
                f"{name:34} {statistics.median(times):8.1f} {p(times, 0.95):8.1f}"
                f" {queries:8d}"
            )
        print(load(), f"| CPU canary {canary():.1f} ms")


if __name__ == "__main__":
    main()
