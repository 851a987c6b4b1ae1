"""Organizer screens for scoring: principals (ban, hide, adjust, reset attempts),
submissions (never the raw flag), solves, the ledger, cheat records, decoys."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import escape, format_html

from audit.admin import ReadOnlyAdmin
from challenges.models import Question
from scoring.models import (
    CheatRecord,
    DecoyFlag,
    Principal,
    ScoreEvent,
    Solve,
    Submission,
)
from scoring.services import (
    decoy_create,
    decoy_delete,
    principal_set_banned,
    principal_set_hidden,
    question_attempts_reset,
    score_adjust,
    solve_delete,
)


def _principal_link(principal: Principal | None) -> str:
    if principal is None:
        return "—"
    url = reverse("admin:scoring_principal_change", args=[principal.pk])
    return format_html('<a href="{}">{}</a>', url, principal)


# Far beyond any real correction, far below what the score columns hold.
MAX_ADJUSTMENT = 1_000_000


class AdjustForm(forms.Form):
    delta = forms.IntegerField(
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text=f"Points to add (negative to take away), at most {MAX_ADJUSTMENT:,}"
        " either way.",
    )
    # Help texts are HTML: escaped, or <note> would vanish as a tag.
    note = forms.CharField(
        max_length=200, help_text=escape("Why; the ledger shows it as admin:<note>.")
    )


class BanForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Kept in the audit log.")


class ResetForm(forms.Form):
    question = forms.ModelChoiceField(
        queryset=Question.objects.select_related("challenge")
    )
    reason = forms.CharField(max_length=300)


@admin.register(Principal)
class PrincipalAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "competition",
        "score",
        "last_solve_at",
        "is_banned",
        "is_hidden",
    ]
    list_filter = ["competition", "kind", "is_banned", "is_hidden"]
    search_fields = ["team__name", "user__username"]
    list_select_related = ["team", "user", "competition"]
    readonly_fields = [
        "competition",
        "kind",
        "team",
        "user",
        "score",
        "ledger_total",
        "solve_count",
        "last_solve_at",
        "is_banned",
        "is_hidden",
        "created_at",
    ]
    actions = ["ban", "unban", "hide", "unhide"]
    change_form_template = "admin/scoring/principal/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).with_score()

    @admin.display(description="score", ordering="score")
    def score(self, principal: Principal) -> int:
        return principal.score

    def _toggle(self, request, queryset, **change) -> None:
        done = 0
        for principal in queryset:
            if "banned" in change:
                done += principal_set_banned(
                    principal=principal, actor=request.user, banned=change["banned"]
                )
            else:
                done += principal_set_hidden(
                    principal=principal, actor=request.user, hidden=change["hidden"]
                )
        self.message_user(request, f"{done} principal(s) changed.")

    @admin.action(description="Ban")
    def ban(self, request, queryset):
        self._toggle(request, queryset, banned=True)

    @admin.action(description="Unban")
    def unban(self, request, queryset):
        self._toggle(request, queryset, banned=False)

    @admin.action(description="Hide from the scoreboard")
    def hide(self, request, queryset):
        self._toggle(request, queryset, hidden=True)

    @admin.action(description="Show on the scoreboard")
    def unhide(self, request, queryset):
        self._toggle(request, queryset, hidden=False)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/adjust/",
                view(self.adjust_view),
                name="scoring_principal_adjust",
            ),
            path(
                "<int:pk>/ban/",
                view(self.ban_view),
                name="scoring_principal_ban",
            ),
            path(
                "<int:pk>/reset-attempts/",
                view(self.reset_view),
                name="scoring_principal_reset_attempts",
            ),
        ] + super().get_urls()

    def _form_view(self, request, pk, form_class, title, apply) -> HttpResponse:
        principal = get_object_or_404(Principal, pk=pk)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                message = apply(principal, form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return redirect("admin:scoring_principal_change", pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "principal": principal,
            "title": title,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/scoring/principal/form.html", context)

    def adjust_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        def apply(principal, data):
            score_adjust(
                principal=principal,
                delta=data["delta"],
                note=data["note"],
                actor=request.user,
            )
            return f"{data['delta']:+d} points for {principal} (admin:{data['note']})."

        return self._form_view(request, pk, AdjustForm, "Adjust the score", apply)

    def ban_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Ban, or unban a banned principal, with a reason (two steps: the form,
        then the change); the dashboard's cheat records link here."""
        banned = Principal.objects.filter(pk=pk, is_banned=True).exists()

        def apply(principal, data):
            principal_set_banned(
                principal=principal,
                banned=not banned,
                actor=request.user,
                reason=data["reason"],
            )
            return f"{principal} {'unbanned' if banned else 'banned'}."

        title = "Lift the ban" if banned else "Ban"
        return self._form_view(request, pk, BanForm, title, apply)

    def reset_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        def apply(principal, data):
            question_attempts_reset(
                principal=principal,
                question=data["question"],
                admin=request.user,
                reason=data["reason"],
            )
            return f"Wrong attempts of {principal} on {data['question']} reset."

        return self._form_view(request, pk, ResetForm, "Reset wrong attempts", apply)


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "principal_link",
        "user",
        "question",
        "result",
        "points",
        "ip",
        "short_hash",
    ]
    list_filter = ["result", "question__challenge__category", "principal__competition"]
    search_fields = [
        "principal__team__name",
        "principal__user__username",
        "user__username",
        "question__challenge__name",
        "ip",
        "flag_hash",
    ]
    list_select_related = [
        "principal__team",
        "principal__user",
        "user",
        "question__challenge",
    ]
    date_hierarchy = "created_at"

    @admin.display(description="principal")
    def principal_link(self, submission: Submission) -> str:
        return _principal_link(submission.principal)

    @admin.display(description="flag SHA-256")
    def short_hash(self, submission: Submission) -> str:
        return submission.flag_hash[:12] + "…"


class SolveDeleteForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Recorded in the audit log.")


@admin.register(Solve)
class SolveAdmin(ReadOnlyAdmin):
    actions = ["remove_solves"]

    @admin.action(description="Remove the selected solves (reverses their points)")
    def remove_solves(self, request: HttpRequest, queryset: QuerySet):
        """Two steps: confirm with a reason, then reverse each solve in the ledger."""
        form = SolveDeleteForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            total = sum(
                solve_delete(
                    solve=solve, actor=request.user, reason=form.cleaned_data["reason"]
                )
                for solve in queryset.select_related("principal", "question")
            )
            self.message_user(
                request,
                f"Removed {queryset.count()} solve(s); {total} points taken back.",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "solves": queryset.select_related(
                "principal__team", "principal__user", "question__challenge"
            ),
            "title": "Remove solves",
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/scoring/solve/remove.html", context)

    list_display = ["created_at", "principal", "question", "user"]
    list_filter = ["principal__competition", "question__challenge__category"]
    search_fields = [
        "principal__team__name",
        "principal__user__username",
        "question__challenge__name",
    ]
    list_select_related = [
        "principal__team",
        "principal__user",
        "user",
        "question__challenge",
    ]
    date_hierarchy = "created_at"


@admin.register(ScoreEvent)
class ScoreEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "principal",
        "delta",
        "reason",
        "note",
        "question",
        "actor",
    ]
    list_filter = ["reason", "principal__competition"]
    search_fields = ["principal__team__name", "principal__user__username", "note"]
    list_select_related = [
        "principal__team",
        "principal__user",
        "question__challenge",
        "actor",
    ]
    date_hierarchy = "created_at"


@admin.register(CheatRecord)
class CheatRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "kind",
        "submitter_link",
        "owner_link",
        "question",
        "submission",
    ]
    list_filter = ["kind", "submitter__competition"]
    search_fields = [
        "submitter__team__name",
        "submitter__user__username",
        "owner__team__name",
        "owner__user__username",
    ]
    list_select_related = [
        "submitter__team",
        "submitter__user",
        "owner__team",
        "owner__user",
        "question__challenge",
        "submission",
    ]

    @admin.display(description="submitter")
    def submitter_link(self, cheat: CheatRecord) -> str:
        return _principal_link(cheat.submitter)

    @admin.display(description="flag owner")
    def owner_link(self, cheat: CheatRecord) -> str:
        return _principal_link(cheat.owner)


class DecoyForm(forms.ModelForm):
    class Meta:
        model = DecoyFlag
        fields = ["competition", "value", "where"]


@admin.register(DecoyFlag)
class DecoyFlagAdmin(admin.ModelAdmin):
    form = DecoyForm
    list_display = ["value", "where", "competition", "hit_count", "created_at"]
    list_filter = ["competition"]
    search_fields = ["value", "where"]

    @admin.display(description="hits")
    def hit_count(self, decoy: DecoyFlag) -> int:
        return decoy.hits.count()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("hits")

    def get_readonly_fields(self, request, obj=None):
        # The value is what its hash was made from: plant a new decoy instead.
        return ["value"] if obj else []

    def delete_model(self, request, obj) -> None:
        decoy_delete(decoys=DecoyFlag.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        decoy_delete(decoys=queryset)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        decoy = decoy_create(
            competition=obj.competition, value=obj.value, where=obj.where
        )
        obj.pk = decoy.pk
