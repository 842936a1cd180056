"""Keeps annotators on the annotation pages of the admin.

A member of the ``annotator`` group (``feedback.selectors.is_annotator``) who opens any other admin
page gets 403; the admin index sends them to the campaign list. Login, logout and their own password
change stay open. Everyone else passes untouched.
"""
from django.http import HttpResponseForbidden, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from feedback.selectors import is_annotator

ANNOTATOR_PAGES = ("admin:feedback_annotation_campaigns",)
OPEN_PAGES = ("admin:login", "admin:logout", "admin:password_change", "admin:password_change_done", "admin:jsi18n")


class AnnotatorAdminGate:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            admin_root = reverse("admin:index")
        except NoReverseMatch:  # no admin mounted
            return self.get_response(request)
        path = request.path
        if path.startswith(admin_root) and getattr(request, "user", None) is not None and is_annotator(request.user):
            pages = reverse(ANNOTATOR_PAGES[0])
            if path == admin_root:
                return HttpResponseRedirect(pages)
            if not (path.startswith(pages) or path in {reverse(name) for name in OPEN_PAGES}):
                return HttpResponseForbidden("Annotators see only the annotation pages.")
        return self.get_response(request)
