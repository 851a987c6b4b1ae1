"""Challenge services: an `image:` to build or pull, or a compose file.

Compose files are parsed, not handed to `docker compose`: we keep service
names, build contexts, images, container ports, environment, added
capabilities, `privileged` and bind mounts of the challenge folder (carried to
the node inside the image). Options that would let a challenge container reach
the node itself (host paths, the Docker socket, host namespaces, devices, ...)
are refused; `privileged` and capabilities beyond Docker's defaults load with a
warning and need an organizer's trust before instances start (see
`elevated_settings`).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterable, Mapping

from .context import Ctx, as_int, as_text, get_list, get_mapping, join, kind_of
from .paths import Catalog, resolve
from .spec import BindMount, ServiceSpec
from .yamlmarks import (
    MarkedDict,
    YamlProblem,
    item_mark,
    key_mark,
    parse_marked,
)

COMPOSE_NAMES = (
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)
MAX_COMPOSE_BYTES = 1 << 20
IMAGE_SERVICE_NAME = "challenge"

# Docker's default capability set: adding one of these back is harmless.
DEFAULT_CAPS = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# Every other Linux capability (and ALL) loads, but needs the organizer's trust.
ELEVATED_CAPS = frozenset(
    {
        "ALL",
        "AUDIT_CONTROL",
        "AUDIT_READ",
        "BLOCK_SUSPEND",
        "BPF",
        "CHECKPOINT_RESTORE",
        "DAC_READ_SEARCH",
        "IPC_LOCK",
        "IPC_OWNER",
        "LEASE",
        "LINUX_IMMUTABLE",
        "MAC_ADMIN",
        "MAC_OVERRIDE",
        "NET_ADMIN",
        "NET_BROADCAST",
        "PERFMON",
        "SYSLOG",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_MODULE",
        "SYS_NICE",
        "SYS_PACCT",
        "SYS_PTRACE",
        "SYS_RAWIO",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "WAKE_ALARM",
    }
)
DOCKER_SOCKET = "docker.sock"
_HOST_NAMESPACES = ("pid", "ipc", "uts", "userns_mode", "cgroup")
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
# Loose reference syntax: [registry[:port]/]path[:tag][@digest].
_IMAGE_REF = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$"
)


def is_image_reference(value: str) -> bool:
    return len(value) <= 255 and bool(_IMAGE_REF.match(value))


def image_service(
    ctx: Ctx, catalog: Catalog, challenge_dir: str, doc: MarkedDict
) -> ServiceSpec | None:
    """Return the service an `image:` value describes, or None without one."""
    raw = doc.get("image")
    if raw is None or raw is False:
        return None
    mark = key_mark(doc, "image")
    value = as_text(ctx, raw, "image", mark).strip()
    if not value:
        return None
    base = "" if challenge_dir in ("", ".") else challenge_dir
    # ctfcli builds `image: .`; a bare word naming a folder here is built too.
    in_folder = os.path.isdir(catalog.absolute(posixpath.join(base, value)))
    if value.startswith((".", "/", "~")) or in_folder:
        build, from_root = resolve(
            ctx, catalog, challenge_dir, value, "image", mark, within="challenge"
        )
        if not os.path.isfile(os.path.join(catalog.absolute(from_root), "Dockerfile")):
            ctx.reject(
                f"image: {value!r} is built from a folder, but {build}/Dockerfile "
                "does not exist",
                field="image",
                mark=mark,
            )
        return ServiceSpec(
            name=IMAGE_SERVICE_NAME, build=build, dockerfile="Dockerfile"
        )
    if not is_image_reference(value):
        ctx.reject(
            f"{value!r} is neither a folder with a Dockerfile nor an image reference "
            "like 'registry.example.com/team/app:1.2'",
            field="image",
            mark=mark,
        )
    return ServiceSpec(name=IMAGE_SERVICE_NAME, image=value)


def parse_compose(
    ctx: Ctx, catalog: Catalog, challenge_dir: str, compose_rel: str
) -> tuple[tuple[ServiceSpec, ...], str]:
    """Parse the compose file at `compose_rel`; return its services and sha256.

    Problems are reported against the compose file's own path and lines.
    """
    cctx = ctx.for_file(compose_rel)
    absolute = catalog.absolute(compose_rel)
    if not catalog.contains(os.path.realpath(absolute)):
        cctx.reject("compose file is a symlink whose target leaves the catalog")
    try:
        with open(absolute, "rb") as handle:
            raw = handle.read(MAX_COMPOSE_BYTES + 1)
    except OSError as exc:
        cctx.reject(f"cannot read compose file: {exc}")
    if len(raw) > MAX_COMPOSE_BYTES:
        cctx.reject(f"compose file is larger than {MAX_COMPOSE_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
        doc, _notes = parse_marked(text)
    except UnicodeDecodeError as exc:
        cctx.reject(f"compose file is not UTF-8 (byte {exc.start})")
    except YamlProblem as exc:
        cctx.reject(exc.message, mark=exc.mark)
    if not isinstance(doc, MarkedDict):
        cctx.reject(f"compose file must be a mapping, not {kind_of(doc)}")
    if "include" in doc:
        cctx.reject(
            "include: is not supported: every service must be in this file",
            field="include",
            mark=key_mark(doc, "include"),
        )
    services = doc.get("services")
    if not isinstance(services, MarkedDict) or not services:
        cctx.reject(
            "compose file has no services: mapping",
            field="services",
            mark=key_mark(doc, "services"),
        )
    result = tuple(
        _service(cctx, catalog, challenge_dir, services, name) for name in services
    )
    return result, hashlib.sha256(raw).hexdigest()


def _service(
    ctx: Ctx, catalog: Catalog, challenge_dir: str, services: MarkedDict, name: object
) -> ServiceSpec:
    field = f"services.{name}"
    mark = key_mark(services, name)
    if not isinstance(name, str) or not _SERVICE_NAME.match(name):
        ctx.reject(f"bad service name {name!r}", field=field, mark=mark)
    svc = get_mapping(ctx, services[name], field, mark)
    _refuse_unsafe(ctx, svc, field)
    binds = _binds(ctx, catalog, challenge_dir, svc, field)
    for ignored in ("env_file", "container_name"):
        if ignored in svc:
            ctx.warn(
                f"{field}.{ignored} is ignored: instances get their own names "
                "and environment",
                key_mark(svc, ignored),
            )
    build, dockerfile = _build(ctx, catalog, challenge_dir, svc, field)
    image = ""
    if svc.get("image") is not None:
        image = as_text(ctx, svc["image"], f"{field}.image", key_mark(svc, "image"))
        image = image.strip()
        if not build and not is_image_reference(image):
            ctx.reject(
                f"{image!r} is not an image reference",
                field=f"{field}.image",
                mark=key_mark(svc, "image"),
            )
    if not build and not image:
        ctx.reject("a service needs build: or image:", field=field, mark=mark)
    return ServiceSpec(
        name=name,
        image="" if build else image,
        build=build,
        dockerfile=dockerfile,
        ports=_ports(ctx, svc, f"{field}.ports"),
        environment=_environment(ctx, svc, f"{field}.environment"),
        cap_add=_cap_add(ctx, svc, f"{field}.cap_add"),
        privileged=_privileged(ctx, svc, field),
        binds=binds,
    )


def _build(
    ctx: Ctx, catalog: Catalog, challenge_dir: str, svc: MarkedDict, field: str
) -> tuple[str, str]:
    if svc.get("build") is None:
        return "", ""
    raw = svc["build"]
    mark = key_mark(svc, "build")
    dockerfile = "Dockerfile"
    if isinstance(raw, MarkedDict):
        context_value = raw.get("context", ".")
        if raw.get("dockerfile") is not None:
            dockerfile = as_text(
                ctx, raw["dockerfile"], f"{field}.build.dockerfile", mark
            ).strip()
        mark = key_mark(raw, "context") if "context" in raw else mark
    else:
        context_value = raw
    context = as_text(ctx, context_value, f"{field}.build", mark)
    if "://" in context or context.startswith("git@"):
        ctx.reject(
            "remote build contexts are not supported: keep the sources in the "
            "challenge folder",
            field=f"{field}.build",
            mark=mark,
        )
    build, from_root = resolve(
        ctx, catalog, challenge_dir, context, f"{field}.build", mark, within="challenge"
    )
    df_rel, _ = resolve(
        ctx,
        catalog,
        from_root,
        dockerfile,
        f"{field}.build.dockerfile",
        mark,
        within="challenge",
    )
    if not os.path.isfile(os.path.join(catalog.absolute(from_root), df_rel)):
        ctx.reject(
            f"{dockerfile} not found in build context {build!r}",
            field=f"{field}.build",
            mark=mark,
        )
    return build, df_rel


def _refuse_unsafe(ctx: Ctx, svc: MarkedDict, field: str) -> None:
    def refuse(key: str, why: str) -> None:
        ctx.reject(why, field=f"{field}.{key}", mark=key_mark(svc, key))

    network = str(svc.get("network_mode") or "")
    if network == "host" or network.startswith("container:"):
        refuse(
            "network_mode",
            f"network_mode: {network} leaves the instance's own network; "
            "services share a per-instance network by default",
        )
    for key in _HOST_NAMESPACES:
        if str(svc.get(key) or "") == "host":
            refuse(key, f"{key}: host shares the node's namespace with players")
    if svc.get("devices"):
        refuse("devices", "devices: gives the container the node's hardware")
    for option in get_list(ctx, svc, "security_opt", f"{field}.security_opt"):
        text = str(option)
        if "unconfined" in text or "disable" in text:
            refuse("security_opt", f"security_opt {text!r} turns off confinement")
    if "extends" in svc:
        refuse("extends", "extends: is not supported: write the service out in full")


def _privileged(ctx: Ctx, svc: MarkedDict, field: str) -> bool:
    raw = svc.get("privileged")
    if raw is None or raw is False:
        return False
    if raw is not True:
        ctx.reject(
            "must be true or false",
            field=f"{field}.privileged",
            mark=key_mark(svc, "privileged"),
        )
    ctx.warn(
        f"{field}.privileged: true: built, but instances start only once an "
        "organizer trusts the challenge",
        key_mark(svc, "privileged"),
    )
    return True


def _binds(
    ctx: Ctx, catalog: Catalog, challenge_dir: str, svc: MarkedDict, field: str
) -> tuple[BindMount, ...]:
    """Return the bind mounts of the challenge folder; refuse host paths."""
    volumes = get_list(ctx, svc, "volumes", f"{field}.volumes")
    binds: list[BindMount] = []
    for index, volume in enumerate(volumes):
        where, mark = join(f"{field}.volumes", index), item_mark(volumes, index)
        source, target, read_only = _volume_parts(ctx, volume, where, mark)
        if source is None:
            continue  # a named or anonymous volume: the instance's own
        if source.startswith(("/", "~", "$", "\\")) or _WINDOWS_PATH.match(source):
            what = (
                "the Docker socket"
                if source.rstrip("/").endswith(DOCKER_SOCKET)
                else "a path on the node"
            )
            ctx.reject(
                f"volume {source!r} mounts {what}: only files and folders inside "
                "the challenge folder (./...) can be mounted",
                field=where,
                mark=mark,
            )
        if not target.startswith("/"):
            ctx.reject(
                f"volume target {target!r} must be an absolute path in the container",
                field=where,
                mark=mark,
            )
        relative, from_root = resolve(
            ctx, catalog, challenge_dir, source, where, mark, within="challenge"
        )
        exists = os.path.exists(catalog.absolute(from_root))
        if exists:
            ctx.warn(
                f"{where}: {source} is copied into the image at {target} "
                "(changes made on the node are not seen)",
                mark,
            )
        else:
            ctx.warn(
                f"{where}: {source} does not exist; {target} is an empty folder",
                mark,
            )
        binds.append(BindMount(relative, target, read_only, exists))
    return tuple(binds)


def _volume_parts(
    ctx: Ctx, volume: object, field: str, mark: object
) -> tuple[str | None, str, bool]:
    """Return (bind source or None for a named volume, target, read-only)."""
    if isinstance(volume, dict):
        kind = str(volume.get("type") or "volume")
        target = str(volume.get("target") or "")
        if kind in ("volume", "tmpfs"):
            return None, target, False
        if kind != "bind":
            ctx.reject(
                f"volume type {kind!r} is not supported (bind, volume or tmpfs)",
                field=field,
                mark=mark,  # type: ignore[arg-type]
            )
        return str(volume.get("source") or ""), target, bool(volume.get("read_only"))
    text = str(volume)
    if _WINDOWS_PATH.match(text):
        return text, "", False  # C:\\data:/data, refused as a host path
    parts = text.split(":")
    if len(parts) == 1:
        return None, parts[0], False  # an anonymous volume
    if not parts[0].startswith(("/", ".", "~", "$", "\\")):
        return None, parts[1], False  # a named volume
    modes = parts[2].split(",") if len(parts) > 2 else []
    return parts[0], parts[1], "ro" in modes


def _ports(ctx: Ctx, svc: MarkedDict, field: str) -> tuple[int, ...]:
    """Return container ports; host sides are the platform's to choose."""
    items = get_list(ctx, svc, "ports", field)
    ports: list[int] = []
    for index, item in enumerate(items):
        mark = item_mark(items, index)
        if isinstance(item, dict):
            if item.get("target") is None:
                ctx.reject(
                    "a long-form port needs target:",
                    field=join(field, index),
                    mark=mark,
                )
            value: object = item["target"]
        elif isinstance(item, int) and not isinstance(item, bool):
            value = item
        else:
            text = as_text(ctx, item, join(field, index), mark)
            value = text.rsplit(":", 1)[-1].split("/", 1)[0].strip()
            if "-" in value:
                ctx.reject(
                    f"port ranges are not supported ({text!r})",
                    field=join(field, index),
                    mark=mark,
                )
            # "8080:80" is compose's own string form, not a quoted number.
            value = int(value) if value.isdigit() else value
        port = as_int(ctx, value, join(field, index), mark, minimum=1)
        if port > 65535:
            ctx.reject(
                f"port {port} is above 65535", field=join(field, index), mark=mark
            )
        if port not in ports:
            ports.append(port)
    return tuple(ports)


