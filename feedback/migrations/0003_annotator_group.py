"""The ``annotator`` group: its members (staff accounts) see only the annotation pages of the admin.
It holds no model permissions; access is decided by ``feedback.selectors.is_annotator``."""
from django.db import migrations

GROUP = "annotator"


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=GROUP)


def remove_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("feedback", "0002_annotation"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
