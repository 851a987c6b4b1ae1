"""Admin tools for requirements: live validation while an organizer types."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from requirements.widgets import requirement_feedback


@staff_member_required
@require_POST
def validate(request: HttpRequest) -> HttpResponse:
    """Check the posted text: its error with place and caret, or its explanation.

    The editor posts only its textarea, under the field's own name, given in
    ``?field=``; the partial also carries the parse tree for the block view.
    """
    text = request.POST.get(request.GET.get("field") or "text", "")
    feedback = requirement_feedback(text)
    return render(request, "requirements/_feedback.html", {"feedback": feedback})
