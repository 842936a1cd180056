"""The realism report (``language_report``) and ``--description-rate``: simulated or recorded games side by side
with people's figures; bad input is a one-line error."""
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from games.domain.language import REAL_REFERENCE
from games.services.simulation import SimulationOptions, play_seed_games
from games.simulation import SpeakerStyle

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("language_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_simulated_populations_side_by_side_with_people():
    out, err = run("--simulate", "15", "--population", "plain", "--population", "people", "--seed", "3")
    lines = out.splitlines()
    assert "plain (15 games)" in lines[0] and "people (15 games)" in lines[0] and "real people" in lines[0]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:] if line and not line.startswith("(")}
    assert rows["games"] == ["15", "15", "311"]
    assert rows["word_types"][2] == "1,251" and rows["approval"][2] == "37.0%"
    assert float(rows["mean_length"][1]) < float(rows["mean_length"][0])  # people are terser than plain
    assert "playing 15 games of the people population" in err


def test_json_output_and_the_same_numbers_under_the_same_seed():
    first, _ = run("--simulate", "10", "--json", "--seed", "1")
    again, _ = run("--simulate", "10", "--json", "--seed", "1")
    data = json.loads(first)
    assert first == again and data["people"] == REAL_REFERENCE
    assert data["people (10 games)"]["games"] == 10 and 0 <= data["people (10 games)"]["approval"] <= 1


def test_games_in_the_database(config_library):
    play_seed_games(count=4, seed=2, split="dev",
                    options=SimulationOptions(style=SpeakerStyle(population="people")))
    out, _ = run("--database", "--purpose", "seed", "--platform", "simulated")
    header, games_row = out.splitlines()[:2]
    assert "database" in header and games_row.split()[1:] == ["4", "311"]
    out, _ = run("--database", "--simulate", "5", "--split", "dev", "--population", "people")
    assert "database" in out.splitlines()[0] and "people (5 games)" in out.splitlines()[0]


@pytest.mark.parametrize("args, reason", [
    ((), "say which games: --simulate N or --database"),
    (("--database",), "no ended games with turns match in the database"),
    (("--simulate", "0"), "--simulate must be at least 1"),
    (("--simulate", "5", "--population", "martian"), "unknown speaker population 'martian'"),
    (("--simulate", "5", "--speaker-style", "{"), "--speaker-style is not valid JSON"),
    (("--simulate", "5", "--listener-accuracy", "2"), "--listener-accuracy must be in [0, 1]"),
    (("--simulate", "5", "--description-rate", "1.5"), "human_description_rate must be a probability"),
    (("--simulate", "5", "--descriptions", "x.json"), "--descriptions needs --split"),
    (("--simulate", "5", "--split", "test"), "no game configs in the test split"),
])
def test_bad_input_is_a_one_line_error(args, reason):
    with pytest.raises(CommandError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        run(*args)


def test_simulate_games_mixes_human_descriptions_at_a_rate(config_library, tmp_path):
    from games.models import Tangram

    names = list(Tangram.objects.filter(split="dev").values_list("name", flat=True))
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({n: {"annotations": [{"whole": {"wholeAnnotation": "zebra crossing"}}]}
                                for n in names}))
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_games", "--count", "3", "--seed", "1", "--descriptions", str(path),
                 "--description-rate", "0", "--speaker-style", '{"population": "people"}', stdout=out, stderr=err)
    from games.models import Turn

    texts = list(Turn.objects.values_list("utterance", flat=True))
    assert texts and not any("zebra" in t for t in texts)  # rate 0: only generated descriptions
    call_command("simulate_games", "--count", "3", "--seed", "1", "--descriptions", str(path),
                 "--description-rate", "1", stdout=out, stderr=err)
    assert any("zebra" in t for t in Turn.objects.values_list("utterance", flat=True))
    with pytest.raises(CommandError, match="human_description_rate must be a probability"):
        call_command("simulate_games", "--count", "1", "--description-rate", "-1", stdout=out, stderr=err)
