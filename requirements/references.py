"""Checks of what a requirement refers to, supplied by the apps that know it.

`requirements` imports no other app, so the challenges app registers the check
of challenge names at start-up; the editor shows what the checks return as
warnings (the text is valid LispIsh, but it names something that is not there).
"""

from collections.abc import Callable

from requirements.lispish import Expression

Check = Callable[[Expression], list[str]]

_checks: list[Check] = []


def register(check: Check) -> None:
    """Add a check run on every requirement the editor validates."""
    if check not in _checks:
        _checks.append(check)


def reference_warnings(expression: Expression) -> list[str]:
    """Every registered check's warnings about `expression`."""
    return [warning for check in _checks for warning in check(expression)]
