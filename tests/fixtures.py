"""Small files in the external formats, built from our own generated figures.

The KILOGRAM sample in ../shared is research-licensed and must never be copied into the project,
so tests write their own SVGs and game JSONs in the same formats.
"""
import json
from pathlib import Path

from games.domain.tangrams import generate_figure


def kilogram_svg(seed: int, *, transform_first: bool = False) -> str:
    figure = generate_figure(seed)
    polygons = []
    for i, piece in enumerate(figure.pieces, start=1):
        points = " ".join(f"{x * 144:.3f},{y * 144:.3f}" for x, y in piece)
        transform = ' transform="translate(10, 5)"' if transform_first and i == 1 else ""
        polygons.append(
            f'<polygon fill="lightgray" id="{i}" points="{points}" stroke="white" strokewidth="1"{transform}/>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<svg baseProfile="full" height="100%" version="1.1" viewBox="0 0 144.0 144.0" width="100%" '
        'xmlns="http://www.w3.org/2000/svg"><defs/>' + "".join(polygons) + "</svg>"
    )


def write_kilogram_folder(folder: Path, names: list[str], *, seed: int = 100) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        (folder / f"{name}.svg").write_text(kilogram_svg(seed + i))
    return folder


def original_config(images: list[str], num_targets: int, speaker: list[int], listener: list[int]) -> str:
    """A game config in the original study's JSON format (``order[r][i]`` = screen position)."""
    files = [f"{name}.svg" for name in images]
    return json.dumps(
        {
            "params": {"p_similarity": 1, "num_random": 0},
            "blocks": [
                {
                    "base": {name: [name] for name in images},
                    "img": files,
                    "tgt": [files[:num_targets]],
                    "order": [speaker, listener],
                    "roles": [0, 1],
                }
            ],
        }
    )
