"""`{{ text|markdown }}`: markdown from specs as sanitized HTML (hints)."""

from django import template
from django.utils.safestring import SafeString

from challenges.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    return render_markdown(text or "")
