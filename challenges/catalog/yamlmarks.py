"""Safe YAML loading that remembers where every key and item came from.

The document is composed into a node tree with libyaml when available (the
fast part), then turned into `MarkedDict` / `MarkedList` values that carry
1-based (line, col) marks per key and per item, so field errors can point at
the offending line. Only the YAML types `yaml.safe_load` builds are allowed.
Aliases stay shared in the node tree; expanding them here is counted, so a
"billion laughs" document is rejected instead of eating memory.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # libyaml composes about ten times faster than the pure-Python parser.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Mark = tuple[int, int]

MAX_NODES = 100_000
MAX_ALIASES = 1_000
MAX_DEPTH = 64

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_CONSTRUCTORS = {
    tag: ctor
    for tag, ctor in SafeConstructor.yaml_constructors.items()
    if tag not in (None, _MAP, _SEQ, "tag:yaml.org,2002:omap")
    and tag not in ("tag:yaml.org,2002:pairs", "tag:yaml.org,2002:set")
}


class YamlProblem(Exception):
    """The document cannot be used; `mark` is the 1-based place, if known."""

    def __init__(self, message: str, mark: Mark | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class MarkedDict(dict):
    """A mapping with the marks of its keys and values."""

    __slots__ = ("mark", "key_marks", "value_marks")

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.key_marks: dict[Any, Mark] = {}
        self.value_marks: dict[Any, Mark] = {}


class MarkedList(list):
    """A sequence with the marks of its items."""

    __slots__ = ("mark", "item_marks")

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.item_marks: list[Mark] = []


def node_mark(node: Node) -> Mark:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def key_mark(mapping: Any, key: Any) -> Mark | None:
    """Return where `key` was written in `mapping`, or the mapping's own mark."""
    if isinstance(mapping, MarkedDict):
        return mapping.key_marks.get(key, mapping.mark)
    return None


def item_mark(sequence: Any, index: int) -> Mark | None:
    if isinstance(sequence, MarkedList) and index < len(sequence.item_marks):
        return sequence.item_marks[index]
    return getattr(sequence, "mark", None)


def parse_marked(text: str) -> tuple[Any, list[tuple[Mark, str]]]:
    """Parse one YAML document into marked values; return it and its notes.

    Notes are (mark, message) pairs for things that are legal YAML but likely
    mistakes, such as a key written twice. Raises YamlProblem.
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (mark.line + 1, mark.column + 1) if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(f"not valid YAML: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}") from None
    if node is None:
        return None, []
    builder = _Builder()
    return builder.build(node, 0), builder.notes


class _Builder:
    def __init__(self) -> None:
        self.constructor = SafeConstructor()
        self.nodes = 0
        self.aliases = 0
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.notes: list[tuple[Mark, str]] = []

    def build(self, node: Node, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlProblem(
                f"document too large: more than {MAX_NODES} values after expanding "
                "aliases (is it an alias bomb?)",
                node_mark(node),
            )
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", node_mark(node))
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        # A collection node met twice was reached through an alias.
        if id(node) in self.seen:
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YamlProblem(
                    f"too many aliases (more than {MAX_ALIASES})", node_mark(node)
                )
        self.seen.add(id(node))
        if id(node) in self.active:
            raise YamlProblem("recursive alias", node_mark(node))
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, depth)
            if isinstance(node, SequenceNode):
                return self._sequence(node, depth)
        finally:
            self.active.discard(id(node))
        raise YamlProblem("unsupported YAML node", node_mark(node))  # pragma: no cover

    def _scalar(self, node: ScalarNode) -> Any:
        ctor = _SCALAR_CONSTRUCTORS.get(node.tag)
        if ctor is None:
            raise YamlProblem(f"unsupported YAML tag {node.tag!r}", node_mark(node))
        try:
            return ctor(self.constructor, node)
        except (ConstructorError, ValueError) as exc:
            raise YamlProblem(f"bad {node.tag} value: {exc}", node_mark(node)) from None

    def _mapping(self, node: MappingNode, depth: int) -> MarkedDict:
        if node.tag != _MAP:
            raise YamlProblem(f"unsupported YAML tag {node.tag!r}", node_mark(node))
        # Keys merged in with `<<` may be overridden; only own keys written twice
        # are worth a note.
        own = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        try:
            self.constructor.flatten_mapping(node)  # resolves `<<` merge keys
        except ConstructorError as exc:
            mark = exc.problem_mark
            where = (mark.line + 1, mark.column + 1) if mark else node_mark(node)
            raise YamlProblem(f"bad merge key: {exc.problem}", where) from None
        result = MarkedDict(node_mark(node))
        own_keys: set[Any] = set()
        for key_node, value_node in node.value:
            key = self.build(key_node, depth + 1)
            if isinstance(key, (dict, list)):
                raise YamlProblem("a mapping key must be a scalar", node_mark(key_node))
            if id(key_node) in own and key in own_keys:
                first = result.key_marks[key][0]
                self.notes.append(
                    (
                        node_mark(key_node),
                        f"key {key!r} is written twice (first on line {first}); "
                        "the later one wins",
                    )
                )
            if id(key_node) in own:
                own_keys.add(key)
            result[key] = self.build(value_node, depth + 1)
            result.key_marks[key] = node_mark(key_node)
            result.value_marks[key] = node_mark(value_node)
        return result

    def _sequence(self, node: SequenceNode, depth: int) -> MarkedList:
        if node.tag != _SEQ:
            raise YamlProblem(f"unsupported YAML tag {node.tag!r}", node_mark(node))
        result = MarkedList(node_mark(node))
        for item in node.value:
            result.append(self.build(item, depth + 1))
            result.item_marks.append(node_mark(item))
        return result
