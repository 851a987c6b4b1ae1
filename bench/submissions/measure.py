"""In-process measurements for bench/submissions.py (Django already set up):
queries and Redis round trips of single attempts, serial time, py-spy stacks."""

import collections
import random
import statistics
import time
from pathlib import Path


def in_process(world, pick) -> tuple[list, dict]:
    """Rows (request, SQL count, Redis round trips, SQL) and serial medians (ms)."""
    import redis.client
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    calls, client, rng = [0], Client(), random.Random(7)
    originals = redis.client.Redis.execute_command, redis.client.Pipeline.execute

    def counted(original):
        def wrapper(*a, **kw):
            calls[0] += 1
            return original(*a, **kw)
        return wrapper

    def post(p, q, flag):
        return client.post(f"/api/v1/challenges/{world['questions'][q][0]}/attempt",
                           {"flag": flag}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {world['tokens'][p]}",
                           HTTP_HOST="127.0.0.1")

    p1, p2, p3, p4 = world["reserved"][:4]
    s1, d2, d3 = (next(q for q, v in world["questions"].items()
                       if v[1] == kind and (p, q) not in world["used"]
                       and q not in world["dynamic"])
                  for p, kind in ((p1, "static"), (p2, "derived"), (p3, "derived")))
    y1 = next(q for q in world["dynamic"] if (p1, q) not in world["used"])
    cases = [("wrong, 1st after start (index rebuild)", p1, s1, "CTF{x}"),
             ("wrong, warm (the same principal again)", p1, s1, "CTF{x2}"),
             ("wrong, first of a principal (token, copies loaded)", p4, s1, "CTF{x3}"),
             ("correct (static flag)", p1, s1, world["questions"][s1][2]),
             ("correct (dynamic challenge, static flag)", p1, y1,
              world["questions"][y1][2]),
             ("already_solved", p1, s1, "CTF{x4}"),
             ("shared (another's derived flag)", p2, d2, world["own"][d2][p1]),
             ("wrong, 3rd in 30 s: locks", p2, d2, "CTF{x5}"),
             ("rate_limited", p2, d2, "CTF{x6}"),
             ("correct (derived flag)", p3, d3, world["own"][d3][p3])]
    rows = []
    redis.client.Redis.execute_command = counted(originals[0])
    redis.client.Pipeline.execute = counted(originals[1])
    try:
        for label, p, q, flag in cases:
            if label.startswith("wrong, 3rd"):  # the shared flag was the 1st
                post(p, q, f"CTF{{{rng.random()}}}")
            calls[0] = 0
            with CaptureQueriesContext(connection) as ctx:
                r = post(p, q, flag)
            sqls = [" ".join(x["sql"].split())[:100] for x in ctx.captured_queries]
            rows.append((f"{label} -> {r.status_code} {r.json().get('result')}",
                         len(sqls), calls[0], sqls))
    finally:
        redis.client.Redis.execute_command, redis.client.Pipeline.execute = originals
    # Serial time of wrong submissions: first ones of fresh principals (token,
    # principal and Redis copies loaded), then the same principals again (warm).
    serial = {}
    players = world["reserved"][4:44]
    for label in ("first of a principal", "warm"):
        times = []
        for p in players:
            _, q, flag = pick(world, rng, "wrong", [p])
            t0 = time.perf_counter()
            post(p, q, flag)
            times.append((time.perf_counter() - t0) * 1000)
        serial[f"wrong submission, {label}"] = statistics.median(times)
    # Correct flags of warm principals, static and dynamic challenges apart.
    for label, wanted in (("static", False), ("dynamic", True)):
        times = []
        for p in players:
            q = next((q for q, v in world["questions"].items()
                      if (q in world["dynamic"]) == wanted and v[1] == "static"
                      and (p, q) not in world["used"]), None)
            if q is None:
                continue
            world["used"].add((p, q))
            t0 = time.perf_counter()
            assert post(p, q, world["questions"][q][2]).json()["result"] == "correct"
            times.append((time.perf_counter() - t0) * 1000)
        serial[f"correct submission, {label} challenge"] = statistics.median(times)
    return rows, serial


def spy_report(raw: Path, root: Path, top: int = 30) -> list[tuple[str, float, float]]:
    """(function, inclusive %, self %) of the samples taken inside a request,
    leaving out frames in more than 90% of them (gunicorn, middleware, DRF)."""
    incl, own, total = collections.Counter(), collections.Counter(), 0
    site = str(root / ".venv" / "lib" / "python3.11" / "site-packages") + "/"
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.replace(site, "").replace(str(root) + "/", "").split(";")
        if not any(f.startswith("WSGIHandler.__call__") for f in frames):
            continue  # not in a request: idle threads, the arbiter
        frames = [f.rsplit(":", 1)[0] + ")" for f in frames
                  if not f.startswith("process ")]
        total += int(n)
        for f in set(frames):
            incl[f] += int(n)
        own[frames[-1] if frames else "?"] += int(n)
    names = [f for f, n in incl.most_common() if n < 0.9 * total][:top]
    names += [f for f, _ in own.most_common(12)]
    return [(f, 100 * incl[f] / total, 100 * own[f] / total)
            for f in dict.fromkeys(names)]
