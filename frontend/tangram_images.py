"""Tangram images over HTTP, and a fast way to serve them in front of Django.

A game page shows ten figures, so images are most of a participant's requests (twenty of about
thirty-five in a journey). Through Django each one costs a thread started for the request, a hop back
to the event loop and out again for the view (Django adapts the sync middleware stack), the session
and CSRF machinery and a database query; under load those thread starts hold up the event loop that
also carries the live games' websockets (docs/benchmarks.md, fix 10). Figures never change once stored
(a name is never reused for other polygons), so ``TangramImages`` keeps each figure served in the web
process for as long as browsers are told to keep it, and answers from memory on the event loop.
Anything it does not serve from memory or the database (other paths and methods, unknown names)
goes to Django, which answers as it always has.
"""
import hashlib
import time
from collections import OrderedDict

from django.urls import Resolver404, resolve, reverse
from django.utils.http import parse_etags

from games.models import Tangram

# What each image URL serves: the Tangram field and its content type.
IMAGE_KINDS = {"tangram-svg": ("svg", "image/svg+xml"), "tangram-png": ("png", "image/png")}
# How long browsers, proxies and the web process may keep a figure (a day).
MAX_AGE_SECONDS = 86400
CACHE_CONTROL = f"public, max-age={MAX_AGE_SECONDS}"
# Figures kept per web process: a few KB each (a generated SVG ~0.75 KB, a PNG ~4 KB): 5,000 take ~25 MB at most.
MAX_CACHED_IMAGES = 5000


def image_bytes(name: str, field: str) -> bytes | None:
    """The stored rendering ``field`` ("svg" or "png") of the tangram ``name``, or None."""
    value = Tangram.objects.filter(name=name).values_list(field, flat=True).first()
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else bytes(value)


def entity_tag(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"'


def not_modified(if_none_match: str, etag: str) -> bool:
    """Whether a request's If-None-Match names ``etag`` (or is ``*``), compared weakly as RFC 9110 says."""
    tags = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
    return "*" in tags or etag in tags


class TangramImages:
    """ASGI middleware: GET and HEAD of a tangram image answered on the event loop, from a per-process
    memory of the figures served so far; a figure not yet in memory is read once through
    ``database_call`` (off the event loop). Everything else is passed to ``app``."""

    def __init__(self, app, database_call, *, max_images: int = MAX_CACHED_IMAGES, clock=time.monotonic):
        self.app = app
        self.database_call = database_call
        self.max_images = max_images
        self.clock = clock
        self.prefix = reverse("frontend:tangram-gallery")
        self.images: OrderedDict[str, tuple[float, bytes, str, str]] = OrderedDict()

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] not in ("GET", "HEAD")
                or not scope["path"].startswith(self.prefix)):
            return await self.app(scope, receive, send)
        image = await self._image(scope["path"])
        if image is None:  # not an image URL, or no such figure: Django answers
            return await self.app(scope, receive, send)
        content, content_type, etag = image
        headers = [(b"cache-control", CACHE_CONTROL.encode()), (b"etag", etag.encode()),
                   (b"x-content-type-options", b"nosniff")]
        if_none_match = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"if-none-match"), "")
        if if_none_match and not_modified(if_none_match, etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [(b"content-type", content_type.encode()), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else content})

    async def _image(self, path: str) -> tuple[bytes, str, str] | None:
        now = self.clock()
        kept = self.images.get(path)
        if kept is not None and kept[0] > now:
            self.images.move_to_end(path)
            return kept[1:]
        try:
            match = resolve(path)
        except Resolver404:
            return None
        if match.url_name not in IMAGE_KINDS or match.namespace != "frontend":
            return None
        field, content_type = IMAGE_KINDS[match.url_name]
        content = await self.database_call(image_bytes)(match.kwargs["name"], field)
        if content is None:
            return None
        self.images[path] = (now + MAX_AGE_SECONDS, content, content_type, entity_tag(content))
        self.images.move_to_end(path)
        while len(self.images) > self.max_images:
            self.images.popitem(last=False)
        return self.images[path][1:]
