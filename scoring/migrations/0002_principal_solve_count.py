from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_solves(apps, schema_editor):
    """Fill the new counter from the solves (one UPDATE, any size)."""
    Principal = apps.get_model("scoring", "Principal")
    Solve = apps.get_model("scoring", "Solve")
    solves = (
        Solve.objects.filter(principal=OuterRef("pk"))
        .values("principal")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Principal.objects.update(solve_count=Coalesce(Subquery(solves), 0))


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="principal",
            name="solve_count",
            field=models.IntegerField(default=0),
        ),
        migrations.RunPython(count_solves, migrations.RunPython.noop, elidable=True),
    ]
