"""The staff dashboard: the study report's tables and plots (thin: the report service does the work).

It shows the report last written into ``DATA_DIR/reports/dashboard`` (by the Regenerate button here,
or by ``manage.py report`` pointed at that folder)."""
from functools import wraps

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from training.services.report import ReportError, ReportOptions, dashboard_folder, read_report, report_file, write_report


def staff_only(view):
    """Anonymous visitors are sent to the login page; signed-in people who are not staff get 403."""
    guarded = staff_member_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.user.is_authenticated and not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("staff only")
        return guarded(request, *args, **kwargs)

    return wrapped


@staff_only
@require_http_methods(["GET", "POST"])
def dashboard(request):
    folder = dashboard_folder()
    if request.method == "POST":
        try:
            write_report(folder, ReportOptions())
        except ReportError as exc:
            messages.error(request, f"The report was not written: {exc}")
        else:
            messages.success(request, "The report was regenerated.")
        return redirect("frontend:dashboard")
    return render(request, "frontend/dashboard.html", {"report": read_report(folder), "folder": folder})


@staff_only
@require_GET
def dashboard_file(request, name: str):
    path = report_file(dashboard_folder(), name)
    if path is None:
        raise Http404("no such report file")
    content_type = "image/png" if path.suffix == ".png" else "text/csv"
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, no-cache"
    return response
