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


# --- live games ----------------------------------------------------------------------------------------


def game_state_for(interaction_id: int, participant_id: int | None) -> dict:
    """What one player may see of a game, as sent over the websocket.

    The listener's view never contains the targets or any correctness information.
    """
    from django.urls import reverse
    from django.utils import timezone

    from games.services.play import LISTENER, SPEAKER, role_of, study_settings_of

    interaction = Interaction.objects.select_related("config").get(pk=interaction_id)
    role = role_of(interaction, participant_id)
    if role is None:
        raise PermissionError("not a player of this game")
    rows = list(interaction.config.context_images.select_related("tangram").all())
    order_key = (lambda r: r.speaker_position) if role == SPEAKER else (lambda r: r.listener_position)
    images = [
        {"id": r.tangram.name, "url": reverse("frontend:tangram-svg", args=[r.tangram.name]), "label": f"Figure {i + 1}"}
        for i, r in enumerate(sorted(rows, key=order_key))
    ]
    turns = list(interaction.turns.order_by("index").values("index", "utterance", "selection_after"))
    chat = [{"turn": t["index"], "text": t["utterance"]} for t in turns]
    if interaction.pending_utterance:
        chat.append({"turn": interaction.turn_count, "text": interaction.pending_utterance})
    committed = turns[-1]["selection_after"] if turns else []
    timing = study_settings_of(interaction).timing
    seconds_left = None
    if interaction.phase_deadline is not None:
        seconds_left = max(0.0, (interaction.phase_deadline - timezone.now()).total_seconds())
    phase = interaction.phase
    ended = interaction.status == Interaction.Status.ENDED
    state = {
        "interaction": interaction.pk,
        "version": interaction.version,
        "role": role,
        "partner": "human" if interaction.listener_kind == "human" else "model",
        "practice": interaction.purpose == Interaction.Purpose.PRACTICE,
        "turn": interaction.turn_count,
        "max_turns": 10,
        "phase": phase,
        "seconds_left": seconds_left,
        "phase_seconds": timing.speaker_seconds if phase == "speaker" else timing.listener_seconds,
        "images": images,
        "chat": chat,
        "can_send": role == SPEAKER and phase == "speaker" and not ended,
        "can_click": role == LISTENER and phase == "listener" and not ended,
        "outcome": None,
    }
    if role == SPEAKER:
        targets = sorted(r.tangram.name for r in rows if r.is_target)
        state["targets"] = targets
        # The speaker sees the submitted selection framed green/red while writing the next message.
        show = ended or (phase == "speaker" and interaction.turn_count > 0)
        state["selection"] = committed if show else []
        state["feedback"] = (
            {"correct": sorted(set(committed) & set(targets)), "wrong": sorted(set(committed) - set(targets))}
            if show else None
        )
    else:
        state["selection"] = interaction.live_selection if phase == "listener" else committed
    if ended:
        state["outcome"] = {
            "success": interaction.succeeded,
            "reason": interaction.end_reason,
            "next_url": reverse("play:instructions") if interaction.purpose == "practice" else reverse("play:survey"),
        }
    return state


def bot_request(interaction_id: int, turn: int):
    """Everything a listener policy may see for ``turn`` (targets only for the oracle)."""
    from training.policies.base import ActRequest, PastTurn

    interaction = Interaction.objects.select_related("config").get(pk=interaction_id)
    rows = sorted(interaction.config.context_images.select_related("tangram"), key=lambda r: r.listener_position)
    past = [
        PastTurn(
            selection_before=frozenset(t.selection_before),
            utterance=t.utterance,
            select=frozenset(t.selected),
            deselect=frozenset(t.deselected),
        )
        for t in interaction.turns.order_by("index")
    ]
    selection = frozenset(past[-1].selection_before | past[-1].select) - past[-1].deselect if past else frozenset()
    return ActRequest(
        interaction_id=interaction.pk,
        turn=turn,
        listener_order=tuple(r.tangram.name for r in rows),
        history=tuple(past),
        utterance=interaction.pending_utterance,
        selection=selection,
        targets=frozenset(r.tangram.name for r in rows if r.is_target) if interaction.listener_kind == "oracle" else None,
        listener_kind=interaction.listener_kind,
        checkpoint_id=interaction.checkpoint_id,
        utterance_sent_at=interaction.phase_started_at,
        min_delay_seconds=study_min_delay(interaction),
    )


def study_min_delay(interaction: Interaction) -> float:
    from games.services.play import study_settings_of

    return study_settings_of(interaction).timing.bot_min_delay_seconds
