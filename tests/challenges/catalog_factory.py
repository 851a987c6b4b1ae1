"""Build small catalogs on disk for the spec loader tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from challenges.catalog import ChallengeSpec, SpecProblem, SpecWarning
from challenges.catalog.loader import load_spec
from challenges.catalog.spec import SpecRejected

MINIMAL = """\
name: Warmup
category: misc
value: 100
type: standard
flags:
  - CTF{warmup}
"""


class Catalog:
    """A catalog folder under tmp_path with helpers to write and load specs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def write(self, rel: str, content: str | bytes = "") -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        return path

    def spec(
        self,
        text: str = MINIMAL,
        *,
        folder: str = "misc/warmup",
        name: str = "challenge.yml",
        files: dict[str, str | bytes] | None = None,
    ) -> Path:
        for rel, content in (files or {}).items():
            self.write(f"{folder}/{rel}" if folder != "." else rel, content)
        rel = f"{folder}/{name}" if folder != "." else name
        return self.write(rel, text)

    def load(
        self, text: str = MINIMAL, **kwargs
    ) -> tuple[ChallengeSpec, list[SpecWarning]]:
        path = self.spec(text, **kwargs)
        return load_spec(self.root, path)

    def reject(self, text: str = MINIMAL, **kwargs) -> SpecProblem:
        path = self.spec(text, **kwargs)
        with pytest.raises(SpecRejected) as info:
            load_spec(self.root, path)
        return info.value.problem


def messages(warnings: list[SpecWarning]) -> str:
    return "\n".join(w.message for w in warnings)
