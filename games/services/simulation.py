"""Simulated participants playing through the real game services, as people do.

A simulated speaker sends its messages with ``play.submit_utterance``; the listener is whatever the
game has: a model or baseline through the normal bot path (``BOT_DISPATCH``; ``inline`` answers
within the call, ``thread`` / ``celery`` are waited for), or a simulated human listener clicking
with ``play.toggle_image`` and ``play.submit_selection``. Each message is stored with the
speaker's ground truth (``SpeakerIntent``) in the same transaction.

Like every driver, it steps one ``Episode`` (the speaker and the pure ``GameState``): after the engine
has recorded a turn, the episode plays the recorded action, and the engine's turn count and outcome
must agree with it (``SimulationError`` otherwise).

Games are played one per worker thread (``concurrency``); each game is deterministic under its
seed when its listener is (the oracle, the simulated human), whatever the concurrency, except that
round games take configs from the deployments' queues in the order games start.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from games import selectors
from games.domain import rules
from games.domain.study_settings import StudySettings
from games.domain.tangrams import TangramFigure
from games.models import Deployment, GameConfig, Interaction, Participant, Round, SpeakerIntent
from games.services import journey, play
from games.services.bulk import Progress, no_progress
from games.simulation.agents.annotations import descriptions_for
from games.simulation.agents.speaker import SpeakerContext, SpeakerStyle
from games.simulation.drivers.in_memory import human_listener_for
from games.simulation.episode import Episode
from games.domain.seeds import derive_seed

LISTENER_KINDS = ("human", "random", "oracle", "model")
POLL_SECONDS = 0.02


class SimulationError(ValueError):
    """A simulation that cannot run as asked; the message is a one-line reason."""


@dataclass(frozen=True)
class SimulationOptions:
    style: SpeakerStyle = field(default_factory=SpeakerStyle)
    listener_accuracy: float = 0.85
    descriptions: Mapping[str, Sequence[str]] | None = None  # tangram name -> human descriptions
    fast: bool = True  # no display delay before bot answers (simulations need not look human)
    bot_wait_seconds: float = 120.0  # give up on a bot turn that never comes

    def __post_init__(self) -> None:
        accuracy = self.listener_accuracy
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
            raise SimulationError(f"listener accuracy must be in [0, 1], got {accuracy!r}")


@dataclass(frozen=True)
class SimulatedGame:
    interaction_id: int
    listener_kind: str
    system: str  # the deployment's system name, "" outside rounds
    success: bool
    turns: int
    end_reason: str


def simulated_participant(label: str) -> Participant:
    """The simulated participant called ``label`` (created on first use; stored like a person's)."""
    participant, _ = Participant.objects.get_or_create(
        platform=Participant.Platform.SIMULATED,
        external_id_hash=journey.hash_external_id(f"simulated:{label}"),
        defaults={"stage": Participant.Stage.GAME, "consented_at": timezone.now(), "practiced": True},
    )
    return participant


def _settings_for(base: dict | None, fast: bool) -> dict:
    study = StudySettings.from_dict(base or {}).to_dict()
    if fast:
        study["timing"]["bot_min_delay_seconds"] = 0
    return study


def _figures(polygons: Mapping[str, list]) -> dict[str, TangramFigure]:
    return {name: TangramFigure.from_json(poly) for name, poly in polygons.items()}


def play_simulated_game(
    *,
    config_id: int,
    listener_kind: str,
    seed: int,
    options: SimulationOptions | None = None,
    deployment_id: int | None = None,
    checkpoint_id: int | None = None,
    purpose: str = Interaction.Purpose.SEED,
    label: str | None = None,
) -> SimulatedGame:
    """Play one whole game with a simulated speaker; returns how it ended."""
    options = options or SimulationOptions()
    if listener_kind not in LISTENER_KINDS:
        raise SimulationError(f"listener must be one of {', '.join(LISTENER_KINDS)}; got {listener_kind!r}")
    deployment = (Deployment.objects.select_related("round", "system").get(pk=deployment_id)
                  if deployment_id is not None else None)
    if listener_kind == "model" and checkpoint_id is None:
        raise SimulationError("a model listener needs a policy checkpoint")
    config = GameConfig.objects.get(pk=config_id)
    spec, polygons = selectors.simulation_context(config_id)
    figures = _figures(polygons)
    label = label or f"{seed}"
    speaker_person = simulated_participant(f"{label}:speaker")
    listener_person = simulated_participant(f"{label}:listener") if listener_kind == "human" else None
    interaction = _start(config, speaker_person, listener_person, listener_kind, deployment, checkpoint_id,
                         purpose, options)
    descriptions = descriptions_for(options.descriptions, spec.images)
    episode = Episode.start(SpeakerContext.of(spec, figures, descriptions), options.style,
                            seed=derive_seed(seed, "speaker"))
    listener = None
    if listener_kind == "human":
        listener = human_listener_for(spec.images, figures, seed, listener_order=spec.listener_order,
                                      accuracy=options.listener_accuracy, descriptions=descriptions)
    while not episode.over:
        turn, move = episode.state.turn, episode.intent
        with transaction.atomic():
            play.submit_utterance(interaction.pk, speaker_person.pk, turn, move.text)
            SpeakerIntent.objects.create(
                interaction_id=interaction.pk, turn_index=turn, feedback=move.feedback,
                previous_action_quality=move.previous_action_quality, move=move.move, target=move.target,
                details=move.details,
            )
        if listener is not None:
            shown = frozenset(Interaction.objects.get(pk=interaction.pk).live_selection)
            if shown != episode.selection:
                raise SimulationError(f"game {interaction.pk} turn {turn}: the engine shows {sorted(shown)}, "
                                      f"the episode has {sorted(episode.selection)}")
            action = listener.act(move.text, shown, episode.history)
            for image in sorted(action.toggled):
                play.toggle_image(interaction.pk, listener_person.pk, turn, image, selected=image in action.select)
            play.submit_selection(interaction.pk, listener_person.pk, turn)
        else:
            _wait_for_turn(interaction.pk, turn, options.bot_wait_seconds)
        if not _step_with_recorded_turn(episode, interaction.pk):
            break  # ended without playing the turn (a player idle past the deadline)
    current = Interaction.objects.get(pk=interaction.pk)
    return SimulatedGame(
        interaction_id=current.pk, listener_kind=listener_kind,
        system=deployment.system.name if deployment else "", success=current.succeeded,
        turns=current.turn_count, end_reason=current.end_reason,
    )


def _step_with_recorded_turn(episode: Episode, interaction_id: int) -> bool:
    """Step ``episode`` with the turn the engine recorded (False when it recorded none because the game
    ended otherwise) and check that the engine's game and the episode agree."""
    recorded = selectors.committed_turns(interaction_id)
    if len(recorded) > episode.state.turn:
        row = recorded[episode.state.turn]
        before, after = frozenset(row["selection_before"]), frozenset(row["selection_after"])
        if (len(recorded) != episode.state.turn + 1 or row["utterance"] != episode.utterance.strip()
                or before != episode.selection):
            raise SimulationError(f"game {interaction_id}: the engine's turn {row['index'] + 1} is not the episode's")
        episode.submit(rules.action_between(before, after))
        played = True
    else:
        played = False
    status, reason, turns = selectors.game_outcomes([interaction_id])[interaction_id]
    ended = status == Interaction.Status.ENDED
    if not played and not ended:
        raise SimulationError(f"game {interaction_id}: no turn {episode.state.turn + 1} was recorded")
    if reason in rules.OUTCOMES or not ended:
        agree = turns == episode.state.turn and ended == episode.over and (reason or None) == episode.outcome
    else:  # ended for another reason (a player idle): no rule of the game decided it
        agree = turns == episode.state.turn
    if not agree:
        raise SimulationError(f"game {interaction_id}: the engine ({status}, {reason or 'no outcome'}, {turns} turns) "
                              f"and the episode ({episode.outcome}, {episode.state.turn} turns) disagree")
    return played and not (ended and episode.outcome is None)


def _start(config, speaker, listener, listener_kind, deployment, checkpoint_id, purpose, options) -> Interaction:
    checkpoint = None
    if checkpoint_id is not None:
        # The checkpoint model belongs to another app; games reaches it only through its own foreign key.
        checkpoints = Interaction._meta.get_field("checkpoint").related_model
        checkpoint = checkpoints.objects.filter(pk=checkpoint_id).first()
        if checkpoint is None:
            raise SimulationError(f"checkpoint {checkpoint_id} does not exist")
    return play.start_game(
        config=config, speaker=speaker, listener=listener, listener_kind=listener_kind, deployment=deployment,
        checkpoint=checkpoint, purpose=purpose,
        settings=_settings_for(deployment.round.settings if deployment else None, options.fast),
    )


def _wait_for_turn(interaction_id: int, turn: int, timeout: float) -> None:
    """Until the bot's answer for ``turn`` is recorded (inline dispatch: already). Passed deadlines
    are enforced on the way (retry, then the recorded fallback), as the game clock would."""
    give_up = time.monotonic() + timeout
    while True:
        status, turns = Interaction.objects.filter(pk=interaction_id).values_list("status", "turn_count").get()
        if turns > turn or status == Interaction.Status.ENDED:
            return
        if time.monotonic() > give_up:
            raise SimulationError(f"no listener action for game {interaction_id} turn {turn} after {timeout:.0f}s")
        play.enforce_deadline(interaction_id)
        time.sleep(POLL_SECONDS)


# --- many games -------------------------------------------------------------------------------------


def _run_all(jobs: Sequence[Callable[[], SimulatedGame]], concurrency: int, progress: Progress) -> list[SimulatedGame]:
    if concurrency < 1:
        raise SimulationError("concurrency must be at least 1")
    if concurrency == 1:
        return [job() for job in progress(jobs, len(jobs))]

    def run(job):
        try:
            return job()
        finally:
            close_old_connections()
            connection.close()

    results: list[SimulatedGame | None] = [None] * len(jobs)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="simulate") as pool:
        futures = {pool.submit(run, job): i for i, job in enumerate(jobs)}
        for future in progress(as_completed(futures), len(futures)):
            results[futures[future]] = future.result()
    return [r for r in results if r is not None]


