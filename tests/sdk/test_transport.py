"""ctfsdk on a bad network: a relay in front of the live server hangs up, stays
silent or is not listening yet. A GET is tried again after any network error;
a POST only when the connection was refused (it never arrived), so nothing is
done twice; every request gives up after the timeout."""

import contextlib
import socket
import threading
import time

import pytest
from ctfsdk import Client, ConnectionFailed

from scoring.models import ScoreEvent
from tests.api_world import build_world
from tests.challenges.factories import fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


class Relay:
    """A TCP relay to `target` on its own port. The first `faults` connections
    meet `mode`: "hangup" (the request is read, the connection closed),
    "silent" (read, then no answer); later ones reach the target."""

    def __init__(self, target: tuple[str, int], mode: str = "hangup", faults: int = 0):
        self.target, self.mode, self.faults = target, mode, faults
        self.connections = 0
        with socket.socket() as probe:  # a free port, taken when `start` runs
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener = None
        self._held = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, after: float = 0) -> "Relay":
        listening = threading.Event()

        def run():
            time.sleep(after)
            self._listener = socket.create_server(("127.0.0.1", self.port))
            listening.set()
            while True:
                try:
                    client, _ = self._listener.accept()
                except OSError:
                    return
                self.connections += 1
                threading.Thread(
                    target=self._serve, args=(client,), daemon=True
                ).start()

        threading.Thread(target=run, daemon=True).start()
        if not after:  # a client may connect at once: never refuse it
            listening.wait(5)
        return self

    def _serve(self, client: socket.socket) -> None:
        if self.connections <= self.faults:
            client.recv(65536)
            if self.mode == "silent":
                self._held.append(client)  # answer nothing, keep it open
            else:
                client.close()
            return
        upstream = socket.create_connection(self.target)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def accepted(self, expected: int) -> int:
        """The connections accepted, once `expected` arrived (or 3 s passed)
        and any more had time to: under load the accepting thread lags
        behind the client, whose connections wait in the listen queue."""
        deadline = time.monotonic() + 3
        while self.connections < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        return self.connections

    def stop(self) -> None:
        for sock in [self._listener, *self._held]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def world(transactional_db, tmp_path, settings):
    return build_world(tmp_path / "catalog", settings)


@pytest.fixture
def relay(live_server):
    made = []

    def make(**options) -> Relay:
        host, port = live_server.thread.host, live_server.thread.port
        made.append(Relay((host, port), **options))
        return made[-1]

    yield make
    for r in made:
        r.stop()


def adjustments() -> int:
    return ScoreEvent.objects.filter(reason="admin").count()


def test_a_get_goes_again_after_a_hangup(world, relay):
    through = relay(mode="hangup", faults=2).start()
    client = Client(through.url, world.staff_token, retries=3, backoff=0.01)

    assert client.me().username == "orga"
    assert through.accepted(3) == 3


def test_a_post_is_not_sent_again_after_a_hangup(world, relay):
    through = relay(mode="hangup", faults=1).start()
    client = Client(through.url, world.staff_token, retries=3, backoff=0.01)

    with pytest.raises(ConnectionFailed):
        client.admin.principals.adjust_score(world.team_principal.pk, 5, note="once")

    assert through.accepted(1) == 1


def test_a_refused_request_goes_again_until_the_server_listens(world, relay):
    late = relay().start(after=0.4)
    client = Client(late.url, world.staff_token, retries=5, backoff=0.1)

    client.admin.principals.adjust_score(world.team_principal.pk, 5, note="once")

    assert late.accepted(1) == 1  # refused tries never connected
    assert adjustments() == 1


def test_a_silent_server_times_out_and_a_get_is_tried_again(world, relay):
    silent = relay(mode="silent", faults=10).start()
    client = Client(silent.url, world.staff_token, timeout=0.3, retries=2, backoff=0)

    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as failed:
        client.admin.challenges.stats()

    assert silent.accepted(3) == 3
    assert 0.9 <= time.monotonic() - started < 5
    assert "timed out" in str(failed.value)


def test_a_silent_server_times_out_a_post_once(world, relay):
    silent = relay(mode="silent", faults=10).start()
    client = Client(silent.url, world.staff_token, timeout=0.3, retries=2, backoff=0)

    with pytest.raises(ConnectionFailed):
        client.admin.principals.adjust_score(world.team_principal.pk, 5, note="once")

    assert silent.accepted(1) == 1


def test_nothing_listening_fails_after_the_retries(world, relay):
    nobody = relay()  # never started
    client = Client(nobody.url, world.staff_token, retries=2, backoff=0.01)

    with pytest.raises(ConnectionFailed) as failed:
        client.me()

    assert "refused" in str(failed.value).lower()
