"""`{flag:<question key>}` placeholders in descriptions and handouts, per principal."""

import re

from scoring.derivation import derive_flag

PLACEHOLDER = re.compile(r"\{flag:([A-Za-z0-9_.-]+)\}")


def fill_placeholders(text: str, questions, principal, competition) -> str:
    """Replace each placeholder with that question's flag for `principal`."""
    if "{flag:" not in text:
        return text
    by_key = {q.key: q for q in questions}

    def flag_for(match: re.Match) -> str:
        question = by_key.get(match.group(1))
        if question is None or not question.flags:
            return match.group(0)
        flag = question.flags[0]
        if flag.get("kind") in ("static", "case_insensitive"):
            return flag.get("content", "")
        if flag.get("kind") != "derived" or principal is None:
            return match.group(0)  # a regex has no one value to show
        return derive_flag(
            flag["template"],
            competition_id=competition.pk,
            principal_id=principal.pk,
            question_id=question.pk,
        )

    return PLACEHOLDER.sub(flag_for, text)
