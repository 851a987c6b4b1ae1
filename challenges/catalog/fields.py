"""Per-field parsing of a challenge spec: scoring, flags, questions, hints,
requirements and the per-team instance block. Each function reads the marked
document and returns spec values or rejects through the context."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

# LispIsh is pure Python like this package (no Django).
from requirements.lispish import LispIshError, from_names
from requirements.lispish import parse as parse_lispish

from .context import (
    Ctx,
    as_int,
    as_text,
    check_keys,
    get_int,
    get_list,
    get_mapping,
    get_text,
    join,
    kind_of,
)
from .spec import (
    CHALLENGE_TYPES,
    DECAY_FUNCTIONS,
    INSTANCE_FLAGS,
    LOCKED_VISIBILITIES,
    STATES,
    DynamicScoring,
    FlagSpec,
    Hint,
    InstanceSpec,
    NameRef,
    QuestionSpec,
    normalize_name,
)
from .yamlmarks import MarkedDict, MarkedList, item_mark, key_mark

DEFAULT_QUESTION_KEY = "main"
QUESTION_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CTFCLI_FLAG_DATA = ("case_insensitive", "case_sensitive", "")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MEMORY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([bkmg]?)b?\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def choice(
    ctx: Ctx,
    doc: MarkedDict,
    key: str,
    allowed: tuple[str, ...],
    default: str,
    field: str = "",
) -> str:
    """Return `doc[key]` if it is one of `allowed`; warn when it is missing."""
    if doc.get(key) is None:
        return default
    field = field or key
    value = as_text(ctx, doc[key], field, key_mark(doc, key)).strip()
    if value not in allowed:
        ctx.reject(
            f"{value!r} is not one of: {', '.join(allowed)}",
            field=field,
            mark=key_mark(doc, key),
        )
    return value


def scoring(
    ctx: Ctx, doc: MarkedDict, has_questions: bool
) -> tuple[str, int | None, DynamicScoring | None]:
    """Return (type, value or None when unset, dynamic scoring)."""
    kind = _challenge_type(ctx, doc)
    value = None
    if doc.get("value") is not None:
        value = as_int(ctx, doc["value"], "value", key_mark(doc, "value"))
    extra = doc.get("extra")
    if extra is not None:
        extra = get_mapping(ctx, extra, "extra", key_mark(doc, "extra"))
    if kind == "standard":
        if value is None and not has_questions:
            ctx.warn("value is missing; read as 0", doc.mark)
        return kind, value, None
    return kind, value, _dynamic(ctx, doc, extra, value)


def _challenge_type(ctx: Ctx, doc: MarkedDict) -> str:
    """Return the type; another platform's plugin type loads as standard."""
    if doc.get("type") is None:
        ctx.warn("type is missing; read as 'standard'", doc.mark)
        return "standard"
    mark = key_mark(doc, "type")
    kind = as_text(ctx, doc["type"], "type", mark).strip()
    if kind not in CHALLENGE_TYPES:
        ctx.warn(
            f"type {kind!r} is not one of: {', '.join(CHALLENGE_TYPES)} (another "
            "platform's plugin?); loaded as a standard challenge",
            mark,
        )
        return "standard"
    return kind


