"""The drivers play through the real game services and store the speaker's ground truth."""
import pytest
from django.core.management import CommandError, call_command

from games import selectors
from games.models import Interaction, Participant, SpeakerIntent, Turn
from games.services.rounds import create_system, launch_round
from games.services.simulation import (
    SimulationError, SimulationOptions, play_round_games, play_seed_games, play_simulated_game,
)
from tests.games.play_support import install_library

pytestmark = pytest.mark.django_db(transaction=True)  # bot answers run on commit, as in production


@pytest.fixture(autouse=True)
def library(settings):
    settings.BOT_DISPATCH = "inline"
    install_library()


def test_seed_games_pair_a_simulated_speaker_with_a_simulated_listener():
    games = play_seed_games(count=3, seed=4, split="dev")
    assert len(games) == 3
    for game in games:
        interaction = Interaction.objects.get(pk=game.interaction_id)
        assert interaction.status == "ended" and interaction.purpose == "seed" and interaction.listener_kind == "human"
        assert interaction.speaker.platform == interaction.listener.platform == Participant.Platform.SIMULATED
        turns = selectors.committed_turns(interaction.pk)
        intents = selectors.speaker_intents_of(interaction.pk)
        assert len(turns) == len(intents) == interaction.turn_count == game.turns
        assert {t["action_source"] for t in turns} == {Turn.ActionSource.HUMAN}
        assert intents[0]["feedback"] == "none"
        assert game.success == (interaction.end_reason == "success")


def test_seed_games_are_deterministic_under_their_seed():
    first = [selectors.committed_turns(g.interaction_id) for g in play_seed_games(count=2, seed=9, split="dev")]
    again = [selectors.committed_turns(g.interaction_id) for g in play_seed_games(count=2, seed=9, split="dev")]
    strip = [[{k: v for k, v in t.items()} for t in game] for game in first]
    assert strip == again


def test_the_oracle_answers_through_the_bot_path_and_wins_on_turn_one():
    [game] = play_seed_games(count=1, seed=1, split="train", listener_kind="oracle")
    assert game.success and game.turns == 1
    [turn] = selectors.committed_turns(game.interaction_id)
    assert turn["action_source"] == Turn.ActionSource.BASELINE


def test_the_random_baseline_records_the_speakers_reactions():
    [game] = play_seed_games(count=1, seed=2, split="train", listener_kind="random")
    intents = selectors.speaker_intents_of(game.interaction_id)
    assert len(intents) == game.turns
    counts = selectors.intent_feedback_counts([game.interaction_id])
    assert sum(counts.values()) == game.turns


def test_round_games_are_spread_over_the_deployments():
    create_system("ORACLE", listener_kind="oracle")
    create_system("HH", listener_kind="human")
    launch_round(systems=[("ORACLE", None), ("HH", None)], queue_size=5, split="train", seed=0)
    games = play_round_games(count=4, seed=0)
    assert sorted(g.system for g in games) == ["HH", "HH", "ORACLE", "ORACLE"]
    rows = Interaction.objects.filter(pk__in=[g.interaction_id for g in games])
    assert {r.purpose for r in rows} == {"study"} and all(r.deployment_id for r in rows)
    assert SpeakerIntent.objects.filter(interaction__in=rows).count() == sum(g.turns for g in games)
    only = play_round_games(count=2, seed=1, systems=["HH"])
    assert {g.system for g in only} == {"HH"}


def test_two_games_at_a_time_give_the_same_results_as_one():
    from django.db import connection

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("an in-memory SQLite database locks whole tables across threads; run with a file or PostgreSQL")
    one = play_seed_games(count=4, seed=5, split="dev", concurrency=1)
    two = play_seed_games(count=4, seed=5, split="dev", concurrency=2)
    assert [(g.success, g.turns) for g in one] == [(g.success, g.turns) for g in two]


