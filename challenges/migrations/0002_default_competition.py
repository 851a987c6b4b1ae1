from django.db import migrations


def create_default(apps, schema_editor):
    Competition = apps.get_model("challenges", "Competition")
    if not Competition.objects.filter(is_default=True).exists():
        Competition.objects.create(name="Main event", slug="main", is_default=True,
                                   play_mode="both")


class Migration(migrations.Migration):
    dependencies = [("challenges", "0001_initial")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
