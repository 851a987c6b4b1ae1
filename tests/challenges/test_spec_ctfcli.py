"""Plain ctfcli specs load as they are, field by field."""

import hashlib

from challenges.catalog import DynamicScoring, FlagSpec, Hint, ServiceSpec, load_spec

from .catalog_factory import MINIMAL, messages

FULL = """\
name: Cookie Monster
author: alice
category: web
description: |
  The admin loves cookies.
attribution: Example CTF 2024
value: 150
type: standard
image: null
protocol: http
host: null
connection_info: https://cookies.example.com
attempts: 5
flags:
  - "flag{plain}"
  - type: static
    content: "flag{any-case}"
    data: case_insensitive
  - type: regex
    content: "flag{cookie-[0-9]+}"
topics:
  - session handling
tags:
  - web
  - value: beginner
files:
  - dist/app.zip
hints:
  - free hint
  - content: paid hint
    cost: 25
    title: Look closer
requirements:
  - Warmup
  - 3
next: Cookie Monster 2
state: hidden
version: "0.1"
"""


def test_it_loads_every_scalar_field(catalog):
    spec, warnings = catalog.load(
        FULL, folder="web/cookies", files={"dist/app.zip": b"PK"}
    )

    assert warnings == []
    assert spec.identity == "web/cookies"
    assert spec.path == "web/cookies/challenge.yml"
    assert spec.name == "Cookie Monster"
    assert spec.author == "alice"
    assert spec.category == "web"
    assert spec.description == "The admin loves cookies.\n"
    assert spec.attribution == "Example CTF 2024"
    assert spec.value == 150
    assert spec.type == "standard"
    assert spec.protocol == "http"
    assert spec.host == ""
    assert spec.connection_info == "https://cookies.example.com"
    assert spec.state == "hidden"
    assert spec.version == "0.1"
    assert spec.next == "Cookie Monster 2"


def test_it_loads_lists(catalog):
    spec, _ = catalog.load(FULL, folder="web/cookies", files={"dist/app.zip": b"PK"})

    assert spec.topics == ("session handling",)
    assert spec.tags == ("web", "beginner")
    assert spec.hints == (
        Hint(title="", content="free hint", cost=0),
        Hint(title="Look closer", content="paid hint", cost=25),
    )
    assert spec.prerequisites == ("Warmup", 3)
    assert spec.requirement_text == ""
    assert spec.locked_visibility == "hidden"


def test_it_builds_one_question_from_top_level_flags(catalog):
    spec, _ = catalog.load(FULL, folder="web/cookies", files={"dist/app.zip": b"PK"})

    (question,) = spec.questions
    assert question.key == "main"
    assert question.points == 150
    assert question.attempts == 5
    assert question.flags == (
        FlagSpec("static", "flag{plain}"),
        FlagSpec("case_insensitive", "flag{any-case}"),
        FlagSpec("regex", "flag{cookie-[0-9]+}"),
    )


def test_it_makes_a_case_insensitive_regex_carry_its_flag(catalog):
    spec, _ = catalog.load(
        """\
        name: R
        value: 1
        type: standard
        flags:
          - {type: regex, content: "ctf\\\\{a+\\\\}", data: case_insensitive}
        """
    )

    assert spec.questions[0].flags == (FlagSpec("regex", "(?i)ctf\\{a+\\}"),)


def test_it_hashes_handed_out_files(catalog):
    spec, _ = catalog.load(FULL, folder="web/cookies", files={"dist/app.zip": b"PK"})

    (ref,) = spec.files
    assert ref.relative_path == "dist/app.zip"
    assert ref.absolute_path == catalog.root / "web/cookies/dist/app.zip"
    assert ref.size == 2
    assert ref.sha256 == hashlib.sha256(b"PK").hexdigest()
    assert ref.is_text is True
    assert ref.name == "app.zip"


def test_it_tells_binary_files_from_text(catalog):
    spec, _ = catalog.load(
        MINIMAL_WITH_FILES,
        files={"dist/bin": b"\x7fELF\x00\x01", "dist/notes.txt": "héllo\n"},
    )

    assert [(f.relative_path, f.is_text) for f in spec.files] == [
        ("dist/bin", False),
        ("dist/notes.txt", True),
    ]


MINIMAL_WITH_FILES = """\
name: Files
value: 10
type: standard
flags: [flag]
files:
  - dist/bin
  - dist/notes.txt
"""


def test_it_records_the_spec_hash(catalog):
    path = catalog.spec()

    spec, _ = load_spec(catalog.root, path)

    assert spec.spec_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(spec.content_hash) == 64


