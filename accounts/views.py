"""Player account pages: register, settings, password reset, team management.
Each action calls one service."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import (
    EmailForm,
    NameForm,
    PasswordForm,
    RegisterForm,
    TeamCreateForm,
    TeamJoinForm,
)
from accounts.models import User
from audit.services import client_ip


def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:team")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}!")
            return redirect("accounts:team")
    status = 403 if not settings.REGISTRATION_OPEN else 200
    return render(request, "accounts/register.html", {"form": form}, status=status)


SETTINGS_FORMS = {"name": NameForm, "email": EmailForm, "password": PasswordForm}
SECTIONS = {
    "name": (
        "Display name",
        "Shown on the scoreboard and to your team; you also log in with it.",
        "Save the name",
    ),
    "email": ("Email", "", "Save the email"),
    "password": ("Password", "", "Change the password"),
}
SAVED = {
    "name": "Your display name is now {user.username}.",
    "email": "Your email address is saved.",
    "password": "Your password is changed; other sessions are logged out.",
}


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    """Display name, email and password: three forms, each saved on its own."""
    user = request.user
    forms = {
        "name": NameForm(initial={"username": user.username}),
        "email": EmailForm(user, initial={"email": user.email}),
        "password": PasswordForm(user),
    }
    which = request.POST.get("form") if request.method == "POST" else None
    status = 200
    if which in forms:
        form_class = SETTINGS_FORMS[which]
        form = (
            form_class(request.POST)
            if which == "name"
            else form_class(user, request.POST)
        )
        forms[which] = form
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.user_update(
                    user=user,
                    username=data.get("username"),
                    email=data.get("email"),
                    password=data.get("password"),
                )
            except ValidationError as error:
                form.add_error("username" if which == "name" else None, error)
            else:
                if which == "password":
                    update_session_auth_hash(request, user)  # stay logged in here
                messages.success(request, SAVED[which].format(user=user))
                return redirect("accounts:settings")
        status = 400
    sections = [
        (key, form, *SECTIONS[key]) for key, form in forms.items()
    ]  # (form name, form, title, note, button)
    return render(
        request, "accounts/settings.html", {"sections": sections}, status=status
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, sending through `password_reset_request` (limits)."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    @property
    def extra_email_context(self) -> dict:
        return {"CTF_NAME": settings.CTF_NAME}

    def form_valid(self, form) -> HttpResponse:
        sent = services.password_reset_request(
            email=form.cleaned_data["email"],
            ip=client_ip(self.request),
            send=lambda: super(PasswordResetView, self).form_valid(form),
        )
        if not sent:
            form.add_error(
                None,
                f"Too many reset requests from your address: at most "
                f"{services.RESET_PER_IP} an hour. Try again later.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return redirect(self.success_url)


def _team_context(request: HttpRequest) -> dict:
    user = User.objects.select_related("team__captain").get(pk=request.user.pk)
    team = user.team
    members = list(team.members.order_by("team_joined_at", "pk")) if team else []
    return {
        "team": team,
        "members": members,
        "is_captain": bool(team) and team.captain_id == user.pk,
        "create_form": TeamCreateForm(),
        "join_form": TeamJoinForm(initial={"code": request.GET.get("code", "")}),
        "team_size_limit": settings.TEAM_SIZE_LIMIT,
    }


@login_required
def team(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/team.html", _team_context(request))


def _after_action(request: HttpRequest, action: Callable[[], str]) -> HttpResponse:
    """Run a team service and report how it went; htmx gets the panel back in place."""
    try:
        messages.success(request, action())
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    if request.htmx:
        return render(request, "accounts/_team_panel.html", _team_context(request))
    return redirect("accounts:team")


@login_required
@require_POST
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST)

    def action() -> str:
        if not form.is_valid():
            raise ValidationError("Give the team a name of at most 64 characters.")
        team = services.team_create(user=request.user, name=form.cleaned_data["name"])
        return f"Team {team.name} created. Share its invite code with your teammates."

    return _after_action(request, action)


@login_required
@require_POST
def team_join(request: HttpRequest) -> HttpResponse:
    form = TeamJoinForm(request.POST)

    def action() -> str:
        if not form.is_valid():
            raise ValidationError("Enter an invite code.")
        team = services.team_join(user=request.user, code=form.cleaned_data["code"])
        return f"You joined {team.name}."

    return _after_action(request, action)


@login_required
@require_POST
def team_leave(request: HttpRequest) -> HttpResponse:
    def action() -> str:
        services.team_leave(user=request.user)
        return "You left the team."

    return _after_action(request, action)


@login_required
@require_POST
def team_kick(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id)

    def action() -> str:
        services.team_kick(captain=request.user, member=member)
        return f"{member.username} was removed from the team."

    return _after_action(request, action)


@login_required
@require_POST
def team_transfer(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id)

    def action() -> str:
        services.team_transfer_captain(captain=request.user, new_captain=member)
        return f"{member.username} is now the captain."

    return _after_action(request, action)


@login_required
@require_POST
def team_regenerate_code(request: HttpRequest) -> HttpResponse:
    def action() -> str:
        services.team_regenerate_invite_code(captain=request.user)
        return "New invite code made; the old one no longer works."

    return _after_action(request, action)
