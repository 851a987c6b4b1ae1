"""Load challenge specs from a catalog folder tree.

`load_spec` reads one spec; `scan_catalog` walks the tree, loads every
`challenge.yml` / `challenge.yaml`, and reuses cached specs whose content hash
(spec bytes, compose file, handed-out files) has not changed. Neither touches
the database: the rescan service applies the result.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from . import fields
from .compose import COMPOSE_NAMES, image_service, parse_compose
from .context import Ctx, check_keys, get_int, get_list, get_text, join, text_items
from .paths import PLACEHOLDER_RE, Catalog, digest_file, file_ref, resolve
from .spec import (
    ChallengeSpec,
    FileRef,
    NameRef,
    SpecProblem,
    SpecRejected,
    SpecWarning,
)
from .yamlmarks import MarkedDict, YamlProblem, item_mark, key_mark, parse_marked

__all__ = ["ScanResult", "SpecRejected", "load_spec", "scan_catalog"]

SPEC_NAMES = ("challenge.yml", "challenge.yaml")
MAX_SPEC_BYTES = 1 << 20

KNOWN_KEYS = frozenset(
    {
        # ctfcli
        "name",
        "author",
        "category",
        "description",
        "attribution",
        "value",
        "type",
        "extra",
        "image",
        "protocol",
        "host",
        "connection_info",
        "healthcheck",
        "attempts",
        "flags",
        "topics",
        "tags",
        "files",
        "hints",
        "requirements",
        "next",
        "state",
        "version",
        # ours
        "questions",
        "locked_visibility",
        "instance",
    }
)


@dataclass
class ScanResult:
    """Specs by identity, rejected specs and warnings; `reused` counts cache hits."""

    specs: dict[str, ChallengeSpec] = field(default_factory=dict)
    rejected: list[SpecProblem] = field(default_factory=list)
    warnings: list[SpecWarning] = field(default_factory=list)
    reused: int = 0

    def cache(self) -> dict[str, ChallengeSpec]:
        """Return the specs keyed by content hash, ready for the next scan."""
        return {spec.content_hash: spec for spec in self.specs.values()}


def load_spec(
    catalog_root: Path, spec_path: Path
) -> tuple[ChallengeSpec, list[SpecWarning]]:
    """Load one spec file; raise SpecRejected with the place and reason."""
    catalog = Catalog(catalog_root)
    spec_path = Path(spec_path)
    absolute = spec_path if spec_path.is_absolute() else Path(catalog.root, spec_path)
    rel = os.path.relpath(os.path.abspath(absolute), catalog.root)
    if rel.startswith(".."):
        rel = os.path.relpath(os.path.realpath(absolute), catalog.real)
    rel = Path(rel).as_posix()
    if rel.startswith(".."):
        raise SpecRejected(
            SpecProblem(str(spec_path), None, None, None, "spec is outside the catalog")
        )
    folder = catalog.absolute(posixpath.dirname(rel))
    composes = [n for n in COMPOSE_NAMES if os.path.isfile(os.path.join(folder, n))]
    spec = _load(catalog, rel, composes, _read(Ctx(rel), catalog, rel))
    return spec, list(spec.warnings)


def scan_catalog(
    catalog_root: Path,
    *,
    cache: dict[str, ChallengeSpec] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanResult:
    """Load every spec below `catalog_root`, reusing unchanged cached specs.

    `cache` holds specs from an earlier scan (any keys; `ScanResult.cache()`
    keys them by content hash). A cached spec is reused when its spec bytes,
    compose file and handed-out files are unchanged.
    """
    catalog = Catalog(catalog_root)
    if not os.path.isdir(catalog.root):
        raise NotADirectoryError(f"catalog root {catalog.root} is not a folder")
    result = ScanResult()
    folders = _walk(catalog, result)
    cached = {(s.path, s.spec_sha256): s for s in (cache or {}).values()}
    for done, (rel_dir, spec_names, composes) in enumerate(folders, start=1):
        if len(spec_names) > 1:
            both = " and ".join(spec_names)
            for name in spec_names:
                result.rejected.append(
                    SpecProblem(
                        _join(rel_dir, name),
                        None,
                        None,
                        None,
                        f"{both} are both in this folder; keep one",
                    )
                )
        else:
            _scan_one(catalog, result, cached, _join(rel_dir, spec_names[0]), composes)
        if progress is not None:
            progress(done, len(folders))
    return result


def _scan_one(
    catalog: Catalog,
    result: ScanResult,
    cached: dict[tuple[str, str], ChallengeSpec],
    rel: str,
    composes: list[str],
) -> None:
    try:
        raw = _read(Ctx(rel), catalog, rel)
        hit = cached.get((rel, hashlib.sha256(raw).hexdigest()))
        if hit is not None and _still_fresh(catalog, hit, composes):
            spec = hit
            result.reused += 1
        else:
            spec = _load(catalog, rel, composes, raw)
    except SpecRejected as exc:
        result.rejected.extend(exc.problems)
        return
    result.specs[spec.identity] = spec
    result.warnings.extend(spec.warnings)


def _walk(
    catalog: Catalog, result: ScanResult
) -> list[tuple[str, list[str], list[str]]]:
    """Return (folder, spec file names, compose file names) for spec folders.

    Hidden folders (.git, ...) are skipped and symlinked folders not entered,
    so the walk never leaves the tree nor loads one spec twice.
    """
    found: list[tuple[str, list[str], list[str]]] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(catalog.absolute(rel_dir)) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            result.warnings.append(
                SpecWarning(rel_dir or ".", f"folder skipped: {exc.strerror}")
            )
            continue
        specs, composes, subdirs = [], [], []
        for entry in listing:
            if entry.name in SPEC_NAMES and entry.is_file():
                specs.append(entry.name)
            elif entry.name in COMPOSE_NAMES and entry.is_file():
                composes.append(entry.name)
            elif entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                subdirs.append(_join(rel_dir, entry.name))
        if specs:
            found.append((rel_dir or ".", specs, composes))
        stack.extend(reversed(subdirs))
    found.sort(key=lambda item: item[0])
    return found


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir in ("", ".") else f"{rel_dir}/{name}"


def _read(ctx: Ctx, catalog: Catalog, rel: str) -> bytes:
    absolute = catalog.absolute(rel)
    if os.path.islink(absolute) and not catalog.contains(os.path.realpath(absolute)):
        ctx.reject("spec file is a symlink whose target leaves the catalog")
    try:
        with open(absolute, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        ctx.reject(f"cannot read spec file: {exc.strerror}")
    if len(raw) > MAX_SPEC_BYTES:
        ctx.reject(f"spec file is larger than {MAX_SPEC_BYTES} bytes")
    return raw


def _load(catalog: Catalog, rel: str, composes: list[str], raw: bytes) -> ChallengeSpec:
    ctx = Ctx(rel)
    rel_dir = posixpath.dirname(rel) or "."
    doc = _parse(ctx, raw)
    _reject_foreign(ctx, doc)
    check_keys(ctx, doc, KNOWN_KEYS, "")

    # Each field is parsed on its own (`ctx.attempt`): a rejected one falls back
    # to a default so the others are checked too, and all problems are reported.
    def text(key: str, strip: bool = True) -> str:
        value = ctx.attempt(lambda: get_text(ctx, doc, key, key), "")
        return value.strip() if strip else value

    name = text("name")
    if not name and not any(p.field == "name" for p in ctx.problems):
        ctx.note("no name", field="name", mark=key_mark(doc, "name"))
    attempts = ctx.attempt(lambda: get_int(ctx, doc, "attempts", "attempts", 0), 0)
    has_questions = doc.get("questions") is not None
    kind, value, extra = ctx.attempt(
        lambda: fields.scoring(ctx, doc, has_questions), ("standard", None, None)
    )
    first_points = value if value is not None else (extra.initial if extra else 0)
    questions = ctx.attempt(
        lambda: fields.questions(ctx, doc, first_points, attempts), ()
    )
    if value is None:
        value = extra.initial if extra else sum(q.points for q in questions)
    keys = {q.key for q in questions}

    description = text("description", strip=False)
    ctx.attempt(
        lambda: _check_placeholders(
            ctx, description, keys, "description", key_mark(doc, "description")
        ),
        None,
    )
    files = ctx.attempt(lambda: _files(ctx, catalog, rel_dir, doc, keys), ())
    prerequisites, requirement_text, anonymize, references = ctx.attempt(
        lambda: fields.requirements(ctx, doc, name), ((), "", None, ())
    )
    next_ref = ctx.attempt(lambda: _next(ctx, doc), None)
    if next_ref is not None:
        mark = key_mark(doc, "next")
        references += (NameRef("next", next_ref, mark[0] if mark else None),)

    services, compose, compose_file, compose_sha = ctx.attempt(
        lambda: _services(ctx, catalog, rel_dir, doc, composes), ((), (), "", "")
    )
    instance = ctx.attempt(lambda: fields.instance(ctx, doc), None)
    if instance is not None and not services:
        ctx.note(
            "instance: needs services: set image: or add a compose file",
            field="instance",
            mark=key_mark(doc, "instance"),
        )
    spec_sha = hashlib.sha256(raw).hexdigest()
    spec = ChallengeSpec(
        identity=rel_dir,
        path=rel,
        content_hash=_content_hash(spec_sha, compose_file, compose_sha, files),
        spec_sha256=spec_sha,
        name=name,
        author=text("author"),
        category=text("category"),
        description=description,
        attribution=text("attribution", strip=False),
        type=kind,
        value=value,
        extra=extra,
        connection_info=text("connection_info"),
        protocol=text("protocol"),
        host=text("host"),
        healthcheck=ctx.attempt(lambda: _healthcheck(ctx, catalog, rel_dir, doc), ""),
        state=ctx.attempt(lambda: fields.state(ctx, doc), "visible"),
        version=text("version"),
        topics=ctx.attempt(lambda: text_items(ctx, doc, "topics", "topics"), ()),
        tags=ctx.attempt(lambda: text_items(ctx, doc, "tags", "tags"), ()),
        hints=ctx.attempt(lambda: fields.hints(ctx, doc), ()),
        files=files,
        questions=questions,
        prerequisites=prerequisites,
        requirement_text=requirement_text,
        locked_visibility=ctx.attempt(
            lambda: fields.locked_visibility(ctx, doc, anonymize), "hidden"
        ),
        next=next_ref,
        image=text("image"),
        services=services,
        compose=compose,
        compose_file=compose_file,
        instance=instance,
        compose_sha256=compose_sha,
        warnings=tuple(ctx.warnings),
        references=references,
        name_line=(key_mark(doc, "name") or (None,))[0],
    )
    ctx.settle()
    return spec


def _parse(ctx: Ctx, raw: bytes) -> MarkedDict:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        ctx.reject(f"not UTF-8 text (byte {exc.start})", mark=(line, 1))
    if not text.strip():
        ctx.reject("empty file")
    ctx.lines = text.splitlines()
    if "\r\n" in text:
        ctx.warn("CRLF line endings; read as LF")
    try:
        doc, notes = parse_marked(text)
    except YamlProblem as exc:
        ctx.reject(exc.message, mark=exc.mark)
    if doc is None:
        ctx.reject("empty file")
    if not isinstance(doc, MarkedDict):
        kind = "a list" if isinstance(doc, list) else "a single value"
        ctx.reject(f"must be a mapping of fields, not {kind}", mark=(1, 1))
    for mark, message in notes:
        ctx.warn(message, mark)
    return doc


def _reject_foreign(ctx: Ctx, doc: MarkedDict) -> None:
    """Reject files that are some other tool's format, with a useful name."""
    if "apiVersion" in doc and "kind" in doc:
        api = str(doc.get("apiVersion"))
        what = "kCTF" if "kctf" in api.lower() else "a Kubernetes manifest"
        ctx.reject(
            f"not a challenge spec (looks like {what}: apiVersion {api}, "
            f"kind {doc.get('kind')})",
            mark=key_mark(doc, "apiVersion"),
        )
    if "services" in doc and "name" not in doc:
        ctx.reject(
            "not a challenge spec (looks like a docker-compose file)",
            mark=key_mark(doc, "services"),
        )


