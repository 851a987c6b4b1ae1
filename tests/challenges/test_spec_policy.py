"""Deployment policy of real catalogs: privileged services, extra capabilities and
bind mounts of the challenge folder load (with a warning naming file, line and
setting); host paths, the Docker socket, namespaces and devices stay refused."""

import pytest

from challenges.catalog import BindMount, ServiceSpec
from challenges.catalog.compose import elevated_settings

from .catalog_factory import MINIMAL

COMPOSE = "misc/warmup/docker-compose.yml"


def compose(catalog, service: str, **files: str):
    """Load the minimal spec with a one-service compose file `web` built from ./web."""
    catalog.write("misc/warmup/web/Dockerfile", "FROM scratch\n")
    for rel, content in files.items():
        catalog.write(f"misc/warmup/{rel}", content)
    catalog.write(COMPOSE, f"services:\n  web:\n    build: web\n    {service}\n")
    return catalog.load()


def warnings_at(warnings) -> list[tuple[str, int, str]]:
    return [(w.path, w.line, w.message) for w in warnings]


def test_a_privileged_service_loads_with_a_warning(catalog):
    spec, warnings = compose(catalog, "privileged: true")

    assert spec.compose[0].privileged is True
    assert warnings_at(warnings) == [
        (
            COMPOSE,
            4,
            "services.web.privileged: true: built, but instances start only once "
            "an organizer trusts the challenge",
        )
    ]


def test_extra_capabilities_load_with_a_warning(catalog):
    spec, warnings = compose(catalog, "cap_add: [NET_BIND_SERVICE, cap_sys_admin]")

    assert spec.compose[0].cap_add == ("NET_BIND_SERVICE", "SYS_ADMIN")
    assert warnings_at(warnings) == [
        (
            COMPOSE,
            4,
            "services.web.cap_add[1]: SYS_ADMIN goes beyond Docker's defaults: "
            "built, but instances start only once an organizer trusts the challenge",
        )
    ]


def test_it_lists_what_needs_trust():
    services = [
        {"name": "a", "privileged": True, "cap_add": ["CHOWN", "NET_ADMIN"]},
        {"name": "b", "cap_add": ["NET_ADMIN", "SYS_PTRACE"]},
        {"name": "c"},
    ]

    assert elevated_settings(services) == [
        "privileged",
        "cap_add NET_ADMIN",
        "cap_add SYS_PTRACE",
    ]
    assert elevated_settings([{"name": "plain", "cap_add": ["CHOWN"]}]) == []


def test_a_relative_bind_mount_is_kept_with_a_warning(catalog):
    spec, warnings = compose(
        catalog,
        "volumes: ['./nginx.conf:/etc/nginx/nginx.conf:ro', './static:/srv', "
        "'data:/var/lib/data']",
        **{"nginx.conf": "worker_processes 1;\n", "static/index.html": "hi\n"},
    )

    assert spec.compose[0].binds == (
        BindMount("nginx.conf", "/etc/nginx/nginx.conf", read_only=True),
        BindMount("static", "/srv"),
    )
    assert warnings_at(warnings) == [
        (
            COMPOSE,
            4,
            "services.web.volumes[0]: ./nginx.conf is copied into the image at "
            "/etc/nginx/nginx.conf (changes made on the node are not seen)",
        ),
        (
            COMPOSE,
            4,
            "services.web.volumes[1]: ./static is copied into the image at /srv "
            "(changes made on the node are not seen)",
        ),
    ]


def test_a_long_form_bind_mount_is_kept(catalog):
    spec, _ = compose(
        catalog,
        "volumes:\n      - {type: bind, source: conf, target: /etc/app, "
        "read_only: true}",
        **{"conf/app.ini": "[app]\n"},
    )

    assert spec.compose[0].binds == (BindMount("conf", "/etc/app", read_only=True),)


def test_a_missing_bind_source_becomes_an_empty_folder(catalog):
    spec, warnings = compose(catalog, "volumes: ['./logs:/var/log/app']")

    assert spec.compose[0].binds == (BindMount("logs", "/var/log/app", exists=False),)
    assert warnings[0].message == (
        "services.web.volumes[0]: ./logs does not exist; /var/log/app is an empty "
        "folder"
    )


def test_a_registry_image_with_a_bind_mount_loads(catalog):
    catalog.write("misc/warmup/site.conf", "x\n")
    catalog.write(
        COMPOSE,
        "services:\n  web:\n    image: nginx:1.27\n"
        "    volumes: ['./site.conf:/etc/nginx/conf.d/site.conf']\n",
    )

    spec, _ = catalog.load()

    assert spec.compose == (
        ServiceSpec(
            name="web",
            image="nginx:1.27",
            binds=(BindMount("site.conf", "/etc/nginx/conf.d/site.conf"),),
        ),
    )


@pytest.mark.parametrize(
    "volume, needle",
    [
        ("/etc:/host-etc", "'/etc' mounts a path on the node"),
        ("/var/run/docker.sock:/var/run/docker.sock", "mounts the Docker socket"),
        ("/run/docker.sock:/docker.sock", "mounts the Docker socket"),
        ("~/.ssh:/root/.ssh", "mounts a path on the node"),
        ("$HOME/x:/x", "mounts a path on the node"),
        ("C:\\\\data:/data", "mounts a path on the node"),
        ("../../other:/other", "points outside the challenge folder"),
        ("./conf:relative/target", "must be an absolute path in the container"),
    ],
)
def test_host_paths_stay_refused(catalog, volume, needle):
    catalog.write("misc/warmup/web/Dockerfile", "FROM scratch\n")
    catalog.write("misc/warmup/conf/a", "")
    catalog.write(
        COMPOSE, f"services:\n  web:\n    build: web\n    volumes: ['{volume}']\n"
    )

    problem = catalog.reject()

    assert (problem.path, problem.line, problem.field) == (
        COMPOSE,
        4,
        "services.web.volumes[0]",
    )
    assert needle in problem.message


def test_an_unknown_volume_type_is_refused(catalog):
    catalog.write("misc/warmup/web/Dockerfile", "FROM scratch\n")
    catalog.write(
        COMPOSE,
        "services:\n  web:\n    build: web\n    volumes:\n"
        "      - {type: npipe, source: x, target: /x}\n",
    )

    problem = catalog.reject()

    assert (
        problem.message
        == "volume type 'npipe' is not supported (bind, volume or tmpfs)"
    )


def test_another_platforms_type_loads_as_standard(catalog):
    spec, warnings = catalog.load(
        MINIMAL.replace("type: standard", "type: kubectf") + "image: nginx:1.27\n"
    )

    assert (spec.type, spec.value, spec.services[0].image) == (
        "standard",
        100,
        "nginx:1.27",
    )
    assert "type 'kubectf' is not one of: standard, dynamic" in warnings[0].message
    assert warnings[0].line == 4


def test_an_unknown_type_does_not_hide_other_errors(catalog):
    problem = catalog.reject(
        MINIMAL.replace("type: standard", "type: kubectf").replace(
            "value: 100", "value: lots"
        )
    )

    assert problem.field == "value"
