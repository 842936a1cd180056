"""Read-side queries of the games app (selectors import no services)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q

from games.domain import rules
from games.domain.game_configs import ContextSpec
from games.models import ContextImage, Deployment, GameConfig, Interaction, Round, SpeakerIntent, System, Tangram


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

    SPEAKER, LISTENER = Interaction.Role.SPEAKER, Interaction.Role.LISTENER
    interaction = Interaction.objects.get(pk=interaction_id)
    role = interaction.role_of(participant_id)
    if role is None:
        raise PermissionError("not a player of this game")
    # Names and places only: a tangram row also holds its SVG and PNG, which a state never needs (the
    # page loads each image once by URL), and this runs for every state every player is sent.
    position = "speaker_position" if role == SPEAKER else "listener_position"
    rows = list(
        ContextImage.objects.filter(config_id=interaction.config_id)
        .order_by(position)
        .values_list("tangram__name", "is_target")
    )
    images = [
        {"id": name, "url": reverse("frontend:tangram-svg", args=[name]), "label": f"Figure {i + 1}"}
        for i, (name, _) in enumerate(rows)
    ]
    turns = list(interaction.turns.order_by("index").values("index", "utterance", "selection_after"))
    chat = [{"turn": t["index"], "text": t["utterance"]} for t in turns]
    if interaction.pending_utterance:
        chat.append({"turn": interaction.turn_count, "text": interaction.pending_utterance})
    committed = turns[-1]["selection_after"] if turns else []
    timing = interaction.study_settings.timing
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
        targets = sorted(name for name, is_target in rows if is_target)
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
    # When a bot listener's answer is due to be shown: the speaker's socket delivers a held answer
    # itself at that moment (games.consumers).
    due = bot_answer_shown_at(interaction)
    state["bot_answer_in"] = None if due is None else max(0.0, (due - timezone.now()).total_seconds())
    if ended:
        state["outcome"] = {
            "success": interaction.succeeded,
            "reason": interaction.end_reason,
            "next_url": reverse("play:instructions") if interaction.purpose == "practice" else reverse("play:survey"),
        }
    return state


def bot_answer_shown_at(interaction: Interaction) -> datetime | None:
    """When a bot listener's answer to the pending message may be shown: the message's time plus the
    game's minimum display delay (``bot_min_delay_seconds``), so that a model's turn does not feel
    instantaneous. None outside a bot's turn or with no delay."""
    delay = interaction.study_settings.timing.bot_min_delay_seconds
    bot_turn_open = (
        interaction.status == Interaction.Status.PLAYING
        and interaction.phase == Interaction.Phase.LISTENER
        and interaction.listener_kind != "human"
    )
    if not bot_turn_open or delay <= 0 or interaction.phase_started_at is None:
        return None
    return interaction.phase_started_at + timedelta(seconds=delay)


def open_model_checkpoint_ids() -> list[int]:
    """The checkpoints that the open rounds' model deployments play with (inference warm-up)."""
    return list(
        Deployment.objects.filter(
            round__status=Round.Status.OPEN, system__listener_kind="model", checkpoint__isnull=False
        ).values_list("checkpoint_id", flat=True).distinct().order_by("checkpoint_id")
    )


def game_state_of(interaction: Interaction) -> rules.GameState:
    """A game's progression so far: ``GameState`` replayed from its recorded turns (their history
    included). The live engine steps it to decide each turn."""
    images = list(
        ContextImage.objects.filter(config_id=interaction.config_id).values_list("tangram__name", "is_target")
    )
    turns = interaction.turns.order_by("index").values_list("utterance", "selected", "deselected")
    return rules.GameState.replay(
        targets=[name for name, is_target in images if is_target],
        context=[name for name, _ in images],
        turns=((utterance, rules.Action(select=selected, deselect=deselected)) for utterance, selected, deselected in turns),
    )


@dataclass(frozen=True)
class BotTurn:
    """What a bot listener may be told about the turn a game is at (read by the bot backend)."""

    interaction_id: int
    state: rules.GameState  # the game so far, history included
    listener_order: tuple[str, ...]  # the listener's screen order (a model letters A-J in it)
    targets: frozenset[str]  # only the oracle baseline may be given these
    utterance: str  # the speaker's message of this turn
    listener_kind: str
    checkpoint_id: int | None
    show_at: datetime | None  # when its answer may be shown (``bot_answer_shown_at``)
    system_hyperparameters: dict | None  # the deployed system's (None outside rounds)


