"""Thin views: read through selectors, render."""
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from games.models import Split, Tangram
from games.selectors import library_overview

GALLERY_PAGE_SIZE = 60


@require_GET
def home(request):
    return render(request, "frontend/home.html", {"overview": library_overview()})


@require_GET
def tangram_gallery(request):
    split = request.GET.get("split", "")
    tangrams = Tangram.objects.only("name", "split", "source").order_by("name")
    if split in Split.values:
        tangrams = tangrams.filter(split=split)
    else:
        split = ""
    page = Paginator(tangrams, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "frontend/gallery.html", {"page": page, "split": split, "splits": Split.values}
    )


# Figures never change once stored (names are never reused for other polygons), so browsers and
# proxies may cache them for a long time.
@require_GET
@cache_control(public=True, max_age=86400)
def tangram_svg(request, name: str):
    tangram = get_object_or_404(Tangram.objects.only("svg"), name=name)
    return HttpResponse(tangram.svg, content_type="image/svg+xml")


@require_GET
@cache_control(public=True, max_age=86400)
def tangram_png(request, name: str):
    tangram = get_object_or_404(Tangram.objects.only("png"), name=name)
    return HttpResponse(bytes(tangram.png), content_type="image/png")


@require_GET
def healthz(request):
    """Liveness for load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