def _files(
    ctx: Ctx, catalog: Catalog, rel_dir: str, doc: MarkedDict, keys: set[str]
) -> tuple[FileRef, ...]:
    items = get_list(ctx, doc, "files", "files")
    refs: list[FileRef] = []
    for index in range(len(items)):
        one = partial(_file, ctx, catalog, rel_dir, items, index, keys)
        ref = ctx.attempt(one, None)
        if ref is None:
            continue
        if any(r.relative_path == ref.relative_path for r in refs):
            ctx.warn(
                f"files[{index}]: {ref.relative_path!r} is listed twice",
                item_mark(items, index),
            )
            continue
        refs.append(ref)
    return tuple(refs)


def _file(
    ctx: Ctx,
    catalog: Catalog,
    rel_dir: str,
    items: list,
    index: int,
    keys: set[str],
) -> FileRef:
    item, field_name, mark = items[index], join("files", index), item_mark(items, index)
    if not isinstance(item, str):
        ctx.reject("must be a path", field=field_name, mark=mark)
    if item.strip().startswith("./"):
        ctx.warn(f"{field_name}: './' prefix dropped from {item.strip()!r}", mark)
    ref = file_ref(ctx, catalog, rel_dir, item, field_name, mark)
    bad = [p for p in ref.placeholders if p not in keys]
    if bad:
        ctx.reject(
            f"{ref.relative_path} uses {{flag:{bad[0]}}} but no question has "
            f"that key (keys: {', '.join(sorted(keys))})",
            field=field_name,
            mark=mark,
        )
    return ref


