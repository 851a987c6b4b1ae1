"""Paths a spec points at: kept inside the catalog, hashed, sniffed for text."""

from __future__ import annotations

import codecs
import hashlib
import os
import posixpath
import re
import stat
from pathlib import Path

from .context import Ctx
from .spec import FileRef
from .yamlmarks import Mark

PLACEHOLDER_RE = re.compile(r"\{flag:([^{}\s]*)\}")
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")
_CHUNK = 1 << 20
# Text handouts are scanned for placeholders up to this size; bigger ones are
# still hashed but are taken as data.
MAX_TEXT_SCAN = 8 << 20


class Catalog:
    """The catalog root in the two forms path checks need."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.abspath(root)
        self.real = os.path.realpath(root)

    def contains(self, real_path: str) -> bool:
        return real_path == self.real or real_path.startswith(self.real + os.sep)

    def absolute(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel not in ("", ".") else self.root


def resolve(
    ctx: Ctx,
    catalog: Catalog,
    challenge_dir: str,
    raw: str,
    field: str,
    mark: Mark | None,
    *,
    within: str = "catalog",
) -> tuple[str, str]:
    """Check a relative path written in a spec; return (normalised, rel to root).

    `within="challenge"` also keeps it inside the challenge folder (build
    contexts). A `./` prefix is dropped silently here; callers warn if they care.
    """
    path = raw.strip()
    if not path:
        ctx.reject("path is empty", field=field, mark=mark)
    if path.startswith(("/", "~", "\\")) or _WINDOWS_ABSOLUTE.match(path):
        ctx.reject(
            f"{path!r} is an absolute path; write it relative to the challenge folder",
            field=field,
            mark=mark,
        )
    base = "" if challenge_dir in ("", ".") else challenge_dir
    joined = posixpath.normpath(posixpath.join(base, path))
    if joined == ".." or joined.startswith("../"):
        ctx.reject(f"{path!r} points outside the catalog", field=field, mark=mark)
    normalised = posixpath.relpath(joined, base or ".")
    if within == "challenge" and (normalised == ".." or normalised.startswith("../")):
        ctx.reject(
            f"{path!r} points outside the challenge folder", field=field, mark=mark
        )
    # The lexical checks pass; a symlink on the way may still lead out.
    real = os.path.realpath(catalog.absolute(joined))
    if not catalog.contains(real):
        ctx.reject(
            f"{path!r} is a symlink whose target leaves the catalog",
            field=field,
            mark=mark,
        )
    return normalised, joined


def file_ref(
    ctx: Ctx,
    catalog: Catalog,
    challenge_dir: str,
    raw: str,
    field: str,
    mark: Mark | None,
) -> FileRef:
    """Return a FileRef for a handed-out file, or reject the spec."""
    relative, from_root = resolve(ctx, catalog, challenge_dir, raw, field, mark)
    absolute = catalog.absolute(from_root)
    try:
        info = os.stat(absolute)
    except FileNotFoundError:
        ctx.reject(f"file {raw.strip()!r} does not exist", field=field, mark=mark)
    except OSError as exc:
        ctx.reject(
            f"file {raw.strip()!r} cannot be read: {exc}", field=field, mark=mark
        )
    if not stat.S_ISREG(info.st_mode):
        ctx.reject(f"{raw.strip()!r} is not a regular file", field=field, mark=mark)
    try:
        sha, is_text, placeholders = digest_file(absolute, info.st_size)
    except OSError as exc:
        ctx.reject(
            f"file {raw.strip()!r} cannot be read: {exc}", field=field, mark=mark
        )
    return FileRef(
        relative_path=relative,
        absolute_path=Path(absolute),
        size=info.st_size,
        sha256=sha,
        is_text=is_text,
        placeholders=placeholders,
        mtime_ns=info.st_mtime_ns,
    )


def digest_file(path: str, size: int) -> tuple[str, bool, tuple[str, ...]]:
    """Return (sha256, is_text, placeholders) reading the file once.

    Text means valid UTF-8 without NUL bytes; only text files up to
    MAX_TEXT_SCAN are searched for `{flag:<key>}` placeholders.
    """
    sha = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_text = True
    scan = size <= MAX_TEXT_SCAN
    parts: list[str] = []
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            if not is_text:
                continue
            try:
                decoded = decoder.decode(chunk)
            except UnicodeDecodeError:
                is_text = False
                continue
            if "\x00" in decoded:
                is_text = False
            elif scan:
                parts.append(decoded)
    if is_text:
        try:
            parts.append(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            is_text = False
    placeholders: tuple[str, ...] = ()
    if is_text and scan:
        found = PLACEHOLDER_RE.findall("".join(parts))
        placeholders = tuple(dict.fromkeys(found))
    return sha.hexdigest(), is_text, placeholders


def sha256_file(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()