def bot_turn(interaction_id: int) -> BotTurn:
    """The current turn of a bot game (Interaction.DoesNotExist for an unknown id)."""
    interaction = Interaction.objects.select_related("config", "deployment__system").get(pk=interaction_id)
    order = interaction.config.context_images.order_by("listener_position").values_list("tangram__name", flat=True)
    state = game_state_of(interaction)
    return BotTurn(
        interaction_id=interaction.pk,
        state=state,
        listener_order=tuple(order),
        targets=state.targets,
        utterance=interaction.pending_utterance,
        listener_kind=interaction.listener_kind,
        checkpoint_id=interaction.checkpoint_id,
        show_at=bot_answer_shown_at(interaction),
        system_hyperparameters=(
            interaction.deployment.system.hyperparameters if interaction.deployment_id is not None else None
        ),
    )


@dataclass(frozen=True)
class RecordedTurn:
    """What was logged about one decided turn besides the game itself."""

    id: int
    checkpoint_id: int | None  # the policy that acted (None for people and baselines)
    action_probability: float | None  # its probability of the action, or a sentinel (< 0)
    action_source: str


@dataclass(frozen=True)
class RecordedGame:
    """A recorded game replayed: its context and its ``GameState`` (``state.history`` holds every
    turn as the listener lived it, in order with ``turns``)."""

    interaction_id: int
    listener_kind: str
    context: ContextSpec
    state: rules.GameState
    turns: tuple[RecordedTurn, ...]
    succeeded: bool
    round_number: int | None  # the deployment's round (None outside rounds)


def recorded_games(interaction_ids: Iterable[int]) -> list[RecordedGame]:
    """The recorded games with these ids, in id order."""
    rows = (
        Interaction.objects.filter(pk__in=list(interaction_ids))
        .select_related("config", "deployment__round")
        .prefetch_related("config__context_images__tangram", "turns").order_by("pk")
    )
    games = []
    for interaction in rows:
        spec = context_spec_of(interaction.config)
        turns = sorted(interaction.turns.all(), key=lambda t: t.index)
        state = rules.GameState.replay(
            spec.targets, spec.images,
            ((t.utterance, rules.Action(select=t.selected, deselect=t.deselected)) for t in turns),
        )
        games.append(RecordedGame(
            interaction_id=interaction.pk, listener_kind=interaction.listener_kind, context=spec, state=state,
            turns=tuple(RecordedTurn(t.pk, t.checkpoint_id, t.action_probability, t.action_source) for t in turns),
            succeeded=interaction.succeeded,
            round_number=interaction.deployment.round.number if interaction.deployment_id else None,
        ))
    return games


def system_game_ids(system_id: int, up_to_round: int, *, first_round: int = 0) -> list[int]:
    """The ended study games of a system's own deployments in rounds ``first_round`` .. ``up_to_round``
    (all rounds <= ρ by default: D≤ρ), oldest first."""
    return list(
        Interaction.objects.filter(
            deployment__system_id=system_id, deployment__round__number__lte=up_to_round,
            deployment__round__number__gte=first_round,
            purpose=Interaction.Purpose.STUDY, status=Interaction.Status.ENDED, turn_count__gt=0,
        ).order_by("pk").values_list("pk", flat=True)
    )


def human_human_game_ids(up_to_round: int) -> list[int]:
    """The ended human–human study games (a person listening, not a model) of rounds <= ``up_to_round``,
    oldest first; seed games are not study games."""
    return list(
        Interaction.objects.filter(
            listener_kind="human", deployment__round__number__lte=up_to_round,
            purpose=Interaction.Purpose.STUDY, status=Interaction.Status.ENDED, turn_count__gt=0,
        ).order_by("pk").values_list("pk", flat=True)
    )


# --- simulation (ground truth and replay) -------------------------------------------------------------


def simulation_context(config_id: int) -> tuple[ContextSpec, dict[str, list]]:
    """A config's context and the polygons of its ten tangrams (name -> polygons JSON)."""
    config = GameConfig.objects.prefetch_related("context_images__tangram").get(pk=config_id)
    spec = context_spec_of(config)
    polygons = {row.tangram.name: row.tangram.polygons for row in config.context_images.all()}
    return spec, polygons


def committed_turns(interaction_id: int) -> list[dict]:
    """The recorded turns of a game, in order: utterance, selections before/after, toggles."""
    return list(
        Interaction.objects.get(pk=interaction_id).turns.order_by("index").values(
            "index", "utterance", "selection_before", "selected", "deselected", "selection_after", "action_source"
        )
    )


