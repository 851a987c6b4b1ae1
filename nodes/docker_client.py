"""The one module that imports `docker`: talks to Docker engines over their API.

Callers pass an `Endpoint` (a node's URL and TLS material as PEM text) and get
plain values back. Every failure is a `NodeError` whose message says in words
what is wrong ("the node refused our client certificate ..."), never docker-py's
or requests' own exception. Nothing here knows about Django.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

import docker
import docker.errors
import docker.tls
import docker.types
import docker.utils
import requests.exceptions
from docker.utils.build import exclude_paths

# Health checks must answer fast; a build step may stay silent for minutes.
PING_TIMEOUT = 5.0
STREAM_TIMEOUT = 900.0
# Oldest Engine API we speak before negotiating (Docker 1.12).
_MIN_API = "1.24"


@dataclass(frozen=True)
class Endpoint:
    url: str
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls_cert or self.tls_ca)


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    cpus: int
    memory: int
    # None when the engine does not say and the node is not on this machine.
    disk_free: int | None
    name: str = ""
    os: str = ""


@dataclass(frozen=True)
class Image:
    id: str
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


class NodeError(Exception):
    """A node could not do what was asked; the message says why, in words."""


class NodeUnreachable(NodeError):
    """No answer, or the connection broke: the node is down or not there."""


class NodeTLSError(NodeUnreachable):
    """The TLS handshake failed: certificates refused on one side or the other."""


class BuildFailed(NodeError):
    """The engine reported an error while building (the Dockerfile's fault)."""


class PullFailed(NodeError):
    """The engine could not pull an image (unknown, unreachable registry, ...)."""


def engine_info(ep: Endpoint) -> EngineInfo:
    """Ping the engine and return what the health check records."""
    client = _client(ep, PING_TIMEOUT)
    info = _call(ep, client.info)
    version = _call(ep, lambda: client.version(api_version=False))
    return EngineInfo(
        version=str(version.get("Version", "")),
        api_version=str(version.get("ApiVersion", "")),
        cpus=int(info.get("NCPU") or 0),
        memory=int(info.get("MemTotal") or 0),
        disk_free=_disk_free(ep, info),
        name=str(info.get("Name", "")),
        os=str(info.get("OperatingSystem", "")),
    )


def ping(ep: Endpoint) -> None:
    """Raise NodeError unless the engine answers."""
    client = _client(ep, PING_TIMEOUT)
    _call(ep, client.ping)


def list_images(ep: Endpoint) -> list[Image]:
    """Every image on the node (tagged ones; intermediate layers are left out)."""
    client = _client(ep, PING_TIMEOUT * 6)
    return [
        Image(
            id=item["Id"],
            tags=tuple(t for t in item.get("RepoTags") or () if t != "<none>:<none>"),
            digests=tuple(item.get("RepoDigests") or ()),
            labels=dict(item.get("Labels") or {}),
        )
        for item in _call(ep, client.images)
    ]


def image_id(ep: Endpoint, ref: str) -> str | None:
    """Return the id of the image `ref` names on the node, or None."""
    client = _client(ep, PING_TIMEOUT * 6)
    return _call(ep, lambda: client.inspect_image(ref)["Id"], missing_ok=True)


def build_image(
    ep: Endpoint,
    *,
    context: IO[bytes],
    tag: str,
    dockerfile: str = "Dockerfile",
    labels: dict[str, str] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> str:
    """Build from a tar `context` sent over the API; return the image id."""
    client = _client(ep, STREAM_TIMEOUT)

    def run() -> str | None:
        built = None
        events = client.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            dockerfile=dockerfile,
            labels=labels or {},
            rm=True,
            forcerm=True,
            decode=True,
            timeout=STREAM_TIMEOUT,
        )
        for event in events:
            if event.get("error"):
                raise BuildFailed(str(event["error"]).strip())
            if event.get("stream") and on_log:
                on_log(event["stream"])
            if isinstance(event.get("aux"), dict) and event["aux"].get("ID"):
                built = event["aux"]["ID"]
        return built

    built = _call(ep, run, during="the build")
    return built or image_id(ep, tag) or ""


def pull_image(
    ep: Endpoint, ref: str, *, on_log: Callable[[str], None] | None = None
) -> str:
    """Pull `ref` onto the node; return the image id."""
    client = _client(ep, STREAM_TIMEOUT)
    repository, tag = docker.utils.parse_repository_tag(ref)

    def run() -> None:
        last = ""
        for event in client.pull(repository, tag=tag, stream=True, decode=True):
            if event.get("error"):
                raise PullFailed(str(event["error"]).strip())
            # Progress bars repeat a line per chunk: keep each status once.
            line = " ".join(str(event.get(k, "")) for k in ("id", "status")).strip()
            if line and line != last and not event.get("progressDetail") and on_log:
                on_log(line + "\n")
            last = line

    _call(ep, run, during="the pull")
    found = image_id(ep, ref)
    if found is None:
        raise PullFailed(f"{ref} is not on the node after pulling it")
    return found


def context_paths(root: str, dockerfile: str = "Dockerfile") -> list[str]:
    """Return what Docker would send of a build folder, honouring .dockerignore.

    Paths are relative to `root`, folders included, sorted; the Dockerfile is
    always kept, as `docker build` keeps it.
    """
    patterns: list[str] = []
    ignore = os.path.join(root, ".dockerignore")
    if os.path.isfile(ignore):
        with open(ignore, encoding="utf-8", errors="replace") as handle:
            patterns = [
                line.strip()
                for line in handle
                if line.strip() and not line.lstrip().startswith("#")
            ]
    return sorted(exclude_paths(os.path.abspath(root), patterns, dockerfile=dockerfile))


# Instances: networks and containers.


@dataclass(frozen=True)
class ContainerSpec:
    """One container of an instance, with its limits."""

    name: str
    image: str
    network: str
    alias: str
    environment: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    memory: int = 0
    nano_cpus: int = 0
    pids: int = 0
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    read_only: bool = False


@dataclass(frozen=True)
class ContainerState:
    id: str
    status: str  # created, running, exited, dead, ...
    exit_code: int
    # container port -> host port, for the published ones
    ports: dict[int, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    name: str = ""

    @property
    def running(self) -> bool:
        return self.status == "running"


class SubnetTaken(NodeError):
    """The subnet asked for overlaps a network the engine has."""


def network_create(
    ep: Endpoint,
    name: str,
    *,
    subnet: str,
    labels: dict[str, str],
    no_egress: bool = False,
) -> str:
    """Create a bridge network of its own; return its id.

    `no_egress` turns IP masquerading off: containers reach nothing outside,
    while published ports still answer (an `--internal` network loses those).
    """
    client = _client(ep, PING_TIMEOUT * 6)
    options = {"com.docker.network.bridge.enable_icc": "true"}
    if no_egress:
        options["com.docker.network.bridge.enable_ip_masquerade"] = "false"
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
    try:
        reply = client.create_network(
            name, driver="bridge", options=options, ipam=ipam, labels=labels
        )
    except docker.errors.APIError as exc:
        if "overlap" in str(exc).lower():
            raise SubnetTaken(f"subnet {subnet} is in use on the node") from None
        raise _explain(exc, ep, "network create") from exc
    except Exception as exc:
        raise _explain(exc, ep, "network create") from exc
    return reply["Id"]


def network_remove(ep: Endpoint, name: str) -> None:
    """Remove a network; one already gone is fine."""
    client = _client(ep, PING_TIMEOUT * 6)
    _call(ep, lambda: client.remove_network(name), missing_ok=True)


def networks_labelled(ep: Endpoint, labels: list[str]) -> list[tuple[str, dict]]:
    """(name, labels) of every network carrying all `labels` (`key` or `key=value`)."""
    client = _client(ep, PING_TIMEOUT * 6)
    found = _call(ep, lambda: client.networks(filters={"label": labels}))
    return [(n["Name"], dict(n.get("Labels") or {})) for n in found]


def container_run(ep: Endpoint, spec: ContainerSpec) -> str:
    """Create and start a container on its network; return its id."""
    client = _client(ep, PING_TIMEOUT * 6)
    host_config = client.create_host_config(
        # Random host ports, on every interface of the node.
        port_bindings=dict.fromkeys(spec.ports),
        mem_limit=spec.memory or None,
        memswap_limit=spec.memory or None,
        nano_cpus=spec.nano_cpus or None,
        pids_limit=spec.pids or None,
        cap_add=list(spec.cap_add) or None,
        cap_drop=list(spec.cap_drop) or None,
        privileged=spec.privileged,
        read_only=spec.read_only,
        # The container's own /tmp, writable under a read-only root.
        tmpfs={"/tmp": "size=16m"} if spec.read_only else None,  # noqa: S108
        security_opt=["no-new-privileges"],
        network_mode=spec.network,
        restart_policy={"Name": "no"},
    )
    networking = client.create_networking_config(
        {spec.network: client.create_endpoint_config(aliases=[spec.alias])}
    )

    def run() -> str:
        created = client.create_container(
            spec.image,
            name=spec.name,
            hostname=spec.alias,
            environment=spec.environment,
            ports=list(spec.ports),
            labels=spec.labels,
            host_config=host_config,
            networking_config=networking,
        )
        try:
            client.start(created["Id"])
        except docker.errors.APIError as exc:
            text = str(exc)
            if any(words in text for words in _PORT_TAKEN):
                # Another engine on the host took the random port first.
                client.remove_container(created["Id"], force=True, v=True)
                raise PortTaken(f"a host port was taken: {exc.explanation}") from None
            raise
        return created["Id"]

    return _call(ep, run, during="the container start")


class PortTaken(NodeError):
    """The random host port was taken meanwhile; the container was removed."""


_PORT_TAKEN = ("address already in use", "port is already allocated")


def container_state(ep: Endpoint, ident: str) -> ContainerState | None:
    """The container's state and published ports, or None when it is gone."""
    client = _client(ep, PING_TIMEOUT * 6)
    info = _call(ep, lambda: client.inspect_container(ident), missing_ok=True)
    if info is None:
        return None
    ports: dict[int, int] = {}
    for key, bindings in (
        (info.get("NetworkSettings") or {}).get("Ports") or {}
    ).items():
        for binding in bindings or ():
            if binding.get("HostPort"):
                ports.setdefault(int(key.split("/")[0]), int(binding["HostPort"]))
    state = info.get("State") or {}
    return ContainerState(
        id=info["Id"],
        status=str(state.get("Status", "")),
        exit_code=int(state.get("ExitCode") or 0),
        ports=ports,
        labels=dict((info.get("Config") or {}).get("Labels") or {}),
        name=str(info.get("Name", "")).lstrip("/"),
    )


def containers_labelled(ep: Endpoint, labels: list[str]) -> list[ContainerState]:
    """Every container (running or not) carrying all `labels`."""
    client = _client(ep, PING_TIMEOUT * 6)
    found = _call(ep, lambda: client.containers(all=True, filters={"label": labels}))
    return [
        ContainerState(
            id=c["Id"],
            status=str(c.get("State", "")),
            exit_code=0,
            labels=dict(c.get("Labels") or {}),
            name=(c.get("Names") or [""])[0].lstrip("/"),
        )
        for c in found
    ]


def container_logs(ep: Endpoint, ident: str, *, tail: int = 60) -> str:
    """The container's last log lines (stdout and stderr), as text."""
    client = _client(ep, PING_TIMEOUT * 6)
    raw = _call(ep, lambda: client.logs(ident, tail=tail), missing_ok=True)
    return (raw or b"").decode("utf-8", errors="replace")


def container_remove(ep: Endpoint, ident: str) -> None:
    """Kill and remove a container with its anonymous volumes; gone is fine."""
    client = _client(ep, PING_TIMEOUT * 6)
    _call(
        ep, lambda: client.remove_container(ident, force=True, v=True), missing_ok=True
    )


def image_ports(ep: Endpoint, ref: str) -> tuple[int, ...]:
    """The TCP ports an image EXPOSEs."""
    client = _client(ep, PING_TIMEOUT * 6)
    info = _call(ep, lambda: client.inspect_image(ref), missing_ok=True) or {}
    exposed = (info.get("Config") or {}).get("ExposedPorts") or {}
    return tuple(sorted(int(k.split("/")[0]) for k in exposed if k.endswith("/tcp")))


# Connections.

_api_versions: dict[str, str] = {}


def _client(ep: Endpoint, timeout: float) -> docker.APIClient:
    """Return a client speaking the engine's API version (negotiated once per URL)."""
    version = _api_versions.get(ep.url)
    if version is None:
        probe = _new_client(ep, timeout, _MIN_API)
        version = str(_call(ep, lambda: probe.version(api_version=False))["ApiVersion"])
        _api_versions[ep.url] = version
    return _new_client(ep, timeout, version)


def _new_client(ep: Endpoint, timeout: float, version: str) -> docker.APIClient:
    try:
        client = docker.APIClient(
            base_url=ep.url, tls=_tls(ep), timeout=timeout, version=version
        )
    except docker.errors.DockerException as exc:
        raise NodeError(f"cannot use {ep.url}: {exc}") from None
    # Environment proxies and CA bundles (REQUESTS_CA_BUNDLE) would override the
    # node's own CA: requests lets the environment win over the session.
    client.trust_env = False
    return client


_tls_lock = threading.Lock()
_tls_dir: dict[int, str] = {}


def _tls(ep: Endpoint) -> docker.tls.TLSConfig | bool:
    """docker-py wants files: write the PEM text to a private folder, once."""
    if not ep.uses_tls:
        return False
    cert = (_pem_file(ep.tls_cert), _pem_file(ep.tls_key)) if ep.tls_cert else None
    ca = _pem_file(ep.tls_ca) if ep.tls_ca else None
    return docker.tls.TLSConfig(client_cert=cert, ca_cert=ca, verify=ca or True)


def _pem_file(text: str) -> str:
    with _tls_lock:
        folder = _tls_dir.get(os.getpid())
        if folder is None or not os.path.isdir(folder):
            folder = tempfile.mkdtemp(prefix="ctf-node-tls-")
            _tls_dir[os.getpid()] = folder
            # Only this process removes it: a forked worker child must not.
            atexit.register(_remove_own, os.getpid(), folder)
        path = os.path.join(folder, hashlib.sha256(text.encode()).hexdigest() + ".pem")
        if not os.path.exists(path):
            fd, temporary = tempfile.mkstemp(dir=folder)  # mode 0600
            with os.fdopen(fd, "w") as handle:
                handle.write(text.strip() + "\n")
            os.replace(temporary, path)
        return path


def _remove_own(pid: int, folder: str) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


def _disk_free(ep: Endpoint, info: dict[str, Any]) -> int | None:
    for key, value in info.get("DriverStatus") or ():
        if key == "Data Space Available":  # devicemapper says it
            return _parse_size(value)
    root = info.get("DockerRootDir") or ""
    if urlsplit(ep.url).scheme == "unix" and root and os.path.isdir(root):
        return shutil.disk_usage(root).free  # a local socket: the same machine
    return None


def _parse_size(text: str) -> int | None:
    units = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    number = text.rstrip("BKMGTbkmgt ")
    unit = text[len(number) :].strip().upper() or "B"
    try:
        return int(float(number) * units[unit])
    except (KeyError, ValueError):
        return None


# Errors.


def _call(
    ep: Endpoint, fn: Callable[[], Any], *, during: str = "", missing_ok: bool = False
) -> Any:
    """Run one API call; turn whatever docker-py raises into a NodeError.

    With `missing_ok`, a 404 (no such image) returns None instead.
    """
    try:
        return fn()
    except NodeError:
        raise
    except docker.errors.NotFound as exc:
        if missing_ok:
            return None
        raise _explain(exc, ep, during) from exc
    except Exception as exc:  # every failure gets words
        raise _explain(exc, ep, during) from exc


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen = 0
    while exc is not None and seen < 8:
        yield exc
        exc = exc.__cause__ or exc.__context__
        seen += 1


def _explain(exc: Exception, ep: Endpoint, during: str) -> NodeError:
    text = " | ".join(str(e) for e in _chain(exc))
    parts = urlsplit(ep.url)
    where = parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port}"
    while_ = f" during {during}" if during else ""
    if "HTTP request to an HTTPS server" in text:
        return NodeTLSError(
            "the node expects TLS on this port: store its CA certificate and a "
            "client certificate and key for it"
        )
    if "CERTIFICATE_VERIFY_FAILED" in text:
        if "mismatch" in text.lower():
            return NodeTLSError(
                f"the node's certificate is not for {parts.hostname} "
                "(its names or addresses do not match the URL)"
            )
        return NodeTLSError(
            "the node's certificate is not signed by the CA stored for it"
        )
    if any(alert in text for alert in _CLIENT_CERT_REFUSED) or (
        ep.uses_tls and "EOF occurred in violation of protocol" in text
    ):
        return NodeTLSError(
            "the node refused our client certificate: it is not signed by a CA "
            "the node trusts, or none was given"
        )
    if "WRONG_VERSION_NUMBER" in text:
        return NodeTLSError(
            "the node does not speak TLS on this port: leave the certificates out "
            "or use its TLS port"
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NodeUnreachable(f"no connection to {where} (host down or firewalled)")
    if isinstance(exc, requests.exceptions.ReadTimeout) or "timed out" in text:
        return NodeUnreachable(f"the node did not answer in time{while_}")
    if "Connection refused" in text:
        if parts.scheme == "unix":
            return NodeUnreachable(f"no Docker engine listens on {where}")
        return NodeUnreachable(f"nothing listens on {where} (is dockerd running?)")
    if "No such file or directory" in text and parts.scheme == "unix":
        return NodeUnreachable(f"there is no Docker socket at {where}")
    if "Permission denied" in text:
        return NodeUnreachable(
            f"no permission to use {where} (the user needs the docker group)"
        )
    if any(words in text for words in _NO_SUCH_HOST):
        return NodeUnreachable(f"the host name {parts.hostname} does not resolve")
    if any(words in text for words in _CONNECTION_BROKE):
        return NodeUnreachable(f"the node stopped answering{while_} (connection lost)")
    if isinstance(exc, docker.errors.APIError):
        return NodeError(f"the engine refused{while_}: {exc.explanation or exc}")
    return NodeError(f"{type(exc).__name__}{while_}: {exc}")


_CLIENT_CERT_REFUSED = (
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_REQUIRED",
    "bad certificate",
    "unknown ca",
)
_NO_SUCH_HOST = (
    "Name or service not known",
    "Failed to resolve",
    "nodename nor servname",
    "Temporary failure in name resolution",
)
_CONNECTION_BROKE = (
    "Connection aborted",
    "Connection reset",
    "Connection broken",
    "RemoteDisconnected",
    "IncompleteRead",
    "Broken pipe",
    "EOF occurred",
)