def test_the_recorded_turns_are_the_episodes_the_in_memory_driver_plays_under_the_same_seed():
    from games.domain.tangrams import TangramFigure
    from games.models import GameConfig
    from games.simulation import SpeakerContext, SpeakerStyle, simulate_episode

    for config in GameConfig.objects.filter(split="dev").order_by("name")[:2]:
        game = play_simulated_game(config_id=config.pk, listener_kind="human", seed=12)
        spec, polygons = selectors.simulation_context(config.pk)
        figures = {name: TangramFigure.from_json(p) for name, p in polygons.items()}
        episode = simulate_episode(SpeakerContext.of(spec, figures), SpeakerStyle(), None, 12,
                                   listener_order=spec.listener_order)
        recorded = selectors.committed_turns(game.interaction_id)
        assert [(r["utterance"], frozenset(r["selection_before"]), frozenset(r["selection_after"])) for r in recorded] == [
            (t.utterance, t.selection_before, t.selection_after) for t in episode.turns]
        assert [i["move"] for i in selectors.speaker_intents_of(game.interaction_id)] == [
            t.intent.move for t in episode.turns]
        assert (game.success, game.turns) == (episode.success, len(episode.turns))


def test_an_engine_that_disagrees_with_the_episode_stops_the_driver(monkeypatch):
    real = selectors.committed_turns

    def misreported(interaction_id):  # the listener's action lost on the way
        return [{**row, "selection_after": row["selection_before"]} for row in real(interaction_id)]

    monkeypatch.setattr(selectors, "committed_turns", misreported)
    with pytest.raises(SimulationError, match="disagree"):
        play_seed_games(count=1, seed=1, split="train", listener_kind="oracle")


def test_bad_requests_change_nothing():
    before = Interaction.objects.count()
    with pytest.raises(SimulationError):
        play_seed_games(count=1, seed=0, split="test")  # the library has no test configs
    with pytest.raises(SimulationError):
        play_seed_games(count=0, seed=0)
    with pytest.raises(SimulationError):
        play_seed_games(count=1, seed=0, listener_kind="model")  # no checkpoint
    with pytest.raises(SimulationError):
        play_round_games(count=1, seed=0)  # no open round
    with pytest.raises(SimulationError):
        SimulationOptions(listener_accuracy=2)
    with pytest.raises(SimulationError):
        play_simulated_game(config_id=1, listener_kind="telepath", seed=0)
    assert Interaction.objects.count() == before


def test_simulate_games_command_prints_a_summary(capsys):
    call_command("simulate_games", "--count", "2", "--seed", "3", "--listener", "oracle", "--split", "train")
    out = capsys.readouterr().out
    assert "listener oracle: 2 games: success 100.0%" in out and "95% bootstrap CIs" in out


def test_simulate_games_command_speaks_with_human_descriptions(tmp_path, capsys):
    from games.models import Tangram

    names = list(Tangram.objects.values_list("name", flat=True))
    path = tmp_path / "ann.json"
    import json

    path.write_text(json.dumps({n: {"annotations": [{"whole": {"wholeAnnotation": f"a zebra number {i}"}}]}
                                for i, n in enumerate(names)}))
    call_command("simulate_games", "--count", "1", "--seed", "3", "--descriptions", str(path))
    first = Turn.objects.order_by("pk").first()
    assert "zebra number" in first.utterance.lower()


@pytest.mark.parametrize("args, reason", [
    (["--speaker-style", "{oops"], "not valid JSON"),
    (["--speaker-style", '{"typo_rate": 3}'], "typo_rate"),
    (["--descriptions", "/no/such/file.json"], "cannot read"),
    (["--count", "0"], "at least 1"),
    (["--listener-accuracy", "1.5"], "accuracy"),
    (["--split", "test"], "no game configs"),
])
def test_simulate_games_command_refuses_bad_input(args, reason):
    with pytest.raises(CommandError, match=reason):
        call_command("simulate_games", *args)


def test_simulate_round_command_needs_an_open_round():
    with pytest.raises(CommandError, match="no round is open"):
        call_command("simulate_round", "--count", "1")


def test_simulate_round_command_plays_and_summarises_per_system(capsys):
    create_system("ORACLE", listener_kind="oracle")
    create_system("RANDOM", listener_kind="random")
    launch_round(systems=[("ORACLE", None), ("RANDOM", None)], queue_size=5, split="train", seed=0)
    call_command("simulate_round", "--count", "4", "--seed", "1")
    out = capsys.readouterr().out
    assert "system ORACLE: 2 games: success 100.0%" in out
    assert "system RANDOM: 2 games" in out and "all systems: 4 games" in out
    with pytest.raises(CommandError, match="does not deploy"):
        call_command("simulate_round", "--system", "NOPE")
