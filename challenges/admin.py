"""Organizer screens: competitions, challenges (with catalog and requirement
flags), feedback, and the catalog rescan."""

from datetime import UTC

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from challenges import admin_announcements  # noqa: F401  (registers its screen)
from challenges.admin_requirements import requirement_test_as
from challenges.catalog import normalize_name
from challenges.models import (
    Challenge,
    ChallengeFile,
    Competition,
    Feedback,
    Hint,
    Question,
)
from challenges.services import (
    catalog_rescan,
    challenge_set_state,
    competition_freeze,
    competition_unfreeze,
)
from requirements.fields import RequirementField
from requirements.widgets import RequirementWidget


class FreezeForm(forms.Form):
    freeze_at = forms.SplitDateTimeField(
        widget=admin.widgets.AdminSplitDateTime,
        help_text="From this moment the public scoreboard stops moving.",
    )


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_default", "play_mode", "starts_at", "ends_at"]
    list_filter = ["play_mode", "is_default"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["challenges"]
    readonly_fields = ["freeze_at"]
    actions = ["freeze_now", "unfreeze"]

    @admin.action(description="Freeze the scoreboard now")
    def freeze_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._freeze(request, list(queryset), frozen=True)

    @admin.action(description="Unfreeze the scoreboard")
    def unfreeze(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._freeze(request, list(queryset), frozen=False)

    def _freeze(self, request, competitions: list[Competition], *, frozen: bool):
        """Freeze or unfreeze, and say so in a sentence."""
        for competition in competitions:
            if frozen:
                competition_freeze(competition=competition, actor=request.user)
            else:
                competition_unfreeze(competition=competition, actor=request.user)
        names = [c.name for c in competitions]
        which = (
            f"The scoreboard of {names[0]} is"
            if len(names) == 1
            else f"The scoreboards of {', '.join(names[:-1])} and {names[-1]} are"
        )
        if frozen:
            at = timezone.now().astimezone(UTC)
            message = f"{which} frozen as of {at:%H:%M:%S} UTC: players see the "
            message += "standings of that moment until you unfreeze."
        else:
            message = f"{which} live again."
        self.message_user(request, message, messages.SUCCESS)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/schedule-freeze/",
                view(self.schedule_view),
                name="challenges_competition_schedule_freeze",
            ),
            path(
                "<int:pk>/freeze/",
                view(require_POST(self.freeze_view)),
                name="challenges_competition_freeze",
            ),
            path(
                "<int:pk>/unfreeze/",
                view(require_POST(self.unfreeze_view)),
                name="challenges_competition_unfreeze",
            ),
        ] + super().get_urls()

    def _button(self, request: HttpRequest, pk: int, *, frozen: bool):
        competition = get_object_or_404(Competition, pk=pk)
        if not self.has_change_permission(request, competition):
            raise PermissionDenied
        self._freeze(request, [competition], frozen=frozen)
        return redirect("admin:challenges_competition_change", pk)

    def freeze_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The "Freeze now" button of the competition's page."""
        return self._button(request, pk, frozen=True)

    def unfreeze_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The "Unfreeze" button of the competition's page."""
        return self._button(request, pk, frozen=False)

    def schedule_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Schedule (or move) the freeze to a given time."""
        competition = get_object_or_404(Competition, pk=pk)
        form = FreezeForm(
            request.POST or None, initial={"freeze_at": competition.freeze_at}
        )
        if request.method == "POST" and form.is_valid():
            at = form.cleaned_data["freeze_at"]
            competition_freeze(competition=competition, actor=request.user, at=at)
            when = f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
            self.message_user(
                request,
                f"The scoreboard of {competition} freezes at {when}."
                if at > timezone.now()
                else f"The scoreboard of {competition} is frozen as of {when}.",
                messages.SUCCESS,
            )
            return redirect("admin:challenges_competition_change", pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "original": competition,
            "title": f"Schedule the scoreboard freeze of {competition}",
        }
        return TemplateResponse(
            request, "admin/challenges/competition/freeze.html", context
        )


class QuestionInline(admin.TabularInline):
    model = Question
    fields = ["key", "name", "points", "attempts", "flags", "position"]
    extra = 0


class HintInline(admin.TabularInline):
    model = Hint
    fields = ["title", "content", "cost", "position"]
    extra = 0


class FileInline(admin.TabularInline):
    model = ChallengeFile
    fields = ["name", "relative_path", "size", "sha256", "placeholders"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # files come from the catalog


class ProblemFilter(admin.SimpleListFilter):
    title = "problems"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [
            ("spec", "Spec rejected on disk"),
            ("requirement", "Requirement error"),
            ("missing", "Folder missing"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "spec":
            return queryset.exclude(spec_error="")
        if self.value() == "requirement":
            return queryset.exclude(requirement_error="")
        if self.value() == "missing":
            return queryset.filter(is_missing=True)
        return queryset


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "category",
        "value",
        "type",
        "state",
        "question_count",
        "has_requirement",
        "problems",
        "updated_at",
    ]
    list_filter = ["state", ProblemFilter, "category", "type", "locked_visibility"]
    search_fields = ["name", "identity", "category", "author"]
    readonly_fields = [
        "identity",
        "normalized_name",
        "content_hash",
        "spec_error",
        "requirement_error",
        "is_missing",
        "created_at",
        "updated_at",
    ]
    inlines = [QuestionInline, HintInline, FileInline]
    actions = ["make_visible", "make_hidden"]
    change_list_template = "admin/challenges/challenge/change_list.html"
    # The admin swaps in its own textarea for text fields unless told otherwise.
    formfield_overrides = {RequirementField: {"widget": RequirementWidget}}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_questions=Count("questions"))

    @admin.display(description="questions", ordering="_questions")
    def question_count(self, challenge: Challenge) -> int:
        return challenge._questions

    @admin.display(description="requirement", boolean=True)
    def has_requirement(self, challenge: Challenge) -> bool:
        return bool(challenge.requirement)

    @admin.display(description="problems")
    def problems(self, challenge: Challenge) -> str:
        flags = []
        if challenge.spec_error:
            flags.append("⚠ spec rejected")
        if challenge.requirement_error:
            flags.append("⚠ requirement error")
        if challenge.is_missing:
            flags.append("folder missing")
        return ", ".join(flags) or "—"

    def save_model(self, request, obj, form, change) -> None:
        # Requirements match names through normalized_name: keep it in step.
        obj.normalized_name = normalize_name(obj.name)
        if "requirement" in form.changed_data:
            obj.requirement_error = ""  # a new requirement gets a fresh verdict
        super().save_model(request, obj, form, change)

    @admin.action(description="Make visible")
    def make_visible(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = challenge_set_state(challenges=queryset, state="visible")
        self.message_user(request, f"{count} challenge(s) made visible.")

    @admin.action(description="Hide")
    def make_hidden(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = challenge_set_state(challenges=queryset, state="hidden")
        self.message_user(request, f"{count} challenge(s) hidden.")

    def get_urls(self):
        return [
            path(
                "rescan/",
                self.admin_site.admin_view(self.rescan_view),
                name="challenges_challenge_rescan",
            ),
            path(
                "<int:challenge_id>/test-as/",
                self.admin_site.admin_view(requirement_test_as),
                name="challenges_challenge_test_as",
            ),
        ] + super().get_urls()

    def rescan_view(self, request: HttpRequest) -> HttpResponse:
        """Two steps: a dry run shows what would change; confirming applies it."""
        if not self.has_change_permission(request):
            return redirect("admin:index")
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            report = catalog_rescan(actor=request.user)
            level = messages.WARNING if report.rejected else messages.SUCCESS
            self.message_user(request, report.summary(), level)
            return redirect(reverse("admin:challenges_challenge_changelist"))
        report = catalog_rescan(dry_run=True)
        context = {
            **self.admin_site.each_context(request),
            "report": report,
            "opts": self.model._meta,
            "title": "Rescan the catalog",
        }
        return TemplateResponse(
            request, "admin/challenges/challenge/rescan.html", context
        )


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = [
        "challenge",
        "vote",
        "user",
        "team",
        "competition",
        "comment",
        "updated_at",
    ]
    list_filter = ["competition", "vote", "challenge__category"]
    search_fields = ["challenge__name", "user__username", "comment"]
    list_select_related = ["challenge", "user__team", "competition"]
    readonly_fields = [
        "challenge",
        "user",
        "competition",
        "vote",
        "comment",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="team")
    def team(self, feedback: Feedback) -> str:
        return str(feedback.user.team or "—")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
