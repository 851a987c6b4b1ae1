"""Mail leaves through Django's backends as the environment says: printed by
default (`make run` shows it), over SMTP with EMAIL_URL (a real SMTP server)."""

import pytest
from aiosmtpd.controller import Controller

from tests.ctfplatform.embedded import Install, free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_mail_is_printed_by_default(tmp_path):
    out = Install(tmp_path).manage("sendtestemail", "player@example.org")

    assert "To: player@example.org" in out
    assert "Subject: Test email from" in out


def test_mail_goes_over_smtp_with_email_url(tmp_path, smtp):
    controller, inbox = smtp
    install = Install(
        tmp_path,
        EMAIL_URL=f"smtp://127.0.0.1:{controller.port}",
        DEFAULT_FROM_EMAIL="ctf@example.org",
    )

    out = install.manage("sendtestemail", "player@example.org")

    assert "To: player@example.org" not in out
    assert [(m[0], m[1]) for m in inbox.messages] == [
        ("ctf@example.org", ["player@example.org"])
    ]
    assert b"Subject: Test email from" in inbox.messages[0][2]
