"""decode_round: which decoder, which turns, idempotency, versioning, never overwriting."""
import pytest
from django.db import IntegrityError

from feedback.decoders.lexicon import LexiconDecoder
from feedback.models import FeedbackLabel, LabelOverwriteError
from feedback.services.decoding import (
    FINAL_OUTCOME, DecodeError, choose_decoder, decode_round, decoder_for_deployment,
)
from games.models import Round
from games.selectors import feedback_deployments
from tests.feedback.conftest import record_game, target_letters
from tests.games.play_support import dev_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def lexicon_game(game_library, deploy):
    deployment = deploy("LEX", "lexicon")
    game = record_game(deployment, [
        ("a boat with a sail", "select A"),
        ("no, the other boat", "deselect A select B"),
        ("yes! now the kneeling man", "select C"),
        ("perfect, and the rabbit", "select D"),
    ], end="cancelled")
    return deployment, game


def labels(**filters):
    return {
        (row.turn.index, row.decoder, row.prompt_version): row.label
        for row in FeedbackLabel.objects.filter(**filters).select_related("turn")
    }


def test_every_turn_with_a_follow_up_gets_one_label(lexicon_game):
    deployment, game = lexicon_game
    report = decode_round(1)
    assert labels() == {
        (0, "lexicon", "lex-v4"): "negative",
        (1, "lexicon", "lex-v4"): "positive",
        (2, "lexicon", "lex-v4"): "positive",
    }  # turn 3 is the last: no follow-up, no label
    item = report.deployments[0]
    assert (item.turns, item.no_follow_up, item.already, dict(item.added)) == (4, 1, 0, {"negative": 1, "positive": 2})
    row = FeedbackLabel.objects.get(turn__index=0)
    assert "opens with a correction" in row.raw_output and row.details == {"rule": "opens with a correction"}


def test_rerunning_adds_nothing_and_a_new_version_adds_a_new_set(lexicon_game):
    decode_round(1)
    first = list(FeedbackLabel.objects.values_list("pk", "label", "created_at"))
    again = decode_round(1)
    assert again.added == 0 and again.deployments[0].already == 3
    assert list(FeedbackLabel.objects.values_list("pk", "label", "created_at")) == first
    newer = decode_round(1, decoder=LexiconDecoder(version="lex-next"))
    assert newer.added == 3
    assert FeedbackLabel.objects.filter(prompt_version="lex-v4").count() == 3
    assert FeedbackLabel.objects.filter(prompt_version="lex-next").count() == 3


def test_an_interrupted_run_resumes(lexicon_game):
    _, game = lexicon_game
    first_turn = game.turns.get(index=0)
    FeedbackLabel.objects.create(turn=first_turn, decoder="lexicon", prompt_version="lex-v4", label="neutral")
    report = decode_round(1)
    assert report.added == 2
    assert FeedbackLabel.objects.get(turn=first_turn).label == "neutral"  # left alone, not overwritten


def test_labels_are_never_overwritten(lexicon_game):
    decode_round(1)
    row = FeedbackLabel.objects.first()
    row.label = "positive"
    with pytest.raises(LabelOverwriteError):
        row.save()
    with pytest.raises(LabelOverwriteError):
        FeedbackLabel.objects.update(label="neutral")
    with pytest.raises(IntegrityError):
        FeedbackLabel.objects.create(turn=row.turn, decoder=row.decoder, prompt_version=row.prompt_version,
                                     label="neutral")


def test_systems_without_a_decoder_are_skipped_and_one_system_can_be_chosen(game_library, deploy):
    lex = deploy("LEX", "lexicon")
    none = deploy("CONTROL", "none")
    for deployment in (lex, none):
        record_game(deployment, [("the swan", "select A"), ("now the dog", "select B")])
    report = decode_round(1)
    assert [(d.system_name, d.decoder) for d in report.deployments] == [("CONTROL", None), ("LEX", "lexicon")]
    assert FeedbackLabel.objects.count() == 1
    only = decode_round(1, system_name="CONTROL", decoder_name="lexicon-binary")
    assert only.added == 1 and FeedbackLabel.objects.filter(decoder="lexicon-binary").count() == 1


