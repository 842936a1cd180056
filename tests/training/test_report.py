"""The study report: its metrics on hand-built data with known answers, and the report command end to
end on a small simulated round (random-listener systems: no model, a few games, few resamples)."""
import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from feedback.domain.metrics import MISSING
from games.domain.stats import bootstrap_ci
from training.reporting.tables import (
    AnnotatedTurn, GameRecord, annotation_row, decoder_tables, language_row, outcome_row, training_tables,
)

# --- pure: known answers -----------------------------------------------------------------------------------


def test_success_turns_and_micro_click_accuracy():
    games = [
        GameRecord(succeeded=True, turns=2, clicks=(True, True, True, False)),
        GameRecord(succeeded=False, turns=4, clicks=(False,)),
        GameRecord(succeeded=True, turns=3, clicks=()),
    ]
    row = outcome_row(2, "B-SUP", games, interactions_before=7, resamples=500, seed=3)
    assert (row.round, row.system, row.games, row.interactions_before) == (2, "B-SUP", 3, 7)
    assert row.success == pytest.approx(2 / 3) and row.turns == pytest.approx(3.0)
    # Micro: every toggled image is one boolean (3 right of 5), not the mean of the games' rates (0.375).
    assert (row.clicks, row.click_accuracy) == (5, pytest.approx(0.6))
    assert row.success_low <= row.success <= row.success_high
    assert row.click_low <= row.click_accuracy <= row.click_high
    # The intervals are the shared percentile bootstrap, under the given seed and resamples.
    assert (row.click_low, row.click_high) == pytest.approx(
        (bootstrap_ci([1, 1, 1, 0, 0], n_boot=500, seed=3).low, bootstrap_ci([1, 1, 1, 0, 0], n_boot=500, seed=3).high)
    )
    assert outcome_row(2, "B-SUP", games, resamples=500, seed=3) == outcome_row(2, "B-SUP", games, resamples=500, seed=3)
    assert outcome_row(1, "X", [], resamples=10) is None


def test_constant_outcomes_have_point_intervals_and_no_clicks_no_accuracy():
    row = outcome_row(1, "X", [GameRecord(True, 1)] * 4, resamples=50)
    assert (row.success_low, row.success, row.success_high) == (1.0, 1.0, 1.0)
    assert (row.turns_low, row.turns_high) == (1.0, 1.0)
    assert (row.clicks, row.click_accuracy, row.click_low) == (0, None, None)


