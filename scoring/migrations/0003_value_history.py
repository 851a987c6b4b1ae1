"""Dynamic values move without per-solver rows: a tally per (competition,
question) with its value, a value history, and the points each solve was
credited with. Existing ledgers keep their per-solver decay events: each solve's
points become what its events hold, so nobody's score moves."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Count, Sum

from scoring.values import dynamic_value


def _value(challenge, solves):
    if challenge.type != "dynamic" or challenge.decay_initial is None:
        return None
    return dynamic_value(
        initial=challenge.decay_initial,
        decay=challenge.decay_decay or 0,
        minimum=challenge.decay_minimum or 0,
        function=challenge.decay_function or "logarithmic",
        solves=solves,
    )


def fill(apps, schema_editor):
    Solve = apps.get_model("scoring", "Solve")
    ScoreEvent = apps.get_model("scoring", "ScoreEvent")
    Question = apps.get_model("challenges", "Question")
    QuestionTally = apps.get_model("scoring", "QuestionTally")
    ValueChange = apps.get_model("scoring", "ValueChange")
    held = {
        (p, q): total
        for p, q, total in ScoreEvent.objects.filter(
            reason__in=["solve", "decay"], question__isnull=False
        )
        .values("principal", "question")
        .annotate(total=Sum("delta"))
        .values_list("principal", "question", "total")
    }
    for solve in Solve.objects.all().iterator():
        points = held.get((solve.principal_id, solve.question_id), 0)
        if points:
            Solve.objects.filter(pk=solve.pk).update(points=points)
    now = django.utils.timezone.now()
    counts = (
        Solve.objects.filter(principal__is_hidden=False, principal__is_banned=False)
        .values("principal__competition", "question")
        .annotate(n=Count("pk"))
        .values_list("principal__competition", "question", "n")
    )
    public = {(c, q): n for c, q, n in counts}
    pairs = set(
        Solve.objects.values_list("principal__competition", "question").distinct()
    )
    for competition_id, question_id in sorted(pairs):
        question = Question.objects.select_related("challenge").get(pk=question_id)
        solves = public.get((competition_id, question_id), 0)
        value = _value(question.challenge, solves)
        QuestionTally.objects.create(
            competition_id=competition_id,
            question_id=question_id,
            public_solves=solves,
            value=value,
            updated_at=now,
        )
        if value is not None:
            ValueChange.objects.create(
                competition_id=competition_id,
                question_id=question_id,
                value=value,
                public_solves=solves,
                created_at=now,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("challenges", "0002_default_competition"),
        ("scoring", "0002_principal_solve_count"),
    ]

    operations = [
        migrations.RenameField(
            model_name="principal", old_name="score_total", new_name="ledger_total"
        ),
        migrations.AddField(
            model_name="solve",
            name="points",
            field=models.IntegerField(default=0),
        ),
        migrations.CreateModel(
            name="QuestionTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("public_solves", models.PositiveIntegerField(default=0)),
                ("value", models.IntegerField(blank=True, null=True)),
                (
                    "updated_at",
                    models.DateTimeField(default=django.utils.timezone.now),
                ),
                (
                    "competition",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="challenges.competition",
                    ),
                ),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tallies",
                        to="challenges.question",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("competition", "question"), name="scoring_one_tally"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ValueChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("value", models.IntegerField()),
                ("public_solves", models.PositiveIntegerField()),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now),
                ),
                (
                    "competition",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="challenges.competition",
                    ),
                ),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="challenges.question",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["competition", "question", "created_at"],
                        name="scoring_val_competi_7f227d_idx",
                    )
                ],
            },
        ),
        migrations.AddIndex(
            model_name="solve",
            index=models.Index(
                fields=["question", "principal", "points"],
                name="scoring_sol_questio_890a56_idx",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
