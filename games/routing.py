"""Websocket routes of live games."""
from django.urls import path

from games.consumers import GameConsumer

websocket_urlpatterns = [
    path("ws/play/<int:interaction_id>/", GameConsumer.as_asgi()),
]
