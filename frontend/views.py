"""Thin views: read through selectors, render."""
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from frontend.tangram_images import IMAGE_KINDS, MAX_AGE_SECONDS, entity_tag, image_bytes
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
# proxies may cache them for a long time. In the ASGI server these URLs are answered before Django by
# frontend.tangram_images.TangramImages (same bytes and headers); these views serve the rest.
def _tangram_image(name: str, url_name: str) -> HttpResponse:
    field, content_type = IMAGE_KINDS[url_name]
    content = image_bytes(name, field)
    if content is None:
        raise Http404("No such tangram.")
    response = HttpResponse(content, content_type=content_type)
    response["ETag"] = entity_tag(content)
    return response


@require_GET
@cache_control(public=True, max_age=MAX_AGE_SECONDS)
def tangram_svg(request, name: str):
    return _tangram_image(name, "tangram-svg")


@require_GET
@cache_control(public=True, max_age=MAX_AGE_SECONDS)
def tangram_png(request, name: str):
    return _tangram_image(name, "tangram-png")


@require_GET
def healthz(request):
    """Liveness for load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