def test_prompted_systems_without_a_language_model_fall_back_to_the_default_decoder(game_library, deploy, settings,
                                                                                     tmp_path):
    listener = settings.DATA_DIR / "models" / "listener"
    listener.mkdir(parents=True)
    (listener / "config.json").write_text('{"model_type": "respect_listener"}')
    binary = deploy("B-SUP", "binary", base_model="models/listener")
    ternary = deploy("T-SUP", "ternary", base_model="models/missing")
    for deployment in (binary, ternary):
        record_game(deployment, [("the swan", "select A"), ("undo", "deselect A")])
    report = decode_round(1)
    assert [(d.system_name, d.decoder) for d in report.deployments] == [("B-SUP", "lexicon"), ("T-SUP", "lexicon")]
    assert "not a language model" in report.deployments[0].note and "no base model" in report.deployments[1].note
    assert set(FeedbackLabel.objects.values_list("decoder", "label")) == {("lexicon", "negative")}
    choice = decoder_for_deployment(feedback_deployments(1, "B-SUP")[0])
    assert (choice.name, choice.version) == ("lexicon", "lex-v4")
    settings.FEEDBACK_DEFAULT_DECODER = "lexicon-binary"
    assert choose_decoder("binary", "models/listener").name == "lexicon-binary"


def test_a_prompted_override_that_cannot_run_is_refused_before_writing(game_library, deploy):
    deployment = deploy("LEX", "lexicon", base_model="models/missing")
    record_game(deployment, [("the swan", "select A"), ("undo", "deselect A")])
    with pytest.raises(DecodeError, match="cannot run: no base model"):
        decode_round(1, decoder_name="binary")
    assert not FeedbackLabel.objects.exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"round_number": 9}, "no round 9"),
    ({"round_number": 1, "system_name": "NOPE"}, "no system 'NOPE'"),
    ({"round_number": 1, "decoder_name": "magic"}, "unknown decoder 'magic'"),
    ({"round_number": 1, "system_name": "LEX", "mark_decoded": True}, "needs a full run"),
])
def test_bad_input_is_refused_and_writes_nothing(lexicon_game, kwargs, message):
    number = kwargs.pop("round_number")
    with pytest.raises(DecodeError, match=message):
        decode_round(number, **kwargs)
    assert not FeedbackLabel.objects.exists()


def test_a_system_not_deployed_in_the_round_is_refused(lexicon_game):
    from tests.factories import SystemFactory

    SystemFactory(name="ELSEWHERE")
    with pytest.raises(DecodeError, match="not deployed in round 1"):
        decode_round(1, system_name="ELSEWHERE")


def test_draft_rounds_are_refused(game_library, deploy, closed_round):
    Round.objects.filter(pk=closed_round.pk).update(status="draft", opened_at=None, closed_at=None)
    deploy("LEX", "lexicon")
    with pytest.raises(DecodeError, match="draft"):
        decode_round(1)


def test_the_optional_outcome_signal_labels_successful_last_turns_only(game_library, deploy):
    deployment = deploy("LEX", "lexicon")
    config = dev_config()
    won = record_game(deployment, [("the swan", "select " + target_letters(config))], end="success", config=config)
    record_game(deployment, [("the swan", "select " + target_letters(config).split()[0])], end="cancelled")
    assert decode_round(1).deployments[0].final_outcome_added == 0  # off by default
    assert not FeedbackLabel.objects.exists()
    report = decode_round(1, final_turn_outcome=True)
    assert report.deployments[0].final_outcome_added == 1
    row = FeedbackLabel.objects.get()
    assert (row.turn.interaction_id, row.decoder, row.label) == (won.pk, FINAL_OUTCOME, "positive")
    assert decode_round(1, final_turn_outcome=True).deployments[0].final_outcome_added == 0


def test_mark_decoded_moves_a_closed_round_after_a_full_run(lexicon_game, closed_round):
    report = decode_round(1, mark_decoded=True)
    assert report.marked_decoded
    assert Round.objects.get(pk=closed_round.pk).status == "decoded"
    assert decode_round(1, mark_decoded=True).marked_decoded is False  # already decoded: left alone