def _check_placeholders(
    ctx: Ctx, text: str, keys: set[str], field_name: str, mark: tuple[int, int] | None
) -> None:
    for key in PLACEHOLDER_RE.findall(text):
        if key not in keys:
            ctx.reject(
                f"{{flag:{key}}} names no question (keys: {', '.join(sorted(keys))})",
                field=field_name,
                mark=mark,
            )


def _services(
    ctx: Ctx, catalog: Catalog, rel_dir: str, doc: MarkedDict, composes: list[str]
) -> tuple[tuple, tuple, str, str]:
    """Return (services, compose services, compose file, compose sha256)."""
    if len(composes) > 1:
        ctx.reject(f"several compose files ({', '.join(composes)}); keep one")
    compose_file = _join(rel_dir, composes[0]) if composes else ""
    image = image_service(ctx, catalog, rel_dir, doc)
    if image is not None:
        sha = ""
        if compose_file:
            ctx.warn(
                f"{composes[0]} is not used because image: is set",
                key_mark(doc, "image"),
            )
            sha = _sha_or_empty(catalog, compose_file)
        return (image,), (), compose_file, sha
    if not compose_file:
        return (), (), "", ""
    compose, sha = parse_compose(ctx, catalog, rel_dir, compose_file)
    return compose, compose, compose_file, sha