def _dynamic(
    ctx: Ctx, doc: MarkedDict, extra: MarkedDict | None, value: int | None
) -> DynamicScoring:
    # ctfcli keeps dynamic settings under `extra:`; old specs put initial in value.
    source = extra if extra is not None else MarkedDict(doc.mark)
    mark = key_mark(doc, "extra") if extra is not None else doc.mark
    if source.get("initial") is None and value is None:
        ctx.reject(
            "a dynamic challenge needs extra.initial (or value)",
            field="extra.initial",
            mark=mark,
        )
    initial = get_int(ctx, source, "initial", "extra.initial", value or 0)
    for needed in ("decay", "minimum"):
        if source.get(needed) is None:
            ctx.reject(
                f"a dynamic challenge needs extra.{needed}",
                field=f"extra.{needed}",
                mark=mark,
            )
    decay = get_int(ctx, source, "decay", "extra.decay", 0, minimum=1)
    minimum = get_int(ctx, source, "minimum", "extra.minimum", 0)
    if minimum > initial:
        ctx.reject(
            f"minimum {minimum} is above initial {initial}",
            field="extra.minimum",
            mark=key_mark(source, "minimum"),
        )
    function = "logarithmic"
    if source.get("function") is not None:
        function = as_text(ctx, source["function"], "extra.function", mark).strip()
        if function not in DECAY_FUNCTIONS:
            ctx.reject(
                f"{function!r} is not one of: {', '.join(DECAY_FUNCTIONS)}",
                field="extra.function",
                mark=key_mark(source, "function"),
            )
    for key in source:
        if key not in ("initial", "decay", "minimum", "function"):
            ctx.warn(f"unknown key 'extra.{key}' ignored", key_mark(source, key))
    return DynamicScoring(initial, decay, minimum, function)


def flags(ctx: Ctx, holder: MarkedDict, field: str) -> tuple[FlagSpec, ...]:
    """Return the flags under `holder["flags"]`; one flag mapping is a list of one."""
    if isinstance(holder.get("flags"), MarkedDict):
        ctx.warn(
            f"{join(field, 'flags')}: one flag, not a list; read as a list of one",
            key_mark(holder, "flags"),
        )
        items: Any = MarkedList(holder.mark)
        items.append(holder["flags"])
        items.item_marks.append(holder.value_marks["flags"])
    else:
        items = get_list(ctx, holder, "flags", join(field, "flags"))
    result: list[FlagSpec] = []
    for index, item in enumerate(items):
        flag_field = join(join(field, "flags"), index)
        mark = item_mark(items, index)
        if isinstance(item, MarkedDict):
            flag = _flag_mapping(ctx, item, flag_field)
        else:
            content = as_text(ctx, item, flag_field, mark)
            if not content.strip():
                ctx.reject("flag is empty", field=flag_field, mark=mark)
            flag = FlagSpec("static", content)
        if flag not in result:
            result.append(flag)
    if not result:
        where = key_mark(holder, "flags") if "flags" in holder else holder.mark
        ctx.reject(
            "no flag: every question needs at least one",
            field=join(field, "flags"),
            mark=where,
        )
    return tuple(result)


def _flag_mapping(ctx: Ctx, item: MarkedDict, field: str) -> FlagSpec:
    check_keys(ctx, item, {"type", "content", "data", "template"}, field)
    kind = "static"
    if item.get("type") is not None:
        kind = as_text(ctx, item["type"], f"{field}.type", key_mark(item, "type"))
        kind = kind.strip()
    if kind == "derived":
        source = "template" if item.get("template") is not None else "content"
        template = get_text(ctx, item, source, f"{field}.{source}")
        count = template.count("{hash}")
        if count != 1:
            ctx.reject(
                f"a derived flag template needs exactly one {{hash}}, found {count}",
                field=f"{field}.{source}",
                mark=key_mark(item, source),
            )
        return FlagSpec("derived", template=template)
    if kind not in ("static", "regex"):
        ctx.reject(
            f"flag type {kind!r} is not one of: static, regex, derived",
            field=f"{field}.type",
            mark=key_mark(item, "type"),
        )
    content = get_text(ctx, item, "content", f"{field}.content")
    if not content.strip():
        ctx.reject("flag has no content", field=f"{field}.content", mark=item.mark)
    data = get_text(ctx, item, "data", f"{field}.data").strip()
    if data not in CTFCLI_FLAG_DATA:
        ctx.warn(
            f"{field}.data {data!r} is not a ctfcli flag option; read as "
            "case-sensitive",
            key_mark(item, "data"),
        )
    insensitive = data == "case_insensitive"
    if kind == "regex":
        # An inline (?i) keeps case-insensitivity inside the pattern itself.
        pattern = f"(?i){content}" if insensitive else content
        try:
            re.compile(pattern)
        except re.error as exc:
            ctx.reject(
                f"flag regex does not compile: {exc}",
                field=f"{field}.content",
                mark=key_mark(item, "content"),
            )
        return FlagSpec("regex", pattern)
    return FlagSpec("case_insensitive" if insensitive else "static", content)


