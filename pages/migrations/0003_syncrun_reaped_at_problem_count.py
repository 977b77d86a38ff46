from django.db import migrations, models
from django.db.models import F

# Before this field, a reaped run was recognised by its message.
STOPPED_UNEXPECTEDLY = (
    "The sync stopped unexpectedly (its process ended). Progress is saved: resume to continue."
)


def mark_reaped_runs(apps, schema_editor):
    SyncRun = apps.get_model("pages", "SyncRun")
    SyncRun.objects.filter(status="interrupted", error=STOPPED_UNEXPECTEDLY).update(
        reaped_at=F("finished_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("pages", "0002_shared_call_slot_and_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="reaped_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="problem_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(mark_reaped_runs, migrations.RunPython.noop),
    ]
