"""Real catalogs are messy: what loads with a warning and what is rejected."""

import pytest

from challenges.catalog import SpecProblem, SpecWarning, load_spec

from .catalog_factory import MINIMAL, messages

PATH = "misc/warmup/challenge.yml"


# Loads with a warning


def test_it_warns_about_a_missing_value_and_reads_zero(catalog):
    spec, warnings = catalog.load("name: W\ntype: standard\nflags:\n  - f\n")

    assert spec.value == 0
    assert spec.questions[0].points == 0
    assert warnings == [SpecWarning(PATH, "value is missing; read as 0", 1)]


def test_it_uses_extra_initial_for_a_dynamic_challenge_without_value(catalog):
    spec, warnings = catalog.load(
        "name: W\ntype: dynamic\nextra: {initial: 300, decay: 5, minimum: 10}\n"
        "flags:\n  - f\n"
    )

    assert spec.value == 300
    assert warnings == []


def test_it_warns_about_a_missing_type_and_reads_standard(catalog):
    spec, warnings = catalog.load("name: W\nvalue: 5\nflags:\n  - f\n")

    assert spec.type == "standard"
    assert messages(warnings) == "type is missing; read as 'standard'"


def test_it_warns_about_unknown_keys_with_their_line(catalog):
    _, warnings = catalog.load(MINIMAL + "difficulty: hard\nflavour: mint\n")

    assert warnings == [
        SpecWarning(PATH, "unknown key 'difficulty' ignored", 7),
        SpecWarning(PATH, "unknown key 'flavour' ignored", 8),
    ]


def test_it_reads_a_null_list_as_empty(catalog):
    spec, warnings = catalog.load(MINIMAL + "tags:\nhints:\n")

    assert spec.tags == ()
    assert spec.hints == ()
    assert messages(warnings) == (
        "tags: is empty (null); read as an empty list\n"
        "hints: is empty (null); read as an empty list"
    )


def test_it_drops_a_dot_slash_prefix_in_files(catalog):
    spec, warnings = catalog.load(
        MINIMAL + "files:\n  - ./dist/a.txt\n", files={"dist/a.txt": "a"}
    )

    assert spec.files[0].relative_path == "dist/a.txt"
    assert warnings == [
        SpecWarning(PATH, "files[0]: './' prefix dropped from './dist/a.txt'", 8)
    ]


def test_it_reads_an_unknown_flag_data_option_as_case_sensitive(catalog):
    spec, warnings = catalog.load(
        "name: W\nvalue: 1\ntype: standard\nflags:\n"
        "  - {type: static, content: abc, data: foo}\n"
    )

    assert spec.questions[0].flags[0].kind == "static"
    assert warnings == [
        SpecWarning(
            PATH,
            "flags[0].data 'foo' is not a ctfcli flag option; read as case-sensitive",
            5,
        )
    ]


def test_it_loads_crlf_line_endings_with_a_warning(catalog):
    spec, warnings = catalog.load(MINIMAL.replace("\n", "\r\n").encode())

    assert spec.name == "Warmup"
    assert spec.questions[0].flags[0].content == "CTF{warmup}"
    assert messages(warnings) == "CRLF line endings; read as LF"


def test_it_reads_a_quoted_value_as_a_number(catalog):
    spec, warnings = catalog.load(MINIMAL.replace("value: 100", 'value: "100"'))

    assert spec.value == 100
    assert messages(warnings) == "value: '100' is quoted; read as the number"


def test_it_warns_about_a_key_written_twice(catalog):
    spec, warnings = catalog.load(MINIMAL + "author: bob\nauthor: carol\n")

    assert spec.author == "carol"
    assert warnings == [
        SpecWarning(
            PATH,
            "key 'author' is written twice (first on line 7); the later one wins",
            8,
        )
    ]


def test_it_keeps_merge_keys_working_without_noise(catalog):
    spec, warnings = catalog.load(
        "base: &base {value: 50, type: standard}\n"
        "name: M\n<<: *base\nvalue: 60\nflags:\n  - f\n"
    )

    assert spec.value == 60
    assert messages(warnings) == "unknown key 'base' ignored"


def test_it_reads_one_flag_mapping_as_a_list_of_one(catalog):
    spec, warnings = catalog.load(
        "name: W\nvalue: 1\ntype: standard\nflags: {type: static, content: a}\n"
    )

    assert [f.content for f in spec.questions[0].flags] == ["a"]
    assert warnings == [
        SpecWarning(PATH, "flags: one flag, not a list; read as a list of one", 4)
    ]


# Rejected


def test_it_rejects_invalid_yaml_with_line_and_column(catalog):
    problem = catalog.reject("name: W\nflags: [a, b\nvalue: 1\n")

    assert problem.path == PATH
    assert (problem.line, problem.col) == (3, 6)
    assert problem.field is None
    assert problem.message.startswith("not valid YAML:")


