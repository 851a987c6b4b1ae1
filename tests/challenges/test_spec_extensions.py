"""Our extensions: questions, derived flags, placeholders, LispIsh requirements,
locked visibility, services, compose files and per-team instances."""

import pytest

from challenges.catalog import (
    FlagSpec,
    InstanceSpec,
    QuestionSpec,
    ServiceSpec,
    SpecProblem,
    normalize_name,
)

from .catalog_factory import MINIMAL, messages

PATH = "misc/warmup/challenge.yml"
COMPOSE = "misc/warmup/docker-compose.yml"

TWO_QUESTIONS = """\
name: Box
type: standard
attempts: 3
questions:
  - key: user
    name: User flag
    points: 100
    flags:
      - CTF{user}
  - id: root
    prompt: Root flag
    points: 200
    attempts: 10
    flags:
      - type: derived
        template: "CTF{root_{hash}}"
"""

# Questions


def test_it_loads_several_questions(catalog):
    spec, warnings = catalog.load(TWO_QUESTIONS)

    assert warnings == []
    assert spec.questions == (
        QuestionSpec("user", "User flag", 100, 3, (FlagSpec("static", "CTF{user}"),)),
        QuestionSpec(
            "root",
            "Root flag",
            200,
            10,
            (FlagSpec("derived", template="CTF{root_{hash}}"),),
        ),
    )


def test_it_sums_question_points_when_value_is_missing(catalog):
    spec, _ = catalog.load(TWO_QUESTIONS)

    assert spec.value == 300


def test_it_numbers_questions_without_a_key(catalog):
    spec, warnings = catalog.load(
        "name: Q\ntype: standard\nquestions:\n"
        "  - {points: 1, flags: [a]}\n  - {points: 2, flags: [b]}\n"
    )

    assert [q.key for q in spec.questions] == ["q1", "q2"]
    assert warnings == []


def test_it_warns_about_a_question_without_points(catalog):
    spec, warnings = catalog.load(
        "name: Q\ntype: standard\nquestions:\n  - key: a\n    flags: [a]\n"
    )

    assert spec.questions[0].points == 0
    assert warnings[0].message == "questions[0].points is missing; read as 0"
    assert warnings[0].line == 4


def test_it_rejects_a_question_key_used_twice(catalog):
    problem = catalog.reject(
        "name: Q\ntype: standard\nquestions:\n"
        "  - {key: a, points: 1, flags: [a]}\n  - {key: a, points: 2, flags: [b]}\n"
    )

    assert problem == SpecProblem(
        PATH, 5, 6, "questions[1].key", "question key 'a' is used twice"
    )


def test_it_rejects_key_and_id_together(catalog):
    problem = catalog.reject(
        "name: Q\ntype: standard\nquestions:\n"
        "  - {key: a, id: b, points: 1, flags: [a]}\n"
    )

    assert problem.field == "questions[0].id"
    assert problem.message == "write key: or id:, not both"


def test_it_rejects_a_question_key_with_spaces(catalog):
    problem = catalog.reject(
        "name: Q\ntype: standard\nquestions:\n"
        "  - {key: 'user flag', points: 1, flags: [a]}\n"
    )

    assert problem.field == "questions[0].key"


def test_it_rejects_top_level_flags_beside_questions(catalog):
    problem = catalog.reject(TWO_QUESTIONS + "flags:\n  - CTF{x}\n")

    assert problem.field == "flags"
    assert problem.line == 17
    assert "cannot be combined" in problem.message


def test_it_rejects_an_empty_question_list(catalog):
    problem = catalog.reject("name: Q\ntype: standard\nquestions: []\n")

    assert problem == SpecProblem(PATH, 3, 1, "questions", "questions: is empty")


def test_it_warns_about_unknown_question_keys(catalog):
    _, warnings = catalog.load(
        "name: Q\ntype: standard\nquestions:\n"
        "  - {key: a, points: 1, flags: [a], difficulty: 2}\n"
    )

    assert messages(warnings) == "unknown key 'questions[0].difficulty' ignored"


# Derived flags and placeholders


