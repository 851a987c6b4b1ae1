"""What a rescan says about mistakes an organizer makes in a catalog: every
problem of a spec, LispIsh errors where they are written, names that are used
twice or name no challenge."""

from io import StringIO

import pytest
from django.core.management import call_command

from challenges.catalog import scan_catalog
from challenges.models import Challenge
from challenges.services import catalog_rescan

from .factories import make_challenge, spec, write_spec

WARMUP = spec("Warmup")


@pytest.fixture
def root(tmp_path, settings):
    root = tmp_path / "catalog"
    write_spec(root, "misc/warmup", WARMUP)
    settings.CATALOG_DIR = root
    return root


def rescan(root, **kwargs):
    return catalog_rescan(catalog=root, **kwargs)


def test_it_reports_every_problem_of_a_spec_not_only_the_first(root, db):
    write_spec(
        root,
        "web/sloppy",
        """\
        name: Sloppy
        category: [web]
        value: lots
        type: standard
        flags:
          - CTF{x}
        hints:
          - {content: "", cost: 1}
          - Fine hint
          - {content: Costly, cost: -3}
        state: draft
        """,
    )

    report = rescan(root)

    problems = [(p["line"], p["field"]) for p in report.rejected]
    assert problems == [
        (2, "category"),
        (3, "value"),
        (8, "hints[0]"),
        (10, "hints[2].cost"),
        (11, "state"),
    ]
    assert {p["path"] for p in report.rejected} == {"web/sloppy/challenge.yml"}
    assert "1 rejected (5 problems)" in report.summary()
    assert not Challenge.objects.filter(identity="web/sloppy").exists()


def test_every_problem_of_a_broken_spec_flags_the_live_version(root, db):
    rescan(root)
    write_spec(root, "misc/warmup", "name: Warmup\nvalue: -1\nstate: draft\n")

    rescan(root)

    warmup = Challenge.objects.get(identity="misc/warmup")
    assert warmup.value == 100
    assert "value: must be at least 0" in warmup.spec_error
    assert "state: 'draft' is not one of" in warmup.spec_error
    assert "no flag" in warmup.spec_error


@pytest.mark.parametrize(
    ("requirement", "line", "col"),
    [
        # The spec's lines 1-8 are name, ..., flags; the requirement is on 9.
        ('requirements: (AND (COMPLETED "Warmup") (FROB 1))\n', 9, 41),
        # Escaped text is not written as it reads: the value's own place.
        ('requirements: "(AND (COMPLETED \\"Warmup\\") (FROB 1))"\n', 9, 15),
        (
            'requirements: |\n  (AND (COMPLETED "Warmup")\n       (FROB 1))\n',
            11,
            8,
        ),
        ('requirements: (AND (COMPLETED "Warmup")\n', 9, 40),
    ],
    ids=["plain", "escaped", "block", "unbalanced"],
)
def test_a_lispish_error_carries_the_specs_line_and_column(
    catalog, requirement, line, col
):
    catalog.spec(spec("Gated") + requirement, folder="web/gated")

    result = scan_catalog(catalog.root)

    (problem,) = result.rejected
    assert (problem.path, problem.field) == ("web/gated/challenge.yml", "requirements")
    assert (problem.line, problem.col) == (line, col)
    assert problem.message.startswith("LispIsh: ")


def test_a_second_spec_with_the_same_name_is_rejected_with_both_paths(root, db):
    write_spec(root, "web/copy", spec("WARMUP "))
    write_spec(root, "web/gated", spec("Gated", extra="requirements: [Warmup]\n"))

    report = rescan(root)

    assert report.rejected == [
        {
            "path": "web/copy/challenge.yml",
            "line": 1,
            "field": "name",
            "error": "the name 'WARMUP' is already used by misc/warmup/challenge.yml; "
            "challenge names must be unique",
        }
    ]
    assert report.added == ["misc/warmup", "web/gated"]
    gated = Challenge.objects.get(identity="web/gated")
    assert gated.requirement == '(COMPLETED "Warmup")'


def test_the_challenge_that_has_a_name_keeps_it_against_a_new_folder(root, db):
    rescan(root)
    write_spec(root, "aaa/copy", spec("Warmup"))

    report = rescan(root)

    assert [p["path"] for p in report.rejected] == ["aaa/copy/challenge.yml"]
    assert "misc/warmup/challenge.yml" in report.rejected[0]["error"]
    assert report.unchanged == ["misc/warmup"]
    assert not Challenge.objects.filter(identity="aaa/copy").exists()


def test_a_spec_cannot_take_the_name_of_a_challenge_made_in_the_admin(root, db):
    made = make_challenge("Sandbox", identity=".admin/sandbox")
    write_spec(root, "misc/sandbox", spec("Sandbox"))

    report = rescan(root)

    assert report.rejected[0]["path"] == "misc/sandbox/challenge.yml"
    assert f"made in the admin (id {made.pk})" in report.rejected[0]["error"]


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        (
            'requirements: (AND (>= (USER-SCORE) 10)\n  (COMPLETED "Warmpu"))\n',
            10,
            "requirements: no challenge named Warmpu; did you mean Warmup?",
        ),
        (
            "requirements:\n  - Warmup\n  - Blank Pgae\n",
            11,
            "requirements: no challenge named Blank Pgae; did you mean Blank Page?",
        ),
        (
            "requirements: {prerequisites: [Zzyzx]}\n",
            9,
            "requirements: no challenge named Zzyzx",
        ),
        ("requirements: [4242]\n", 9, "requirements: no challenge has id 4242"),
        ("next: Blank Pages\n", 9, "next: no challenge named Blank Pages; "),
    ],
    ids=["lispish", "ctfcli-list", "prerequisites", "id", "next"],
)
def test_a_name_that_matches_no_challenge_is_a_warning_with_path_and_line(
    root, db, extra, line, message
):
    write_spec(root, "forensics/blank", spec("Blank Page"))
    write_spec(root, "web/gated", spec("Gated", extra=extra))

    report = rescan(root)

    assert report.rejected == []
    assert report.added == ["forensics/blank", "misc/warmup", "web/gated"]
    (warning,) = [w for w in report.warnings if w["path"] == "web/gated/challenge.yml"]
    assert warning["line"] == line
    assert warning["message"].startswith(message)


def test_names_of_challenges_outside_this_catalog_are_known(root, db):
    make_challenge("Made Here", identity=".admin/made-here")
    write_spec(root, "web/gated", spec("Gated", extra="requirements: [Made here]\n"))

    report = rescan(root)

    assert report.warnings == []


def test_the_command_prints_each_warning_with_its_line(root, db):
    write_spec(root, "web/gated", spec("Gated", extra="requirements: [Warmpu]\n"))
    out = StringIO()

    call_command("rescan", "--catalog", str(root), stdout=out)

    assert (
        "warning  web/gated/challenge.yml:9: requirements: no challenge named "
        "Warmpu; did you mean Warmup?"
    ) in out.getvalue()
