"""Websocket routes of live games (the consumers arrive with live play)."""
websocket_urlpatterns: list = []
