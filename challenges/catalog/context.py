"""The per-file reporting context and typed getters shared by the field parsers."""

from __future__ import annotations

import datetime
from typing import Any, NoReturn

from .spec import SpecProblem, SpecRejected, SpecWarning
from .yamlmarks import Mark, MarkedDict, MarkedList, item_mark, key_mark


class Ctx:
    """Collects warnings for one file and raises SpecRejected for it."""

    def __init__(self, path: str, warnings: list[SpecWarning] | None = None) -> None:
        self.path = path
        self.warnings: list[SpecWarning] = [] if warnings is None else warnings

    def for_file(self, path: str) -> Ctx:
        """Return a context for another file (a compose file) sharing warnings."""
        return Ctx(path, self.warnings)

    def reject(
        self, message: str, *, field: str | None = None, mark: Mark | None = None
    ) -> NoReturn:
        line, col = mark if mark is not None else (None, None)
        raise SpecRejected(SpecProblem(self.path, line, col, field, message))

    def warn(self, message: str, mark: Mark | None = None) -> None:
        line = mark[0] if mark is not None else None
        self.warnings.append(SpecWarning(self.path, message, line))


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