@pytest.mark.parametrize(
    "template, count", [("CTF{static}", 0), ("CTF{{hash}_{hash}}", 2)]
)
def test_it_rejects_a_derived_template_without_exactly_one_hash(
    catalog, template, count
):
    problem = catalog.reject(
        "name: D\nvalue: 1\ntype: standard\nflags:\n"
        f"  - type: derived\n    template: '{template}'\n"
    )

    assert problem == SpecProblem(
        PATH,
        6,
        5,
        "flags[0].template",
        f"a derived flag template needs exactly one {{hash}}, found {count}",
    )


def test_it_takes_content_as_a_derived_template(catalog):
    spec, _ = catalog.load(
        "name: D\nvalue: 1\ntype: standard\nflags:\n"
        "  - {type: derived, content: 'CTF{sqli_{hash}}'}\n"
    )

    assert spec.questions[0].flags == (
        FlagSpec("derived", template="CTF{sqli_{hash}}"),
    )


def test_it_accepts_placeholders_naming_questions(catalog):
    spec, _ = catalog.load(
        TWO_QUESTIONS
        + "description: 'Start with {flag:user}.'\nfiles:\n  - notes.txt\n",
        files={"notes.txt": "root is {flag:root}\n"},
    )

    assert spec.description == "Start with {flag:user}."
    assert spec.files[0].placeholders == ("root",)


def test_it_lets_a_plain_spec_use_the_main_placeholder(catalog):
    spec, _ = catalog.load(MINIMAL + "description: 'Yours: {flag:main}'\n")

    assert spec.questions[0].key == "main"


def test_it_rejects_a_description_placeholder_naming_no_question(catalog):
    problem = catalog.reject(TWO_QUESTIONS + "description: 'See {flag:admin}'\n")

    assert problem == SpecProblem(
        PATH,
        17,
        1,
        "description",
        "{flag:admin} names no question (keys: root, user)",
    )


def test_it_rejects_a_file_placeholder_naming_no_question(catalog):
    problem = catalog.reject(
        MINIMAL + "files:\n  - readme.txt\n",
        files={"readme.txt": "flag: {flag:user}\n"},
    )

    assert problem.field == "files[0]"
    assert problem.message == (
        "readme.txt uses {flag:user} but no question has that key (keys: main)"
    )


def test_it_does_not_scan_binary_files_for_placeholders(catalog):
    spec, _ = catalog.load(
        MINIMAL + "files:\n  - a.bin\n", files={"a.bin": b"\x00{flag:nope}"}
    )

    assert spec.files[0].placeholders == ()


# Requirements


def test_it_keeps_a_lispish_requirement_as_text(catalog):
    spec, _ = catalog.load(
        MINIMAL + "requirements: '(AND (COMPLETED \"Intro\") (>= (USER-SCORE) 100))'\n"
    )

    assert spec.requirement_text == '(AND (COMPLETED "Intro") (>= (USER-SCORE) 100))'
    assert spec.prerequisites == ()


def test_it_keeps_a_multiline_lispish_requirement(catalog):
    spec, _ = catalog.load(
        MINIMAL + 'requirements: |\n  (OR (COMPLETED "A")\n      (COMPLETED "B"))\n'
    )

    assert spec.requirement_text == '(OR (COMPLETED "A")\n    (COMPLETED "B"))'


def test_it_reads_one_requirement_name_as_a_list_with_a_warning(catalog):
    spec, warnings = catalog.load(MINIMAL + "requirements: Intro\n")

    assert spec.prerequisites == ("Intro",)
    assert "one name, not a list" in messages(warnings)


def test_it_drops_duplicate_and_self_requirements(catalog):
    spec, warnings = catalog.load(
        MINIMAL + "requirements:\n  - 🔥 Intro\n  - '🔥  INTRO'\n  - warmup\n"
    )

    assert spec.prerequisites == ("🔥 Intro",)
    assert messages(warnings) == (
        "requirements[1]: '🔥  INTRO' is listed twice\n"
        "requirements[2]: a challenge cannot require itself; dropped"
    )


def test_it_normalises_names_with_nfkc_and_casefold_keeping_emoji():
    assert normalize_name("ＳＱＬｉ  101 🚩") == "sqli 101 🚩"
    assert normalize_name("Straße") == normalize_name("STRASSE")


