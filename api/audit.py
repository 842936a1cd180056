"""The audit log is Django admin's ``LogEntry`` (the admin writes it for its own changes): every API call
that changes data adds one, in the same transaction as the change."""
from django.contrib.admin.models import LogEntry
from django.db import models


def record(user, obj: models.Model, action_flag: int, message: str) -> LogEntry:
    """Log that ``user`` did ``message`` to ``obj`` (ADDITION, CHANGE or DELETION), now."""
    return LogEntry.objects.log_actions(
        user.pk, type(obj)._default_manager.filter(pk=obj.pk), action_flag, change_message=message,
        single_object=True,
    )