def play_seed_games(
    *,
    count: int,
    seed: int,
    split: str = "dev",
    listener_kind: str = "human",
    checkpoint_id: int | None = None,
    options: SimulationOptions | None = None,
    concurrency: int = 1,
    progress: Progress = no_progress,
) -> list[SimulatedGame]:
    """``count`` games outside any round (purpose ``seed``) on configs of ``split``, drawn under ``seed``.
    The default is human-human seed data: a simulated speaker and a simulated human listener."""
    import random

    if count < 1:
        raise SimulationError("count must be at least 1")
    if listener_kind not in LISTENER_KINDS:
        raise SimulationError(f"listener must be one of {', '.join(LISTENER_KINDS)}; got {listener_kind!r}")
    if listener_kind == "model" and checkpoint_id is None:
        raise SimulationError("a model listener needs --checkpoint")
    pool = list(GameConfig.objects.filter(split=split).order_by("name").values_list("pk", flat=True))
    if not pool:
        raise SimulationError(f"no game configs in split {split!r}")
    rng = random.Random(seed)
    configs = [rng.choice(pool) for _ in range(count)]
    options = options or SimulationOptions()
    purpose = Interaction.Purpose.SEED
    jobs = [
        (lambda c=c, i=i: play_simulated_game(
            config_id=c, listener_kind=listener_kind, seed=derive_seed(seed, i), options=options,
            checkpoint_id=checkpoint_id, purpose=purpose, label=f"seed-{seed}-{i}"))
        for i, c in enumerate(configs)
    ]
    return _run_all(jobs, concurrency, progress)


