"""Which pages may open the site's websockets: its own, exactly.

Channels' ``AllowedHostsOriginValidator`` compares only the Origin's host name with
``ALLOWED_HOSTS``, so a page served from another port or scheme of an allowed host
(``http://127.0.0.1:9999``) passes. Here the Origin must be the site's own origin: the scheme, host
and port the browser used for the websocket request itself (its ``Host`` header, which must be in
``ALLOWED_HOSTS``; the scheme is https when the request came over TLS, per
``SECURE_PROXY_SSL_HEADER`` behind a proxy), or one of ``CSRF_TRUSTED_ORIGINS`` exactly. Anything
else is denied before the handshake completes.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""


def request_scheme(scope) -> str:
    """"https" when the websocket request arrived over TLS (directly, or per the proxy's header)."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        forwarded = _header(scope, header)
        if forwarded:
            return "https" if forwarded.split(",")[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def origin_allowed(scope) -> bool:
    origin = _header(scope, b"origin")
    if not origin or origin == "null":
        return False
    parsed = urlsplit(origin)
    try:
        origin_port = parsed.port or DEFAULT_PORTS.get(parsed.scheme)
    except ValueError:  # a malformed port
        return False
    if parsed.scheme not in DEFAULT_PORTS or not parsed.hostname or parsed.path not in ("", "/"):
        return False
    trusted = {o.rstrip("/").lower() for o in settings.CSRF_TRUSTED_ORIGINS}
    if origin.rstrip("/").lower() in trusted:
        return True
    domain, port = split_domain_port(_header(scope, b"host"))
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = request_scheme(scope)
    host_port = int(port) if port else DEFAULT_PORTS[scheme]
    return (parsed.scheme, parsed.hostname.lower().strip("[]"), origin_port) == (scheme, domain.strip("[]"), host_port)


class SameOriginValidator:
    """ASGI middleware: deny websockets whose Origin is not the site's own (see the module)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