def game_outcomes(interaction_ids) -> dict[int, tuple[str, str, int]]:
    """(status, end reason, turn count) per interaction id."""
    rows = Interaction.objects.filter(pk__in=list(interaction_ids)).values_list("pk", "status", "end_reason", "turn_count")
    return {pk: (status, reason, turns) for pk, status, reason, turns in rows}


def speaker_intents_of(interaction_id: int) -> list[dict]:
    """The simulated speaker's ground truth per turn (empty for games of people)."""
    return list(
        SpeakerIntent.objects.filter(interaction_id=interaction_id).order_by("turn_index").values(
            "turn_index", "feedback", "previous_action_quality", "move", "target", "details"
        )
    )


def intent_feedback_counts(interaction_ids=None) -> dict[tuple[str, str], int]:
    """How often each (true previous-action quality, intended feedback) pair occurs."""
    rows = SpeakerIntent.objects.all()
    if interaction_ids is not None:
        rows = rows.filter(interaction_id__in=list(interaction_ids))
    counts = rows.values_list("previous_action_quality", "feedback").annotate(n=Count("id"))
    return {(quality, feedback): n for quality, feedback, n in counts}


# --- feedback decoding and evaluation (read by the feedback app) ----------------------------------------


def round_deployments(round_number: int) -> list[dict]:
    """A round's deployments with their systems: ``deployment_id``, ``round_id``, ``round_number``,
    ``round_status``, ``system_id``, ``system_name``, ``listener_kind``, ``decoder``, ``objective``,
    ``hyperparameters``, ``checkpoint_id``, ``games`` (ended study games). LookupError for a missing round."""
    round_ = Round.objects.filter(number=round_number).first()
    if round_ is None:
        raise LookupError(f"no round {round_number}")
    rows = (
        Deployment.objects.filter(round=round_).select_related("system").order_by("system__name")
        .annotate(ended=Count("interactions", filter=Q(
            interactions__status=Interaction.Status.ENDED, interactions__purpose=Interaction.Purpose.STUDY)))
    )
    return [
        {
            "deployment_id": d.pk, "round_id": round_.pk, "round_number": round_.number, "round_status": round_.status,
            "system_id": d.system_id, "system_name": d.system.name, "listener_kind": d.system.listener_kind,
            "decoder": d.system.decoder, "objective": d.system.objective,
            "hyperparameters": d.system.hyperparameters, "checkpoint_id": d.checkpoint_id, "games": d.ended,
        }
        for d in rows
    ]


def round_plan(round_number: int) -> dict:
    """How a round was launched, to launch the next one alike: ``id``, ``status``, ``queue_size``, ``split``
    (its configs' split), ``settings`` (timing and pay). LookupError for a missing round."""
    round_ = Round.objects.filter(number=round_number).first()
    if round_ is None:
        raise LookupError(f"no round {round_number}")
    splits = sorted(set(round_.queue.values_list("config__split", flat=True)))
    return {
        "id": round_.pk, "status": round_.status, "queue_size": round_.queue.count(), "split": splits[0] if len(splits) == 1 else None,
        "settings": round_.settings,
    }


def latest_round_number() -> int | None:
    return Round.objects.order_by("-number").values_list("number", flat=True).first()


def feedback_deployments(round_number: int, system_name: str | None = None) -> list[dict]:
    """The deployments of a round (optionally one system's), with what feedback decoding needs:
    ``deployment_id``, ``round_id``, ``round_number``, ``round_status``, ``system_name``, ``system_decoder`` and the
    checkpoint's ``base_model`` (None without a checkpoint). LookupError names a missing round or system."""
    round_ = Round.objects.filter(number=round_number).first()
    if round_ is None:
        raise LookupError(f"no round {round_number}")
    rows = Deployment.objects.filter(round=round_).select_related("system", "checkpoint").order_by("system__name")
    if system_name is not None:
        if not System.objects.filter(name=system_name).exists():
            raise LookupError(f"no system {system_name!r}")
        rows = rows.filter(system__name=system_name)
        if not rows.exists():
            raise LookupError(f"system {system_name!r} is not deployed in round {round_number}")
    return [
        {
            "deployment_id": d.pk, "round_id": round_.pk, "round_number": round_.number, "round_status": round_.status,
            "system_name": d.system.name, "system_decoder": d.system.decoder,
            "base_model": d.checkpoint.base_model if d.checkpoint_id else None,
        }
        for d in rows
    ]