def round_deployments(round_number: int | None = None, systems: Iterable[str] | None = None) -> list[Deployment]:
    """The deployments to play against: the open round's (or round ``round_number``'s), optionally
    only the named systems."""
    if round_number is None:
        round_ = Round.objects.filter(status=Round.Status.OPEN).order_by("-number").first()
        if round_ is None:
            raise SimulationError("no round is open (give --round NUMBER)")
    else:
        round_ = Round.objects.filter(number=round_number).first()
        if round_ is None:
            raise SimulationError(f"round {round_number} does not exist")
    deployments = list(Deployment.objects.filter(round=round_).select_related("system", "round").order_by("system__name"))
    if systems:
        wanted = list(dict.fromkeys(systems))
        names = {d.system.name for d in deployments}
        missing = [s for s in wanted if s not in names]
        if missing:
            raise SimulationError(f"round {round_.number} does not deploy: {', '.join(missing)}")
        deployments = [d for d in deployments if d.system.name in wanted]
    if not deployments:
        raise SimulationError(f"round {round_.number} has no deployments")
    return deployments


def play_round_games(
    *,
    count: int,
    seed: int,
    round_number: int | None = None,
    systems: Iterable[str] | None = None,
    options: SimulationOptions | None = None,
    concurrency: int = 1,
    progress: Progress = no_progress,
) -> list[SimulatedGame]:
    """``count`` study games against a round's deployments, taken in turn (balanced), each on its
    deployment's next config; human-human deployments get a simulated human listener."""
    if count < 1:
        raise SimulationError("count must be at least 1")
    deployments = round_deployments(round_number, systems)
    options = options or SimulationOptions()

    def job(i: int) -> SimulatedGame:
        deployment = deployments[i % len(deployments)]
        config = journey.next_config(deployment.pk)
        return play_simulated_game(
            config_id=config.pk, listener_kind=deployment.system.listener_kind, seed=derive_seed(seed, i),
            options=options, deployment_id=deployment.pk, checkpoint_id=deployment.checkpoint_id,
            purpose=Interaction.Purpose.STUDY, label=f"round-{deployment.round.number}-{seed}-{i}",
        )

    return _run_all([lambda i=i: job(i) for i in range(count)], concurrency, progress)