def questions(
    ctx: Ctx, doc: MarkedDict, value: int | None, attempts: int
) -> tuple[QuestionSpec, ...]:
    """Return the questions: the `questions:` list, or one built from `flags:`."""
    if doc.get("questions") is None:
        return (
            QuestionSpec(
                key=DEFAULT_QUESTION_KEY,
                name="",
                points=value or 0,
                attempts=attempts,
                flags=flags(ctx, doc, ""),
            ),
        )
    if doc.get("flags"):
        ctx.reject(
            "top-level flags and questions: cannot be combined; put the flags "
            "inside each question",
            field="flags",
            mark=key_mark(doc, "flags"),
        )
    items = get_list(ctx, doc, "questions", "questions")
    if not items:
        ctx.reject(
            "questions: is empty", field="questions", mark=key_mark(doc, "questions")
        )
    result: list[QuestionSpec] = []
    for index, item in enumerate(items):
        one = partial(_question, ctx, item, index, attempts, items, result)
        question = ctx.attempt(one, None)
        if question is not None:
            result.append(question)
    return tuple(result)


def _question(
    ctx: Ctx,
    item: Any,
    index: int,
    default_attempts: int,
    items: Any,
    earlier: list[QuestionSpec],
) -> QuestionSpec:
    field = join("questions", index)
    q = get_mapping(ctx, item, field, item_mark(items, index))
    check_keys(
        ctx, q, {"key", "id", "name", "prompt", "flags", "points", "attempts"}, field
    )
    key = _either(ctx, q, "key", "id", field) or f"q{index + 1}"
    key_field = f"{field}.key"
    where = key_mark(q, "key" if "key" in q else "id")
    if not QUESTION_KEY_RE.match(key):
        ctx.reject(
            f"question key {key!r} must be letters, digits, '_', '.' or '-'",
            field=key_field,
            mark=where,
        )
    if any(other.key == key for other in earlier):
        ctx.reject(f"question key {key!r} is used twice", field=key_field, mark=where)
    if q.get("points") is None:
        ctx.warn(f"{field}.points is missing; read as 0", q.mark)
    return QuestionSpec(
        key=key,
        name=_either(ctx, q, "name", "prompt", field),
        points=get_int(ctx, q, "points", f"{field}.points", 0),
        attempts=get_int(ctx, q, "attempts", f"{field}.attempts", default_attempts),
        flags=flags(ctx, q, field),
    )


def _either(ctx: Ctx, q: MarkedDict, main: str, alias: str, field: str) -> str:
    if q.get(main) is not None and q.get(alias) is not None:
        ctx.reject(
            f"write {main}: or {alias}:, not both",
            field=f"{field}.{alias}",
            mark=key_mark(q, alias),
        )
    key = main if q.get(main) is not None else alias
    return get_text(ctx, q, key, f"{field}.{key}").strip()


def hints(ctx: Ctx, doc: MarkedDict) -> tuple[Hint, ...]:
    items = get_list(ctx, doc, "hints", "hints")
    found = (
        ctx.attempt(partial(_hint, ctx, items, i), None) for i in range(len(items))
    )
    return tuple(hint for hint in found if hint is not None)


def _hint(ctx: Ctx, items: MarkedList, index: int) -> Hint:
    item, field = items[index], join("hints", index)
    if isinstance(item, MarkedDict):
        check_keys(ctx, item, {"content", "cost", "title", "requirements"}, field)
        content = get_text(ctx, item, "content", f"{field}.content")
        title = get_text(ctx, item, "title", f"{field}.title")
        cost = get_int(ctx, item, "cost", f"{field}.cost", 0)
    else:
        content = as_text(ctx, item, field, item_mark(items, index))
        title, cost = "", 0
    if not content.strip():
        ctx.reject("hint has no content", field=field, mark=item_mark(items, index))
    return Hint(title=title.strip(), content=content, cost=cost)