def test_it_rejects_a_tab_indented_spec_at_the_tab(catalog):
    problem = catalog.reject("name: W\nflags:\n\t- f\n")

    assert problem.line == 3
    assert "not valid YAML" in problem.message


def test_it_rejects_an_empty_file(catalog):
    problem = catalog.reject("")

    assert problem == SpecProblem(PATH, None, None, None, "empty file")


def test_it_rejects_a_file_with_only_comments(catalog):
    problem = catalog.reject("# todo: write this challenge\n")

    assert problem.message == "empty file"


def test_it_rejects_a_spec_that_is_not_a_mapping(catalog):
    problem = catalog.reject("- name: W\n- value: 1\n")

    assert problem == SpecProblem(
        PATH, 1, 1, None, "must be a mapping of fields, not a list"
    )


def test_it_rejects_a_spec_without_a_name(catalog):
    problem = catalog.reject("value: 1\ntype: standard\nflags:\n  - f\n")

    assert problem == SpecProblem(PATH, 1, 1, "name", "no name")


def test_it_rejects_a_blank_name_at_its_key(catalog):
    problem = catalog.reject("value: 1\nname: '  '\nflags:\n  - f\n")

    assert (problem.line, problem.col, problem.field) == (2, 1, "name")


def test_it_rejects_a_spec_without_a_flag(catalog):
    problem = catalog.reject("name: W\nvalue: 1\ntype: standard\n")

    assert problem.field == "flags"
    assert problem.message == "no flag: every question needs at least one"
    assert problem.line == 1


def test_it_rejects_an_empty_flag_list_at_its_key(catalog):
    problem = catalog.reject("name: W\nvalue: 1\ntype: standard\nflags: []\n")

    assert (problem.line, problem.col, problem.field) == (4, 1, "flags")


def test_it_rejects_a_question_without_a_flag(catalog):
    problem = catalog.reject(
        "name: W\ntype: standard\nquestions:\n"
        "  - {key: a, points: 1, flags: [x]}\n"
        "  - key: b\n    points: 2\n"
    )

    assert problem.field == "questions[1].flags"
    assert problem.line == 5
    assert "no flag" in problem.message


def test_it_rejects_a_missing_file(catalog):
    problem = catalog.reject(MINIMAL + "files:\n  - dist/gone.zip\n")

    assert problem == SpecProblem(
        PATH, 8, 5, "files[0]", "file 'dist/gone.zip' does not exist"
    )


def test_it_loads_another_platforms_type_as_standard_with_a_warning(catalog):
    spec, warnings = catalog.load(MINIMAL.replace("type: standard", "type: koth"))

    assert spec.type == "standard"
    assert [(w.line, w.message) for w in warnings] == [
        (
            4,
            "type 'koth' is not one of: standard, dynamic (another platform's "
            "plugin?); loaded as a standard challenge",
        )
    ]


def test_it_rejects_a_bad_state(catalog):
    problem = catalog.reject(MINIMAL + "state: draft\n")

    assert problem == SpecProblem(
        PATH, 7, 1, "state", "'draft' is not one of: visible, hidden"
    )


@pytest.mark.parametrize(
    "written, shown",
    [
        ("1.5", "a number (1.5)"),
        ("lots", "text ('lots')"),
        ("true", "true/false (True)"),
    ],
)
def test_it_rejects_a_non_integer_value(catalog, written, shown):
    problem = catalog.reject(MINIMAL.replace("value: 100", f"value: {written}"))

    assert problem == SpecProblem(
        PATH, 3, 1, "value", f"must be a whole number, not {shown}"
    )


def test_it_rejects_a_negative_value(catalog):
    problem = catalog.reject(MINIMAL.replace("value: 100", "value: -5"))

    assert problem.message == "must be at least 0, not -5"


@pytest.mark.parametrize(
    "block, field, message",
    [
        ("instance: 3", "instance", "must be a mapping, not a number"),
        (
            "instance:\n  lifetime: 0",
            "instance.lifetime",
            "must be at least 1, not 0",
        ),
        (
            "instance:\n  memory: lots",
            "instance.memory",
            "'lots' is not a memory size like 256m (units b, k, m, g)",
        ),
        (
            "instance:\n  cpus: 0",
            "instance.cpus",
            "0 is not a CPU count above zero",
        ),
        (
            "instance:\n  ports: [80, 70000]",
            "instance.ports[1]",
            "port 70000 is above 65535",
        ),
        (
            "instance:\n  flag_env: 1FLAG",
            "instance.flag_env",
            "'1FLAG' is not an environment variable name",
        ),
    ],
)
def test_it_rejects_a_malformed_instance(catalog, block, field, message):
    problem = catalog.reject(MINIMAL + "image: nginx:1.25\n" + block + "\n")

    assert (problem.path, problem.field, problem.message) == (PATH, field, message)
    assert problem.line is not None and problem.line >= 7


def test_it_rejects_an_unknown_instance_key(catalog):
    problem = catalog.reject(MINIMAL + "image: nginx\ninstance:\n  lifetme: 60\n")

    assert problem.field == "instance.lifetme"
    assert problem.line == 9
    assert problem.message.startswith("unknown key 'lifetme' (allowed: cpus, ")


