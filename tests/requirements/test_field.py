"""RequirementField: broken text never reaches the database, with or without a form."""

import html

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import CheckboxInput
from django.urls import reverse

from challenges.models import Challenge

BROKEN = "(AND (COMPLETED Intro) (>= (USER-SCORE) 100))"
TYPED = '(and (completed "Intro")\n     (>= (user-score) 100))'


def make_challenge(requirement: str = "", name: str = "Boss") -> Challenge:
    return Challenge.objects.create(
        identity=name.lower(),
        name=name,
        normalized_name=name.lower(),
        requirement=requirement,
    )


def change_url(challenge: Challenge) -> str:
    return reverse("admin:challenges_challenge_change", args=[challenge.pk])


def change_form_data(client, challenge: Challenge, **changes) -> dict:
    """What the admin change form posts when saved as displayed, plus `changes`."""
    response = client.get(change_url(challenge))
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = field.prepare_value(form[name].value())
        if isinstance(field.widget, CheckboxInput):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    data.update(changes)
    return data


@pytest.mark.django_db
def test_it_refuses_to_save_a_broken_requirement_and_says_where():
    with pytest.raises(ValidationError) as caught, transaction.atomic():
        make_challenge(BROKEN)

    message = html.unescape(caught.value.messages[0])
    assert "line 1, col 17" in message
    assert "text must be quoted" in message
    assert not Challenge.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_requirement_that_parses_but_cannot_run():
    with pytest.raises(ValidationError) as caught:
        make_challenge("(NOT)")

    assert "line 1, col 1" in caught.value.messages[0]
    assert "NOT takes exactly 1 argument" in caught.value.messages[0]


@pytest.mark.django_db
def test_it_allows_a_blank_requirement():
    challenge = make_challenge("")

    challenge.refresh_from_db()
    assert challenge.requirement == ""


@pytest.mark.django_db
def test_it_shows_the_error_with_line_column_and_caret_in_the_admin(organizer, login):
    challenge = make_challenge('(COMPLETED "Intro")')
    client = login(organizer)

    response = client.post(
        change_url(challenge), change_form_data(client, challenge, requirement=BROKEN)
    )

    assert response.status_code == 200  # the form again, not a redirect
    page = html.unescape(response.content.decode())
    assert "line 1, col 17" in page
    assert f'<pre class="lispish-caret">{BROKEN}\n{" " * 16}^</pre>' in page
    challenge.refresh_from_db()
    assert challenge.requirement == '(COMPLETED "Intro")'


@pytest.mark.django_db
def test_it_saves_valid_text_as_typed_from_the_admin(organizer, login):
    challenge = make_challenge()
    client = login(organizer)

    response = client.post(
        change_url(challenge), change_form_data(client, challenge, requirement=TYPED)
    )

    assert response.status_code == 302
    challenge.refresh_from_db()
    assert challenge.requirement == TYPED


@pytest.mark.django_db
def test_it_saves_a_blank_requirement_from_the_admin(organizer, login):
    challenge = make_challenge('(COMPLETED "Intro")')
    client = login(organizer)

    response = client.post(
        change_url(challenge), change_form_data(client, challenge, requirement="")
    )

    assert response.status_code == 302
    challenge.refresh_from_db()
    assert challenge.requirement == ""


@pytest.mark.django_db
def test_it_renders_the_block_editor_around_the_textarea(organizer, login):
    challenge = make_challenge(TYPED)

    response = login(organizer).get(change_url(challenge))

    page = html.unescape(response.content.decode())
    assert "data-lispish-editor" in page
    assert 'src="/static/requirements/editor.js"' in page
    validate = reverse("requirements:validate")
    assert f'hx-post="{validate}?field=requirement"' in page
    assert "Solve Intro and score at least 100" in page  # feedback without a request
    assert '"family": "dynamic"' in page  # the palette's data
