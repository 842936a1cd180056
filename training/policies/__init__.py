"""Listener policies behind one interface (``base.Policy``)."""