def test_it_rejects_requirements_that_are_a_number(catalog):
    problem = catalog.reject(MINIMAL + "requirements: 5\n")

    assert problem.field == "requirements"


# Locked visibility


@pytest.mark.parametrize("value", ["hidden", "locked", "preview"])
def test_it_reads_locked_visibility(catalog, value):
    spec, _ = catalog.load(MINIMAL + f"locked_visibility: {value}\n")

    assert spec.locked_visibility == value


def test_it_maps_anonymize_false_to_hidden(catalog):
    spec, _ = catalog.load(
        MINIMAL + "requirements: {prerequisites: [A], anonymize: false}\n"
    )

    assert spec.locked_visibility == "hidden"


def test_it_prefers_locked_visibility_over_anonymize(catalog):
    spec, warnings = catalog.load(
        MINIMAL
        + "requirements: {prerequisites: [A], anonymize: true}\n"
        + "locked_visibility: preview\n"
    )

    assert spec.locked_visibility == "preview"
    assert "using locked_visibility" in messages(warnings)


def test_it_rejects_a_bad_locked_visibility(catalog):
    problem = catalog.reject(MINIMAL + "locked_visibility: blurred\n")

    assert problem.message == "'blurred' is not one of: hidden, locked, preview"


# Services from image:


def test_it_builds_a_named_subfolder(catalog):
    spec, _ = catalog.load(
        MINIMAL + "image: app\n", files={"app/Dockerfile": "FROM alpine\n"}
    )

    assert spec.services == (
        ServiceSpec(name="challenge", build="app", dockerfile="Dockerfile"),
    )


def test_it_rejects_a_build_folder_without_a_dockerfile(catalog):
    problem = catalog.reject(MINIMAL + "image: .\n")

    assert problem.field == "image"
    assert problem.message == (
        "image: '.' is built from a folder, but ./Dockerfile does not exist"
    )


@pytest.mark.parametrize(
    "ref",
    [
        "nginx",
        "nginx:1.25-alpine",
        "library/nginx",
        "localhost:5000/team/app:dev",
        "ghcr.io/org/app@sha256:" + "a" * 64,
    ],
)
def test_it_accepts_image_references(catalog, ref):
    spec, _ = catalog.load(MINIMAL + f"image: '{ref}'\n")

    assert spec.services[0].image == ref


@pytest.mark.parametrize("ref", ["Nginx:latest", "my app", "app:", "a::b"])
def test_it_rejects_malformed_image_references(catalog, ref):
    problem = catalog.reject(MINIMAL + f"image: '{ref}'\n")

    assert problem.field == "image"
    assert "is neither a folder with a Dockerfile nor an image reference" in (
        problem.message
    )


# Services from a compose file

GOOD_COMPOSE = """\
services:
  web:
    build: ./web
    ports:
      - "8080:80"
      - 443
      - target: 8443
        published: 9443
    environment:
      DB_HOST: db
      DEBUG: false
    cap_add: [NET_BIND_SERVICE]
  db:
    image: postgres:16
    environment:
      - POSTGRES_PASSWORD=secret
    volumes:
      - dbdata:/var/lib/postgresql/data
volumes:
  dbdata:
"""


def compose_challenge(catalog, compose: str, spec: str = MINIMAL, **kwargs):
    catalog.write("misc/warmup/web/Dockerfile", "FROM nginx\n")
    catalog.write(COMPOSE, compose)
    return catalog.load(spec, **kwargs)


def test_it_parses_a_compose_file(catalog):
    spec, warnings = compose_challenge(catalog, GOOD_COMPOSE)

    assert warnings == []
    assert spec.compose_file == COMPOSE
    assert spec.compose == (
        ServiceSpec(
            name="web",
            build="web",
            dockerfile="Dockerfile",
            ports=(80, 443, 8443),
            environment=(("DB_HOST", "db"), ("DEBUG", "false")),
            cap_add=("NET_BIND_SERVICE",),
        ),
        ServiceSpec(
            name="db",
            image="postgres:16",
            environment=(("POSTGRES_PASSWORD", "secret"),),
        ),
    )
    assert spec.services == spec.compose