def requirements(
    ctx: Ctx, doc: MarkedDict, own_name: str
) -> tuple[tuple[str | int, ...], str, bool | None, tuple[NameRef, ...]]:
    """Return (prerequisites, LispIsh text, ctfcli anonymize or None, the
    challenges named with their lines)."""
    raw = doc.get("requirements")
    mark = key_mark(doc, "requirements")
    if raw is None:
        return (), "", None, ()
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("("):
            return (), text, None, _lispish(ctx, doc, text)
        if not text:
            return (), "", None, ()
        ctx.warn("requirements is one name, not a list; read as a list of one", mark)
        line = mark[0] if mark else None
        return (text,), "", None, (NameRef("requirements", text, line),)
    anonymize = None
    items: Any = raw
    field = "requirements"
    if isinstance(raw, MarkedDict):
        check_keys(ctx, raw, {"prerequisites", "anonymize"}, "requirements")
        if raw.get("anonymize") is not None:
            anonymize = raw["anonymize"]
            if not isinstance(anonymize, bool):
                ctx.reject(
                    "must be true or false",
                    field="requirements.anonymize",
                    mark=key_mark(raw, "anonymize"),
                )
        items = get_list(ctx, raw, "prerequisites", "requirements.prerequisites")
        field = "requirements.prerequisites"
    elif not isinstance(raw, list):
        ctx.reject(
            f"must be a list or a LispIsh string, not {kind_of(raw)}",
            field=field,
            mark=mark,
        )
    named = _prerequisites(ctx, items, field, own_name)
    try:
        if named:
            from_names([ref.ref for ref in named])  # what the rescan will store
    except LispIshError as error:
        ctx.reject(error.message, field=field, mark=mark)
    return tuple(ref.ref for ref in named), "", anonymize, named


def _lispish(ctx: Ctx, doc: MarkedDict, text: str) -> tuple[NameRef, ...]:
    """Check a LispIsh requirement; errors and names carry their place in the file."""
    mark = doc.value_marks.get("requirements")
    try:
        expression = parse_lispish(text)
        expression.check()
    except LispIshError as error:
        ctx.reject(
            f"LispIsh: {error.message}",
            field="requirements",
            mark=ctx.place(mark, text, error.line, error.col),
        )
    return tuple(
        NameRef(
            "requirements", arg.value, _line(ctx.place(mark, text, arg.line, arg.col))
        )
        for arg in expression.challenge_refs()
    )


def _line(mark: tuple[int, int] | None) -> int | None:
    return mark[0] if mark else None


def _prerequisites(
    ctx: Ctx, items: Any, field: str, own_name: str
) -> tuple[NameRef, ...]:
    result: list[NameRef] = []
    seen: set[str | int] = set()
    own = normalize_name(own_name)
    for index, item in enumerate(items):
        mark = item_mark(items, index)
        if isinstance(item, int) and not isinstance(item, bool):
            if item < 1:
                ctx.reject(
                    f"challenge id {item} is not positive",
                    field=join(field, index),
                    mark=mark,
                )
            entry: str | int = item
            match: str | int = item
        else:
            entry = as_text(ctx, item, join(field, index), mark).strip()
            match = normalize_name(entry)
            if not entry:
                continue
            if match == own:
                ctx.warn(
                    f"{join(field, index)}: a challenge cannot require itself; dropped",
                    mark,
                )
                continue
        if match in seen:
            ctx.warn(f"{join(field, index)}: {entry!r} is listed twice", mark)
            continue
        seen.add(match)
        result.append(NameRef("requirements", entry, _line(mark)))
    return tuple(result)


def locked_visibility(ctx: Ctx, doc: MarkedDict, anonymize: bool | None) -> str:
    # CTFd's anonymize shows a locked challenge as "???": our anonymous card.
    from_anonymize = (
        None if anonymize is None else ("locked" if anonymize else "hidden")
    )
    if doc.get("locked_visibility") is None:
        return from_anonymize or "hidden"
    value = choice(ctx, doc, "locked_visibility", LOCKED_VISIBILITIES, "hidden")
    if from_anonymize is not None and from_anonymize != value:
        ctx.warn(
            f"requirements.anonymize says {from_anonymize!r} but locked_visibility "
            f"says {value!r}; using locked_visibility",
            key_mark(doc, "locked_visibility"),
        )
    return value