def test_it_loads_a_dynamic_challenge_from_extra(catalog):
    spec, warnings = catalog.load(
        """\
        name: Dyn
        type: dynamic
        extra:
          initial: 500
          decay: 20
          minimum: 100
          function: linear
        flags:
          - flag{dyn}
        """
    )

    assert warnings == []
    assert spec.type == "dynamic"
    assert spec.extra == DynamicScoring(500, 20, 100, "linear")
    assert spec.value == 500
    assert spec.questions[0].points == 500


def test_it_defaults_the_decay_function_to_logarithmic(catalog):
    spec, _ = catalog.load(
        """\
        name: Dyn
        type: dynamic
        value: 300
        extra: {decay: 10, minimum: 50}
        flags:
          - flag{dyn}
        """
    )

    assert spec.extra == DynamicScoring(300, 10, 50, "logarithmic")


def test_it_reads_ctfcli_requirements_with_anonymize(catalog):
    spec, _ = catalog.load(
        """\
        name: Locked
        value: 1
        type: standard
        flags: [f]
        requirements:
          prerequisites: [Warmup, 2]
          anonymize: true
        """
    )

    assert spec.prerequisites == ("Warmup", 2)
    # CTFd shows such a challenge as "???" until it unlocks: the anonymous card.
    assert spec.locked_visibility == "locked"


def test_it_takes_an_image_reference_as_a_pull(catalog):
    spec, _ = catalog.load(MINIMAL + "image: ghcr.io/example/web:1.2\n")

    assert spec.image == "ghcr.io/example/web:1.2"
    assert spec.services == (
        ServiceSpec(name="challenge", image="ghcr.io/example/web:1.2"),
    )
    assert spec.instance is None


def test_it_takes_image_dot_as_a_build(catalog):
    spec, _ = catalog.load(
        MINIMAL + "image: .\n", files={"Dockerfile": "FROM alpine\n"}
    )

    assert spec.services == (
        ServiceSpec(name="challenge", build=".", dockerfile="Dockerfile"),
    )
    assert spec.services[0].is_build


def test_it_loads_challenge_yaml_too(catalog):
    spec, _ = catalog.load(name="challenge.yaml")

    assert spec.path == "misc/warmup/challenge.yaml"
    assert spec.identity == "misc/warmup"


def test_it_gives_a_spec_at_the_catalog_root_the_identity_dot(catalog):
    spec, _ = catalog.load(folder=".")

    assert spec.identity == "."
    assert spec.path == "challenge.yml"


def test_it_loads_the_ctfcli_example_with_one_warning(catalog):
    spec, warnings = catalog.load(
        """\
        name: "example"
        author: "author"
        category: category
        description: This is a sample description
        value: 100
        type: standard
        image: null
        host: null
        attempts: 5
        flags:
            - flag{3xampl3}
            - {
                type: "static",
                content: "flag{wat}",
                data: "asdfasdfsdf",
            }
        tags:
            - web
        files:
            - dist/source.py
        hints:
            - {
                content: "This hint costs points",
                cost: 10
            }
            - This hint is free
        requirements:
            - "Warmup"
            - "Are you alive"
            - 1
        state: hidden
        version: "0.1"
        """,
        files={"dist/source.py": "print(1)\n"},
    )

    assert "'asdfasdfsdf' is not a ctfcli flag option" in messages(warnings)
    assert len(warnings) == 1
    assert spec.questions[0].flags[1] == FlagSpec("static", "flag{wat}")
    assert spec.prerequisites == ("Warmup", "Are you alive", 1)


def test_it_reads_a_version_written_as_a_number(catalog):
    spec, _ = catalog.load(MINIMAL + "version: 0.1\n")

    assert spec.version == "0.1"


def test_it_keeps_next_as_an_id(catalog):
    spec, _ = catalog.load(MINIMAL + "next: 7\n")

    assert spec.next == 7


def test_it_dedupes_a_flag_written_twice(catalog):
    spec, _ = catalog.load("name: D\nvalue: 1\ntype: standard\nflags: [a, a, b]\n")

    assert [f.content for f in spec.questions[0].flags] == ["a", "b"]


def test_it_accepts_a_healthcheck_script_path(catalog):
    spec, warnings = catalog.load(
        MINIMAL + "healthcheck: solve/check.py\n",
        files={"solve/check.py": "print('ok')\n"},
    )

    assert spec.healthcheck == "solve/check.py"
    assert warnings == []