def test_it_reads_a_long_form_build(catalog):
    catalog.write("misc/warmup/web/Dockerfile.prod", "FROM nginx\n")
    spec, _ = compose_challenge(
        catalog,
        "services:\n  web:\n    build:\n      context: web\n"
        "      dockerfile: Dockerfile.prod\n",
    )

    assert spec.compose[0].dockerfile == "Dockerfile.prod"


@pytest.mark.parametrize(
    "service, field, line, needle",
    [
        ("network_mode: host", "services.web.network_mode", 4, "network_mode: host"),
        ("pid: host", "services.web.pid", 4, "pid: host shares"),
        ("ipc: host", "services.web.ipc", 4, "ipc: host shares"),
        ("devices: ['/dev/kvm']", "services.web.devices", 4, "hardware"),
        (
            "security_opt: ['seccomp:unconfined']",
            "services.web.security_opt",
            4,
            "turns off confinement",
        ),
        (
            "volumes: ['/var/run/docker.sock:/var/run/docker.sock']",
            "services.web.volumes[0]",
            4,
            "mounts the Docker socket",
        ),
        (
            "volumes:\n      - {type: bind, source: /, target: /host}",
            "services.web.volumes[0]",
            5,
            "mounts a path on the node",
        ),
        ("cap_add: [FLY]", "services.web.cap_add[0]", 4, "FLY is not a Linux"),
        ("extends: {file: base.yml, service: x}", "services.web.extends", 4, "extends"),
    ],
)
def test_it_rejects_unsafe_compose_options(catalog, service, field, line, needle):
    catalog.write("misc/warmup/web/Dockerfile", "FROM nginx\n")
    catalog.write(COMPOSE, f"services:\n  web:\n    build: web\n    {service}\n")
    problem = catalog.reject()

    assert problem.path == COMPOSE
    assert problem.field == field
    assert problem.line == line
    assert needle in problem.message


def test_it_rejects_a_build_context_outside_the_challenge(catalog):
    catalog.write("other/Dockerfile", "FROM alpine\n")
    catalog.write(COMPOSE, "services:\n  web:\n    build: ../../other\n")

    problem = catalog.reject()

    assert problem == SpecProblem(
        COMPOSE,
        3,
        5,
        "services.web.build",
        "'../../other' points outside the challenge folder",
    )


def test_it_rejects_a_remote_build_context(catalog):
    catalog.write(COMPOSE, "services:\n  web:\n    build: https://github.com/x/y.git\n")

    problem = catalog.reject()

    assert "remote build contexts are not supported" in problem.message


def test_it_rejects_a_build_context_without_its_dockerfile(catalog):
    catalog.write("misc/warmup/web/app.py", "")
    catalog.write(COMPOSE, "services:\n  web:\n    build: web\n")

    problem = catalog.reject()

    assert problem.message == "Dockerfile not found in build context 'web'"


def test_it_rejects_a_service_without_build_or_image(catalog):
    catalog.write(COMPOSE, "services:\n  web:\n    ports: [80]\n")

    problem = catalog.reject()

    assert problem == SpecProblem(
        COMPOSE, 2, 3, "services.web", "a service needs build: or image:"
    )


def test_it_rejects_compose_include(catalog):
    catalog.write(COMPOSE, "include: [../other.yml]\nservices:\n  a:\n    image: x\n")

    problem = catalog.reject()

    assert problem.field == "include"


def test_it_rejects_invalid_compose_yaml_at_its_line(catalog):
    catalog.write(COMPOSE, "services:\n  web: [\n")

    problem = catalog.reject()

    assert problem.path == COMPOSE
    assert problem.line == 3
    assert problem.message.startswith("not valid YAML")


def test_it_rejects_a_compose_port_range(catalog):
    catalog.write(COMPOSE, "services:\n  a:\n    image: x\n    ports: ['8000-8010']\n")

    problem = catalog.reject()

    assert problem.field == "services.a.ports[0]"
    assert problem.message == "port ranges are not supported ('8000-8010')"


