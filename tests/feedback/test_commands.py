"""decode_feedback, decode_text and evaluate_decoder: output, options and one-line errors."""
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from feedback.models import FeedbackLabel
from tests.feedback.conftest import distractor_letters, record_game, target_letters
from tests.games.play_support import dev_config


def run(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        import sys

        old, sys.stdin = sys.stdin, io.StringIO(stdin)
        try:
            call_command(*args, stdout=out, stderr=err)
        finally:
            sys.stdin = old
    else:
        call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- decode_feedback ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_decode_feedback_reports_progress_and_counts(game_library, deploy):
    deployment = deploy("LEX", "lexicon")
    record_game(deployment, [("the swan", "select A"), ("undo", "deselect A"), ("now the dog", "select B")])
    out, _ = run("decode_feedback", "--round", "1")
    assert "LEX: 1 games, 2 turns with a follow-up, 0 already labelled, 2 to decode with lexicon lex-v4" in out
    assert "LEX: lexicon lex-v4: +2 (negative 1, positive 1); 0 already labelled; 1 last turns" in out
    assert "round 1: 2 new labels" in out
    out, _ = run("decode_feedback", "--round", "1")
    assert "round 1: 0 new labels" in out and FeedbackLabel.objects.count() == 2


@pytest.mark.django_db
def test_decode_feedback_through_the_celery_task(game_library, deploy, settings):
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("with a real broker the task runs in the worker, outside this test's transaction")
    deployment = deploy("LEX", "lexicon")
    record_game(deployment, [("the swan", "select A"), ("undo", "deselect A")])
    out, _ = run("decode_feedback", "--round", "1", "--system", "LEX", "--queue")
    assert "queued feedback.tasks.decode_round" in out
    assert FeedbackLabel.objects.get().label == "negative"


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["--round", "7"], "no round 7"),
    (["--round", "1", "--system", "NOPE"], "no system 'NOPE'"),
    (["--round", "1", "--batch-size", "0"], "--batch-size must be >= 1"),
    (["--round", "1", "--decoder", "binary"], "cannot run"),
])
def test_decode_feedback_errors(game_library, deploy, args, message):
    record_game(deploy("LEX", "lexicon"), [("a", "select A"), ("b", "select B")])
    with pytest.raises(CommandError, match=message):
        run("decode_feedback", *args)
    assert not FeedbackLabel.objects.exists()


def test_decode_feedback_needs_a_round():
    with pytest.raises(CommandError, match="--round"):
        run("decode_feedback")


# --- decode_text -------------------------------------------------------------------------------------------

ROWS = [
    {"game_turn_id": "g1_0", "previous_action": None, "utterance": "a person sitting in a boat", "action": "select F",
     "next_utterance": "no, the other boat. now the dog with a long neck", "labels": 1},
    {"game_turn_id": "g1_1", "previous_action": "select F", "utterance": "the dog", "action": "deselect F select B",
     "next_utterance": "yes! the rabbit", "extra": {"nested": [1, 2]}},
    {"utterance": "x", "action": "select A", "next_utterance": "?"},
]


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    return path


def test_decode_text_adds_the_label_and_keeps_every_field(tmp_path):
    src = write_rows(tmp_path / "in.jsonl", ROWS)
    out, _ = run("decode_text", str(src))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["label"] for r in rows] == ["negative", "positive", "neutral"]
    assert [{k: v for k, v in r.items() if k != "label"} for r in rows] == ROWS
    out, _ = run("decode_text", "--decoder", "lexicon-binary", "--field", "fb", "--raw", str(src))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["fb"] for r in rows] == ["negative", "positive", "negative"] and "approval" in rows[1]["fb_raw"]


def test_decode_text_to_a_file_and_from_stdin(tmp_path):
    dest = tmp_path / "out.jsonl"
    _, err = run("decode_text", "-", "-o", str(dest), stdin=json.dumps(ROWS[1]) + "\n")
    assert json.loads(dest.read_text())["label"] == "positive"
    assert "1 rows decoded with lexicon lex-v4" in err


GOOD_LINE = json.dumps(ROWS[1]) + "\n"