def feedback_games(
    *, deployment_ids=None, interaction_ids=None, round_number: int | None = None, system_name: str | None = None,
) -> list[dict]:
    """Games with their turns, in id order, for decoding feedback and scoring decoders.

    Each game: ``interaction_id``, ``deployment_id``, ``round_number`` and ``system_name`` (None without a
    deployment), ``base_model`` (the deployment's checkpoint, else the game's), ``status``, ``end_reason``,
    ``listener_order`` (image ids, the listener's screen order), ``targets`` (frozenset), ``turns`` (dicts:
    ``id``, ``index``, ``utterance``, ``selection_before``, ``selected``, ``deselected``, ``selection_after``)
    and ``intents`` (turn index -> the simulated speaker's ``feedback``, ``previous_action_quality``,
    ``move``; empty for games of people)."""
    rows = Interaction.objects.all()
    if deployment_ids is not None:
        rows = rows.filter(deployment_id__in=list(deployment_ids))
    if interaction_ids is not None:
        rows = rows.filter(pk__in=list(interaction_ids))
    if round_number is not None:
        rows = rows.filter(deployment__round__number=round_number)
    if system_name is not None:
        rows = rows.filter(deployment__system__name=system_name)
    rows = rows.select_related(
        "deployment__round", "deployment__system", "deployment__checkpoint", "checkpoint"
    ).prefetch_related("turns", "speaker_intents", "config__context_images__tangram").order_by("pk")
    games = []
    for game in rows:
        images = list(game.config.context_images.all())
        deployment = game.deployment
        checkpoint = deployment.checkpoint if deployment is not None and deployment.checkpoint_id else game.checkpoint
        games.append({
            "interaction_id": game.pk,
            "deployment_id": game.deployment_id,
            "round_number": deployment.round.number if deployment is not None else None,
            "system_name": deployment.system.name if deployment is not None else None,
            "base_model": checkpoint.base_model if checkpoint is not None else None,
            "status": game.status,
            "end_reason": game.end_reason,
            "listener_order": tuple(r.tangram.name for r in sorted(images, key=lambda r: r.listener_position)),
            "targets": frozenset(r.tangram.name for r in images if r.is_target),
            "turns": [
                {
                    "id": t.pk, "index": t.index, "utterance": t.utterance, "selection_before": t.selection_before,
                    "selected": t.selected, "deselected": t.deselected, "selection_after": t.selection_after,
                }
                for t in sorted(game.turns.all(), key=lambda t: t.index)
            ],
            "intents": {
                i.turn_index: {
                    "feedback": i.feedback, "previous_action_quality": i.previous_action_quality, "move": i.move,
                }
                for i in game.speaker_intents.all()
            },
        })
    return games


def round_and_system_names(round_id: int, system_id: int | None = None) -> tuple[int, str | None]:
    """(round number, system name) for ids, as tasks receive them; LookupError for unknown ids."""
    number = Round.objects.filter(pk=round_id).values_list("number", flat=True).first()
    if number is None:
        raise LookupError(f"no round with id {round_id}")
    if system_id is None:
        return number, None
    name = System.objects.filter(pk=system_id).values_list("name", flat=True).first()
    if name is None:
        raise LookupError(f"no system with id {system_id}")
    return number, name


def system_id_by_name(name: str) -> int:
    """A system's id; LookupError if there is none of that name."""
    pk = System.objects.filter(name=name).values_list("pk", flat=True).first()
    if pk is None:
        raise LookupError(f"no system {name!r}")
    return pk


# --- language (the realism report) --------------------------------------------------------------------


def game_transcripts(*, purpose: str | None = None, round_number: int | None = None,
                     platform: str | None = None, limit: int | None = None) -> list[tuple[list[str], bool]]:
    """(the speaker's utterances in order, succeeded) of every ended game with turns, oldest first;
    optionally only games of a purpose, of a round, or whose speaker is on a platform (``simulated``,
    ``mturk``, ``prolific``, ``staff``)."""
    games = Interaction.objects.filter(status=Interaction.Status.ENDED, turn_count__gt=0)
    if purpose:
        games = games.filter(purpose=purpose)
    if round_number is not None:
        games = games.filter(deployment__round__number=round_number)
    if platform:
        games = games.filter(speaker__platform=platform)
    games = games.order_by("pk")
    if limit:
        games = games[:limit]
    rows = games.prefetch_related("turns")
    return [([t.utterance for t in sorted(g.turns.all(), key=lambda t: t.index)], bool(g.succeeded)) for g in rows]


def split_simulation_contexts(split: str, count: int) -> list[tuple[ContextSpec, dict[str, list]]]:
    """Up to ``count`` configs of a split (oldest first), each as ``simulation_context`` gives it."""
    ids = list(GameConfig.objects.filter(split=split).order_by("pk").values_list("pk", flat=True)[:count])
    return [simulation_context(pk) for pk in ids]
