"""`manage.py node`: register, list, check, enable and disable Docker hosts."""

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from nodes.models import Node, NodeStatus
from nodes.selectors import node_record
from nodes.services.nodes import (
    node_add,
    node_check,
    node_register_local,
    node_set_enabled,
)


class Command(BaseCommand):
    help = "Manage nodes (Docker hosts): add, list, check, enable, disable, local."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Register a node and check it.")
        add.add_argument("name")
        add.add_argument("url", help="unix:///var/run/docker.sock or tcp://host:2376")
        add.add_argument("--tls-ca", metavar="FILE", help="CA certificate (PEM).")
        add.add_argument("--tls-cert", metavar="FILE", help="Client certificate.")
        add.add_argument("--tls-key", metavar="FILE", help="Client key.")
        add.add_argument("--public-address", default="", metavar="HOST")
        add.add_argument("--capacity", type=int, default=50, metavar="N")
        add.add_argument("--concurrency", type=int, default=2, metavar="N")
        add.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
        add.add_argument(
            "--plain-tcp",
            action="store_true",
            help="Allow tcp:// to another host without TLS (unsafe).",
        )
        listing = sub.add_parser("list", help="List nodes and their health.")
        listing.add_argument("--json", action="store_true")
        check = sub.add_parser("check", help="Check one node, or every enabled one.")
        check.add_argument("name", nargs="?")
        for action in ("disable", "enable"):
            sub.add_parser(action, help=f"{action.title()} a node.").add_argument(
                "name"
            )
        sub.add_parser(
            "local", help="Register this machine's Docker socket as 'local'."
        )

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _add(self, *, name, url, tls_ca, tls_cert, tls_key, label, **options):
        labels = {}
        for item in label:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--label {item!r}: write KEY=VALUE")
            labels[key] = value
        try:
            node = node_add(
                name=name,
                url=url,
                tls_ca=_read(tls_ca, "--tls-ca"),
                tls_cert=_read(tls_cert, "--tls-cert"),
                tls_key=_read(tls_key, "--tls-key"),
                public_address=options["public_address"],
                capacity=options["capacity"],
                concurrency=options["concurrency"],
                labels=labels,
                allow_plain_tcp=options["plain_tcp"],
            )
        except ValidationError as error:
            raise CommandError(_words(error)) from None
        self.stdout.write(f"Added node {node.name} ({node.url}).")
        self._show(node)

    def _list(self, *, json: bool, **options) -> None:
        nodes = list(Node.objects.all())
        if json:
            self.stdout.write(_dump([node_record(node) for node in nodes]))
            return
        if not nodes:
            self.stdout.write("No nodes. Add one with: manage.py node add NAME URL")
        for node in nodes:
            enabled = "" if node.enabled else " (disabled)"
            self.stdout.write(
                f"{node.name:<16} {node.status:<8} {node.url}{enabled}\n"
                f"{'':<16} {node.status_detail or '-'}; capacity {node.capacity}"
                + (f"; {node.cpus} CPUs, {_gib(node.memory)} RAM" if node.cpus else "")
                + (f", {_gib(node.disk_free)} free" if node.disk_free else "")
            )

    def _check(self, *, name: str | None, **options) -> None:
        nodes = [_get(name)] if name else list(Node.objects.enabled())
        if not nodes:
            raise CommandError("No enabled node to check.")
        offline = 0
        for node in nodes:
            node = node_check(node=node)
            offline += node.status != NodeStatus.ONLINE
            self._show(node)
        if offline:
            sys.exit(1)

    def _disable(self, *, name: str, **options) -> None:
        node_set_enabled(node=_get(name), enabled=False)
        self.stdout.write(f"Node {name} disabled: it gets no more work.")

    def _enable(self, *, name: str, **options) -> None:
        node_set_enabled(node=_get(name), enabled=True)
        self.stdout.write(f"Node {name} enabled.")

    def _local(self, **options) -> None:
        node = node_register_local()
        if node is None:
            self.stdout.write(
                "No Docker engine answers on this machine's socket; "
                "running without nodes."
            )
            return
        self._show(node)

    def _show(self, node: Node) -> None:
        if node.status == NodeStatus.ONLINE:
            self.stdout.write(
                self.style.SUCCESS(f"{node.name}: online, {node.status_detail}")
            )
        else:
            self.stdout.write(
                self.style.ERROR(f"{node.name}: offline: {node.status_detail}")
            )


def _get(name: str) -> Node:
    try:
        return Node.objects.get(name=name)
    except Node.DoesNotExist:
        raise CommandError(f"No node named {name!r}.") from None


def _read(path: str | None, option: str) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{option} {path}: cannot read it ({error})") from None


def _words(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}"
            for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def _gib(size: int | None) -> str:
    return f"{size / (1 << 30):.1f} GiB" if size else "?"


def _dump(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