@pytest.mark.parametrize("content, message", [
    (GOOD_LINE + '{"utterance": "a", "action": "select A"}\n', "line 2: missing 'next_utterance'"),
    (GOOD_LINE + '\n{"utterance": "a", "action": "select A", "next_utterance": 3}\n',
     "line 3: 'next_utterance' must be a string"),
    ('[1, 2]\n', "line 1: not a JSON object"),
    ('{"utterance": "a",\n', "line 1: not JSON"),
    ('{"utterance": "a", "action": "b", "next_utterance": "c", "previous_action": 5}\n', "'previous_action' must be"),
    (GOOD_LINE + '{"utterance": "a", "action": "b", "next_utterance": "c", "label": "x"}\n',
     "line 2 already has a 'label' field"),
    (b"\xff\xfe".decode("latin-1"), "not UTF-8"),
])
def test_decode_text_refuses_bad_rows_and_writes_nothing(tmp_path, content, message):
    src = tmp_path / "in.jsonl"
    src.write_bytes(content.encode("latin-1") if message == "not UTF-8" else content.encode())
    dest = tmp_path / "out.jsonl"
    with pytest.raises(CommandError, match=message):
        run("decode_text", str(src), "-o", str(dest))
    assert not dest.exists()


@pytest.mark.parametrize("args, message", [
    (["missing.jsonl"], "cannot read missing.jsonl"),
    (["--decoder", "ternary", "x.jsonl"], "needs --base-model"),
    (["--field", " ", "x.jsonl"], "--field must not be empty"),
])
def test_decode_text_argument_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run("decode_text", *args)


# --- evaluate_decoder --------------------------------------------------------------------------------------


@pytest.fixture
def evaluated_round(game_library, deploy):
    """One lexicon system, one game with simulated intents: turn 0 good, turn 1 bad, turn 2 good."""
    config = dev_config()
    targets = target_letters(config).split()
    wrong = distractor_letters(config)[0]
    deployment = deploy("LEX", "lexicon")
    record_game(deployment, [
        ("the swan", f"select {targets[0]}"),
        ("yes, now the dog", f"select {wrong}"),
        ("no, the other dog", f"deselect {wrong} select {targets[1]}"),
        ("great", f"select {targets[2]}"),
    ], intents={1: ("positive", "GOOD"), 2: ("negative", "BAD"), 3: ("positive", "GOOD")}, config=config)
    run("decode_feedback", "--round", "1")


@pytest.mark.django_db
def test_evaluate_decoder_prints_scores_per_system_and_overall(evaluated_round):
    out, _ = run("evaluate_decoder", "--round", "1", "--truth", "intent", "--truth", "quality")
    assert "== round 1 / LEX: lexicon lex-v4 vs intent (4 turns, 3 labelled = 75.0%)" in out
    assert "positive   1.000  1.000  1.000        2         2" in out
    assert "== round 1 / LEX: lexicon lex-v4 vs quality" in out
    assert "truth \\ label" in out
    out, _ = run("evaluate_decoder", "--decoder", "lexicon", "--json")
    data = json.loads(out)
    overall = [g for g in data if g["round"] is None and g["truth"] == "intent"][0]
    assert overall["per_class"]["positive"]["precision"] == 1.0 and overall["total"] == 3
    quality = [g for g in data if g["round"] is None and g["truth"] == "quality"][0]
    assert quality["total"] == 4 and quality["missing"] == 1  # the last turn has no label


@pytest.mark.django_db
def test_evaluate_decoder_live_decodes_without_storing(evaluated_round):
    FeedbackLabel.objects.all().delete()
    out, _ = run("evaluate_decoder", "--decoder", "lexicon-binary", "--live", "--truth", "intent")
    assert "lexicon-binary lex-v4 vs intent (4 turns, 3 labelled" in out
    assert not FeedbackLabel.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["--truth", "vibes"], "unknown --truth 'vibes'"),
    (["--prompt-version", "x"], "--prompt-version needs --decoder"),
    (["--round", "5"], "no round 5"),
    (["--decoder", "binary", "--live"], "needs --base-model"),
])
def test_evaluate_decoder_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run("evaluate_decoder", *args)
