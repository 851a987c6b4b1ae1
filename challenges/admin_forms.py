"""Forms of the challenge admin for challenges made there (catalog challenges are
read-only but for their operational fields): lists as text, flags as rows."""

import re
from typing import Any

from django import forms

from challenges.models import Challenge, ChallengeFile, FlagKind, Question

SPARE_FLAG_ROWS = 2


class CommaListField(forms.CharField):
    """A JSON list of short texts (tags, topics), typed as "web, beginner"."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value or ""

    def to_python(self, value: Any) -> list[str]:
        items = (part.strip() for part in str(value or "").split(","))
        return list(dict.fromkeys(item for item in items if item))


class FlagsWidget(forms.Widget):
    """One row per accepted flag (kind and text), and spare rows to add more."""

    template_name = "challenges/flags_widget.html"

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict:
        context = super().get_context(name, value, attrs)
        # The stored flags, or the rows as typed when the form comes back.
        rows = [
            (f.get("kind", FlagKind.STATIC), f.get("template") or f.get("content", ""))
            if isinstance(f, dict)
            else tuple(f)
            for f in (value if isinstance(value, list) else [])
        ] + [(FlagKind.STATIC, "")] * SPARE_FLAG_ROWS
        context["rows"] = [
            {"index": i, "kind": kind, "text": text}
            for i, (kind, text) in enumerate(rows)
        ]
        context["kinds"] = FlagKind.choices
        return context

    def value_from_datadict(self, data, files, name: str) -> list[tuple[str, str]]:
        rows, index = [], 0
        while f"{name}_kind_{index}" in data:
            text = data.get(f"{name}_text_{index}", "")
            if text.strip():
                rows.append((data[f"{name}_kind_{index}"], text.strip()))
            index += 1
        return rows

    def value_omitted_from_data(self, data, files, name: str) -> bool:
        return f"{name}_kind_0" not in data


class FlagsField(forms.Field):
    """The flags of a question, as the pipeline reads them (see FlagKind)."""

    widget = FlagsWidget

    def to_python(self, value: Any) -> list[dict]:
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return value  # the initial value, unchanged
        flags = []
        for number, (kind, text) in enumerate(value or [], start=1):
            flags.append(_flag(number, kind, text))
        return flags

    def validate(self, value: list[dict]) -> None:
        if not value:
            raise forms.ValidationError("Give at least one flag.")


def _flag(number: int, kind: str, text: str) -> dict:
    if kind not in FlagKind.values:
        raise forms.ValidationError(f"Flag {number}: pick a kind.")
    if kind == FlagKind.DERIVED:
        if text.count("{hash}") != 1:
            raise forms.ValidationError(
                f"Flag {number}: a derived flag's template needs exactly one {{hash}}, "
                'as in "CTF{sqli_{hash}}".'
            )
        return {"kind": kind, "content": "", "template": text}
    if kind == FlagKind.REGEX:
        try:
            re.compile(text)
        except re.error as error:
            raise forms.ValidationError(
                f"Flag {number}: the regular expression does not compile: {error}."
            ) from None
    return {"kind": kind, "content": text, "template": ""}


class QuestionForm(forms.ModelForm):
    flags = FlagsField(
        help_text="Every row is one accepted answer; empty rows are ignored. A "
        "derived flag is a template with {hash}, different for every team."
    )

    class Meta:
        model = Question
        fields = ["key", "name", "points", "attempts", "flags", "position"]


class HandoutForm(forms.ModelForm):
    """An uploaded handout; its name defaults to the file's."""

    upload = forms.FileField()
    name = forms.CharField(
        required=False, max_length=255, help_text="Default: the file's name."
    )

    class Meta:
        model = ChallengeFile
        fields = ["upload", "name", "position"]


# What a spec says (and the admin edits for a challenge made there).
SPEC_FIELDS = [
    "name",
    "category",
    "author",
    "description",
    "attribution",
    "type",
    "value",
    "decay_initial",
    "decay_decay",
    "decay_minimum",
    "decay_function",
    "connection_info",
    "tags",
    "topics",
    "requirement",
    "locked_visibility",
    "next_ref",
]


class ChallengeForm(forms.ModelForm):
    tags = CommaListField(required=False, help_text="Comma-separated.")
    topics = CommaListField(required=False, help_text="Comma-separated.")

    class Meta:
        model = Challenge
        fields = [*SPEC_FIELDS, *Challenge.OPERATIONAL_FIELDS]
