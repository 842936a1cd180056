"""Fixtures of the simulation tests: generated figures and contexts (pure, no database)."""
import random

import pytest

from games.domain.tangrams import generate_figures
from games.simulation.agents.speaker import SpeakerContext

FIGURE_COUNT = 120


@pytest.fixture(scope="session")
def figures():
    """120 generated figures by name (fig-000 ...)."""
    return {f"fig-{i:03d}": fig for i, fig in enumerate(generate_figures(FIGURE_COUNT, 5))}


def make_context(figures, seed: int, *, targets: int | None = None, descriptions=None) -> SpeakerContext:
    rng = random.Random(seed)
    images = rng.sample(sorted(figures), 10)
    k = targets or rng.choice((3, 4, 5))
    chosen = frozenset(images[:k])
    rng.shuffle(images)  # the speaker's screen order
    return SpeakerContext(tuple(images), chosen, figures, descriptions)


@pytest.fixture(scope="session")
def contexts(figures):
    """200 generated contexts (10 images, 3-5 targets, shuffled speaker order)."""
    return [make_context(figures, seed) for seed in range(200)]
