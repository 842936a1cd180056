"""Who may call what: staff (researchers) read everything; annotators only annotate.

Annotators are ``is_staff`` (they sign in to the admin's annotation pages), so "staff" here is the
feedback app's rule ``can_manage_campaigns``: active staff who are not in the ``annotator`` group, or
superusers. A participant's browser session holds no user and is anonymous to the API.
"""
from rest_framework.permissions import BasePermission

from feedback.selectors import can_annotate, can_manage_campaigns


class IsResearcher(BasePermission):
    message = "Staff only: this endpoint is for researchers (annotators may only use the annotation endpoints)."

    def has_permission(self, request, view) -> bool:
        return can_manage_campaigns(request.user)


class IsAnnotatorOrResearcher(BasePermission):
    message = "Annotators and staff only."

    def has_permission(self, request, view) -> bool:
        return can_annotate(request.user)
