"""`{% instance_panel %}`: the instance panel on a challenge's page, drawn with
the page (challenges' templates load it; challenges' code never imports nodes)."""

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from nodes.views import is_instanced, panel_context

register = template.Library()


@register.simple_tag(takes_context=True)
def instance_panel(context, challenge, competition) -> SafeString | str:
    """The panel for an instanced challenge the page already opened, else ""."""
    if not is_instanced(challenge):
        return ""
    request = context["request"]
    return render_to_string(
        "nodes/_instance_panel.html",
        panel_context(request.user, challenge, competition),
        request=request,
    )


@register.filter
def instanced(challenge) -> bool:
    return is_instanced(challenge)
