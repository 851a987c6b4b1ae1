"""Walking a catalog: identities, skipped folders, duplicates, the cache."""

import os
import time

import pytest

from challenges.catalog import SpecProblem, scan_catalog

from .catalog_factory import MINIMAL


def named(name: str) -> str:
    return MINIMAL.replace("name: Warmup", f"name: {name}")


def test_it_finds_every_spec_by_folder(catalog):
    catalog.spec(named("A"), folder="web/a")
    catalog.spec(named("B"), folder="web/b", name="challenge.yaml")
    catalog.spec(named("C"), folder="pwn/deep/down/c")
    catalog.write("web/README.md", "not a spec")

    result = scan_catalog(catalog.root)

    assert sorted(result.specs) == ["pwn/deep/down/c", "web/a", "web/b"]
    assert result.specs["web/b"].path == "web/b/challenge.yaml"
    assert result.rejected == []
    assert result.warnings == []


def test_it_gives_a_root_spec_the_identity_dot(catalog):
    catalog.spec(named("Root"), folder=".")
    catalog.spec(named("Nested"), folder="nested")

    result = scan_catalog(catalog.root)

    assert sorted(result.specs) == [".", "nested"]


def test_it_skips_hidden_folders(catalog):
    catalog.spec(named("Git"), folder=".git/x")
    catalog.spec(named("Hidden"), folder="web/.drafts/y")
    catalog.spec(named("Shown"), folder="web/z")

    result = scan_catalog(catalog.root)

    assert list(result.specs) == ["web/z"]


def test_it_does_not_follow_symlinked_folders(catalog, tmp_path):
    outside = tmp_path / "outside/evil"
    outside.mkdir(parents=True)
    (outside / "challenge.yml").write_text(named("Evil"))
    catalog.spec(named("Real"), folder="web/real")
    os.symlink(tmp_path / "outside", catalog.root / "linked-out")
    os.symlink(catalog.root / "web", catalog.root / "linked-in")

    result = scan_catalog(catalog.root)

    assert list(result.specs) == ["web/real"]


def test_it_rejects_both_spec_files_in_one_folder(catalog):
    catalog.spec(named("One"), folder="web/twice")
    catalog.spec(named("Two"), folder="web/twice", name="challenge.yaml")
    catalog.spec(named("Fine"), folder="web/fine")

    result = scan_catalog(catalog.root)

    assert list(result.specs) == ["web/fine"]
    message = "challenge.yaml and challenge.yml are both in this folder; keep one"
    assert result.rejected == [
        SpecProblem("web/twice/challenge.yaml", None, None, None, message),
        SpecProblem("web/twice/challenge.yml", None, None, None, message),
    ]


def test_it_reports_a_kctf_file_and_goes_on(catalog):
    catalog.spec(
        "apiVersion: kctf.dev/v1\nkind: Challenge\nmetadata:\n  name: x\n",
        folder="pwn/kctf",
        name="challenge.yaml",
    )
    catalog.spec(named("Fine"), folder="web/fine")

    result = scan_catalog(catalog.root)

    assert list(result.specs) == ["web/fine"]
    (problem,) = result.rejected
    assert problem.path == "pwn/kctf/challenge.yaml"
    assert problem.message.startswith("not a challenge spec (looks like kCTF")


def test_it_collects_warnings_with_catalog_relative_paths(catalog):
    catalog.spec("name: W\ntype: standard\nflags:\n  - f\n", folder="misc/w")

    result = scan_catalog(catalog.root)

    assert [w.to_dict() for w in result.warnings] == [
        {
            "path": "misc/w/challenge.yml",
            "line": 1,
            "message": "value is missing; read as 0",
        }
    ]


def test_it_warns_about_two_challenges_with_one_name(catalog):
    catalog.spec(named("Same"), folder="a")
    catalog.spec(named("SAME"), folder="b")

    result = scan_catalog(catalog.root)

    assert len(result.specs) == 2
    assert [w.path for w in result.warnings] == ["b/challenge.yml"]
    assert "is also used by 'a'" in result.warnings[0].message


def test_it_reuses_cached_specs_whose_files_are_unchanged(catalog):
    catalog.spec(named("A"), folder="a")
    catalog.spec(
        named("B") + "files:\n  - dist/b.txt\n", folder="b", files={"dist/b.txt": "b"}
    )
    first = scan_catalog(catalog.root)

    second = scan_catalog(catalog.root, cache=first.cache())

    assert second.reused == 2
    assert second.specs["a"] is first.specs["a"]
    assert second.specs == first.specs


