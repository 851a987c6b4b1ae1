"""The per-file reporting context and typed getters shared by the field parsers."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from .spec import SpecProblem, SpecRejected, SpecWarning
from .yamlmarks import Mark, MarkedDict, MarkedList, item_mark, key_mark

T = TypeVar("T")


class Ctx:
    """Collects warnings and problems for one file and raises SpecRejected for it.

    `reject` stops the field being parsed; `attempt` notes why and lets the
    others go on, so one load reports every problem parsing can reach.
    """

    def __init__(self, path: str, warnings: list[SpecWarning] | None = None) -> None:
        self.path = path
        self.warnings: list[SpecWarning] = [] if warnings is None else warnings
        self.problems: list[SpecProblem] = []
        self.lines: list[str] = []  # the file's text, for places inside a value

    def for_file(self, path: str) -> Ctx:
        """Return a context for another file (a compose file) sharing warnings."""
        return Ctx(path, self.warnings)

    def reject(
        self, message: str, *, field: str | None = None, mark: Mark | None = None
    ) -> NoReturn:
        raise SpecRejected(self._problem(message, field, mark))

    def note(
        self, message: str, *, field: str | None = None, mark: Mark | None = None
    ) -> None:
        """Note a problem and go on parsing (`settle` raises it)."""
        self.problems.append(self._problem(message, field, mark))

    def _problem(self, message: str, field: str | None, mark: Mark | None):
        line, col = mark if mark is not None else (None, None)
        return SpecProblem(self.path, line, col, field, message)

    def warn(self, message: str, mark: Mark | None = None) -> None:
        line = mark[0] if mark is not None else None
        self.warnings.append(SpecWarning(self.path, message, line))

    def attempt(self, parse: Callable[[], T], default: T) -> T:
        """Return `parse()`, or note why it was rejected and return `default`."""
        try:
            return parse()
        except SpecRejected as exc:
            self.problems.extend(exc.problems)
            return default

    def settle(self) -> None:
        """Raise SpecRejected with every problem noted so far, if any."""
        if self.problems:
            # In the order they are written (a compose file's after the spec's).
            problems = sorted(
                self.problems,
                key=lambda p: (p.path != self.path, p.line or 0, p.col or 0),
            )
            raise SpecRejected(*problems)

    def place(
        self, mark: Mark | None, text: str, line: int | None, col: int | None
    ) -> Mark | None:
        """Where `line`, `col` of the scalar `text` written at `mark` is in the file.

        The text is walked along the file, any run of blanks matching any other
        (YAML folds lines and strips block indentation); where the file holds
        something else (escapes in quotes), the scalar's own mark is the answer.
        """
        if mark is None or line is None or not text.strip():
            return mark
        lines = text.split("\n")
        target = sum(len(t) + 1 for t in lines[: line - 1]) + (col or 1) - 1
        raw = "\n".join(self.lines)
        start = sum(len(t) + 1 for t in self.lines[: mark[0] - 1]) + mark[1] - 1
        first = text.split()[0]
        i, j = raw.find(first, start), len(text) - len(text.lstrip())
        if i < 0:
            return mark
        while j < min(target, len(text)):
            if text[j].isspace():
                while j < len(text) and text[j].isspace():
                    j += 1
                while i < len(raw) and raw[i].isspace():
                    i += 1
            elif i < len(raw) and raw[i] == text[j]:
                i, j = i + 1, j + 1
            else:
                return mark
        i += target - j  # past the end of the text (an unclosed parenthesis)
        before = raw[:i]
        return before.count("\n") + 1, i - (before.rfind("\n") + 1) + 1


def join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return "a number"
    return "text"


def as_text(ctx: Ctx, value: Any, field: str, mark: Mark | None) -> str:
    """Return `value` as text; numbers and dates are taken as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        ctx.reject(f"must be text, not {kind_of(value)}", field=field, mark=mark)
    if isinstance(value, (int, float, datetime.date)):
        return str(value)
    ctx.reject(f"must be text, not {kind_of(value)}", field=field, mark=mark)


def get_text(ctx: Ctx, m: MarkedDict, key: str, field: str, default: str = "") -> str:
    value = m.get(key)
    if value is None:
        return default
    return as_text(ctx, value, field, key_mark(m, key))


def as_int(
    ctx: Ctx, value: Any, field: str, mark: Mark | None, *, minimum: int = 0
) -> int:
    """Return `value` as an int >= minimum; a quoted number loads with a warning."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        ctx.warn(f"{field}: {value!r} is quoted; read as the number", mark)
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        ctx.reject(
            f"must be a whole number, not {kind_of(value)} ({value!r})",
            field=field,
            mark=mark,
        )
    if value < minimum:
        ctx.reject(f"must be at least {minimum}, not {value}", field=field, mark=mark)
    return value


def get_int(
    ctx: Ctx, m: MarkedDict, key: str, field: str, default: int, *, minimum: int = 0
) -> int:
    value = m.get(key)
    if value is None:
        return default
    return as_int(ctx, value, field, key_mark(m, key), minimum=minimum)


def get_list(ctx: Ctx, m: MarkedDict, key: str, field: str) -> MarkedList:
    """Return the list under `key`; null loads as empty and one scalar as a list."""
    mark = key_mark(m, key)
    if key not in m:
        return MarkedList(mark or (0, 0))
    value = m[key]
    if value is None:
        ctx.warn(f"{field}: is empty (null); read as an empty list", mark)
        return MarkedList(mark or (0, 0))
    if isinstance(value, list):
        return value  # type: ignore[return-value]
    if isinstance(value, dict):
        ctx.reject("must be a list, not a mapping", field=field, mark=mark)
    single = MarkedList(mark or (0, 0))
    single.append(value)
    single.item_marks.append(m.value_marks.get(key, mark or (0, 0)))
    return single


def get_mapping(ctx: Ctx, value: Any, field: str, mark: Mark | None) -> MarkedDict:
    if not isinstance(value, MarkedDict):
        ctx.reject(f"must be a mapping, not {kind_of(value)}", field=field, mark=mark)
    return value


def text_items(ctx: Ctx, m: MarkedDict, key: str, field: str) -> tuple[str, ...]:
    """Return a list of strings (tags, topics); `{value: ...}` items are unwrapped."""
    items = get_list(ctx, m, key, field)
    result: list[str] = []
    for index, item in enumerate(items):
        mark = item_mark(items, index)
        if isinstance(item, dict) and "value" in item:
            item = item["value"]
        if item is None:
            ctx.warn(f"{join(field, index)}: empty item skipped", mark)
            continue
        text = as_text(ctx, item, join(field, index), mark).strip()
        if text and text not in result:
            result.append(text)
    return tuple(result)


def check_keys(
    ctx: Ctx,
    m: MarkedDict,
    known: frozenset[str] | set[str],
    field: str,
    *,
    strict: bool = False,
) -> None:
    """Warn (or, when strict, reject) about keys not in `known`."""
    for key in m:
        if key in known:
            continue
        label = join(field, str(key)) if field else str(key)
        if strict:
            allowed = ", ".join(sorted(known))
            ctx.reject(
                f"unknown key {key!r} (allowed: {allowed})",
                field=label,
                mark=key_mark(m, key),
            )
        ctx.warn(f"unknown key {label!r} ignored", key_mark(m, key))
