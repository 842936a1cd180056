"""Derived seeds (pure): the one way the generators and the simulation drivers derive per-item seeds."""
from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A seed from several parts (stable across runs and platforms, unlike ``hash``)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")