def test_it_keeps_warnings_of_a_cached_spec(catalog):
    catalog.spec("name: W\ntype: standard\nflags:\n  - f\n", folder="w")
    first = scan_catalog(catalog.root)

    second = scan_catalog(catalog.root, cache=first.cache())

    assert second.reused == 1
    assert second.warnings == first.warnings


def test_it_reloads_a_changed_spec(catalog):
    path = catalog.spec(named("A"), folder="a")
    first = scan_catalog(catalog.root)
    path.write_text(named("A renamed"))

    second = scan_catalog(catalog.root, cache=first.cache())

    assert second.reused == 0
    assert second.specs["a"].name == "A renamed"
    assert second.specs["a"].content_hash != first.specs["a"].content_hash


def test_it_counts_a_changed_handout_as_a_change(catalog):
    catalog.spec(
        named("B") + "files:\n  - dist/b.txt\n", folder="b", files={"dist/b.txt": "v1"}
    )
    first = scan_catalog(catalog.root)
    handout = catalog.root / "b/dist/b.txt"
    handout.write_text("v2")
    os.utime(handout, ns=(1, 1))

    second = scan_catalog(catalog.root, cache=first.cache())

    assert second.reused == 0
    assert second.specs["b"].spec_sha256 == first.specs["b"].spec_sha256
    assert second.specs["b"].content_hash != first.specs["b"].content_hash


def test_it_reuses_a_spec_whose_handout_was_only_touched(catalog):
    catalog.spec(
        named("B") + "files:\n  - dist/b.txt\n", folder="b", files={"dist/b.txt": "v1"}
    )
    first = scan_catalog(catalog.root)
    os.utime(catalog.root / "b/dist/b.txt", ns=(1, 1))

    second = scan_catalog(catalog.root, cache=first.cache())

    assert second.reused == 1


def test_it_counts_a_changed_compose_file_as_a_change(catalog):
    catalog.spec(named("C"), folder="c")
    catalog.write("c/compose.yaml", "services:\n  a:\n    image: nginx\n")
    first = scan_catalog(catalog.root)
    catalog.write("c/compose.yaml", "services:\n  a:\n    image: redis\n")

    second = scan_catalog(catalog.root, cache=first.cache())

    assert second.reused == 0
    assert second.specs["c"].compose[0].image == "redis"
    assert second.specs["c"].content_hash != first.specs["c"].content_hash


def test_it_reloads_when_a_handout_disappears(catalog):
    catalog.spec(
        named("B") + "files:\n  - dist/b.txt\n", folder="b", files={"dist/b.txt": "v1"}
    )
    first = scan_catalog(catalog.root)
    (catalog.root / "b/dist/b.txt").unlink()

    second = scan_catalog(catalog.root, cache=first.cache())

    assert second.specs == {}
    assert second.rejected[0].message == "file 'dist/b.txt' does not exist"


def test_it_reports_progress(catalog):
    for n in range(3):
        catalog.spec(named(f"C{n}"), folder=f"c{n}")
    calls = []

    scan_catalog(catalog.root, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_it_scans_an_empty_catalog(catalog):
    result = scan_catalog(catalog.root)

    assert (result.specs, result.rejected, result.warnings) == ({}, [], [])


def test_it_refuses_a_missing_catalog_root(tmp_path):
    with pytest.raises(NotADirectoryError):
        scan_catalog(tmp_path / "nope")


def test_it_scans_a_thousand_specs_quickly(catalog):
    spec = MINIMAL + (
        "description: |\n  A small challenge.\ntags: [web, easy]\n"
        "hints:\n  - a free hint\n  - {content: paid, cost: 5}\n"
        "requirements: [Warmup]\n"
    )
    for n in range(1000):
        catalog.spec(spec.replace("name: Warmup", f"name: C{n}"), folder=f"cat/c{n:04}")

    started = time.perf_counter()
    result = scan_catalog(catalog.root)
    elapsed = time.perf_counter() - started

    assert len(result.specs) == 1000
    assert result.rejected == []
    assert elapsed < 5.0, f"1,000 specs took {elapsed:.2f}s"