def _environment(ctx: Ctx, svc: MarkedDict, field: str) -> tuple[tuple[str, str], ...]:
    raw = svc.get("environment")
    if raw is None:
        return ()
    mark = key_mark(svc, "environment")
    pairs: list[tuple[str, object, object]] = []
    if isinstance(raw, MarkedDict):
        pairs = [(str(k), v, key_mark(raw, k)) for k, v in raw.items()]
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            text = as_text(ctx, item, join(field, index), item_mark(raw, index))
            name, sep, value = text.partition("=")
            pairs.append((name, value if sep else None, item_mark(raw, index)))
    else:
        ctx.reject("must be a mapping or a list of NAME=value", field=field, mark=mark)
    result: list[tuple[str, str]] = []
    for name, value, where in pairs:
        if not _ENV_NAME.match(name):
            ctx.reject(f"bad variable name {name!r}", field=field, mark=where)  # type: ignore[arg-type]
        if value is None:
            # Compose would copy it from the shell that runs it; nodes have none.
            ctx.warn(f"{field}.{name} has no value and is left out", where)  # type: ignore[arg-type]
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        result.append((name, as_text(ctx, value, f"{field}.{name}", where)))  # type: ignore[arg-type]
    return tuple(result)


def _cap_add(ctx: Ctx, svc: MarkedDict, field: str) -> tuple[str, ...]:
    items = get_list(ctx, svc, "cap_add", field)
    caps: list[str] = []
    for index, item in enumerate(items):
        mark = item_mark(items, index)
        cap = as_text(ctx, item, join(field, index), mark).strip().upper()
        cap = cap.removeprefix("CAP_")
        if cap in ELEVATED_CAPS:
            ctx.warn(
                f"{join(field, index)}: {cap} goes beyond Docker's defaults: built, "
                "but instances start only once an organizer trusts the challenge",
                mark,
            )
        elif cap not in DEFAULT_CAPS:
            ctx.reject(
                f"cap_add {cap} is not a Linux capability",
                field=join(field, index),
                mark=mark,
            )
        if cap not in caps:
            caps.append(cap)
    return tuple(caps)


def elevated_settings(services: Iterable[Mapping]) -> list[str]:
    """Return what the services (as stored) ask beyond Docker's defaults.

    These need an organizer's trust: "privileged", "cap_add SYS_ADMIN", ...
    """
    found: dict[str, None] = {}
    for service in services:
        if service.get("privileged"):
            found["privileged"] = None
        for cap in service.get("cap_add") or ():
            if cap not in DEFAULT_CAPS:
                found[f"cap_add {cap}"] = None
    return list(found)