def test_it_warns_about_ignored_compose_options(catalog):
    spec, warnings = compose_challenge(
        catalog,
        "services:\n  a:\n    image: x\n    container_name: fixed\n"
        "    env_file: .env\n    environment: [TOKEN]\n",
    )

    assert [w.path for w in warnings] == [COMPOSE] * 3
    assert spec.compose[0].environment == ()


def test_it_rejects_two_compose_files(catalog):
    catalog.write(COMPOSE, "services:\n  a:\n    image: x\n")
    catalog.write("misc/warmup/compose.yaml", "services:\n  a:\n    image: x\n")

    problem = catalog.reject()

    assert problem.message == (
        "several compose files (compose.yaml, docker-compose.yml); keep one"
    )


def test_it_ignores_a_compose_file_when_image_is_set(catalog):
    spec, warnings = compose_challenge(
        catalog,
        "services:\n  a:\n    privileged: true\n    build: .\n",
        MINIMAL + "image: nginx\n",
    )

    assert spec.services == (ServiceSpec(name="challenge", image="nginx"),)
    assert spec.compose == ()
    assert messages(warnings) == "docker-compose.yml is not used because image: is set"


# Instances


def test_it_reads_an_instance_block(catalog):
    spec, _ = catalog.load(
        MINIMAL
        + "image: nginx\ninstance:\n  lifetime: 1800\n  memory: 256m\n"
        + "  cpus: 0.5\n  ports: [80, '443']\n  flag_env: CTF_FLAG\n"
    )

    assert spec.instance == InstanceSpec(
        lifetime=1800,
        memory=256 * 1024 * 1024,
        cpus=0.5,
        ports=(80, 443),
        flag_env="CTF_FLAG",
    )


@pytest.mark.parametrize(
    "memory, size",
    [
        ("512", 512),
        ("64k", 65536),
        ("1g", 1 << 30),
        ("1.5G", 3 << 29),
        ("128mb", 128 << 20),
        (1024, 1024),
    ],
)
def test_it_parses_memory_sizes(catalog, memory, size):
    spec, _ = catalog.load(MINIMAL + f"image: nginx\ninstance:\n  memory: {memory}\n")

    assert spec.instance.memory == size


@pytest.mark.parametrize("block", ["instance: {}", "instance: true"])
def test_it_takes_instance_defaults(catalog, block):
    spec, _ = catalog.load(MINIMAL + "image: nginx\n" + block + "\n")

    # No lifetime: the competition's applies, else 30 minutes.
    assert spec.instance == InstanceSpec(lifetime=None, flag_env="FLAG")


def test_it_reads_the_instance_hardening_options(catalog):
    spec, _ = catalog.load(
        MINIMAL
        + "image: nginx\ninstance:\n  flag: dynamic\n  no_egress: true\n"
        + "  pids: 64\n  read_only: true\n"
    )

    assert spec.instance == InstanceSpec(
        flag="dynamic", no_egress=True, pids=64, read_only=True
    )


@pytest.mark.parametrize(
    "block, field",
    [
        ("flag: random", "instance.flag"),
        ("no_egress: yes please", "instance.no_egress"),
        ("pids: 2", "instance.pids"),
        ("read_only: 1", "instance.read_only"),
    ],
)
def test_it_rejects_bad_instance_options_naming_the_field(catalog, block, field):
    problem = catalog.reject(MINIMAL + "image: nginx\ninstance:\n  " + block + "\n")

    assert problem.field == field


def test_it_leaves_services_unstarted_without_an_instance_block(catalog):
    spec, _ = catalog.load(MINIMAL + "image: nginx\ninstance: false\n")

    assert spec.services and spec.instance is None


def test_it_rejects_an_instance_without_services(catalog):
    problem = catalog.reject(MINIMAL + "instance:\n  lifetime: 60\n")

    assert problem == SpecProblem(
        PATH,
        7,
        1,
        "instance",
        "instance: needs services: set image: or add a compose file",
    )


def test_it_runs_compose_services_per_team(catalog):
    spec, _ = compose_challenge(catalog, GOOD_COMPOSE, MINIMAL + "instance: {}\n")

    assert spec.instance is not None
    assert [s.name for s in spec.services] == ["web", "db"]
