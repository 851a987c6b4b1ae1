"""The embedded cache is shared by every process of an installation: a change
made by a command reaches a running server at once."""

import json
import multiprocessing
import time

import pytest

from ctfplatform.cache import SharedFileCache
from scoring.hot import REVALIDATE_SECONDS
from tests.challenges.catalog_factory import MINIMAL

from .embedded import Install

SPEC = MINIMAL + "state: {state}\n"


def _cache(folder) -> SharedFileCache:
    return SharedFileCache(str(folder), {})


def _increment(folder, n: int) -> None:
    cache = _cache(folder)
    for _ in range(n):
        cache.incr("counter")


def _add(folder, who: int, start, results) -> None:
    cache = _cache(folder)
    start.wait()
    results.put((who, cache.add("marker", who, 60)))


def _processes(target, *args_of) -> None:
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=target, args=args) for args in args_of]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0


def test_it_loses_no_increment_between_processes(tmp_path):
    cache = _cache(tmp_path)
    cache.set("counter", 0, None)
    _processes(_increment, *[(tmp_path, 200)] * 4)
    assert cache.get("counter") == 800


def test_exactly_one_process_adds_a_key(tmp_path):
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    context_args = [(tmp_path, who, start, results) for who in range(8)]
    processes = [context.Process(target=_add, args=a) for a in context_args]
    for process in processes:
        process.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    winners = [who for who, added in outcomes if added]
    assert len(winners) == 1
    assert _cache(tmp_path).get("marker") == winners[0]


def test_an_increment_keeps_the_expiry(tmp_path):
    cache = _cache(tmp_path)
    cache.set("forever", 1, None)
    cache.set("brief", 1, 1)
    assert cache.incr("forever") == 2 and cache.incr("brief") == 2
    time.sleep(1.1)
    assert cache.get("forever") == 2
    assert cache.get("brief") is None
    assert cache.add("brief", 5) is True  # an expired entry counts as absent
    with pytest.raises(ValueError):
        cache.incr("never-set")


def test_a_full_cache_drops_expired_entries_first(tmp_path, monkeypatch):
    monkeypatch.setattr("ctfplatform.cache.CULL_EVERY", 1)
    cache = SharedFileCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": 10}})
    cache.set("version", "v1", None)
    for n in range(9):
        cache.set(f"old{n}", n, 0.01)
    time.sleep(0.05)
    cache.set("fresh", 1, 60)
    assert cache.get("version") == "v1" and cache.get("fresh") == 1
    assert len(list(tmp_path.glob("*.djcache"))) == 2


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    """A migrated installation with a one-challenge catalog, a team and a token."""
    root = tmp_path_factory.mktemp("install")
    catalog = root / "catalog"
    (catalog / "misc" / "warmup").mkdir(parents=True)
    (catalog / "misc" / "warmup" / "challenge.yml").write_text(
        SPEC.replace("{state}", "visible")
    )
    install = Install(root / "var", CATALOG_DIR=str(catalog))
    install.catalog = catalog
    install.manage("migrate", "--noinput")
    install.manage("rescan")
    install.shell(
        "from accounts.models import User; from accounts.services import team_create;"
        "team_create(user=User.objects.create_user('alice', password='x'), name='Red')"
    )
    install.token = install.manage("token", "create", "alice").strip()
    install.challenge = install.shell(
        "from challenges.models import Challenge;"
        "print(Challenge.objects.get(name='Warmup').pk)"
    ).strip()
    return install


def _attempt(install, flag: str) -> tuple[int, dict]:
    status, body = install.request(
        f"/api/v1/challenges/{install.challenge}/attempt",
        data={"flag": flag},
        headers={"Authorization": f"Token {install.token}"},
    )
    return status, json.loads(body)


def soon(check) -> bool:
    """Whether `check()` holds within the workers' revalidation interval (the
    catalog version is asked for at most once a second, as with Redis)."""
    deadline = time.monotonic() + REVALIDATE_SECONDS + 0.5
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _standings(install) -> list[str]:
    feed = json.loads(install.get("/scoreboard/ctftime.json"))
    return [row["team"] for row in feed["standings"]]


def test_commands_take_effect_on_a_running_server(install):
    auth = {"Authorization": f"Token {install.token}"}
    with install.server():
        # Warm every per-process copy: the token, the board, the competition.
        assert install.request("/api/v1/me", headers=auth)[0] == 200
        assert _standings(install) == ["Red"]
        assert b"Frozen at" not in install.get("/scoreboard/")
        assert _attempt(install, "CTF{nope}")[1]["result"] == "wrong"

        install.shell(
            "from scoring.models import Principal;"
            "from scoring.services import principal_set_banned as ban;"
            "ban(principal=Principal.objects.get(), actor=None, banned=True)"
        )
        assert _standings(install) == []
        install.shell(
            "from scoring.models import Principal;"
            "from scoring.services import principal_set_banned as ban;"
            "ban(principal=Principal.objects.get(), actor=None, banned=False)"
        )
        assert _standings(install) == ["Red"]

        install.shell(
            "from challenges.models import Competition;"
            "from challenges.services import competition_freeze as freeze;"
            "freeze(competition=Competition.objects.default(), actor=None)"
        )
        assert soon(lambda: b"Frozen at" in install.get("/scoreboard/"))

        (install.catalog / "misc" / "warmup" / "challenge.yml").write_text(
            SPEC.replace("{state}", "hidden")
        )
        install.manage("rescan")
        assert soon(lambda: _attempt(install, "CTF{nope}")[0] == 404)

        prefix = install.token[:10]
        install.manage("token", "revoke", prefix)
        status, body = install.request("/api/v1/me", headers=auth)
        assert status == 401, body