def test_bootstrap_in_blocks_is_the_same_as_one_draw():
    import numpy as np

    values = [0.0, 1.0] * 1500
    rng = np.random.default_rng(5)
    means = np.asarray(values)[rng.integers(0, len(values), size=(2000, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    estimate = bootstrap_ci(values, n_boot=2000, seed=5)
    assert (estimate.low, estimate.high) == pytest.approx((low, high))
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(values, n_boot=0)


def test_language_row_uses_the_shared_language_statistics():
    games = [GameRecord(True, 2, utterances=("the bird", "try again, reset")), GameRecord(False, 1, utterances=("Bird",))]
    row = language_row(1, "X", games)
    assert (row.utterances, row.tokens, row.vocabulary) == (3, 6, 5)
    assert row.mean_length == pytest.approx(2.0)
    assert (row.reset_mentions, row.try_again_mentions) == (1, 1)


def test_decoder_confusion_and_scores_in_both_views():
    # (decoder label, annotators' feedback)
    pairs = [("positive", "positive")] * 3 + [("negative", "positive")] + [("negative", "negative")] * 2 + [
        ("positive", "neutral"), (None, "negative"), ("unparsed", "neutral"),
    ]
    rows, cells, evaluations = decoder_tables(1, "B-SUP", "lexicon", "v1", pairs)
    ternary = next(r for r in rows if r.view == "ternary")
    binary = next(r for r in rows if r.view == "binary")
    assert (ternary.turns, ternary.labelled) == (9, 7)
    # positive: predicted 4 (3 right), support 4 (3 found)
    assert (ternary.positive_precision, ternary.positive_recall) == (0.75, 0.75)
    assert ternary.positive_f1 == pytest.approx(0.75)
    assert ternary.neutral_precision is None and ternary.neutral_support == 1
    assert (ternary.negative_precision, ternary.negative_recall) == (2 / 3, 1.0)
    # binary: neutral reads as negative on both sides -> the positive-labelled neutral turn is a false positive
    assert (binary.negative_support, binary.neutral_support) == (3, None)
    assert (binary.positive_precision, binary.negative_recall) == (0.75, 2 / 3)
    share = {(c.view, c.truth, c.label): c.share for c in cells}
    count = {(c.view, c.truth, c.label): c.count for c in cells}
    assert count[("ternary", "positive", "positive")] == 3 and share[("ternary", "positive", "positive")] == pytest.approx(3 / 9)
    assert count[("ternary", "negative", MISSING)] == 1 and count[("binary", "negative", "unparsed")] == 1
    assert sum(s for (v, _, _), s in share.items() if v == "ternary") == pytest.approx(1.0)  # normalised by the grand total
    assert evaluations["binary"].classes == ("positive", "negative")


def test_annotation_rows_exact_match_and_similarity_with_deselections():
    def lookup(a, b):
        return 1.0 if a == b else 0.5

    turns = [
        AnnotatedTurn(frozenset("A"), frozenset(), "positive", "yes", frozenset("A"), frozenset()),  # exact
        AnnotatedTurn(frozenset("A"), frozenset(), "negative", "partial", frozenset("A"), frozenset("C")),
        AnnotatedTurn(frozenset("B"), frozenset(), "negative", "no"),  # no gold action
    ]
    row = annotation_row(3, "B-SUP", turns, lookup, resamples=100)
    assert (row.annotated, row.gold_actions) == (3, 2)
    assert row.correct_yes == pytest.approx(1 / 3) and row.positive_feedback == pytest.approx(1 / 3)
    assert row.exact_match == 0.5
    # The missed deselection of C costs the second turn a third: (2 x 1 + 1 x 0) / 3.
    assert row.similarity == pytest.approx((1.0 + 2 / 3) / 2)
    assert row.similarity_not_positive == pytest.approx(2 / 3)
    assert annotation_row(3, "B-SUP", [], lookup) is None


def test_training_rows_and_curves():
    run = {"round": 2, "system": "B-SUP", "objective": "sup", "status": "succeeded", "seconds": 4.5,
           "dataset_stats": {"rows": 40, "interaction_rows": 12, "seed_rows": 28}, "loss_curve": [[1, 2.0], [5, 0.7]],
           "held_out_curve": [[5, 0.4]]}
    row, points = training_tables(run)
    assert (row.rows, row.interaction_rows, row.steps, row.first_loss, row.last_loss) == (40, 12, 5, 2.0, 0.7)
    assert [(p.curve, p.step, p.value) for p in points] == [("train_loss", 1, 2.0), ("train_loss", 5, 0.7), ("held_out", 5, 0.4)]


# --- end to end ----------------------------------------------------------------------------------------


def read_csv(path):
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


@pytest.fixture
def played_round(transactional_db, settings):
    """Round 1 with two random-listener systems (decoded with the lexicon), 6 games, some turns with
    final human labels, and a training run of one system."""
    from django.utils import timezone

    from feedback.models import AnnotationCampaign, CampaignTurn
    from feedback.services.decoding import decode_round
    from games.models import Round, System, Tangram, Turn
    from games.services.rounds import close_round, create_system, launch_round
    from games.services.simulation import play_round_games
    from tests.factories import CheckpointFactory
    from tests.games.play_support import install_library
    from training.models import TrainingRun

    settings.BOT_DISPATCH = "inline"
    install_library()
    create_system("RND-A", listener_kind="random", decoder="binary")
    create_system("RND-B", listener_kind="random", decoder="ternary")
    launch_round(systems=[("RND-A", None), ("RND-B", None)], queue_size=5, split="train", seed=0)
    play_round_games(count=6, seed=2)
    close_round(1, force=True)
    decode_round(1, mark_decoded=True)
    campaign = AnnotationCampaign.objects.create(name="pilot", sample_size=4)
    turns = list(Turn.objects.filter(interaction__deployment__system__name="RND-A").order_by("pk")[:4])
    for position, turn in enumerate(turns):
        gold = list(turn.selected)
        if position % 2:  # one image more than the listener selected: not an exact match
            gold.append(Tangram.objects.exclude(name__in=gold).values_list("name", flat=True).first())
        CampaignTurn.objects.create(
            campaign=campaign, turn=turn, position=position, stratum="1:RND-A",
            final_feedback=["positive", "negative", "neutral", "negative"][position],
            final_correctness="yes" if position == 0 else "no", final_gold_selected=gold,
            final_gold_deselected=list(turn.deselected), final_source="adjudicated", adjudicated_at=timezone.now(),
        )
    TrainingRun.objects.create(
        system=System.objects.get(name="RND-A"), round=Round.objects.get(number=1), objective="sup",
        initial_checkpoint=CheckpointFactory(), status="failed", loss_curve=[[1, 1.5], [2, 1.1], [3, 0.9]],
        dataset_stats={"rows": 30, "interaction_rows": 10},
    )
    return turns


EXPECTED_COLUMNS = {
    "outcomes": ["round", "system", "games", "interactions_before", "success", "success_low", "success_high", "turns",
                 "turns_low", "turns_high", "clicks", "click_accuracy", "click_low", "click_high"],
    "language": ["round", "system", "games", "utterances", "tokens", "vocabulary", "mean_length", "type_token_ratio",
                 "reset_mentions", "try_again_mentions"],
    "annotations": ["round", "system", "annotated", "correct_yes", "correct_yes_low", "correct_yes_high",
                    "positive_feedback", "gold_actions", "exact_match", "exact_match_low", "exact_match_high",
                    "similarity", "similarity_low", "similarity_high", "similarity_not_positive"],
    "confusion": ["round", "system", "decoder", "version", "view", "truth", "label", "count", "share"],
    "training": ["round", "system", "objective", "status", "rows", "held_out_rows", "seed_rows", "interaction_rows",
                 "logged_turns", "steps", "first_loss", "last_loss", "seconds"],
    "losses": ["round", "system", "curve", "step", "value"],
}


def test_the_report_command_writes_every_table_and_plot(played_round, tmp_path):
    out = tmp_path / "report"
    stdout = io.StringIO()
    call_command("report", str(out), "--resamples", "200", "--seed", "1", stdout=stdout)
    manifest = json.loads((out / "report.json").read_text())
    assert [t["name"] for t in manifest["tables"]] == [
        "outcomes", "language", "annotations", "decoders", "confusion", "training", "losses"]
    for name, expected in EXPECTED_COLUMNS.items():
        assert read_csv(out / f"{name}.csv")[0] == expected, name

    _, outcomes = read_csv(out / "outcomes.csv")
    assert sorted((r["round"], r["system"], r["games"]) for r in outcomes) == [("1", "RND-A", "3"), ("1", "RND-B", "3")]
    for r in outcomes:
        assert float(r["success_low"]) <= float(r["success"]) <= float(r["success_high"])
        assert 0 <= float(r["click_accuracy"]) <= 1 and int(r["clicks"]) > 0 and r["interactions_before"] == "0"

    _, annotations = read_csv(out / "annotations.csv")
    [row] = annotations
    assert (row["system"], row["annotated"], row["gold_actions"], row["correct_yes"]) == ("RND-A", "4", "4", "0.25")
    assert 0 < float(row["similarity"]) <= 1 and float(row["exact_match"]) == 0.5  # gold = own action on turns 0, 2
    fields, decoders = read_csv(out / "decoders.csv")
    assert {(r["system"], r["decoder"], r["view"]) for r in decoders} == {("RND-A", "lexicon", "binary"), ("RND-A", "lexicon", "ternary")}
    assert "positive_f1" in fields and all(r["turns"] == "4" for r in decoders)
    _, confusion = read_csv(out / "confusion.csv")
    assert sum(int(r["count"]) for r in confusion if r["view"] == "ternary") == 4

    _, training = read_csv(out / "training.csv")
    assert [(r["system"], r["rows"], r["steps"], r["last_loss"]) for r in training] == [("RND-A", "30", "3", "0.9")]
    _, losses = read_csv(out / "losses.csv")
    assert [r["value"] for r in losses] == ["1.5", "1.1", "0.9"]

    plots = manifest["plots"]
    assert {"success.png", "success_by_interactions.png", "turns.png", "click_accuracy.png", "language.png",
            "losses.png", "annotations.png"} <= set(plots)
    assert {p for p in plots if p.startswith("confusion_")} == {
        f"confusion_RND-A_lexicon_{manifest_version(decoders)}_{view}.png" for view in ("binary", "ternary")}
    for plot in plots:
        assert Image.open(out / plot).format == "PNG"
    assert f"{len(plots)} plot(s) in {out}" in stdout.getvalue()


def manifest_version(decoders):
    return decoders[0]["version"]


def test_the_report_filters_rounds_and_systems_and_replaces_an_old_report(played_round, tmp_path):
    out = tmp_path / "r"
    call_command("report", str(out), "--resamples", "50", stdout=io.StringIO())
    assert any(p.name.startswith("confusion_") for p in out.iterdir())
    (out / "rounds.csv").write_text("a study's own table\n")  # not the report's: left alone
    call_command("report", str(out), "--systems", "RND-B", "--rounds", "1", "--resamples", "50", stdout=io.StringIO())
    _, outcomes = read_csv(out / "outcomes.csv")
    assert [r["system"] for r in outcomes] == ["RND-B"]
    assert read_csv(out / "annotations.csv")[1] == [] and read_csv(out / "training.csv")[1] == []
    assert not any(p.name.startswith("confusion_") for p in out.iterdir())  # the old report's plots are gone
    assert (out / "rounds.csv").read_text() == "a study's own table\n"
    assert json.loads((out / "report.json").read_text())["options"]["systems"] == ["RND-B"]


@pytest.mark.parametrize("args, message", [
    (["--rounds", "7"], "no round 7"),
    (["--rounds", "1-x"], "--rounds: expected round numbers"),
    (["--systems", "NOPE"], "no system 'NOPE'"),
    (["--resamples", "0"], "--resamples must be at least 1"),
])
def test_bad_input_is_refused_and_writes_nothing(played_round, tmp_path, args, message):
    out = tmp_path / "reports" / "bad"
    with pytest.raises(CommandError, match=message):
        call_command("report", str(out), *args, stdout=io.StringIO())
    assert not (tmp_path / "reports").exists()  # nothing written, not even a staging folder
