"""Read-side queries of the training app."""
from __future__ import annotations

from collections.abc import Sequence

from games.models import Tangram


def tangram_pngs(names: Sequence[str]) -> dict[str, bytes]:
    """The model-side PNG (224 px RGB) of each named tangram that exists; missing names are absent."""
    rows = Tangram.objects.filter(name__in=list(names)).values_list("name", "png")
    return {name: bytes(png) for name, png in rows}
