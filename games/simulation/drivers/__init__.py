"""Drivers: what moves simulated games on, each stepping one ``games.simulation.episode.Episode``.

* ``in_memory``: whole games without a database (pure).
* ``remote``: simulated participants using a running site over HTTP and its websocket (no Django).
* the driver through the game services (it touches models, so it is a service):
  ``games.services.simulation``.
* ``training.learning.simulated``: policies playing simulated speakers in lockstep batches.
"""