def _sha_or_empty(catalog: Catalog, rel: str) -> str:
    try:
        with open(catalog.absolute(rel), "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return ""


def _healthcheck(ctx: Ctx, catalog: Catalog, rel_dir: str, doc: MarkedDict) -> str:
    value = get_text(ctx, doc, "healthcheck", "healthcheck").strip()
    if not value:
        return ""
    mark = key_mark(doc, "healthcheck")
    relative, from_root = resolve(ctx, catalog, rel_dir, value, "healthcheck", mark)
    if not os.path.isfile(catalog.absolute(from_root)):
        ctx.warn(f"healthcheck script {value!r} does not exist", mark)
    return relative


def _next(ctx: Ctx, doc: MarkedDict) -> str | int | None:
    value = doc.get("next")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return get_text(ctx, doc, "next", "next").strip() or None


def _content_hash(
    spec_sha: str, compose_file: str, compose_sha: str, files: tuple[FileRef, ...]
) -> str:
    digest = hashlib.sha256(f"spec {spec_sha}\n".encode())
    if compose_file:
        digest.update(f"compose {compose_file} {compose_sha}\n".encode())
    for ref in files:
        digest.update(f"file {ref.relative_path} {ref.sha256}\n".encode())
    return digest.hexdigest()


def _still_fresh(catalog: Catalog, spec: ChallengeSpec, composes: list[str]) -> bool:
    """Tell whether a cached spec's compose file and handouts are unchanged."""
    current = _join(spec.identity, composes[0]) if len(composes) == 1 else ""
    if len(composes) > 1 or current != spec.compose_file:
        return False
    if current and _sha_or_empty(catalog, current) != spec.compose_sha256:
        return False
    for ref in spec.files:
        from_root = posixpath.normpath(_join(spec.identity, ref.relative_path))
        absolute = catalog.absolute(from_root)
        if Path(absolute) != ref.absolute_path:
            return False  # the catalog moved: rebuild absolute paths
        if not catalog.contains(os.path.realpath(absolute)):
            return False
        try:
            info = os.stat(absolute)
        except OSError:
            return False
        if (info.st_size, info.st_mtime_ns) == (ref.size, ref.mtime_ns):
            continue
        if digest_file(absolute, info.st_size)[0] != ref.sha256:
            return False
    for service in spec.services:
        if service.build:
            context = posixpath.normpath(_join(spec.identity, service.build))
            dockerfile = os.path.join(catalog.absolute(context), service.dockerfile)
            if not os.path.isfile(dockerfile):
                return False
    return True
