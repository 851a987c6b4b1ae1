"""Paths in specs stay inside the catalog: absolute, `..` and symlink escapes."""

import hashlib
import os

import pytest

from challenges.catalog import SpecProblem, load_spec

from .catalog_factory import MINIMAL

PATH = "misc/warmup/challenge.yml"


def with_files(*paths: str) -> str:
    return MINIMAL + "files:\n" + "".join(f"  - {p}\n" for p in paths)


def test_it_rejects_an_absolute_file_path(catalog):
    problem = catalog.reject(with_files("/etc/passwd"))

    assert problem == SpecProblem(
        PATH,
        8,
        5,
        "files[0]",
        "'/etc/passwd' is an absolute path; write it relative to the challenge folder",
    )


def test_it_rejects_a_windows_absolute_path(catalog):
    problem = catalog.reject(with_files("'C:\\flag.txt'"))

    assert "is an absolute path" in problem.message


def test_it_rejects_a_home_relative_path(catalog):
    problem = catalog.reject(with_files("~/flag.txt"))

    assert "is an absolute path" in problem.message


def test_it_rejects_a_dotdot_escape_from_the_catalog(catalog, tmp_path):
    (tmp_path / "secret.txt").write_text("s")

    problem = catalog.reject(with_files("../../../secret.txt"))

    assert problem == SpecProblem(
        PATH, 8, 5, "files[0]", "'../../../secret.txt' points outside the catalog"
    )


def test_it_rejects_a_dotdot_hidden_in_the_middle(catalog, tmp_path):
    (tmp_path / "secret.txt").write_text("s")

    problem = catalog.reject(with_files("dist/../../../../secret.txt"))

    assert problem.message.endswith("points outside the catalog")


def test_it_allows_a_dotdot_path_that_stays_in_the_catalog(catalog):
    catalog.write("common/libc.so.6", b"\x7fELF")

    spec, warnings = catalog.load(with_files("../../common/libc.so.6"))

    assert warnings == []
    assert spec.files[0].relative_path == "../../common/libc.so.6"
    assert spec.files[0].absolute_path == catalog.root / "common/libc.so.6"


def test_it_rejects_a_symlink_whose_target_leaves_the_catalog(catalog, tmp_path):
    (tmp_path / "secret.txt").write_text("s")
    link = catalog.root / "misc/warmup/dist/flag.txt"
    link.parent.mkdir(parents=True)
    os.symlink(tmp_path / "secret.txt", link)

    problem = catalog.reject(with_files("dist/flag.txt"))

    assert problem == SpecProblem(
        PATH,
        8,
        5,
        "files[0]",
        "'dist/flag.txt' is a symlink whose target leaves the catalog",
    )


def test_it_rejects_a_file_under_a_symlinked_folder_that_leaves(catalog, tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/a.txt").write_text("a")
    (catalog.root / "misc/warmup").mkdir(parents=True)
    os.symlink(tmp_path / "outside", catalog.root / "misc/warmup/dist")

    problem = catalog.reject(with_files("dist/a.txt"))

    assert problem.message.endswith("is a symlink whose target leaves the catalog")


def test_it_accepts_a_symlink_inside_the_catalog(catalog):
    catalog.write("common/readme.txt", "shared\n")
    (catalog.root / "misc/warmup").mkdir(parents=True)
    os.symlink("../../common/readme.txt", catalog.root / "misc/warmup/readme.txt")

    spec, _ = catalog.load(with_files("readme.txt"))

    assert spec.files[0].sha256 == hashlib.sha256(b"shared\n").hexdigest()
    assert spec.files[0].size == len("shared\n")


def test_it_rejects_a_spec_file_symlinked_out_of_the_catalog(catalog, tmp_path):
    (tmp_path / "spec.yml").write_text(MINIMAL)
    (catalog.root / "misc/warmup").mkdir(parents=True)
    os.symlink(tmp_path / "spec.yml", catalog.root / PATH)

    with pytest.raises(Exception) as info:
        load_spec(catalog.root, catalog.root / PATH)

    assert info.value.problem.message == (
        "spec file is a symlink whose target leaves the catalog"
    )


def test_it_rejects_a_folder_in_files(catalog):
    catalog.write("misc/warmup/dist/a.txt", "a")

    problem = catalog.reject(with_files("dist"))

    assert problem.message == "'dist' is not a regular file"


def test_it_drops_dot_slash_and_normalises_inner_dots(catalog):
    spec, warnings = catalog.load(
        with_files("./dist/./a.txt"), files={"dist/a.txt": "a"}
    )

    assert spec.files[0].relative_path == "dist/a.txt"
    assert len(warnings) == 1


def test_it_warns_once_about_a_file_listed_twice(catalog):
    spec, warnings = catalog.load(
        with_files("dist/a.txt", "./dist/a.txt"), files={"dist/a.txt": "a"}
    )

    assert len(spec.files) == 1
    assert "listed twice" in warnings[-1].message


def test_it_rejects_an_image_folder_outside_the_challenge(catalog):
    catalog.write("shared/Dockerfile", "FROM alpine\n")

    problem = catalog.reject(MINIMAL + "image: ../../shared\n")

    assert problem.field == "image"
    assert problem.message == "'../../shared' points outside the challenge folder"


def test_it_rejects_an_absolute_image_folder(catalog):
    problem = catalog.reject(MINIMAL + "image: /srv/app\n")

    assert problem.message.endswith(
        "is an absolute path; write it relative to the challenge folder"
    )


def test_it_rejects_a_healthcheck_outside_the_catalog(catalog):
    problem = catalog.reject(MINIMAL + "healthcheck: ../../../check.py\n")

    assert (problem.field, problem.line) == ("healthcheck", 7)
    assert problem.message.endswith("points outside the catalog")


def test_it_warns_about_a_missing_healthcheck_script(catalog):
    spec, warnings = catalog.load(MINIMAL + "healthcheck: solve.py\n")

    assert spec.healthcheck == "solve.py"
    assert warnings[0].message == "healthcheck script 'solve.py' does not exist"


def test_it_accepts_a_relative_spec_path(catalog):
    catalog.spec()

    spec, _ = load_spec(catalog.root, PATH)

    assert spec.path == PATH
