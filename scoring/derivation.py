"""Flag derivation, pure functions: an HMAC of FLAG_SECRET with competition,
principal and question, rendered into the question's template."""

import hashlib
import hmac

from django.conf import settings

HASH_LENGTH = 16


def flag_hash(value: str) -> str:
    """SHA-256 of a flag as typed (what submissions and the reverse index keep)."""
    return hashlib.sha256(value.encode()).hexdigest()


def derived_hash(*, competition_id: int, principal_id: int, question_id: int) -> str:
    """The per-principal part of a derived flag (hex, 64 bits)."""
    message = f"{competition_id}:{principal_id}:{question_id}".encode()
    digest = hmac.new(settings.FLAG_SECRET.encode(), message, hashlib.sha256)
    return digest.hexdigest()[:HASH_LENGTH]


def derive_flag(
    template: str, *, competition_id: int, principal_id: int, question_id: int
) -> str:
    """Render `template`'s `{hash}` with the principal's HMAC."""
    return template.replace(
        "{hash}",
        derived_hash(
            competition_id=competition_id,
            principal_id=principal_id,
            question_id=question_id,
        ),
    )


def derived_template(question) -> str | None:
    """The derived-flag template of a question, if its flag is derived."""
    for flag in question.flags:
        if flag.get("kind") == "derived":
            return flag.get("template") or flag.get("content")
    return None
