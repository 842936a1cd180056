"""Read-side queries of the games app."""
from collections import Counter

from django.db.models import Count

from games.domain.game_configs import ContextSpec
from games.models import GameConfig, Interaction, Round, Tangram


def context_spec_of(config: GameConfig) -> ContextSpec:
    """The pure view of a stored config (images in list order, both screen orders)."""
    rows = sorted(config.context_images.all(), key=lambda r: r.index)
    images = tuple(r.tangram.name for r in rows)
    return ContextSpec(
        images=images,
        num_targets=config.num_targets,
        speaker_order=tuple(r.tangram.name for r in sorted(rows, key=lambda r: r.speaker_position)),
        listener_order=tuple(r.tangram.name for r in sorted(rows, key=lambda r: r.listener_position)),
    )


def get_context_spec(config_id: int) -> ContextSpec:
    config = GameConfig.objects.prefetch_related("context_images__tangram").get(pk=config_id)
    return context_spec_of(config)


def library_overview() -> dict:
    """Counts for the status page: tangrams and configs per split, rounds per status."""
    tangrams = Counter(dict(Tangram.objects.values_list("split").annotate(n=Count("id")).values_list("split", "n")))
    configs = Counter(
        dict(GameConfig.objects.values_list("split").annotate(n=Count("id")).values_list("split", "n"))
    )
    rounds = Counter(dict(Round.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")))
    return {
        "tangrams": dict(tangrams),
        "tangram_total": sum(tangrams.values()),
        "configs": dict(configs),
        "config_total": sum(configs.values()),
        "rounds": dict(rounds),
        "interactions": Interaction.objects.count(),
    }
