"""ASGI entry point: HTTP through Django (tangram images answered before it, from memory:
frontend/tangram_images.py), websockets through Channels; the game clock starts with the server
(games/clock.py)."""
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "respect_site.settings")
# Initialise Django before importing anything that touches models.
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.WEB_SWITCH_INTERVAL_US:  # web processes only: see the setting
    sys.setswitchinterval(settings.WEB_SWITCH_INTERVAL_US / 1_000_000)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from frontend.tangram_images import TangramImages  # noqa: E402
from games.clock import ServerClock, start_with_daphne  # noqa: E402
from games.consumers import database_call  # noqa: E402
from respect_site.origin import SameOriginValidator  # noqa: E402
from respect_site.routing import websocket_urlpatterns  # noqa: E402

application = ServerClock(
    ProtocolTypeRouter(
        {
            # Tangram images from memory on the event loop, everything else through Django.
            "http": TangramImages(django_asgi_app, database_call),
            "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
start_with_daphne()  # Daphne (runserver, the daphne command) has no lifespan: hook its reactor
