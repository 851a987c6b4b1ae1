"""Organizer screens: competitions, challenges (with catalog and requirement
flags), feedback, and the catalog rescan."""

from datetime import UTC

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from challenges import admin_announcements  # noqa: F401  (registers its screen)
from challenges.admin_forms import (
    SPEC_FIELDS,
    ChallengeForm,
    HandoutForm,
    QuestionForm,
)
from challenges.admin_requirements import requirement_test_as
from challenges.models import (
    Challenge,
    ChallengeFile,
    Competition,
    Feedback,
    Hint,
    Question,
)
from challenges.names import KnownChallenges, challenge_refs
from challenges.services import (
    catalog_rescan,
    challenge_admin_save,
    challenge_file_describe,
    challenge_set_state,
    competition_freeze,
    competition_unfreeze,
)
from requirements.compiled import explain_requirement
from requirements.fields import RequirementField
from requirements.lispish import LispIshError
from requirements.widgets import RequirementWidget

OPERATIONAL = list(Challenge.OPERATIONAL_FIELDS)


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


class CatalogInline(admin.TabularInline):
    """What a catalog challenge's spec says: shown, never edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class CatalogQuestionInline(CatalogInline):
    model = Question
    fields = ["key", "name", "points", "attempts", "flag_kinds"]
    readonly_fields = fields

    @admin.display(description="flags")
    def flag_kinds(self, question: Question) -> str:
        return ", ".join(f.get("kind", "?") for f in question.flags)


class CatalogHintInline(CatalogInline):
    model = Hint
    fields = ["title", "content", "cost"]


class CatalogFileInline(CatalogInline):
    model = ChallengeFile
    fields = ["name", "relative_path", "size", "sha256", "placeholders"]


class QuestionInline(admin.StackedInline):
    model = Question
    form = QuestionForm
    extra = 0


class HintInline(admin.TabularInline):
    model = Hint
    fields = ["title", "content", "cost", "position"]
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 3, "cols": 60})}
    }
    extra = 0


class FileInline(admin.TabularInline):
    model = ChallengeFile
    form = HandoutForm
    fields = ["upload", "name", "position", "size", "sha256", "placeholders"]
    readonly_fields = ["size", "sha256", "placeholders"]
    extra = 0


class ProblemFilter(admin.SimpleListFilter):
    title = "problems"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [
            ("spec", "Spec rejected on disk"),
            ("requirement", "Requirement error"),
            ("names", "Names no challenge"),
            ("missing", "Folder missing"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "spec":
            return queryset.exclude(spec_error="")
        if self.value() == "requirement":
            return queryset.exclude(requirement_error="")
        if self.value() == "names":
            known = KnownChallenges.current()
            pointing = Challenge.objects.exclude(requirement="", next_ref="")
            return queryset.filter(
                pk__in=[c.pk for c in pointing if known.problems(challenge_refs(c))]
            )
        if self.value() == "missing":
            return queryset.filter(is_missing=True)
        return queryset


# Kept by the system: shown, never edited.
SYSTEM_FIELDS = [
    "identity",
    "spec_file",
    "normalized_name",
    "content_hash",
    "spec_error",
    "requirement_error",
    "is_missing",
    "services",
    "created_at",
    "updated_at",
]


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    """The catalog is the one source of what its specs say: a catalog challenge
    shows those fields read-only with its spec's path, and only its operational
    fields are edited here. A challenge made in the admin is edited in full."""

    form = ChallengeForm
    list_display = [
        "name",
        "category",
        "value",
        "type",
        "state",
        "question_count",
        "requirement_shown",
        "problems",
        "source",
        "updated_at",
    ]
    list_filter = ["state", ProblemFilter, "category", "type", "locked_visibility"]
    search_fields = ["name", "identity", "category", "author"]
    actions = ["make_visible", "make_hidden"]
    change_list_template = "admin/challenges/challenge/change_list.html"
    # The admin swaps in its own textarea for text fields unless told otherwise.
    formfield_overrides = {RequirementField: {"widget": RequirementWidget}}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_questions=Count("questions"))

    def get_fieldsets(self, request: HttpRequest, obj=None):
        status = ("Status", {"fields": SYSTEM_FIELDS, "classes": ["collapse"]})
        if obj is None or not obj.from_catalog:
            return [(None, {"fields": [*SPEC_FIELDS, *OPERATIONAL]}), status]
        return [
            (
                "From the catalog",
                {
                    "fields": SPEC_FIELDS,
                    "description": format_html(
                        "These fields come from <code>{}</code> in the catalog "
                        "(<code>{}</code>). Edit the spec there and rescan: the "
                        "next rescan would undo an edit made here.",
                        obj.spec_path,
                        settings.CATALOG_DIR,
                    ),
                },
            ),
            (
                "Running the event",
                {
                    "fields": OPERATIONAL,
                    "description": "Yours to change: rescans keep these, and "
                    "every change is in the audit log.",
                },
            ),
            status,
        ]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if obj is not None and obj.from_catalog:
            return [*SYSTEM_FIELDS, *SPEC_FIELDS]
        return SYSTEM_FIELDS

    def get_inlines(self, request: HttpRequest, obj=None) -> list:
        if obj is not None and obj.from_catalog:
            return [CatalogQuestionInline, CatalogHintInline, CatalogFileInline]
        return [QuestionInline, HintInline, FileInline]

    @admin.display(description="spec file")
    def spec_file(self, challenge: Challenge) -> str:
        return challenge.spec_path or "none: made in the admin"

    @admin.display(description="source")
    def source(self, challenge: Challenge) -> str:
        return "catalog" if challenge.from_catalog else "admin"

    @admin.display(description="questions", ordering="_questions")
    def question_count(self, challenge: Challenge) -> int:
        return challenge._questions

    @admin.display(description="requirement")
    def requirement_shown(self, challenge: Challenge) -> str:
        if not challenge.requirement.strip():
            return "none"
        try:
            return explain_requirement(challenge.requirement)
        except LispIshError:
            return challenge.requirement

    @admin.display(description="problems")
    def problems(self, challenge: Challenge) -> str:
        flags = []
        if challenge.spec_error:
            flags.append("⚠ spec rejected")
        if challenge.requirement_error:
            flags.append("⚠ requirement error")
        flags += [
            f"⚠ {p}"
            for p in KnownChallenges.current().problems(challenge_refs(challenge))
        ]
        if challenge.is_missing:
            flags.append("folder missing")
        return ", ".join(flags) or "—"

    def save_model(self, request, obj, form, change) -> None:
        changes = {
            f: (form.initial.get(f), form.cleaned_data.get(f))
            for f in form.changed_data
        }
        challenge_admin_save(challenge=obj, changes=changes, actor=request.user)
        for problem in KnownChallenges.current().problems(challenge_refs(obj)):
            self.message_user(
                request,
                f"{obj} is locked for everyone until this is fixed: {problem}.",
                messages.WARNING,
            )

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not ChallengeFile:
            return super().save_formset(request, form, formset, change)
        for handout in formset.save(commit=False):
            handout.save()  # stores the upload
            challenge_file_describe(handout=handout)
        for handout in formset.deleted_objects:
            handout.delete()

    @admin.action(description="Make visible")
    def make_visible(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = challenge_set_state(
            challenges=queryset, state="visible", actor=request.user
        )
        self.message_user(request, f"{count} challenge(s) made visible.")

    @admin.action(description="Hide")
    def make_hidden(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = challenge_set_state(
            challenges=queryset, state="hidden", actor=request.user
        )
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