def test_it_reports_a_kctf_spec_as_not_a_challenge_spec(catalog):
    problem = catalog.reject(
        "apiVersion: kctf.dev/v1\nkind: Challenge\nmetadata:\n  name: pwn\n",
        name="challenge.yaml",
    )

    assert problem.message == (
        "not a challenge spec (looks like kCTF: apiVersion kctf.dev/v1, kind Challenge)"
    )
    assert problem.line == 1


def test_it_reports_a_compose_file_named_like_a_spec(catalog):
    problem = catalog.reject("services:\n  web:\n    image: nginx\n")

    assert problem.message == "not a challenge spec (looks like a docker-compose file)"


def test_it_rejects_python_tags(catalog):
    problem = catalog.reject(
        MINIMAL + "author: !!python/object/apply:os.system ['id']\n"
    )

    assert problem.line == 7
    assert "unsupported YAML tag" in problem.message


def test_it_rejects_custom_tags(catalog):
    problem = catalog.reject(MINIMAL + "author: !vault secret\n")

    assert problem.message == "unsupported YAML tag '!vault'"


def test_it_rejects_an_alias_bomb(catalog):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 9):
        prev, cur = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    problem = catalog.reject("name: boom\n" + "\n".join(lines) + "\n")

    assert "alias" in problem.message


def test_it_rejects_a_recursive_alias(catalog):
    problem = catalog.reject("name: W\nloop: &x [*x]\n")

    assert "alias" in problem.message


def test_it_rejects_a_spec_over_one_mebibyte(catalog):
    problem = catalog.reject(MINIMAL + "description: " + "x" * (1 << 20) + "\n")

    assert problem.message == "spec file is larger than 1048576 bytes"


def test_it_rejects_a_spec_that_is_not_utf8(catalog):
    problem = catalog.reject(MINIMAL.encode() + b"author: \xff\xfe\n")

    assert problem.line == 7
    assert problem.message.startswith("not UTF-8 text")


def test_it_rejects_a_flag_regex_that_does_not_compile(catalog):
    problem = catalog.reject(
        "name: W\nvalue: 1\ntype: standard\nflags:\n"
        "  - type: regex\n    content: 'CTF{(unclosed'\n"
    )

    assert problem.field == "flags[0].content"
    assert problem.line == 6
    assert problem.message.startswith("flag regex does not compile")


def test_it_rejects_an_unknown_flag_type(catalog):
    problem = catalog.reject(
        "name: W\nvalue: 1\ntype: standard\nflags:\n  - {type: fuzzy, content: x}\n"
    )

    assert problem.field == "flags[0].type"
    assert problem.message == "flag type 'fuzzy' is not one of: static, regex, derived"


def test_it_rejects_a_dynamic_challenge_without_decay(catalog):
    problem = catalog.reject(
        "name: W\ntype: dynamic\nextra:\n  initial: 100\n  minimum: 10\nflags:\n  - f\n"
    )

    assert (problem.field, problem.line) == ("extra.decay", 3)
    assert problem.message == "a dynamic challenge needs extra.decay"


def test_it_rejects_a_minimum_above_initial(catalog):
    problem = catalog.reject(
        "name: W\ntype: dynamic\nextra: {initial: 100, decay: 5, minimum: 200}\n"
        "flags:\n  - f\n"
    )

    assert problem.field == "extra.minimum"
    assert problem.message == "minimum 200 is above initial 100"


def test_it_rejects_a_hint_cost_that_is_not_a_number(catalog):
    problem = catalog.reject(MINIMAL + "hints:\n  - content: x\n    cost: free\n")

    assert (problem.field, problem.line) == ("hints[0].cost", 9)


def test_it_rejects_a_name_that_is_a_list(catalog):
    problem = catalog.reject(MINIMAL.replace("name: Warmup", "name: [a, b]"))

    assert problem == SpecProblem(PATH, 1, 1, "name", "must be text, not a list")


def test_problem_and_warning_dicts_have_the_rescan_json_shape(catalog):
    problem = catalog.reject(MINIMAL + "state: draft\n")
    warning = SpecWarning(PATH, "value is missing; read as 0", 1)

    assert problem.to_dict() == {
        "path": PATH,
        "line": 7,
        "field": "state",
        "error": "'draft' is not one of: visible, hidden",
    }
    assert warning.to_dict() == {
        "path": PATH,
        "line": 1,
        "message": "value is missing; read as 0",
    }
    assert str(problem) == f"{PATH}:7:1: state: 'draft' is not one of: visible, hidden"


def test_it_raises_for_a_spec_outside_the_catalog(catalog, tmp_path):
    outside = tmp_path / "elsewhere.yml"
    outside.write_text(MINIMAL)

    with pytest.raises(Exception, match="outside the catalog"):
        load_spec(catalog.root, outside)
