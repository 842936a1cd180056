"""Websocket routes of all apps, gathered in one place for asgi.py."""
from games.routing import websocket_urlpatterns as games_websockets

websocket_urlpatterns = [*games_websockets]