def state(ctx: Ctx, doc: MarkedDict) -> str:
    return choice(ctx, doc, "state", STATES, "visible")


def instance(ctx: Ctx, doc: MarkedDict) -> InstanceSpec | None:
    """Return per-team instance settings, None when `instance:` is unset/false."""
    raw = doc.get("instance")
    mark = key_mark(doc, "instance")
    if raw is None or raw is False:
        return None
    if raw is True:
        return InstanceSpec()
    block = get_mapping(ctx, raw, "instance", mark)
    check_keys(
        ctx,
        block,
        {
            "lifetime",
            "memory",
            "cpus",
            "ports",
            "flag_env",
            "flag",
            "no_egress",
            "pids",
            "read_only",
        },
        "instance",
        strict=True,
    )
    lifetime = None
    if block.get("lifetime") is not None:
        lifetime = get_int(ctx, block, "lifetime", "instance.lifetime", 0, minimum=1)
    pids = None
    if block.get("pids") is not None:
        pids = get_int(ctx, block, "pids", "instance.pids", 0, minimum=8)
    flag_env = get_text(ctx, block, "flag_env", "instance.flag_env", "FLAG").strip()
    if not _ENV_NAME.match(flag_env):
        ctx.reject(
            f"{flag_env!r} is not an environment variable name",
            field="instance.flag_env",
            mark=key_mark(block, "flag_env"),
        )
    return InstanceSpec(
        lifetime=lifetime,
        memory=_memory(ctx, block),
        cpus=_cpus(ctx, block),
        ports=_instance_ports(ctx, block),
        flag_env=flag_env,
        flag=choice(ctx, block, "flag", INSTANCE_FLAGS, "derived", "instance.flag"),
        no_egress=_switch(ctx, block, "no_egress"),
        pids=pids,
        read_only=_switch(ctx, block, "read_only"),
    )


def _switch(ctx: Ctx, block: MarkedDict, key: str) -> bool:
    raw = block.get(key)
    if raw is None:
        return False
    if not isinstance(raw, bool):
        ctx.reject(
            f"{raw!r} is not true or false",
            field=f"instance.{key}",
            mark=key_mark(block, key),
        )
    return raw


def _memory(ctx: Ctx, block: MarkedDict) -> int | None:
    raw = block.get("memory")
    if raw is None:
        return None
    mark = key_mark(block, "memory")
    if isinstance(raw, int) and not isinstance(raw, bool):
        size = raw
    else:
        match = _MEMORY.match(raw) if isinstance(raw, str) else None
        if match is None:
            ctx.reject(
                f"{raw!r} is not a memory size like 256m (units b, k, m, g)",
                field="instance.memory",
                mark=mark,
            )
        size = int(float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()])
    if size <= 0:
        ctx.reject("memory must be above zero", field="instance.memory", mark=mark)
    return size


def _cpus(ctx: Ctx, block: MarkedDict) -> float | None:
    raw = block.get("cpus")
    if raw is None:
        return None
    mark = key_mark(block, "cpus")
    try:
        cpus = float(raw) if not isinstance(raw, bool) else -1.0
    except (TypeError, ValueError):
        cpus = -1.0
    if not cpus > 0 or cpus != cpus or cpus == float("inf"):
        ctx.reject(
            f"{raw!r} is not a CPU count above zero", field="instance.cpus", mark=mark
        )
    return cpus


def _instance_ports(ctx: Ctx, block: MarkedDict) -> tuple[int, ...]:
    items = get_list(ctx, block, "ports", "instance.ports")
    ports: list[int] = []
    for index, item in enumerate(items):
        field = join("instance.ports", index)
        port = as_int(ctx, item, field, item_mark(items, index), minimum=1)
        if port > 65535:
            ctx.reject(
                f"port {port} is above 65535", field=field, mark=item_mark(items, index)
            )
        if port not in ports:
            ports.append(port)
    return tuple(ports)
