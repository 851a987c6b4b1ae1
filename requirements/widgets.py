"""The admin editor of a requirement: the text, checked as you type, and blocks.

The textarea stays the form field (the stored value is the text). Around it the
widget renders a block view (``static/requirements/editor.js``) and a feedback
area that the validate view refreshes through htmx; the feedback also carries
the parse tree as JSON, so the block view never needs a reader of its own.
"""

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.urls import NoReverseMatch, reverse

from requirements.compiled import caret_excerpt
from requirements.lispish import (
    Call,
    Int,
    LispIshError,
    blocks_as_json,
    parse,
)
from requirements.lispish.types import Node
from requirements.references import reference_warnings


def tree_as_json(node: Node) -> dict[str, Any]:
    """Return the tree the block editor draws.

    Integers travel as digit strings: JavaScript numbers lose precision past
    2**53 and LispIsh integers go up to 2**63 - 1.
    """
    if isinstance(node, Call):
        return {
            "type": "call",
            "name": node.name,
            "args": [tree_as_json(arg) for arg in node.args],
        }
    if isinstance(node, Int):
        return {"type": "int", "value": str(node.value)}
    return {"type": "str", "value": node.value}


def requirement_feedback(text: str) -> dict[str, Any]:
    """Check `text` and say what an organizer needs to see about it.

    The tree is returned whenever the text parses, even when the static check
    fails, so that blocks still show while an argument is missing.
    """
    feedback: dict[str, Any] = {"text": text, "blank": not text.strip()}
    tree = None
    if not feedback["blank"]:
        try:
            expression = parse(text)
            tree = tree_as_json(expression.root)
            expression.check()
        except LispIshError as error:
            feedback["error"] = {
                "kind": error.kind,
                "message": error.message,
                "line": error.line,
                "col": error.col,
                "excerpt": caret_excerpt(text, error.line, error.col),
            }
        else:
            feedback["explanation"] = expression.explain()
            feedback["canonical"] = expression.emit()
            feedback["warnings"] = reference_warnings(expression)
    feedback["client"] = {"text": text, "blank": feedback["blank"], "tree": tree}
    return feedback


class RequirementWidget(forms.Textarea):
    """A textarea with live validation and a block view over the same text."""

    template_name = "requirements/widget.html"

    class Media:
        css = {"all": ["requirements/editor.css"]}
        js = ["django_htmx/htmx-2.min.js", "requirements/editor.js"]

    def __init__(self, attrs: dict | None = None) -> None:
        base = {
            "rows": 4,
            "cols": 80,
            "class": "lispish-text",
            "spellcheck": "false",
        }
        super().__init__({**base, **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        element_id = widget_attrs.setdefault("id", f"id_{name}")
        try:
            validate_url = reverse("requirements:validate")
        except NoReverseMatch:  # not wired in this project: blocks still work
            validate_url = ""
        if validate_url:
            widget_attrs.update(
                {
                    "hx-post": f"{validate_url}?{urlencode({'field': name})}",
                    "hx-trigger": "keyup changed delay:300ms, change, lispish-changed",
                    "hx-target": f"#{element_id}_feedback",
                    "hx-swap": "innerHTML",
                    "hx-params": name,
                    "hx-sync": "this:replace",
                }
            )
        context["editor"] = {
            "id": element_id,
            "blocks": blocks_as_json(),
            "blocks_id": f"{element_id}_blocks",
            "feedback": requirement_feedback(str(value or "")),
        }
        return context
